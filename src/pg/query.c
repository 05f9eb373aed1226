/* Queries: execute, fetch, fetchrow, fetchval. Each is one request to the
 * driver; a statement the server dropped or changed (26000, 0A000) is planned
 * again and the query retried once, outside a transaction. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/alloc.h"
#include "pg_internal.h"

void cio__pg_fail_message(cio_pg_conn *c, pg_req *r, int err)
{
    const cio_pg_error *e = cio_pg_last_error(c);
    if (r->sqlstate[0] && e && strcmp(e->sqlstate, r->sqlstate) == 0)
        cio_fail(err, "PostgreSQL %s: %s%s%s%s%s%s", e->sqlstate, e->message,
                 *e->detail ? " (" : "", e->detail, *e->detail ? ")" : "",
                 *e->hint ? " hint: " : "", e->hint);
    else if (r->sqlstate[0])
        cio_fail(err, "PostgreSQL error %s", r->sqlstate);
    else if (err == -ECONNRESET)
        cio_fail(err, "PostgreSQL connection lost");
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
 * (W12). */
static int mentions_session_change(const char *sql)
{
    for (const char *p = sql; *(p += strcspn(p, "aAsS")); p++)
        if (strncasecmp(p, "advisory", 8) == 0 || strncasecmp(p, "set_config", 10) == 0)
            return 1;
    return 0;
}

/* cio__pg_run's cache argument for queries whose rows the caller reads: the
 * statement is described first, so unknown column types come back as text. */
#define CACHE_DESCRIBE 2

int cio__pg_describe_new(cio_pg_conn *c, const char *sql, const cio_pg_param *params, size_t n)
{
    if (cio__pg_stmt_format(c, sql, params, n) >= 0)
        return 0;
    pg_req *r = cio__pg_req_take(c, REQ_PIPELINE, 1);
    if (!r)
        return -ENOMEM;
    r->steps[0].kind = STEP_DESCRIBE;
    r->steps[0].sql = sql;
    r->steps[0].params = params;
    r->steps[0].nparams = n;
    r->steps[0].keep = 1;
    r->steps[0].cache = 1;
    int err = cio__pg_submit_wait(c, &r);
    if (!r)
        return err; /* cancelled: the driver owns the request now */
    const PGresult *d = r->steps[0].res;
    if (err) {
        cio__pg_fail_message(c, r, err);
    } else if (d) {
        int text = 0;
        for (int i = 0; i < PQnfields(d) && !text; i++)
            text = !cio__pg_oid_decoded(PQftype(d, i));
        cio__pg_stmt_set_text(c, sql, params, n, text);
    }
    cio__pg_req_give(c, r);
    return err;
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
    res->res = NULL;
    res->arena = NULL;
    int err = cio__pg_run(c, sql, params, n, CACHE_DESCRIBE, &res->res);
    if (err)
        return err;
    if (PQntuples(res->res) == 0 || PQnfields(res->res) == 0)
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
