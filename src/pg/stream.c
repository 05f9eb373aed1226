/* Streaming a large result row by row (libpq's single-row mode): the driver
 * puts rows in the request's buffer as they arrive and stops reading the
 * socket while the buffer holds STREAM_ROWS rows, so a million-row result is
 * never in memory at once. Closing a stream early is a cancellation. */
#include <stdlib.h>

#include "../core/alloc.h"
#include "pg_internal.h"

struct cio_pg_stream {
    cio_pg_conn *conn;
    pg_req *req;
    cio_pg_result *row; /* the current row, reused */
};

int cio_pg_stream_open(cio_pg_stream **out, cio_pg_conn *c, const char *sql,
                       const cio_pg_param *params, size_t nparams)
{
    if (!out || !c || !sql || (nparams && !params))
        return -EINVAL;
    *out = NULL;
    int err = cio__pg_describe_new(c, sql, params, nparams);
    if (err)
        return err;
    cio_pg_stream *s = cio__calloc(1, sizeof *s);
    pg_req *r = cio__pg_req_new(REQ_PIPELINE, 1);
    cio_pg_result *row = cio__pg_result_wrap(NULL);
    if (!s || !r || !row) {
        free(s);
        cio__pg_req_free(r);
        cio_pg_result_free(row);
        return -ENOMEM;
    }
    /* Unnamed: single-row mode needs the query itself at the queue's head. */
    r->steps[0].kind = STEP_EXEC;
    r->steps[0].sql = sql;
    r->steps[0].params = params;
    r->steps[0].nparams = nparams;
    r->steps[0].keep = 1;
    r->steps[0].text = cio__pg_stmt_format(c, sql, params, nparams) == 1;
    r->stream = 1;
    err = cio__pg_submit(c, r);
    if (!err) {
        /* The parameters are borrowed until sent: wait for a row or the end. */
        err = cio_event_wait(&r->row_ev);
        if (err) {
            cio__pg_abandon(c, r);
            r = NULL;
        }
    }
    if (err) {
        cio__pg_req_free(r);
        cio_pg_result_free(row);
        free(s);
        return err;
    }
    s->conn = c;
    s->req = r;
    s->row = row;
    *out = s;
    return 0;
}

int cio_pg_stream_next(cio_pg_stream *s, const cio_pg_result **row)
{
    if (!s || !row || !s->req)
        return -EINVAL;
    pg_req *r = s->req;
    for (;;) {
        if (r->rcount) {
            int was_full = r->rcount >= STREAM_ROWS;
            PGresult *res = r->ring[r->rhead];
            r->rhead = (r->rhead + 1) % r->rcap;
            r->rcount--;
            cio__pg_result_reset(s->row, res);
            *row = s->row;
            if (was_full)
                cio__pg_wake(s->conn); /* the driver stopped reading for us */
            return 1;
        }
        if (r->done) {
            *row = NULL;
            if (r->status)
                cio__pg_fail_message(s->conn, r, r->status);
            return r->status;
        }
        cio_event_clear(&r->row_ev);
        int err = cio_event_wait(&r->row_ev);
        if (err)
            return err; /* the stream stays open: close it */
    }
}

int cio_pg_stream_close(cio_pg_stream *s)
{
    if (!s)
        return 0;
    int err = 0;
    if (s->req) {
        if (s->req->done)
            err = s->req->status;
        cio__pg_abandon(s->conn, s->req); /* frees it if done, else cancels */
    }
    cio_pg_result_free(s->row);
    free(s);
    return err;
}
