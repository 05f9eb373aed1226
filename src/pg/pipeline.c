/* Explicit pipelining: a batch of queries and executemany, each one request
 * (one Sync, one round trip). The server runs a sync group as one implicit
 * transaction: a failing query aborts the rest of the group.
 *
 * Statements are described first, as fetch does (cio__pg_describe: all the
 * new ones of a batch in one round trip, once per connection), so a batch's
 * rows come in binary exactly when cio decodes every column, and in text
 * otherwise. A batch whose later statement needs an earlier one's DDL cannot
 * be described ahead: it runs undescribed (binary), as before. */
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "pg_internal.h"

struct cio_pg_batch {
    pg_stmt_ref *items;
    size_t n, cap;
    cio_pg_result **results;
    int *status;
};

int cio_pg_batch_new(cio_pg_batch **out)
{
    if (!out)
        return -EINVAL;
    *out = cio__calloc(1, sizeof **out);
    return *out ? 0 : -ENOMEM;
}

static void clear_results(cio_pg_batch *b)
{
    for (size_t i = 0; b->results && i < b->n; i++)
        cio_pg_result_free(b->results[i]);
    free(b->results);
    free(b->status);
    b->results = NULL;
    b->status = NULL;
}

void cio_pg_batch_free(cio_pg_batch *b)
{
    if (!b)
        return;
    clear_results(b);
    free(b->items);
    free(b);
}

int cio_pg_batch_add(cio_pg_batch *b, const char *sql, const cio_pg_param *params, size_t n)
{
    if (!b || !sql || (n && !params) || b->results)
        return -EINVAL;
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 16;
        pg_stmt_ref *it = cio__realloc(b->items, cap * sizeof *it);
        if (!it)
            return -ENOMEM;
        b->items = it;
        b->cap = cap;
    }
    b->items[b->n++] = (pg_stmt_ref){sql, params, n};
    return 0;
}

size_t cio_pg_batch_size(const cio_pg_batch *b)
{
    return b ? b->n : 0;
}

int cio_pg_batch_run(cio_pg_conn *c, cio_pg_batch *b)
{
    if (!c || !b || !b->n || b->n > INT32_MAX || b->results)
        return -EINVAL;
    /* A describe that fails (a table the batch creates first) leaves those
     * statements undescribed; the batch itself reports what is wrong. */
    int err = cio__pg_describe(c, b->items, b->n, 1);
    int reason = err ? cio_cancelled() : 0;
    if (reason)
        return reason;
    pg_req *r = cio__pg_req_new(REQ_PIPELINE, (int)b->n);
    b->results = cio__calloc(b->n, sizeof *b->results);
    b->status = cio__calloc(b->n, sizeof *b->status);
    if (!r || !b->results || !b->status) {
        cio__pg_req_free(r);
        clear_results(b);
        return -ENOMEM;
    }
    for (size_t i = 0; i < b->n; i++) {
        pg_step *s = &r->steps[i];
        s->kind = STEP_EXEC;
        s->sql = b->items[i].sql;
        s->params = b->items[i].params;
        s->nparams = b->items[i].nparams;
        s->keep = 1;
        s->cache = 1;
    }
    err = cio__pg_submit_wait(c, &r);
    if (!r) {
        clear_results(b);
        return err;
    }
    for (size_t i = 0; i < b->n; i++) {
        pg_step *s = &r->steps[i];
        b->status[i] = s->status ? s->status : r->status && !s->res ? r->status : 0;
        if (!s->status && s->res && PQresultStatus(s->res) != PGRES_FATAL_ERROR) {
            b->results[i] = cio__pg_result_wrap(s->res);
            if (b->results[i])
                s->res = NULL;
            else
                b->status[i] = -ENOMEM;
        }
    }
    if (err)
        cio__pg_fail_message(c, r, err);
    cio__pg_req_free(r);
    return err;
}

const cio_pg_result *cio_pg_batch_result(const cio_pg_batch *b, size_t i)
{
    return b && b->results && i < b->n ? b->results[i] : NULL;
}

int cio_pg_batch_status(const cio_pg_batch *b, size_t i)
{
    return b && b->status && i < b->n ? b->status[i] : -EINVAL;
}

int cio_pg_executemany(cio_pg_conn *c, const char *sql, const cio_pg_param *params, size_t nparams,
                       size_t nrows, int64_t *rows_affected)
{
    if (rows_affected)
        *rows_affected = 0;
    if (!c || !sql || !nrows || !nparams || !params || nrows > INT32_MAX)
        return -EINVAL;
    /* One statement: a bad one fails here, before any row is sent. */
    int err = cio__pg_describe_new(c, sql, params, nparams);
    if (err)
        return err;
    pg_req *r = cio__pg_req_new(REQ_PIPELINE, (int)nrows);
    if (!r)
        return -ENOMEM;
    for (size_t i = 0; i < nrows; i++) {
        pg_step *s = &r->steps[i];
        s->kind = STEP_EXEC;
        s->sql = sql;
        s->params = params + i * nparams;
        s->nparams = nparams;
        s->cache = 1;
    }
    err = cio__pg_submit_wait(c, &r);
    if (!r)
        return err;
    if (err)
        cio__pg_fail_step_message(c, r, err, "executemany row");
    else if (rows_affected)
        *rows_affected = r->rows;
    cio__pg_req_free(r);
    return err;
}
