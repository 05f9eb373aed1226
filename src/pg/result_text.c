/* Results in PostgreSQL's text format: the parsers behind the getters when a
 * statement is fetched in text (a column has a type cio does not decode).
 * They read the server's default output styles (DateStyle ISO, IntervalStyle
 * postgres, bytea_output hex) and return -EDOM on anything else. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pg_internal.h"

int cio__pg_is_int_oid(uint32_t oid)
{
    return oid == CIO_PG_INT2 || oid == CIO_PG_INT4 || oid == CIO_PG_INT8 || oid == CIO_PG_OID;
}

int cio__pg_text_int(const pg_val *v, int64_t *out)
{
    char *end;
    errno = 0;
    long long x = strtoll(v->p, &end, 10);
    if (end == v->p || *end || errno)
        return -EDOM;
    *out = x;
    return 0;
}

int cio__pg_text_double(const pg_val *v, double *out)
{
    char *end;
    double x = strtod(v->p, &end);
    if (end == v->p || *end)
        return -EDOM;
    *out = x;
    return 0;
}

/* Reads n decimal digits at *p (advancing it); -1 when they are not there. */
static int digits(const char **p, int n)
{
    int x = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9')
            return -1;
        x = x * 10 + (**p - '0');
    }
    return x;
}

/* Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* ISO date "YYYY-MM-DD" (DateStyle ISO, the server's default). */
static int t_date_part(const char **p, int64_t *y, int *m, int *d)
{
    const char *s = *p;
    int nd = 0;
    for (*y = 0; *s >= '0' && *s <= '9' && nd < 9; nd++)
        *y = *y * 10 + (*s++ - '0');
    if (nd < 4 || *s++ != '-')
        return -EDOM;
    *m = digits(&s, 2);
    if (*m < 1 || *s++ != '-')
        return -EDOM;
    *d = digits(&s, 2);
    if (*d < 1)
        return -EDOM;
    *p = s;
    return 0;
}

/* "HH:MM:SS[.ffffff]" to microseconds. */
static int t_time_part(const char **p, int64_t *us)
{
    const char *s = *p;
    int h = digits(&s, 2);
    if (h < 0 || *s++ != ':')
        return -EDOM;
    int m = digits(&s, 2);
    if (m < 0 || *s++ != ':')
        return -EDOM;
    int sec = digits(&s, 2);
    if (sec < 0)
        return -EDOM;
    int64_t f = 0;
    if (*s == '.') {
        s++;
        int n = 0;
        for (; *s >= '0' && *s <= '9'; s++, n++)
            if (n < 6)
                f = f * 10 + (*s - '0');
        for (; n < 6; n++)
            f *= 10;
    }
    *us = ((int64_t)h * 3600 + m * 60 + sec) * 1000000 + f;
    *p = s;
    return 0;
}

/* "+HH[:MM[:SS]]" or "-..." to seconds east of UTC. */
static int t_zone(const char **p, int64_t *secs)
{
    const char *s = *p;
    int sign = *s == '-' ? -1 : 1;
    if (*s != '+' && *s != '-')
        return -EDOM;
    s++;
    int h = digits(&s, 2), m = 0, sec = 0;
    if (h < 0)
        return -EDOM;
    if (*s == ':' && (m = (s++, digits(&s, 2))) < 0)
        return -EDOM;
    if (*s == ':' && (sec = (s++, digits(&s, 2))) < 0)
        return -EDOM;
    *secs = sign * (h * 3600 + m * 60 + sec);
    *p = s;
    return 0;
}

/* The end of a date or timestamp: nothing, or " BC" (year n BC is 1 - n). */
static int t_era(const char *p, int64_t *y)
{
    if (strcmp(p, " BC") == 0)
        *y = 1 - *y;
    else if (*p)
        return -EDOM;
    return 0;
}

static int t_infinity(const char *p)
{
    return strcmp(p, "infinity") == 0 ? 1 : strcmp(p, "-infinity") == 0 ? -1 : 0;
}

/* Days since 1970-01-01. */
int cio__pg_text_date(const pg_val *v, int32_t *out)
{
    int inf = t_infinity(v->p);
    if (inf) {
        *out = inf > 0 ? INT32_MAX : INT32_MIN;
        return 0;
    }
    const char *p = v->p;
    int64_t y;
    int m, d;
    if (t_date_part(&p, &y, &m, &d) || t_era(p, &y))
        return -EDOM;
    *out = (int32_t)days_from_civil(y, (unsigned)m, (unsigned)d);
    return 0;
}

/* Microseconds since 1970-01-01 UTC; timestamptz carries its offset. */
int cio__pg_text_timestamp(const pg_val *v, int64_t *out)
{
    int inf = t_infinity(v->p);
    if (inf) {
        *out = inf > 0 ? INT64_MAX : INT64_MIN;
        return 0;
    }
    const char *p = v->p;
    int64_t y, us, zone = 0;
    int m, d;
    if (t_date_part(&p, &y, &m, &d) || *p++ != ' ' || t_time_part(&p, &us))
        return -EDOM;
    if ((*p == '+' || *p == '-') && t_zone(&p, &zone))
        return -EDOM;
    if (t_era(p, &y))
        return -EDOM;
    *out = days_from_civil(y, (unsigned)m, (unsigned)d) * 86400000000 + us - zone * 1000000;
    return 0;
}

/* IntervalStyle postgres (the default): "1 year 2 mons -3 days 04:05:06.5". */
int cio__pg_text_interval(const pg_val *v, cio_pg_interval *out)
{
    memset(out, 0, sizeof *out);
    const char *p = v->p;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *q = p + (*p == '-' || *p == '+');
        const char *colon = strchr(q, ':'), *space = strchr(q, ' ');
        if (colon && (!space || colon < space)) {
            int64_t us;
            if (t_time_part(&q, &us))
                return -EDOM;
            out->usec += *p == '-' ? -us : us;
            p = q;
            continue;
        }
        char *end;
        long n = strtol(p, &end, 10);
        if (end == p || *end != ' ')
            return -EDOM;
        p = end + 1;
        if (strncmp(p, "year", 4) == 0)
            out->months += (int32_t)(12 * n);
        else if (strncmp(p, "mon", 3) == 0)
            out->months += (int32_t)n;
        else if (strncmp(p, "day", 3) == 0)
            out->days += (int32_t)n;
        else
            return -EDOM;
        while (*p && *p != ' ')
            p++;
    }
    return 0;
}

static int hexval(char ch)
{
    return ch >= '0' && ch <= '9'   ? ch - '0'
           : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
           : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                    : -1;
}

/* uuid "xxxxxxxx-xxxx-..." (hyphens anywhere, as PostgreSQL accepts). */
int cio__pg_text_uuid(const pg_val *v, uint8_t out[16])
{
    const char *p = v->p;
    for (int i = 0; i < 16; i++) {
        if (*p == '-')
            p++;
        int hi = hexval(p[0]), lo = hi < 0 ? -1 : hexval(p[1]);
        if (hi < 0 || lo < 0)
            return -EDOM;
        out[i] = (uint8_t)(hi << 4 | lo);
        p += 2;
    }
    return *p ? -EDOM : 0;
}

/* bytea's text form: "\\x" and hex digits (bytea_output hex, the default). */
int cio__pg_text_bytea(const cio_pg_result *r, const pg_val *v, const uint8_t **out, size_t *len)
{
    if (v->len < 2 || v->p[0] != '\\' || v->p[1] != 'x' || v->len % 2)
        return -EDOM;
    size_t n = (size_t)(v->len - 2) / 2;
    uint8_t *b = (uint8_t *)cio__pg_arena_alloc(r, n + 1);
    if (!b)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(v->p[2 + 2 * i]), lo = hexval(v->p[3 + 2 * i]);
        if (hi < 0 || lo < 0)
            return -EDOM;
        b[i] = (uint8_t)(hi << 4 | lo);
    }
    *out = b;
    *len = n;
    return 0;
}

/* An array's element type from its own type (the text form does not say). */
static uint32_t elem_of(uint32_t array_oid)
{
    static const uint32_t map[][2] = {
        {1000, CIO_PG_BOOL},        {1001, CIO_PG_BYTEA},    {1003, CIO_PG_NAME},
        {1005, CIO_PG_INT2},        {1007, CIO_PG_INT4},     {1009, CIO_PG_TEXT},
        {1014, CIO_PG_BPCHAR},      {1015, CIO_PG_VARCHAR},  {1016, CIO_PG_INT8},
        {1021, CIO_PG_FLOAT4},      {1022, CIO_PG_FLOAT8},   {1028, CIO_PG_OID},
        {1115, CIO_PG_TIMESTAMP},   {1182, CIO_PG_DATE},     {1183, CIO_PG_TIME},
        {1185, CIO_PG_TIMESTAMPTZ}, {1187, CIO_PG_INTERVAL}, {1231, CIO_PG_NUMERIC},
        {199, CIO_PG_JSON},         {2951, CIO_PG_UUID},     {3807, CIO_PG_JSONB},
        {143, CIO_PG_XML},          {1270, CIO_PG_TIMETZ}};
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (map[i][0] == array_oid)
            return map[i][1];
    return 0;
}

/* A one-dimensional array's text form: {a,"b c",NULL} (optionally after
 * "[lo:hi]="). Elements are unescaped into the arena, NUL-terminated. */
int cio__pg_text_array(const cio_pg_result *r, const pg_val *v, cio_pg_array *out)
{
    if (!elem_of(v->oid))
        return -EDOM;
    const char *p = v->p;
    if (*p == '[') {
        p = strchr(p, '=');
        if (!p)
            return -EDOM;
        p++;
    }
    if (*p++ != '{')
        return -EDOM;
    size_t cap = 1;
    for (const char *q = p; *q; q++)
        cap += *q == ',';
    char *buf = cio__pg_arena_alloc(r, cap * (sizeof(char *) + sizeof(int)) + strlen(p) + cap + 1);
    if (!buf)
        return -ENOMEM;
    const char **ptr = (const char **)buf;
    int *lens = (int *)(ptr + cap);
    char *o = (char *)(lens + cap);
    size_t n = 0;
    out->elemtype = elem_of(v->oid);
    out->priv_res = r;
    out->priv_text = 1;
    if (*p == '}')
        return p[1] ? -EDOM : 0;
    for (;;) {
        if (*p == '{')
            return -EDOM; /* more than one dimension */
        char *start = o;
        int quoted = *p == '"';
        if (quoted) {
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1])
                    p++;
                *o++ = *p;
            }
            if (*p++ != '"')
                return -EDOM;
        } else {
            for (; *p && *p != ',' && *p != '}'; p++) {
                if (*p == '\\' && p[1])
                    p++;
                *o++ = *p;
            }
        }
        *o++ = 0;
        int isnull = !quoted && strcmp(start, "NULL") == 0;
        ptr[n] = isnull ? NULL : start;
        lens[n] = isnull ? -1 : (int)(o - 1 - start);
        n++;
        if (*p == '}')
            break;
        if (*p++ != ',' || n == cap)
            return -EDOM;
    }
    if (p[1])
        return -EDOM;
    out->n = n;
    out->priv_ptr = ptr;
    out->priv_len = lens;
    return 0;
}

int cio__pg_text_time(const pg_val *v, int64_t *usec)
{
    const char *p = v->p;
    return t_time_part(&p, usec); /* timetz: the zone after it is ignored, as in binary */
}
