/* Server errors: SQLSTATE to errno, the connection's last error, messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "pg_internal.h"

int cio__pg_errno_of(const char *st)
{
    if (!st || strlen(st) != 5)
        return -EIO;
    static const struct {
        const char *code; /* a full SQLSTATE, or a two-character class */
        int err;
    } map[] = {
        {"23505", -EEXIST},  {"23P01", -EEXIST},  {"42P01", -ENOENT},    {"42703", -ENOENT},
        {"42883", -ENOENT},  {"3D000", -ENOENT},  {"57014", -ECANCELED}, {"40001", -EAGAIN},
        {"40P01", -EAGAIN},  {"22012", -EDOM},    {"22003", -ERANGE},    {"42501", -EACCES},
        {"28", -EACCES},     {"42", -EINVAL},     {"22", -EINVAL},       {"23", -EINVAL},
        {"08", -ECONNRESET}, {"57", -ECONNRESET}, {"53", -ENOSPC},       {"25", -EINVAL},
        {"26", -EINVAL},     {"0A", -ENOTSUP},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strncmp(st, map[i].code, strlen(map[i].code)) == 0)
            return map[i].err;
    return -EIO;
}

void cio__pg_error_clear(cio_pg_conn *c)
{
    free(c->err_buf);
    c->err_buf = NULL;
    c->has_err = 0;
}

static const char *field(const PGresult *res, int code)
{
    const char *v = PQresultErrorField(res, code);
    return v ? v : "";
}

int cio__pg_error_from(cio_pg_conn *c, const PGresult *res, char sqlstate[6])
{
    const char *st = field(res, PG_DIAG_SQLSTATE);
    const char *sev = field(res, PG_DIAG_SEVERITY);
    const char *msg = field(res, PG_DIAG_MESSAGE_PRIMARY);
    const char *det = field(res, PG_DIAG_MESSAGE_DETAIL);
    const char *hint = field(res, PG_DIAG_MESSAGE_HINT);
    if (!*msg)
        msg = PQresultErrorMessage(res);
    if (!*msg && c->pg)
        msg = PQerrorMessage(c->pg);
    snprintf(sqlstate, 6, "%s", *st ? st : "08006");
    cio__pg_error_clear(c);
    size_t ls = strlen(sev) + 1, lm = strlen(msg) + 1, ld = strlen(det) + 1;
    size_t lh = strlen(hint) + 1;
    c->err_buf = cio__malloc(ls + lm + ld + lh);
    if (c->err_buf) {
        char *p = c->err_buf;
        c->err.severity = memcpy(p, sev, ls);
        c->err.message = memcpy(p += ls, msg, lm);
        c->err.detail = memcpy(p += lm, det, ld);
        c->err.hint = memcpy(p += ld, hint, lh);
        memcpy(c->err.sqlstate, sqlstate, 6);
        c->has_err = 1;
    }
    return cio__pg_errno_of(sqlstate);
}

int cio__pg_conn_error(cio_pg_conn *c, int err, const char *what)
{
    const char *m = c->pg ? PQerrorMessage(c->pg) : "";
    size_t n = strlen(m);
    while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
        n--;
    return cio_fail(err, "PostgreSQL %s: %.*s", what, (int)n, n ? m : cio_strerror(err));
}

const cio_pg_error *cio_pg_last_error(const cio_pg_conn *c)
{
    return c && c->has_err ? &c->err : NULL;
}
