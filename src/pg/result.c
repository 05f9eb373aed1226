/* Results: C-typed getters over PostgreSQL's binary and text formats.
 *
 * Values arrive in binary when cio decodes every column of the statement, and
 * all in text when one column has a type it does not decode (libpq asks for
 * one format for all columns); the getters decode either in place, the text
 * format through result_text.c. Text-like values are zero-copy views into
 * libpq's buffer (libpq NUL-terminates every value). Values formatted on
 * request (numeric as text, other types read as text) go to a small arena
 * freed with the result. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "pg_internal.h"

#define PG_EPOCH_DAYS 10957 /* 1970-01-01 to 2000-01-01 */
#define PG_EPOCH_USEC INT64_C(946684800000000)

typedef struct chunk {
    struct chunk *next;
    char data[];
} chunk;

/* Array type OIDs whose elements cio decodes. */
static const uint32_t ARRAY_OIDS[] = {1000, 1001, 1003, 1005, 1007, 1009, 1014, 1015,
                                      1016, 1021, 1022, 1028, 1115, 1182, 1183, 1185,
                                      1187, 1231, 199,  2951, 3807, 143,  1270};

int cio__pg_oid_decoded(uint32_t oid)
{
    switch (oid) {
    case CIO_PG_BOOL:
    case CIO_PG_BYTEA:
    case CIO_PG_NAME:
    case CIO_PG_INT8:
    case CIO_PG_INT2:
    case CIO_PG_INT4:
    case CIO_PG_TEXT:
    case CIO_PG_OID:
    case CIO_PG_JSON:
    case CIO_PG_FLOAT4:
    case CIO_PG_FLOAT8:
    case CIO_PG_UNKNOWN:
    case CIO_PG_BPCHAR:
    case CIO_PG_VARCHAR:
    case CIO_PG_DATE:
    case CIO_PG_TIME:
    case CIO_PG_TIMESTAMP:
    case CIO_PG_TIMESTAMPTZ:
    case CIO_PG_INTERVAL:
    case CIO_PG_NUMERIC:
    case CIO_PG_UUID:
    case CIO_PG_JSONB:
    case CIO_PG_TIMETZ:
    case CIO_PG_XML:
    case 2278 /* void */:
        return 1;
    }
    for (size_t i = 0; i < sizeof ARRAY_OIDS / sizeof *ARRAY_OIDS; i++)
        if (ARRAY_OIDS[i] == oid)
            return 1;
    return 0;
}

void cio__pg_result_set(cio_pg_result *r, PGresult *res)
{
    r->res = res;
    r->ntuples = res ? PQntuples(res) : 0;
    r->nfields = res ? PQnfields(res) : 0;
}

cio_pg_result *cio__pg_result_wrap(PGresult *res)
{
    cio_pg_result *r = cio__calloc(1, sizeof *r);
    if (r)
        cio__pg_result_set(r, res);
    return r;
}

void cio__pg_result_reset(cio_pg_result *r, PGresult *res)
{
    for (chunk *c = r->arena, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    r->arena = NULL;
    PQclear(r->res);
    cio__pg_result_set(r, res);
}

void cio__pg_result_clear(cio_pg_result *r)
{
    for (chunk *c = r->arena, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    r->arena = NULL;
    PQclear(r->res);
    cio__pg_result_set(r, NULL);
}

void cio_pg_result_free(cio_pg_result *r)
{
    if (!r)
        return;
    cio__pg_result_clear(r);
    free(r);
}

char *cio__pg_arena_alloc(const cio_pg_result *cr, size_t n)
{
    cio_pg_result *r = (cio_pg_result *)cr;
    chunk *c = cio__malloc(sizeof *c + n);
    if (!c)
        return NULL;
    c->next = r->arena;
    r->arena = c;
    return c->data;
}

static char *arena_strdup(const cio_pg_result *r, const char *s, size_t *len)
{
    size_t n = strlen(s);
    char *d = cio__pg_arena_alloc(r, n + 1);
    if (d) {
        memcpy(d, s, n + 1);
        if (len)
            *len = n;
    }
    return d;
}

size_t cio_pg_nrows(const cio_pg_result *r)
{
    return r ? (size_t)r->ntuples : 0;
}

int cio_pg_ncols(const cio_pg_result *r)
{
    return r ? r->nfields : 0;
}

const char *cio_pg_colname(const cio_pg_result *r, int col)
{
    return r && col >= 0 && col < r->nfields ? PQfname(r->res, col) : NULL;
}

int cio_pg_colindex(const cio_pg_result *r, const char *name)
{
    if (!r || !name)
        return -1;
    for (int i = 0; i < r->nfields; i++)
        if (strcmp(PQfname(r->res, i), name) == 0)
            return i;
    return -1;
}

uint32_t cio_pg_coltype(const cio_pg_result *r, int col)
{
    return r && col >= 0 && col < r->nfields ? PQftype(r->res, col) : 0;
}

const char *cio_pg_cmd_status(const cio_pg_result *r)
{
    return r ? PQcmdStatus(r->res) : "";
}

int cio_pg_isnull(const cio_pg_result *r, size_t row, int col)
{
    if (!r || row >= (size_t)r->ntuples || col < 0 || col >= r->nfields)
        return -ERANGE;
    return PQgetisnull(r->res, (int)row, col);
}

static int cell(const cio_pg_result *r, size_t row, int col, pg_val *v)
{
    int isnull = cio_pg_isnull(r, row, col);
    if (isnull < 0)
        return isnull;
    if (isnull)
        return -ENODATA;
    v->oid = PQftype(r->res, col);
    v->p = PQgetvalue(r->res, (int)row, col);
    v->len = PQgetlength(r->res, (int)row, col);
    v->text = PQfformat(r->res, col) == 0;
    return 0;
}

static uint16_t be16(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint16_t)(u[0] << 8 | u[1]);
}

static uint32_t be32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

static uint64_t be64(const char *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* ---- decoders shared by columns and array elements ---- */

static int v_bool(const pg_val *v, int *out)
{
    if (v->text && v->oid == CIO_PG_BOOL) {
        *out = v->p[0] == 't';
        return 0;
    }
    if (v->oid != CIO_PG_BOOL || v->len != 1)
        return -EDOM;
    *out = v->p[0] != 0;
    return 0;
}

static int v_int(const pg_val *v, int64_t *out)
{
    if (v->text)
        return cio__pg_is_int_oid(v->oid) ? cio__pg_text_int(v, out) : -EDOM;
    if (v->oid == CIO_PG_INT2 && v->len == 2)
        *out = (int16_t)be16(v->p);
    else if (v->oid == CIO_PG_INT4 && v->len == 4)
        *out = (int32_t)be32(v->p);
    else if (v->oid == CIO_PG_OID && v->len == 4)
        *out = be32(v->p);
    else if (v->oid == CIO_PG_INT8 && v->len == 8)
        *out = (int64_t)be64(v->p);
    else
        return -EDOM;
    return 0;
}

/* numeric's binary form: ndigits, weight, sign, dscale, then base-10000
 * digits, the first of weight `weight`. */
static int numeric_text(const pg_val *v, char *buf, size_t cap)
{
    if (v->oid != CIO_PG_NUMERIC || v->len < 8)
        return -EDOM;
    int nd = be16(v->p), weight = (int16_t)be16(v->p + 2);
    unsigned sign = be16(v->p + 4), dscale = be16(v->p + 6);
    if (v->len < 8 + 2 * nd)
        return -EDOM;
    const char *special = sign == 0xC000   ? "NaN"
                          : sign == 0xD000 ? "Infinity"
                          : sign == 0xF000 ? "-Infinity"
                                           : NULL;
    if (special) {
        snprintf(buf, cap, "%s", special);
        return 0;
    }
    size_t need = (size_t)(weight > 0 ? weight + 1 : 1) * 4 + dscale + 8;
    if (need > cap)
        return -ERANGE;
    char *o = buf;
    if (sign == 0x4000)
        *o++ = '-';
    if (weight < 0) {
        *o++ = '0';
    } else {
        for (int i = 0; i <= weight; i++) {
            int d = i < nd ? (int16_t)be16(v->p + 8 + 2 * i) : 0;
            o += sprintf(o, i == 0 ? "%d" : "%04d", d);
        }
    }
    if (dscale > 0) {
        *o++ = '.';
        char *frac = o;
        for (int i = weight + 1; (unsigned)(o - frac) < dscale; i++) {
            int d = i >= 0 && i < nd ? (int16_t)be16(v->p + 8 + 2 * i) : 0;
            o += sprintf(o, "%04d", d);
        }
        o = frac + dscale;
    }
    *o = 0;
    return 0;
}

static int numeric_size(const pg_val *v)
{
    int weight = v->len >= 8 ? (int16_t)be16(v->p + 2) : 0;
    int dscale = v->len >= 8 ? be16(v->p + 6) : 0;
    return (weight > 0 ? weight + 1 : 1) * 4 + dscale + 8;
}

static int v_double(const pg_val *v, double *out)
{
    int64_t i;
    if (v->text)
        return v->oid == CIO_PG_FLOAT4 || v->oid == CIO_PG_FLOAT8 || v->oid == CIO_PG_NUMERIC ||
                       cio__pg_is_int_oid(v->oid)
                   ? cio__pg_text_double(v, out)
                   : -EDOM;
    if (v->oid == CIO_PG_FLOAT8 && v->len == 8) {
        uint64_t u = be64(v->p);
        memcpy(out, &u, 8);
    } else if (v->oid == CIO_PG_FLOAT4 && v->len == 4) {
        uint32_t u = be32(v->p);
        float f;
        memcpy(&f, &u, 4);
        *out = f;
    } else if (v->oid == CIO_PG_NUMERIC) {
        size_t cap = (size_t)numeric_size(v);
        char small[128], *buf = cap <= sizeof small ? small : cio__malloc(cap);
        if (!buf)
            return -ENOMEM;
        int err = numeric_text(v, buf, cap);
        if (!err)
            *out = strtod(buf, NULL);
        if (buf != small)
            free(buf);
        return err;
    } else if (v_int(v, &i) == 0) {
        *out = (double)i;
    } else {
        return -EDOM;
    }
    return 0;
}

static int is_texty(uint32_t oid)
{
    return oid == CIO_PG_TEXT || oid == CIO_PG_VARCHAR || oid == CIO_PG_BPCHAR ||
           oid == CIO_PG_NAME || oid == CIO_PG_UNKNOWN || oid == CIO_PG_JSON || oid == CIO_PG_XML;
}

/* Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm). */
static void civil(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int fmt_date(char *b, size_t cap, int64_t days)
{
    int64_t y;
    unsigned m, d;
    civil(days, &y, &m, &d);
    if (y <= 0)
        return snprintf(b, cap, "%04" PRId64 "-%02u-%02u BC", 1 - y, m, d);
    return snprintf(b, cap, "%04" PRId64 "-%02u-%02u", y, m, d);
}

static int fmt_time(char *b, size_t cap, int64_t us)
{
    int64_t s = us / 1000000, f = us % 1000000;
    int n = snprintf(b, cap, "%02d:%02d:%02d", (int)(s / 3600), (int)(s / 60 % 60), (int)(s % 60));
    if (f && n > 0 && (size_t)n < cap) {
        n += snprintf(b + n, cap - (size_t)n, ".%06d", (int)f);
        while (b[n - 1] == '0')
            b[--n] = 0;
    }
    return n;
}

static int v_timestamp(const pg_val *v, int64_t *out)
{
    if (v->oid != CIO_PG_TIMESTAMP && v->oid != CIO_PG_TIMESTAMPTZ)
        return -EDOM;
    if (v->text)
        return cio__pg_text_timestamp(v, out);
    if (v->len != 8)
        return -EDOM;
    int64_t t = (int64_t)be64(v->p);
    *out = t == INT64_MAX || t == INT64_MIN ? t : t + PG_EPOCH_USEC;
    return 0;
}

static int v_date(const pg_val *v, int32_t *out)
{
    if (v->oid != CIO_PG_DATE)
        return -EDOM;
    if (v->text)
        return cio__pg_text_date(v, out);
    if (v->len != 4)
        return -EDOM;
    int32_t d = (int32_t)be32(v->p);
    *out = d == INT32_MAX || d == INT32_MIN ? d : d + PG_EPOCH_DAYS;
    return 0;
}

/* Formats a known non-text type as PostgreSQL prints it. */
static int format_value(const cio_pg_result *r, const pg_val *v, const char **out, size_t *len)
{
    if (v->text) { /* as PostgreSQL printed it */
        *out = v->p;
        if (len)
            *len = (size_t)v->len;
        return 0;
    }
    char b[160];
    int64_t i;
    double d;
    int bo;
    if (v->oid == CIO_PG_BOOL && v_bool(v, &bo) == 0) {
        snprintf(b, sizeof b, "%s", bo ? "t" : "f");
    } else if (v_int(v, &i) == 0) {
        snprintf(b, sizeof b, "%" PRId64, i);
    } else if ((v->oid == CIO_PG_FLOAT4 || v->oid == CIO_PG_FLOAT8) && v_double(v, &d) == 0) {
        /* The shortest form that reads back to the same value, as PostgreSQL. */
        int f4 = v->oid == CIO_PG_FLOAT4;
        for (int prec = f4 ? 6 : 15; prec <= (f4 ? 9 : 17); prec++) {
            snprintf(b, sizeof b, "%.*g", prec, d);
            if ((f4 ? (double)strtof(b, NULL) : strtod(b, NULL)) == d)
                break;
        }
    } else if (v->oid == CIO_PG_NUMERIC) {
        size_t cap = (size_t)numeric_size(v);
        char *buf = cio__pg_arena_alloc(r, cap);
        if (!buf)
            return -ENOMEM;
        int err = numeric_text(v, buf, cap);
        if (err)
            return err;
        *out = buf;
        if (len)
            *len = strlen(buf);
        return 0;
    } else if (v->oid == CIO_PG_UUID && v->len == 16) {
        const unsigned char *u = (const unsigned char *)v->p;
        char *o = b;
        for (int k = 0; k < 16; k++)
            o += sprintf(o, "%s%02x", k == 4 || k == 6 || k == 8 || k == 10 ? "-" : "", u[k]);
    } else if (v->oid == CIO_PG_DATE && v->len == 4) {
        int32_t days = 0;
        v_date(v, &days);
        if (days == INT32_MAX || days == INT32_MIN)
            snprintf(b, sizeof b, "%s", days == INT32_MAX ? "infinity" : "-infinity");
        else
            fmt_date(b, sizeof b, days);
    } else if (v_timestamp(v, &i) == 0) {
        if (i == INT64_MAX || i == INT64_MIN) {
            snprintf(b, sizeof b, "%s", i == INT64_MAX ? "infinity" : "-infinity");
        } else {
            int64_t days = i >= 0 ? i / 86400000000 : -((-i + 86399999999) / 86400000000);
            int n = fmt_date(b, sizeof b, days);
            b[n++] = ' ';
            n += fmt_time(b + n, sizeof b - (size_t)n, i - days * 86400000000);
            if (v->oid == CIO_PG_TIMESTAMPTZ)
                snprintf(b + n, sizeof b - (size_t)n, "+00");
        }
    } else if ((v->oid == CIO_PG_TIME && v->len == 8) ||
               (v->oid == CIO_PG_TIMETZ && v->len == 12)) {
        fmt_time(b, sizeof b, (int64_t)be64(v->p));
    } else if (v->oid == CIO_PG_INTERVAL && v->len == 16) {
        int64_t us = (int64_t)be64(v->p);
        int32_t days = (int32_t)be32(v->p + 8), mons = (int32_t)be32(v->p + 12);
        int n = 0;
        if (mons / 12)
            n += snprintf(b + n, sizeof b - (size_t)n, "%d year%s ", mons / 12,
                          mons / 12 == 1 ? "" : "s");
        if (mons % 12)
            n += snprintf(b + n, sizeof b - (size_t)n, "%d mon%s ", mons % 12,
                          mons % 12 == 1 ? "" : "s");
        if (days)
            n += snprintf(b + n, sizeof b - (size_t)n, "%d day%s ", days, days == 1 ? "" : "s");
        if (us || n == 0) {
            if (us < 0) {
                b[n++] = '-';
                us = -us;
            }
            fmt_time(b + n, sizeof b - (size_t)n, us);
        } else {
            b[n - 1] = 0;
        }
    } else {
        return -EDOM;
    }
    *out = arena_strdup(r, b, len);
    return *out ? 0 : -ENOMEM;
}

static int v_text(const cio_pg_result *r, const pg_val *v, const char **out, size_t *len)
{
    if (v->text)
        return format_value(r, v, out, len);
    if (is_texty(v->oid) || v->oid == CIO_PG_JSONB) {
        int skip = v->oid == CIO_PG_JSONB && v->len > 0 ? 1 : 0; /* jsonb's version byte */
        *out = v->p + skip;
        if (len)
            *len = (size_t)(v->len - skip);
        return 0;
    }
    int err = format_value(r, v, out, len);
    if (err != -EDOM || v->oid == CIO_PG_BYTEA)
        return err;
    /* A type cio does not decode: its binary form as it came. */
    *out = v->p;
    if (len)
        *len = (size_t)v->len;
    return 0;
}

/* ---- column getters ---- */

#define GET(r, row, col, v)                                                                        \
    pg_val v;                                                                                      \
    do {                                                                                           \
        int e_ = cell(r, row, col, &v);                                                            \
        if (e_)                                                                                    \
            return e_;                                                                             \
    } while (0)

int cio_pg_get_bool(const cio_pg_result *r, size_t row, int col, int *out)
{
    GET(r, row, col, v);
    return v_bool(&v, out);
}

int cio_pg_get_int(const cio_pg_result *r, size_t row, int col, int64_t *out)
{
    GET(r, row, col, v);
    return v_int(&v, out);
}

int cio_pg_get_double(const cio_pg_result *r, size_t row, int col, double *out)
{
    GET(r, row, col, v);
    return v_double(&v, out);
}

int cio_pg_get_numeric(const cio_pg_result *r, size_t row, int col, const char **out)
{
    GET(r, row, col, v);
    if (v.oid != CIO_PG_NUMERIC)
        return -EDOM;
    return format_value(r, &v, out, NULL);
}

int cio_pg_get_text(const cio_pg_result *r, size_t row, int col, const char **out, size_t *len)
{
    GET(r, row, col, v);
    return v_text(r, &v, out, len);
}

int cio_pg_get_bytea(const cio_pg_result *r, size_t row, int col, const uint8_t **out, size_t *len)
{
    GET(r, row, col, v);
    if (v.oid != CIO_PG_BYTEA)
        return -EDOM;
    if (v.text)
        return cio__pg_text_bytea(r, &v, out, len);
    *out = (const uint8_t *)v.p;
    *len = (size_t)v.len;
    return 0;
}

int cio_pg_get_uuid(const cio_pg_result *r, size_t row, int col, uint8_t out[16])
{
    GET(r, row, col, v);
    if (v.oid == CIO_PG_UUID && v.text)
        return cio__pg_text_uuid(&v, out);
    if (v.oid != CIO_PG_UUID || v.len != 16)
        return -EDOM;
    memcpy(out, v.p, 16);
    return 0;
}

int cio_pg_get_date(const cio_pg_result *r, size_t row, int col, int32_t *days)
{
    GET(r, row, col, v);
    return v_date(&v, days);
}

int cio_pg_get_time(const cio_pg_result *r, size_t row, int col, int64_t *usec)
{
    GET(r, row, col, v);
    if ((v.oid == CIO_PG_TIME || v.oid == CIO_PG_TIMETZ) && v.text) {
        return cio__pg_text_time(&v, usec);
    }
    if (!((v.oid == CIO_PG_TIME && v.len == 8) || (v.oid == CIO_PG_TIMETZ && v.len == 12)))
        return -EDOM;
    *usec = (int64_t)be64(v.p);
    return 0;
}

int cio_pg_get_timestamp(const cio_pg_result *r, size_t row, int col, int64_t *usec)
{
    GET(r, row, col, v);
    return v_timestamp(&v, usec);
}

int cio_pg_get_interval(const cio_pg_result *r, size_t row, int col, cio_pg_interval *out)
{
    GET(r, row, col, v);
    if (v.oid == CIO_PG_INTERVAL && v.text)
        return cio__pg_text_interval(&v, out);
    if (v.oid != CIO_PG_INTERVAL || v.len != 16)
        return -EDOM;
    out->usec = (int64_t)be64(v.p);
    out->days = (int32_t)be32(v.p + 8);
    out->months = (int32_t)be32(v.p + 12);
    return 0;
}

int cio_pg_get_json(const cio_pg_result *r, size_t row, int col, const char **out, size_t *len)
{
    GET(r, row, col, v);
    if (v.oid != CIO_PG_JSON && v.oid != CIO_PG_JSONB)
        return -EDOM;
    return v_text(r, &v, out, len);
}

/* ---- arrays: ndim, has-null flag, element type, (size, lower bound) per
 * dimension, then (length, bytes) per element, -1 for NULL ---- */

int cio_pg_get_array(const cio_pg_result *r, size_t row, int col, cio_pg_array *out)
{
    GET(r, row, col, v);
    if (v.text) {
        memset(out, 0, sizeof *out);
        return cio__pg_text_array(r, &v, out);
    }
    if (v.len < 12)
        return -EDOM;
    int ndim = (int32_t)be32(v.p);
    uint32_t elem = be32(v.p + 8);
    memset(out, 0, sizeof *out);
    out->priv_res = r;
    out->elemtype = elem;
    if (ndim == 0)
        return 0;
    if (ndim != 1 || v.len < 20)
        return -EDOM;
    int32_t n = (int32_t)be32(v.p + 12);
    if (n < 0)
        return -EDOM;
    const char **ptr =
        (const char **)cio__pg_arena_alloc(r, (size_t)n * (sizeof *ptr + sizeof(int)) + 1);
    if (!ptr)
        return -ENOMEM;
    int *lens = (int *)(ptr + n);
    const char *p = v.p + 20, *end = v.p + v.len;
    for (int32_t i = 0; i < n; i++) {
        if (end - p < 4)
            return -EDOM;
        int32_t l = (int32_t)be32(p);
        p += 4;
        if (l > end - p)
            return -EDOM;
        ptr[i] = l < 0 ? NULL : p;
        lens[i] = l;
        if (l > 0)
            p += l;
    }
    out->n = (size_t)n;
    out->priv_ptr = ptr;
    out->priv_len = lens;
    return 0;
}

static int elem(const cio_pg_array *a, size_t i, pg_val *v)
{
    if (!a || i >= a->n)
        return -ERANGE;
    if (a->priv_len[i] < 0)
        return -ENODATA;
    v->oid = a->elemtype;
    v->p = a->priv_ptr[i];
    v->len = a->priv_len[i];
    v->text = a->priv_text;
    return 0;
}

int cio_pg_array_isnull(const cio_pg_array *a, size_t i)
{
    if (!a || i >= a->n)
        return -ERANGE;
    return a->priv_len[i] < 0;
}

int cio_pg_array_get_bool(const cio_pg_array *a, size_t i, int *out)
{
    pg_val v;
    int err = elem(a, i, &v);
    return err ? err : v_bool(&v, out);
}

int cio_pg_array_get_int(const cio_pg_array *a, size_t i, int64_t *out)
{
    pg_val v;
    int err = elem(a, i, &v);
    return err ? err : v_int(&v, out);
}

int cio_pg_array_get_double(const cio_pg_array *a, size_t i, double *out)
{
    pg_val v;
    int err = elem(a, i, &v);
    return err ? err : v_double(&v, out);
}

/* Array element text is not NUL-terminated in the wire buffer: copied. */
int cio_pg_array_get_text(const cio_pg_array *a, size_t i, const char **out, size_t *len)
{
    pg_val v;
    int err = elem(a, i, &v);
    if (err)
        return err;
    if (v.text)
        return format_value(a->priv_res, &v, out, len);
    if (is_texty(v.oid) || v.oid == CIO_PG_JSONB) {
        int skip = v.oid == CIO_PG_JSONB && v.len > 0 ? 1 : 0;
        char *s = cio__pg_arena_alloc(a->priv_res, (size_t)(v.len - skip) + 1);
        if (!s)
            return -ENOMEM;
        memcpy(s, v.p + skip, (size_t)(v.len - skip));
        s[v.len - skip] = 0;
        *out = s;
        if (len)
            *len = (size_t)(v.len - skip);
        return 0;
    }
    return format_value(a->priv_res, &v, out, len);
}
