/* COPY FROM STDIN and COPY TO STDOUT, streamed both ways.
 *
 * libpq runs COPY outside pipeline mode, so a COPY request waits until the
 * connection is idle, like a script. When the server enters the copy, the
 * driver hands the socket to the calling task for the data phase and waits
 * (the one exception to "only the driver touches the socket": nothing else
 * can be in flight then). The caller's callbacks may suspend: that is the
 * backpressure, down to TCP. A COPY IN cut short ends with CopyFail (the
 * server rolls it back); a COPY OUT cut short goes back to the driver, which
 * cancels it and drains the rest. */
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "pg_internal.h"

#define CHUNK 65536

/* Submits the COPY and waits for its data phase. Returns 0 with the phase
 * ready, 1 when the request ended without one (an error: *rp holds it), or a
 * negative error (*rp NULL: nothing to free). */
static int start(cio_pg_conn *c, const char *sql, pg_req **rp)
{
    pg_req *r = cio__pg_req_new(REQ_COPY, 1);
    if (!r)
        return -ENOMEM;
    r->steps[0].kind = STEP_EXEC;
    r->steps[0].sql = sql;
    r->steps[0].keep = 1;
    int err = cio__pg_submit(c, r);
    if (err) {
        cio__pg_req_free(r);
        *rp = NULL;
        return err;
    }
    err = cio_event_wait(&r->done_ev);
    *rp = r;
    if (r->copy_ready) {
        cio_event_clear(&r->done_ev);
        return 0;
    }
    if (r->done)
        return 1;
    cio__pg_abandon(c, r);
    *rp = NULL;
    return err;
}

/* The caller gives up on a COPY it started: the socket goes back to the
 * driver, which reads the result that follows and serves the next request. */
static void drop_copy(cio_pg_conn *c, pg_req *r)
{
    c->copy_owner = NULL;
    r->copy = COPY_NONE;
    cio__pg_abandon(c, r);
}

/* Gives the socket back and waits for the COPY's final result. */
static int finish(cio_pg_conn *c, pg_req *r, int err, int64_t *rows)
{
    c->copy_owner = NULL;
    r->copy_ready = 0;
    if (err) {
        cio__pg_abandon(c, r); /* COPY OUT: the driver cancels and drains */
        cio__pg_wake(c);
        return err;
    }
    r->copy = COPY_NONE;
    cio__pg_wake(c);
    err = cio_event_wait(&r->done_ev);
    if (!r->done) {
        cio__pg_abandon(c, r);
        return err;
    }
    err = r->status;
    if (err)
        cio__pg_fail_message(c, r, err);
    else if (rows && r->steps[0].res && *PQcmdTuples(r->steps[0].res))
        *rows = strtoll(PQcmdTuples(r->steps[0].res), NULL, 10);
    cio__pg_req_free(r);
    return err;
}

static int ended_early(cio_pg_conn *c, pg_req *r)
{
    int err = r->status ? r->status : -EIO;
    cio__pg_fail_message(c, r, err);
    cio__pg_req_free(r);
    return err;
}

static int put(cio_pg_conn *c, const char *buf, size_t n)
{
    for (;;) {
        int rc = PQputCopyData(c->pg, buf, (int)n);
        if (rc < 0)
            return cio__pg_conn_error(c, -ECONNRESET, "COPY");
        if (rc == 1)
            break;
        int err = cio_wait_writable(c->fd); /* libpq's buffer is full */
        if (err)
            return err;
        if (PQflush(c->pg) < 0)
            return cio__pg_conn_error(c, -ECONNRESET, "COPY");
    }
    return 0;
}

static int flush_all(cio_pg_conn *c)
{
    int rc;
    while ((rc = PQflush(c->pg)) == 1) {
        int err = cio_wait_writable(c->fd);
        if (err)
            return err;
    }
    return rc < 0 ? cio__pg_conn_error(c, -ECONNRESET, "COPY") : 0;
}

int cio_pg_copy_in(cio_pg_conn *c, const char *sql, cio_pg_copy_read_fn fn, void *arg,
                   int64_t *rows)
{
    if (rows)
        *rows = 0;
    if (!c || !sql || !fn)
        return -EINVAL;
    pg_req *r;
    int err = start(c, sql, &r);
    if (err < 0)
        return err;
    if (err == 1)
        return ended_early(c, r);
    if (r->copy != COPY_IN) {
        finish(c, r, -EINVAL, NULL);
        return cio_fail(-EINVAL, "PostgreSQL: not a COPY FROM STDIN: %s", sql);
    }
    char *buf = cio__malloc(CHUNK);
    err = buf ? 0 : -ENOMEM;
    while (!err) {
        ssize_t n = fn(arg, buf, CHUNK);
        if (n <= 0) {
            err = (int)n;
            break;
        }
        err = put(c, buf, (size_t)n);
    }
    free(buf);
    if (err) {
        /* CopyFail: the server rolls the COPY back; the error result that
         * follows is the driver's to read. */
        PQputCopyEnd(c->pg, "COPY cancelled by the client");
        drop_copy(c, r);
        return err;
    }
    if (PQputCopyEnd(c->pg, NULL) < 0)
        err = cio__pg_conn_error(c, -ECONNRESET, "COPY");
    if (!err)
        err = flush_all(c);
    if (err) {
        drop_copy(c, r);
        return err;
    }
    return finish(c, r, 0, rows);
}

int cio_pg_copy_out(cio_pg_conn *c, const char *sql, cio_pg_copy_write_fn fn, void *arg,
                    int64_t *rows)
{
    if (rows)
        *rows = 0;
    if (!c || !sql || !fn)
        return -EINVAL;
    pg_req *r;
    int err = start(c, sql, &r);
    if (err < 0)
        return err;
    if (err == 1)
        return ended_early(c, r);
    if (r->copy != COPY_OUT) {
        PQputCopyEnd(c->pg, "not a COPY TO STDOUT");
        drop_copy(c, r);
        return cio_fail(-EINVAL, "PostgreSQL: not a COPY TO STDOUT: %s", sql);
    }
    for (;;) {
        char *data = NULL;
        int n = PQgetCopyData(c->pg, &data, 1);
        if (n > 0) {
            err = fn(arg, data, (size_t)n);
            PQfreemem(data);
            if (err)
                break;
        } else if (n == 0) {
            err = cio_wait_readable(c->fd);
            if (!err && !cio__pg_consume(c))
                err = cio__pg_conn_error(c, -ECONNRESET, "COPY");
            if (err)
                break;
        } else {
            break; /* -1: the copy is over; -2: an error the result tells */
        }
    }
    return finish(c, r, err, rows);
}
