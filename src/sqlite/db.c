/* A database: open, close, and the guard task.
 *
 * Lifetime: the loop cannot end while a request is out (its task waits for
 * it), and a guard task per database closes one left open when cio_run
 * cancels the leftover tasks, so no worker ever posts to a closed loop and
 * the threads are joined before the loop closes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/alloc.h"
#include "sqlite_internal.h"

static void db_free(cio_sqlite *db)
{
    if (db->writer)
        pthread_cond_destroy(&db->writer->cond);
    for (int i = 0; i < db->nreaders; i++)
        pthread_cond_destroy(&db->readers[i].cond);
    pthread_mutex_destroy(&db->mu);
    cio_event_destroy(&db->idle);
    cio_event_destroy(&db->guard_stop);
    cio_event_destroy(&db->guard_done);
    free(db->writer);
    free(db->readers);
    free(db->path);
    free(db);
}

/* Stops the threads and frees db: joins on an executor thread (closing a
 * connection may checkpoint the WAL); falls back to joining here. */
static void stop_and_free(cio_sqlite *db)
{
    if (cio_to_thread(cio__sqlite_join_threads, db) != 0)
        cio__sqlite_join_threads(db);
    db_free(db);
}

static int open_conn(cio_sqlite *db, worker *w)
{
    request r = {0};
    r.kind = REQ_OPEN;
    r.pin = w;
    return cio__sqlite_submit_wait(db, &r);
}

static int guard_main(void *arg);

static int db_init(cio_sqlite *db, const char *path, const cio_sqlite_opts *opts)
{
    if (opts)
        db->opts = *opts;
    if (db->opts.readers == 0)
        db->opts.readers = 2;
    if (db->opts.busy_timeout == 0)
        db->opts.busy_timeout = 5.0;
    if (!db->opts.stmt_cache)
        db->opts.stmt_cache = 64;
    if (!db->opts.chunk_bytes)
        db->opts.chunk_bytes = 64 * 1024;
    if (!(db->opts.close_timeout > 0))
        db->opts.close_timeout = 5.0;
    if (db->opts.spin == 0)
        db->opts.spin = 200e-6;
    db->opts.synchronous = NULL; /* the caller's string is not kept */
    db->memory = !strcmp(path, ":memory:") || !*path;
    db->nreaders = db->memory || db->opts.readers < 0 ? 0 : db->opts.readers;
    if (db->opts.read_only && db->nreaders == 0)
        db->nreaders = 1; /* a read-only database has readers only */
    db->path = cio__strdup(path);
    db->loop = cio_loop_current();
    pthread_mutex_init(&db->mu, NULL);
    if (!db->opts.read_only) {
        db->writer = cio__calloc(1, sizeof(*db->writer));
        if (!db->writer)
            return -ENOMEM;
        db->writer->is_writer = 1;
        db->writer->db = db;
        pthread_cond_init(&db->writer->cond, NULL);
    }
    if (db->nreaders) {
        db->readers = cio__calloc((size_t)db->nreaders, sizeof(*db->readers));
        if (!db->readers) {
            db->nreaders = 0;
            return -ENOMEM;
        }
        for (int i = 0; i < db->nreaders; i++) {
            db->readers[i].db = db;
            pthread_cond_init(&db->readers[i].cond, NULL);
        }
    }
    return db->path ? 0 : -ENOMEM;
}

/* The synchronous mode named by the options, as a constant string. */
static const char *sync_mode(const char *mode)
{
    static const char *const modes[] = {"OFF", "NORMAL", "FULL", "EXTRA"};
    if (!mode)
        return "NORMAL";
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
        if (!strcasecmp(mode, modes[i]))
            return modes[i];
    return NULL;
}

int cio__sqlite_open(cio_sqlite **out, const char *path, const cio_sqlite_opts *opts,
                     const char *file, int line)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!path)
        return -EINVAL;
    if (!cio_current())
        return -EPERM;
    int err = cio_cancelled();
    if (err)
        return err;
    cio_sqlite *db = cio__calloc(1, sizeof(*db));
    if (!db)
        return -ENOMEM;
    db->open_file = file;
    db->open_line = line;
    err = db_init(db, path, opts);
    db->sync = sync_mode(opts ? opts->synchronous : NULL);
    if (!err && !db->sync) {
        err = cio_fail(-EINVAL, "sqlite %s: synchronous=%s is not a mode", path, opts->synchronous);
        goto fail;
    }
    if (db->writer && !err)
        err = cio__sqlite_start_thread(db->writer);
    for (int i = 0; i < db->nreaders && !err; i++)
        err = cio__sqlite_start_thread(&db->readers[i]);
    if (err) {
        err = cio_fail(err == -ENOMEM ? err : -EAGAIN, "sqlite %s: cannot start its threads", path);
        goto fail;
    }
    /* The writer first: it creates the file and turns WAL on for all. */
    if (db->writer)
        err = open_conn(db, db->writer);
    for (int i = 0; i < db->nreaders && !err; i++)
        err = open_conn(db, &db->readers[i]);
    if (err)
        goto fail;
    cio_task_opts to = {.name = "sqlite-guard"};
    err = cio_spawn_opts(&db->guard, guard_main, db, &to);
    if (err)
        goto fail;
    cio_detach(db->guard);
    *out = db;
    return 0;
fail:
    /* Keep the message of the failure: the cleanup below must not replace it. */
    {
        cio_scope sh;
        int shielded = cio_shield_enter(&sh) == 0; /* fails only outside a task */
        stop_and_free(db);
        if (shielded)
            cio_shield_exit(&sh);
    }
    return err;
}

/* Lets the work out finish (up to close_timeout), then interrupts it. */
static int drain(cio_sqlite *db)
{
    cio_scope t;
    int enter_err = cio_timeout_enter(&t, db->opts.close_timeout);
    int err = enter_err; /* no bound to wait with: interrupt at once */
    if (!enter_err) {
        while (db->outstanding || db->tx) {
            cio_event_clear(&db->idle);
            err = cio_event_wait(&db->idle);
            if (err)
                break;
        }
        cio_timeout_exit(&t);
    }
    if (!err)
        return 0;
    for (request *r = db->all; r; r = r->all_next)
        __atomic_store_n(&r->cancel, 1, __ATOMIC_RELAXED);
    while (db->outstanding) {
        cio_event_clear(&db->idle);
        cio_event_wait(&db->idle);
    }
    return enter_err ? enter_err : -ETIMEDOUT;
}

static int close_impl(cio_sqlite *db)
{
    db->closing = 1;
    int err = drain(db);
    if (err)
        cio_fail(err, "sqlite %s: work still running after %g s was interrupted at close", db->path,
                 db->opts.close_timeout);
    stop_and_free(db);
    return err;
}

int cio_sqlite_close(cio_sqlite *db)
{
    if (!db)
        return 0;
    if (!cio_current())
        return -EPERM;
    if (db->closing)
        return -EBUSY;
    cio_scope sh;
    int err = cio_shield_enter(&sh); /* cannot fail in a task; checked all the same */
    if (err)
        return err;
    db->closing = 1;
    cio_event_set(&db->guard_stop);
    while (db->guard)
        cio_event_wait(&db->guard_done);
    err = close_impl(db);
    cio_shield_exit(&sh);
    return err;
}

/* Waits for the database's close; closes it itself when cancelled first,
 * which cio_run does to every task left when its main task returns. */
static int guard_main(void *arg)
{
    cio_sqlite *db = arg;
    int err = cio_event_wait(&db->guard_stop);
    if (err && !db->closing) {
        fprintf(stderr,
                "cio-sqlite: database %s opened at %s:%d was still open when its loop "
                "ended; closing it\n",
                db->path, db->open_file, db->open_line);
        cio_scope sh;
        int shielded = cio_shield_enter(&sh) == 0; /* a task: cannot fail */
        db->guard = NULL;
        close_impl(db);
        if (shielded)
            cio_shield_exit(&sh);
        return 0;
    }
    /* cio_sqlite_close runs: tell it the guard is gone. */
    db->guard = NULL;
    cio_event_set(&db->guard_done);
    return 0;
}

const char *cio_sqlite_path(const cio_sqlite *db)
{
    return db ? db->path : NULL;
}

int64_t cio_sqlite_last_insert_id(const cio_sqlite *db)
{
    return db ? db->last_id : 0;
}

int64_t cio_sqlite_changes(const cio_sqlite *db)
{
    return db ? db->changes : 0;
}

int cio_sqlite_errcode(const cio_sqlite *db)
{
    return db ? db->last_rc : 0;
}

const char *cio_sqlite_errmsg(const cio_sqlite *db)
{
    return db ? db->last_msg : "";
}

int64_t cio_sqlite_wal_size(const cio_sqlite *db)
{
    if (!db)
        return -EINVAL;
    if (db->memory)
        return 0;
    char *wal = NULL;
    if (cio__asprintf(&wal, "%s-wal", db->path) < 0)
        return -ENOMEM;
    struct stat st;
    int rc = stat(wal, &st);
    int e = errno;
    free(wal);
    if (rc != 0)
        return e == ENOENT ? 0 : -e;
    return (int64_t)st.st_size;
}
