/* Queries: execute, fetch, fetchrow, fetchval. Each is one request to the
 * driver; a statement the server dropped or changed (26000, 0A000) is planned
 * again and the query retried once, outside a transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/alloc.h"
#include "pg_internal.h"

/* The message of a failed request, after `where` ("" or a prefix naming the
 * part that failed). */
static void fail_message(cio_pg_conn *c, const pg_req *r, int err, const char *where)
{
    const cio_pg_error *e = cio_pg_last_error(c);
    if (r->sqlstate[0] && e && strcmp(e->sqlstate, r->sqlstate) == 0)
        cio_fail(err, "%sPostgreSQL %s: %s%s%s%s%s%s", where, e->sqlstate, e->message,
                 *e->detail ? " (" : "", e->detail, *e->detail ? ")" : "",
                 *e->hint ? " hint: " : "", e->hint);
    else if (r->sqlstate[0])
        cio_fail(err, "%sPostgreSQL error %s", where, r->sqlstate);
    else if (err == -ECONNRESET)
        cio_fail(err, "%sPostgreSQL connection lost", where);
}

void cio__pg_fail_message(cio_pg_conn *c, pg_req *r, int err)
{
    fail_message(c, r, err, "");
}

void cio__pg_fail_step_message(cio_pg_conn *c, pg_req *r, int err, const char *what)
{
    for (int i = 0; i < r->nsteps; i++) {
        int st = r->steps[i].status;
        if (st && st != -ECONNABORTED) { /* the first that failed; the rest were skipped */
            char where[64];
            snprintf(where, sizeof where, "%s %d of %d: ", what, i, r->nsteps);
            fail_message(c, r, err, where);
            return;
        }
    }
    fail_message(c, r, err, "");
}

static int in_tx(const cio_pg_conn *c, const pg_req *r)
{
    return r->txstatus == PQTRANS_INTRANS || r->txstatus == PQTRANS_INERROR || c->tx_depth > 0;
}

/* Multi-statement text without parameters goes through the simple query
 * protocol (outside pipeline mode). */
static int is_script(const char *sql)
{
    const char *semi = strchr(sql, ';');
    if (!semi)
        return 0;
    for (const char *p = semi + 1; *p; p++)
        if (*p != ' ' && *p != '\n' && *p != '\t' && *p != '\r' && *p != ';')
            return 1;
    return 0;
}

/* Whether sql mentions "advisory" or "set_config" (any case). strcspn jumps
 * to the next a or s: strcasestr twice cost ~900 instructions per query
 * (W12); the next letters are compared before calling strncasecmp ("SELECT"
 * starts with an s: two calls cost ~90 instructions per query). */
static int mentions_session_change(const char *sql)
{
    for (const char *p = sql; *(p += strcspn(p, "aAsS")); p++) {
        int lower1 = p[1] | 0x20;
        if ((*p | 0x20) == 'a'
                ? lower1 == 'd' && strncasecmp(p, "advisory", 8) == 0
                : lower1 == 'e' && (p[2] | 0x20) == 't' && strncasecmp(p, "set_config", 10) == 0)
            return 1;
    }
    return 0;
}

/* cio__pg_run's cache argument for queries whose rows the caller reads: the
 * statement is described first, so unknown column types come back as text. */
#define CACHE_DESCRIBE 2

static int same_stmt(const pg_stmt_ref *a, const pg_stmt_ref *b)
{
    if (a->nparams != b->nparams || (a->sql != b->sql && strcmp(a->sql, b->sql) != 0))
        return 0;
    for (size_t i = 0; i < a->nparams; i++)
        if (a->params[i].oid != b->params[i].oid)
            return 0;
    return 1;
}

/* How far back a statement is compared with those already picked: a batch
 * of many different texts stays linear; a repeat further back is described
 * twice in the same request, which the cache absorbs (the second is a hit). */
#define DEDUP_SCAN 32
#define SAVEPOINT_NAME "cio_describe"

/* After a failed describe inside the caller's transaction: back to the
 * savepoint taken before it, so the transaction goes on as if nothing ran. */
static void describe_undo(cio_pg_conn *c)
{
    pg_req *r = cio__pg_req_take(c, REQ_PIPELINE, 2);
    if (!r)
        return;
    r->steps[0].kind = r->steps[1].kind = STEP_DISCARD_SQL;
    r->steps[0].sql = "ROLLBACK TO SAVEPOINT " SAVEPOINT_NAME;
    r->steps[1].sql = "RELEASE SAVEPOINT " SAVEPOINT_NAME;
    cio__pg_submit_wait(c, &r);
    cio__pg_req_give(c, r);
}

int cio__pg_describe(cio_pg_conn *c, const pg_stmt_ref *refs, size_t nrefs, int guard)
{
    PGTransactionStatusType ts = PQtransactionStatus(c->pg);
    if (ts == PQTRANS_INERROR)
        return 0; /* nothing can run: what follows fails with the reason */
    size_t idx_s[16], *idx = idx_s, k = 0;
    if (nrefs > 16 && !(idx = cio__malloc(nrefs * sizeof *idx)))
        return -ENOMEM;
    for (size_t i = 0; i < nrefs; i++) {
        const pg_stmt_ref *a = &refs[i];
        if (cio__pg_stmt_format(c, a->sql, a->params, a->nparams) >= 0)
            continue;
        int dup = 0;
        for (size_t j = k; j > 0 && j + DEDUP_SCAN > k && !dup; j--)
            dup = same_stmt(&refs[idx[j - 1]], a);
        if (!dup)
            idx[k++] = i;
    }
    guard = guard && k && (c->tx_depth > 0 || ts == PQTRANS_INTRANS);
    int first = guard ? 1 : 0;
    pg_req *r = k ? cio__pg_req_take(c, REQ_PIPELINE, (int)k + 2 * first) : NULL;
    int err = k && !r ? -ENOMEM : 0;
    if (r) {
        if (guard) {
            r->steps[0].kind = r->steps[k + 1].kind = STEP_DISCARD_SQL;
            r->steps[0].sql = "SAVEPOINT " SAVEPOINT_NAME;
            r->steps[k + 1].sql = "RELEASE SAVEPOINT " SAVEPOINT_NAME;
        }
        for (size_t j = 0; j < k; j++) {
            pg_step *st = &r->steps[first + (int)j];
            st->kind = STEP_DESCRIBE;
            st->sql = refs[idx[j]].sql;
            st->params = refs[idx[j]].params;
            st->nparams = refs[idx[j]].nparams;
            st->keep = 1;
            st->cache = 1;
        }
        err = cio__pg_submit_wait(c, &r);
    }
    for (size_t j = 0; r && j < k; j++) {
        const PGresult *d = r->steps[first + (int)j].res;
        if (!d || PQresultStatus(d) != PGRES_COMMAND_OK)
            continue;
        int text = 0;
        for (int col = 0; col < PQnfields(d) && !text; col++)
            text = !cio__pg_oid_decoded(PQftype(d, col));
        const pg_stmt_ref *a = &refs[idx[j]];
        cio__pg_stmt_set_text(c, a->sql, a->params, a->nparams, text);
    }
    if (r && err) {
        cio__pg_fail_message(c, r, err);
        if (guard)
            describe_undo(c);
    }
    cio__pg_req_give(c, r); /* NULL when cancelled: the driver owns it */
    if (idx != idx_s)
        free(idx);
    return err;
}

int cio__pg_describe_new(cio_pg_conn *c, const char *sql, const cio_pg_param *params, size_t n)
{
    pg_stmt_ref ref = {sql, params, n};
    return cio__pg_describe(c, &ref, 1, 0);
}

static int run_once(cio_pg_conn *c, const char *sql, const cio_pg_param *params, size_t n,
                    int cache, PGresult **out, int *retry)
{
    int script = cache < 0 || (n == 0 && !cache && is_script(sql));
    if (cache < 0)
        cache = 0;
    if (cache == CACHE_DESCRIBE) {
        int err = cio__pg_describe_new(c, sql, params, n);
        if (err)
            return err;
        cache = 1;
    }
    pg_req *r = cio__pg_req_take(c, script ? REQ_SCRIPT : REQ_PIPELINE, 1);
    if (!r)
        return -ENOMEM;
    r->steps[0].kind = STEP_EXEC;
    r->steps[0].sql = sql;
    r->steps[0].params = params;
    r->steps[0].nparams = n;
    r->steps[0].keep = 1;
    r->steps[0].cache = cache;
    int err = cio__pg_submit_wait(c, &r);
    if (!r)
        return err; /* cancelled: the driver owns the request now */
    *retry = err && r->used_cache && !in_tx(c, r) &&
             (strcmp(r->sqlstate, "26000") == 0 || strcmp(r->sqlstate, "0A000") == 0);
    if (err && !*retry) {
        if (strcmp(r->sqlstate, "0A000") == 0 && r->used_cache)
            cio_fail(err,
                     "PostgreSQL 0A000: a cached statement's result type changed (ALTER "
                     "TABLE?) inside a transaction; roll back and retry: %s",
                     cio_pg_last_error(c) ? cio_pg_last_error(c)->message : "");
        else
            cio__pg_fail_message(c, r, err);
    }
    if (!err && out) {
        *out = r->steps[0].res;
        r->steps[0].res = NULL;
    }
    cio__pg_req_give(c, r);
    return err;
}

int cio__pg_run(cio_pg_conn *c, const char *sql, const cio_pg_param *params, size_t n, int cache,
                PGresult **out)
{
    if (!c || !sql || (n && !params))
        return -EINVAL;
    if (out)
        *out = NULL;
    /* Session changes no command tag shows (the driver sees SET, LISTEN...). */
    if (!c->dirty && mentions_session_change(sql))
        c->dirty = 1;
    int retry = 0;
    int err = run_once(c, sql, params, n, cache, out, &retry);
    if (err && retry)
        err = run_once(c, sql, params, n, cache, out, &retry);
    return err;
}

int cio__pg_script(cio_pg_conn *c, const char *sql)
{
    return cio__pg_run(c, sql, NULL, 0, -1, NULL);
}

int cio_pg_execute(cio_pg_conn *c, const char *sql, const cio_pg_param *params, size_t nparams,
                   int64_t *rows_affected)
{
    PGresult *res = NULL;
    int err = cio__pg_run(c, sql, params, nparams, nparams > 0, &res);
    if (rows_affected)
        *rows_affected = res && *PQcmdTuples(res) ? strtoll(PQcmdTuples(res), NULL, 10) : 0;
    PQclear(res);
    return err;
}

int cio_pg_fetch(cio_pg_conn *c, cio_pg_result **out, const char *sql, const cio_pg_param *params,
                 size_t nparams)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    PGresult *res = NULL;
    int err = cio__pg_run(c, sql, params, nparams, CACHE_DESCRIBE, &res);
    if (err)
        return err;
    *out = cio__pg_result_wrap(res);
    if (!*out) {
        PQclear(res);
        return -ENOMEM;
    }
    return 0;
}

int cio_pg_fetchrow(cio_pg_conn *c, cio_pg_result **out, const char *sql,
                    const cio_pg_param *params, size_t nparams)
{
    int err = cio_pg_fetch(c, out, sql, params, nparams);
    if (err)
        return err;
    if (cio_pg_nrows(*out) == 0) {
        cio_pg_result_free(*out);
        *out = NULL;
        return 0;
    }
    return 1;
}

/* fetchval's query: the first value of the first row, decoded from a result
 * on the caller's stack (no heap wrapper per query). */
static int fetch_first(cio_pg_conn *c, cio_pg_result *res, const char *sql,
                       const cio_pg_param *params, size_t n)
{
    PGresult *pr = NULL;
    res->arena = NULL;
    int err = cio__pg_run(c, sql, params, n, CACHE_DESCRIBE, &pr);
    cio__pg_result_set(res, pr);
    if (err)
        return err;
    if (res->ntuples == 0 || res->nfields == 0)
        return -ENODATA;
    return 0;
}

int cio_pg_fetchval_int(cio_pg_conn *c, int64_t *out, const char *sql, const cio_pg_param *params,
                        size_t nparams)
{
    cio_pg_result r;
    int err = fetch_first(c, &r, sql, params, nparams);
    if (!err)
        err = cio_pg_get_int(&r, 0, 0, out);
    cio__pg_result_clear(&r);
    return err;
}

int cio_pg_fetchval_double(cio_pg_conn *c, double *out, const char *sql, const cio_pg_param *params,
                           size_t nparams)
{
    cio_pg_result r;
    int err = fetch_first(c, &r, sql, params, nparams);
    if (!err)
        err = cio_pg_get_double(&r, 0, 0, out);
    cio__pg_result_clear(&r);
    return err;
}

int cio_pg_fetchval_text(cio_pg_conn *c, char **out, const char *sql, const cio_pg_param *params,
                         size_t nparams)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    cio_pg_result r;
    int err = fetch_first(c, &r, sql, params, nparams);
    const char *s = NULL;
    size_t len = 0;
    if (!err)
        err = cio_pg_get_text(&r, 0, 0, &s, &len);
    if (!err) {
        *out = cio__malloc(len + 1);
        if (*out) {
            memcpy(*out, s, len);
            (*out)[len] = 0;
        } else {
            err = -ENOMEM;
        }
    }
    cio__pg_result_clear(&r);
    return err;
}
