/* On the loop: statements and cursors. A cursor owns the chunk of rows its
 * worker filled; the column getters read the chunk in place, so text and
 * blobs are views valid until the next cio_sqlite_next. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "sqlite_internal.h"

static int check(cio_sqlite *db, const char *sql, const cio_sqlite_arg *args, size_t nargs)
{
    if (!db || !sql || (nargs && !args))
        return -EINVAL;
    return 0;
}

static int run_simple(cio_sqlite *db, int kind, const char *sql, const cio_sqlite_arg *args,
                      size_t nargs, size_t nrows)
{
    int err = check(db, sql, args, nargs * (nrows ? nrows : 1));
    if (err)
        return err;
    request r = {0};
    r.kind = kind;
    r.sql = sql;
    r.args = args;
    r.nargs = nargs;
    r.nrows = nrows;
    r.to_writer = 1;
    return cio__sqlite_submit_wait(db, &r);
}

int cio_sqlite_exec(cio_sqlite *db, const char *sql, const cio_sqlite_arg *args, size_t nargs)
{
    return run_simple(db, REQ_EXEC, sql, args, nargs, 0);
}

int cio_sqlite_executemany(cio_sqlite *db, const char *sql, const cio_sqlite_arg *args,
                           size_t nargs, size_t nrows)
{
    if (nrows == 0)
        return db && sql ? 0 : -EINVAL;
    return run_simple(db, REQ_MANY, sql, args, nargs, nrows);
}

int cio_sqlite_executescript(cio_sqlite *db, const char *sql)
{
    return run_simple(db, REQ_SCRIPT, sql, NULL, 0, 0);
}

/* ---- cursors ---- */

static void cursor_free(cio_sqlite_cursor *c)
{
    if (c->names != c->names_inl)
        free(c->names);
    cio__sqlite_chunk_free(&c->buf[0]);
    cio__sqlite_chunk_free(&c->buf[1]);
    free(c->pre);
    free(c);
}

/* Has the open statement of c (rows remain) reset on its worker. Nobody
 * waits; the worker frees the request. */
static void reset_stmt(cio_sqlite_cursor *c)
{
    if (!c->pin || !c->stmt)
        return;
    request *r = cio__calloc(1, sizeof(*r));
    if (r) {
        r->kind = REQ_RESET;
        r->pin = c->pin;
        r->fn_arg = c->stmt;
        r->nargs = (size_t)c->cached;
        cio__sqlite_submit_detached(c->db, r);
    }
    /* Without memory the statement stays open until the database closes. */
}

/* ---- prefetch ----
 *
 * A cursor over a reader's statement (outside transactions) asks for the next
 * chunk as soon as it has one: the worker steps the statement into the other
 * buffer while the task reads this one, so a scan costs the larger of the two
 * sides rather than their sum, and cio_sqlite_next finds the next chunk
 * ready. The prefetch request lives in the cursor; while it is out the
 * worker owns the cursor's statement fields (pin, stmt, cached, done). */

static void prefetch_done(request *r)
{
    cio_sqlite_cursor *c = r->cur;
    cio__sqlite_untrack(c->db, r);
    if (!c->orphan) {
        cio_event_set(&r->done);
        return;
    }
    c->prefetching = 0;
    reset_stmt(c);
    cursor_free(c);
}

/* Before a refill: a cursor read past its first chunk is likely a scan, so
 * each refill doubles the chunk, up to CHUNK_GROWTH times chunk_bytes (1 MiB
 * by default): fewer hops per row, and the worker steps longer between the
 * hand-offs that keep it waiting for the task. A short result never grows. */
static void grow_limit(cio_sqlite_cursor *c)
{
    size_t base = c->db->opts.chunk_bytes;
    size_t cap = base > SIZE_MAX / CHUNK_GROWTH ? SIZE_MAX : base * CHUNK_GROWTH;
    if (c->limit < cap)
        c->limit = c->limit > cap / 2 ? cap : c->limit * 2;
}

static void prefetch(cio_sqlite_cursor *c)
{
    if (!c->prefetch_ok || !c->pin || c->db->closing)
        return;
    grow_limit(c);
    if (!c->pre && !(c->pre = cio__malloc(sizeof(*c->pre))))
        return; /* no memory: the next chunk comes on demand */
    request *r = c->pre;
    memset(r, 0, sizeof(*r));
    r->kind = REQ_NEXT;
    r->cur = c;
    r->pin = c->pin;
    r->into = c->ch == &c->buf[0] ? &c->buf[1] : &c->buf[0];
    r->on_done = prefetch_done;
    c->prefetching = 1;
    cio__sqlite_submit_start(c->db, r);
}

/* Waits for the prefetch and makes its chunk the current one. Returns 0 or
 * an error; cancelled, the prefetch is dropped if it had not started
 * (the statement stays open for the next call) or interrupted if it had. */
static int prefetch_take(cio_sqlite_cursor *c)
{
    cio_sqlite *db = c->db;
    request *r = c->pre;
    int err = cio_event_wait(&r->done);
    /* A started prefetch is untracked by its on_done (prefetch_done). */
    if (err && cio__sqlite_withdraw(db, r)) {
        c->prefetching = 0;
        return err;
    }
    c->prefetching = 0;
    c->ch = r->into;
    int status = cio__sqlite_finish(db, r);
    return err ? err : status;
}

void cio_sqlite_cursor_close(cio_sqlite_cursor *c)
{
    if (!c)
        return;
    if (c->prefetching) {
        cio_sqlite *db = c->db;
        request *r = c->pre;
        pthread_mutex_lock(&db->mu);
        if (r->state == RS_QUEUED) { /* not started: take it back */
            cio__sqlite_unlink_queued(db, r, r->queue);
            r->state = RS_DONE;
            pthread_mutex_unlock(&db->mu);
            cio_loop_unref();
            cio__sqlite_untrack(db, r);
            c->prefetching = 0;
        } else { /* running or finished: prefetch_done frees c */
            __atomic_store_n(&r->cancel, 1, __ATOMIC_RELAXED);
            pthread_mutex_unlock(&db->mu);
            if (!cio_event_is_set(&r->done)) {
                c->orphan = 1;
                return;
            }
            c->prefetching = 0; /* it came back: the statement fields are ours */
        }
    }
    reset_stmt(c);
    cursor_free(c);
}

static int query(cio_sqlite *db, cio_sqlite_cursor **out, const char *sql,
                 const cio_sqlite_arg *args, size_t nargs, size_t limit, int max_rows)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    int err = check(db, sql, args, nargs);
    if (err)
        return err;
    cio_sqlite_cursor *c = cio__calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->db = db;
    cio__sqlite_chunk_init(&c->buf[0]);
    cio__sqlite_chunk_init(&c->buf[1]);
    c->ch = &c->buf[0];
    c->limit = limit;
    c->max_rows = max_rows;
    request r = {0};
    r.kind = REQ_QUERY;
    r.sql = sql;
    r.args = args;
    r.nargs = nargs;
    r.cur = c;
    err = cio__sqlite_submit_wait(db, &r);
    if (err) {
        cio_sqlite_cursor_close(c);
        return err;
    }
    c->prefetch_ok = c->pin && c->pin != db->writer && !r.tx;
    prefetch(c);
    *out = c;
    return 0;
}

int cio_sqlite_execute(cio_sqlite *db, cio_sqlite_cursor **cur, const char *sql,
                       const cio_sqlite_arg *args, size_t nargs)
{
    return query(db, cur, sql, args, nargs, db ? db->opts.chunk_bytes : 0, 0);
}

int cio_sqlite_fetchall(cio_sqlite *db, cio_sqlite_cursor **cur, const char *sql,
                        const cio_sqlite_arg *args, size_t nargs)
{
    return query(db, cur, sql, args, nargs, SIZE_MAX, 0);
}

int cio_sqlite_fetchone(cio_sqlite *db, cio_sqlite_cursor **cur, const char *sql,
                        const cio_sqlite_arg *args, size_t nargs)
{
    int err = query(db, cur, sql, args, nargs, SIZE_MAX, 1);
    if (err)
        return err;
    return cio_sqlite_next(*cur);
}

static int fetchval(cio_sqlite *db, cio_sqlite_cursor **c, const char *sql,
                    const cio_sqlite_arg *args, size_t nargs)
{
    int n = cio_sqlite_fetchone(db, c, sql, args, nargs);
    if (n == 0) {
        cio_sqlite_cursor_close(*c);
        *c = NULL;
        return -ENODATA;
    }
    return n < 0 ? n : 0;
}

int cio_sqlite_fetchval_int64(cio_sqlite *db, int64_t *out, const char *sql,
                              const cio_sqlite_arg *args, size_t nargs)
{
    cio_sqlite_cursor *c;
    if (!out)
        return -EINVAL;
    int err = fetchval(db, &c, sql, args, nargs);
    if (err)
        return err;
    *out = cio_sqlite_column_int64(c, 0);
    cio_sqlite_cursor_close(c);
    return 0;
}

int cio_sqlite_fetchval_double(cio_sqlite *db, double *out, const char *sql,
                               const cio_sqlite_arg *args, size_t nargs)
{
    cio_sqlite_cursor *c;
    if (!out)
        return -EINVAL;
    int err = fetchval(db, &c, sql, args, nargs);
    if (err)
        return err;
    *out = cio_sqlite_column_type(c, 0) == CIO_SQLITE_INTEGER
               ? (double)cio_sqlite_column_int64(c, 0)
               : cio_sqlite_column_double(c, 0);
    cio_sqlite_cursor_close(c);
    return 0;
}

int cio_sqlite_fetchval_text(cio_sqlite *db, char **out, const char *sql,
                             const cio_sqlite_arg *args, size_t nargs)
{
    cio_sqlite_cursor *c;
    if (!out)
        return -EINVAL;
    *out = NULL;
    int err = fetchval(db, &c, sql, args, nargs);
    if (err)
        return err;
    size_t len;
    const char *t = cio_sqlite_column_text(c, 0, &len);
    if (t) {
        *out = cio__malloc(len + 1);
        if (*out) {
            memcpy(*out, t, len + 1);
        } else {
            err = -ENOMEM;
        }
    }
    cio_sqlite_cursor_close(c);
    return err;
}

int cio_sqlite_next(cio_sqlite_cursor *c)
{
    if (!c)
        return -EINVAL;
    if (c->row < c->ch->nrows) {
        c->row++;
        return 1;
    }
    int err;
    if (c->prefetching) {
        err = prefetch_take(c);
    } else {
        if (!c->pin) {
            c->row = c->ch->nrows + 1; /* past the end: the getters read NULL */
            return 0;
        }
        grow_limit(c);
        request r = {0};
        r.kind = REQ_NEXT;
        r.cur = c;
        r.pin = c->pin;
        err = cio__sqlite_submit_wait(c->db, &r);
    }
    c->row = 0;
    if (err) {
        if (!c->pin)
            c->ch->nrows = 0;
        c->row = c->ch->nrows + 1;
        return err;
    }
    c->row = 1;
    if (!c->ch->nrows)
        return 0;
    prefetch(c);
    return 1;
}

/* ---- column getters ---- */

static const cell *at(const cio_sqlite_cursor *c, int col)
{
    if (!c || col < 0 || col >= c->ncols || c->row == 0 || c->row > c->ch->nrows)
        return NULL;
    return &c->ch->cells[(c->row - 1) * (size_t)c->ncols + (size_t)col];
}

int cio_sqlite_column_count(const cio_sqlite_cursor *c)
{
    return c ? c->ncols : 0;
}

const char *cio_sqlite_column_name(const cio_sqlite_cursor *c, int col)
{
    if (!c || col < 0 || col >= c->ncols || !c->names)
        return NULL;
    return c->names[col];
}

int cio_sqlite_column_type(const cio_sqlite_cursor *c, int col)
{
    const cell *x = at(c, col);
    return x ? x->type : CIO_SQLITE_NULL;
}

int64_t cio_sqlite_column_int64(const cio_sqlite_cursor *c, int col)
{
    const cell *x = at(c, col);
    return x && x->type == CIO_SQLITE_INTEGER ? x->v.i : 0;
}

double cio_sqlite_column_double(const cio_sqlite_cursor *c, int col)
{
    const cell *x = at(c, col);
    return x && x->type == CIO_SQLITE_FLOAT ? x->v.d : 0.0;
}

const char *cio_sqlite_column_text(const cio_sqlite_cursor *c, int col, size_t *len)
{
    const cell *x = at(c, col);
    int ok = x && x->type == CIO_SQLITE_TEXT;
    if (len)
        *len = ok ? x->len : 0;
    return ok ? c->ch->data + x->v.off : NULL;
}

const void *cio_sqlite_column_blob(const cio_sqlite_cursor *c, int col, size_t *len)
{
    const cell *x = at(c, col);
    int ok = x && x->type == CIO_SQLITE_BLOB;
    if (len)
        *len = ok ? x->len : 0;
    return ok ? c->ch->data + x->v.off : NULL;
}
