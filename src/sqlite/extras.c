/* On the loop: a whole function on a worker (interact), every connection
 * (for user functions, collations, authorizers, hooks), WAL checkpoints and
 * the online backup in slices. */
#include <stdio.h>
#include <string.h>

#include "sqlite_internal.h"

static int interact_on(cio_sqlite *db, worker *pin, cio_sqlite_fn fn, void *arg, int to_writer)
{
    request r = {0};
    r.kind = REQ_INTERACT;
    r.fn = fn;
    r.fn_arg = arg;
    r.pin = pin;
    r.to_writer = to_writer;
    return cio__sqlite_submit_wait(db, &r);
}

int cio_sqlite_interact(cio_sqlite *db, cio_sqlite_fn fn, void *arg, int where)
{
    if (!db || !fn || (where != CIO_SQLITE_WRITE && where != CIO_SQLITE_READ))
        return -EINVAL;
    return interact_on(db, NULL, fn, arg, where == CIO_SQLITE_WRITE);
}

int cio_sqlite_interact_all(cio_sqlite *db, cio_sqlite_fn fn, void *arg)
{
    if (!db || !fn)
        return -EINVAL;
    int err = db->writer ? interact_on(db, db->writer, fn, arg, 1) : 0;
    for (int i = 0; i < db->nreaders && !err; i++)
        err = interact_on(db, &db->readers[i], fn, arg, 0);
    return err;
}

/* ---- checkpoints ---- */

typedef struct ckpt {
    int mode;
    int log, done;
    int rc;
    char msg[200];
} ckpt;

static int do_checkpoint(struct sqlite3 *conn, void *arg)
{
    ckpt *c = arg;
    c->rc = sqlite3_wal_checkpoint_v2(conn, NULL, c->mode, &c->log, &c->done);
    if (c->rc == SQLITE_OK)
        return 0;
    snprintf(c->msg, sizeof(c->msg), "%s", sqlite3_errmsg(conn));
    return c->rc == SQLITE_BUSY ? -EBUSY : -EIO;
}

int cio_sqlite_checkpoint(cio_sqlite *db, const char *mode, int *wal_frames, int *checkpointed)
{
    if (!db)
        return -EINVAL;
    static const struct {
        const char *name;
        int mode;
    } modes[] = {{"PASSIVE", SQLITE_CHECKPOINT_PASSIVE},
                 {"FULL", SQLITE_CHECKPOINT_FULL},
                 {"RESTART", SQLITE_CHECKPOINT_RESTART},
                 {"TRUNCATE", SQLITE_CHECKPOINT_TRUNCATE}};
    ckpt c = {.mode = -1};
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
        if (!mode || !strcasecmp(mode, modes[i].name)) {
            c.mode = modes[i].mode;
            break;
        }
    if (c.mode < 0)
        return cio_fail(-EINVAL, "sqlite %s: no checkpoint mode %s", db->path, mode);
    if (!db->writer)
        return cio_fail(-EROFS, "sqlite %s: opened read-only: no checkpoint", db->path);
    int err = interact_on(db, NULL, do_checkpoint, &c, 1);
    if (wal_frames)
        *wal_frames = c.log;
    if (checkpointed)
        *checkpointed = c.done;
    if (err && c.msg[0])
        return cio_fail(err, "sqlite %s: checkpoint: %s", db->path, c.msg);
    return err;
}

/* ---- backup ---- */

int cio_sqlite_backup(cio_sqlite *db, const char *dest_path, int pages,
                      cio_sqlite_progress_fn progress, void *arg)
{
    if (!db || !dest_path)
        return -EINVAL;
    /* On the writer: SQLite updates a backup when its source connection
     * writes, where a write by any other connection restarts it (under a
     * steady stream of writes, forever). Read-only: a reader. */
    worker *w = db->writer ? db->writer : &db->readers[0];
    request r = {0};
    r.kind = REQ_BACKUP;
    r.pin = w;
    r.backup_path = dest_path;
    r.pages = pages > 0 ? pages : 256;
    int err = 0;
    for (;;) {
        r.tx = NULL;
        err = cio__sqlite_submit_wait(db, &r);
        if (err || !r.backup)
            break; /* failed, cancelled, or done (the worker finished it) */
        if (progress && progress(r.remaining, r.total, arg)) {
            err = -ECANCELED;
            break;
        }
    }
    if (r.backup) {
        /* Stopped early: finish the backup and close the copy on its worker. */
        cio_scope sh;
        int shield_err = cio_shield_enter(&sh); /* fails only outside a task */
        r.pages = -1;
        r.tx = NULL;
        cio__sqlite_submit_wait(db, &r);
        if (!shield_err)
            cio_shield_exit(&sh);
    }
    if (!err && progress)
        progress(0, r.total, arg);
    return err;
}
