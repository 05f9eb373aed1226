/* libcio-pg: connect, queries, parameters, typed results, errors, notices,
 * the statement cache and pipelining, against a real PostgreSQL 15. */
#include "pg_fixture.h"

static int t_connect_main(void *arg)
{
    (void)arg;
    cio_pg_conn *c = NULL;
    /* Unix socket, key=value. */
    cio_pg_opts o = {.application_name = "cio-test"};
    CIO_ASSERT_OK(cio_pg_connect(&c, pgfx.dsn_unix, &o));
    char *name = NULL;
    CIO_ASSERT_OK(
        cio_pg_fetchval_text(c, &name, "SELECT current_setting('application_name')", NULL, 0));
    CIO_ASSERT_STR_EQ(name, "cio-test");
    free(name);
    CIO_ASSERT_EQ(pg_int(c, "SELECT pg_backend_pid()"), cio_pg_backend_pid(c));
    cio_pg_close(c);
    /* TCP, URI; a host name goes through cio's resolver. */
    CIO_ASSERT_OK(cio_pg_connect(&c, pgfx.dsn_tcp, NULL));
    CIO_ASSERT_EQ(pg_int(c, "SELECT 42"), 42);
    cio_pg_close(c);
    char dsn[512];
    snprintf(dsn, sizeof dsn, "postgresql://postgres@localhost:%d/postgres?sslmode=disable",
             pgfx.port);
    CIO_ASSERT_OK(cio_pg_connect(&c, dsn, NULL));
    CIO_ASSERT_EQ(pg_int(c, "SELECT 7"), 7);
    /* Server settings through options. */
    cio_pg_close(c);
    snprintf(dsn, sizeof dsn, "%s options='-c search_path=pg_catalog'", pgfx.dsn_unix);
    CIO_ASSERT_OK(cio_pg_connect(&c, dsn, NULL));
    CIO_ASSERT_OK(cio_pg_fetchval_text(c, &name, "SHOW search_path", NULL, 0));
    CIO_ASSERT_STR_EQ(name, "pg_catalog");
    free(name);
    cio_pg_close(c);
    return 0;
}

static void test_connect(void)
{
    CIO_ASSERT_OK(cio_test_run(t_connect_main, NULL));
}

static int t_connect_errors_main(void *arg)
{
    (void)arg;
    cio_pg_conn *c = NULL;
    CIO_ASSERT_ERR(cio_pg_connect(&c, "postgresql://[bad", NULL), -EINVAL);
    int port = pgfx_free_port();
    char dsn[512];
    snprintf(dsn, sizeof dsn, "host=127.0.0.1 port=%d user=postgres", port);
    CIO_ASSERT_ERR(cio_pg_connect(&c, dsn, NULL), -ECONNREFUSED);
    CIO_ASSERT_ERR(cio_pg_connect(&c, "host=no-such-host.invalid user=x", NULL), -ENOENT);
    snprintf(dsn, sizeof dsn, "%s dbname=no_such_db", pgfx.dsn_unix);
    CIO_ASSERT_ERR(cio_pg_connect(&c, dsn, NULL), -ENOENT);
    /* A listener that never answers: the connect timeout bounds the wait. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    CIO_ASSERT(bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 8) == 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    snprintf(dsn, sizeof dsn, "host=127.0.0.1 port=%d user=postgres connect_timeout=1",
             ntohs(a.sin_port));
    double t0 = cio_now();
    CIO_ASSERT_ERR(cio_pg_connect(&c, dsn, NULL), -ETIMEDOUT);
    CIO_ASSERT_CMP(cio_now() - t0, <, 3.0);
    cio_pg_opts o = {.connect_timeout = 0.2};
    t0 = cio_now();
    CIO_ASSERT_ERR(cio_pg_connect(&c, dsn, &o), -ETIMEDOUT);
    CIO_ASSERT_CMP(cio_now() - t0, <, 1.5);
    close(fd);
    CIO_ASSERT(c == NULL);
    return 0;
}

static void test_connect_errors(void)
{
    CIO_ASSERT_OK(cio_test_run(t_connect_errors_main, NULL));
}

/* Several hosts: libpq tries them in order (cio resolves the names first);
 * the first refuses, the second answers. target_session_attrs is honoured:
 * a read-only session is refused for read-write and taken for read-only. */
static int t_multi_host_main(void *arg)
{
    (void)arg;
    cio_pg_conn *c = NULL;
    int closed = pgfx_free_port();
    char dsn[512];
    snprintf(dsn, sizeof dsn,
             "host=127.0.0.1,127.0.0.1 port=%d,%d user=postgres dbname=postgres "
             "target_session_attrs=read-write",
             closed, pgfx.port);
    CIO_ASSERT_OK(cio_pg_connect(&c, dsn, NULL));
    CIO_ASSERT_EQ(pg_int(c, "SELECT 11"), 11);
    cio_pg_close(c);
    snprintf(dsn, sizeof dsn, "host=localhost,localhost port=%d,%d user=postgres dbname=postgres",
             closed, pgfx.port);
    CIO_ASSERT_OK(cio_pg_connect(&c, dsn, NULL));
    CIO_ASSERT_EQ(pg_int(c, "SELECT 12"), 12);
    cio_pg_close(c);
    snprintf(dsn, sizeof dsn,
             "host=127.0.0.1,127.0.0.1 port=%d,%d user=postgres dbname=postgres "
             "target_session_attrs=read-write options='-c default_transaction_read_only=on'",
             closed, pgfx.port);
    CIO_ASSERT_ERR(cio_pg_connect(&c, dsn, NULL), -EROFS);
    CIO_ASSERT(c == NULL);
    snprintf(dsn, sizeof dsn,
             "host=127.0.0.1,127.0.0.1 port=%d,%d user=postgres dbname=postgres "
             "target_session_attrs=read-only options='-c default_transaction_read_only=on'",
             closed, pgfx.port);
    CIO_ASSERT_OK(cio_pg_connect(&c, dsn, NULL));
    CIO_ASSERT_EQ(pg_int(c, "SELECT 13"), 13);
    cio_pg_close(c);
    /* Every host refuses: the error says so. */
    snprintf(dsn, sizeof dsn, "host=127.0.0.1,127.0.0.1 port=%d,%d user=postgres", closed, closed);
    CIO_ASSERT_ERR(cio_pg_connect(&c, dsn, NULL), -ECONNREFUSED);
    return 0;
}

static void test_multi_host(void)
{
    CIO_ASSERT_OK(cio_test_run(t_multi_host_main, NULL));
}

/* Checks every supported type in one row, fetched in binary (every column
 * decoded by cio) or in text (the same row plus a point, a type cio does not
 * decode, so the driver asks for text): the getters give the same values. */
static void check_types(cio_pg_conn *c, int with_point)
{
    char sql[1200];
    snprintf(sql, sizeof sql, "%s%s",
             "SELECT true, 12::int2, -123456::int4, 9000000000::int8, 1.5::float4, -2.25::float8, "
             "'-12345678901234567890.0012300'::numeric, 'héllo'::text, 'v'::varchar, "
             "'\\x00ff10'::bytea, "
             "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, '2024-02-29'::date, "
             "'13:45:10.5'::time, '2024-02-29 13:45:10.123456'::timestamp, "
             "'2024-02-29 13:45:10+02'::timestamptz, '1 year 2 mons 3 days 04:05:06'::interval, "
             "'{\"a\": [1, 2]}'::json, '{\"a\": 1}'::jsonb, NULL::int4, 'NaN'::numeric, "
             "0.5::numeric, 'Infinity'::float8, 'infinity'::timestamp, "
             "ARRAY[1, NULL, 3]::int4[], ARRAY['a b', 'c\"d', NULL, 'NULL']::text[], "
             "'-1 days +02:03:00'::interval, '0044-03-15 BC'::date, "
             "'1999-12-31 23:59:59.5-05:30'::timestamptz",
             with_point ? ", '(1,2)'::point" : "");
    cio_pg_result *r = NULL;
    CIO_ASSERT_OK(cio_pg_fetch(c, &r, sql, NULL, 0));
    CIO_ASSERT_EQ(cio_pg_nrows(r), 1);
    CIO_ASSERT_EQ(cio_pg_ncols(r), 28 + with_point);
    int b;
    int64_t i;
    double d;
    const char *s;
    size_t len;
    CIO_ASSERT_OK(cio_pg_get_bool(r, 0, 0, &b));
    CIO_ASSERT_EQ(b, 1);
    CIO_ASSERT_OK(cio_pg_get_int(r, 0, 1, &i));
    CIO_ASSERT_EQ(i, 12);
    CIO_ASSERT_OK(cio_pg_get_int(r, 0, 2, &i));
    CIO_ASSERT_EQ(i, -123456);
    CIO_ASSERT_OK(cio_pg_get_int(r, 0, 3, &i));
    CIO_ASSERT_EQ(i, 9000000000LL);
    CIO_ASSERT_OK(cio_pg_get_double(r, 0, 4, &d));
    CIO_ASSERT_CMP(d, ==, 1.5);
    CIO_ASSERT_OK(cio_pg_get_double(r, 0, 5, &d));
    CIO_ASSERT_CMP(d, ==, -2.25);
    CIO_ASSERT_OK(cio_pg_get_numeric(r, 0, 6, &s));
    CIO_ASSERT_STR_EQ(s, "-12345678901234567890.0012300");
    CIO_ASSERT_OK(cio_pg_get_double(r, 0, 6, &d));
    CIO_ASSERT_CMP(d, ==, -12345678901234567890.00123);
    CIO_ASSERT_OK(cio_pg_get_text(r, 0, 7, &s, &len));
    CIO_ASSERT_STR_EQ(s, "héllo");
    CIO_ASSERT_EQ(len, 6);
    CIO_ASSERT_OK(cio_pg_get_text(r, 0, 8, &s, NULL));
    CIO_ASSERT_STR_EQ(s, "v");
    const uint8_t *bytes;
    CIO_ASSERT_OK(cio_pg_get_bytea(r, 0, 9, &bytes, &len));
    CIO_ASSERT_EQ(len, 3);
    CIO_ASSERT(bytes[0] == 0 && bytes[1] == 0xff && bytes[2] == 0x10);
    uint8_t u[16];
    CIO_ASSERT_OK(cio_pg_get_uuid(r, 0, 10, u));
    CIO_ASSERT(u[0] == 0xa0 && u[15] == 0x11);
    CIO_ASSERT_OK(cio_pg_get_text(r, 0, 10, &s, NULL));
    CIO_ASSERT_STR_EQ(s, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    int32_t days;
    CIO_ASSERT_OK(cio_pg_get_date(r, 0, 11, &days));
    CIO_ASSERT_EQ(days, 19782); /* 2024-02-29 */
    CIO_ASSERT_OK(cio_pg_get_text(r, 0, 11, &s, NULL));
    CIO_ASSERT_STR_EQ(s, "2024-02-29");
    CIO_ASSERT_OK(cio_pg_get_time(r, 0, 12, &i));
    CIO_ASSERT_EQ(i, (13 * 3600 + 45 * 60 + 10) * 1000000LL + 500000);
    CIO_ASSERT_OK(cio_pg_get_timestamp(r, 0, 13, &i));
    CIO_ASSERT_EQ(i, 19782LL * 86400000000LL + (13 * 3600 + 45 * 60 + 10) * 1000000LL + 123456);
    CIO_ASSERT_OK(cio_pg_get_text(r, 0, 13, &s, NULL));
    CIO_ASSERT_STR_EQ(s, "2024-02-29 13:45:10.123456");
    CIO_ASSERT_OK(cio_pg_get_timestamp(r, 0, 14, &i));
    CIO_ASSERT_EQ(i, 19782LL * 86400000000LL + (11 * 3600 + 45 * 60 + 10) * 1000000LL);
    cio_pg_interval iv;
    CIO_ASSERT_OK(cio_pg_get_interval(r, 0, 15, &iv));
    CIO_ASSERT_EQ(iv.months, 14);
    CIO_ASSERT_EQ(iv.days, 3);
    CIO_ASSERT_EQ(iv.usec, (4 * 3600 + 5 * 60 + 6) * 1000000LL);
    CIO_ASSERT_OK(cio_pg_get_text(r, 0, 15, &s, NULL));
    CIO_ASSERT_STR_EQ(s, "1 year 2 mons 3 days 04:05:06");
    CIO_ASSERT_OK(cio_pg_get_json(r, 0, 16, &s, NULL));
    CIO_ASSERT_STR_EQ(s, "{\"a\": [1, 2]}");
    CIO_ASSERT_OK(cio_pg_get_json(r, 0, 17, &s, NULL));
    CIO_ASSERT_STR_EQ(s, "{\"a\": 1}");
    /* NULL is distinct from every value, for every getter. */
    CIO_ASSERT_EQ(cio_pg_isnull(r, 0, 18), 1);
    CIO_ASSERT_ERR(cio_pg_get_int(r, 0, 18, &i), -ENODATA);
    CIO_ASSERT_ERR(cio_pg_get_text(r, 0, 18, &s, NULL), -ENODATA);
    CIO_ASSERT_OK(cio_pg_get_numeric(r, 0, 19, &s));
    CIO_ASSERT_STR_EQ(s, "NaN");
    CIO_ASSERT_OK(cio_pg_get_numeric(r, 0, 20, &s));
    CIO_ASSERT_STR_EQ(s, "0.5");
    CIO_ASSERT_OK(cio_pg_get_double(r, 0, 21, &d));
    CIO_ASSERT(d > 1e308);
    CIO_ASSERT_OK(cio_pg_get_timestamp(r, 0, 22, &i));
    CIO_ASSERT_EQ(i, INT64_MAX);
    cio_pg_array a;
    CIO_ASSERT_OK(cio_pg_get_array(r, 0, 23, &a));
    CIO_ASSERT_EQ(a.n, 3);
    CIO_ASSERT_EQ(a.elemtype, CIO_PG_INT4);
    CIO_ASSERT_OK(cio_pg_array_get_int(&a, 2, &i));
    CIO_ASSERT_EQ(i, 3);
    CIO_ASSERT_EQ(cio_pg_array_isnull(&a, 1), 1);
    CIO_ASSERT_OK(cio_pg_get_array(r, 0, 24, &a));
    CIO_ASSERT_EQ(a.n, 4);
    CIO_ASSERT_OK(cio_pg_array_get_text(&a, 0, &s, NULL));
    CIO_ASSERT_STR_EQ(s, "a b");
    CIO_ASSERT_OK(cio_pg_array_get_text(&a, 1, &s, &len));
    CIO_ASSERT_STR_EQ(s, "c\"d");
    CIO_ASSERT_EQ(len, 3);
    CIO_ASSERT_EQ(cio_pg_array_isnull(&a, 2), 1);
    CIO_ASSERT_OK(cio_pg_array_get_text(&a, 3, &s, NULL));
    CIO_ASSERT_STR_EQ(s, "NULL");
    CIO_ASSERT_OK(cio_pg_get_interval(r, 0, 25, &iv));
    CIO_ASSERT_EQ(iv.days, -1);
    CIO_ASSERT_EQ(iv.months, 0);
    CIO_ASSERT_EQ(iv.usec, (2 * 3600 + 3 * 60) * 1000000LL);
    CIO_ASSERT_OK(cio_pg_get_date(r, 0, 26, &days));
    CIO_ASSERT_EQ(days, -735160); /* 15 March 44 BC (proleptic Gregorian, year -43) */
    CIO_ASSERT_OK(cio_pg_get_timestamp(r, 0, 27, &i));
    CIO_ASSERT_EQ(i, 946704599500000LL); /* 2000-01-01 05:29:59.5 UTC */
    CIO_ASSERT_ERR(cio_pg_get_int(r, 0, 7, &i), -EDOM);
    CIO_ASSERT_ERR(cio_pg_get_bool(r, 0, 1, &b), -EDOM);
    CIO_ASSERT_ERR(cio_pg_get_int(r, 1, 1, &i), -ERANGE);
    CIO_ASSERT_ERR(cio_pg_get_int(r, 0, 99, &i), -ERANGE);
    CIO_ASSERT_STR_EQ(cio_pg_colname(r, 1), "int2");
    CIO_ASSERT_EQ(cio_pg_coltype(r, 3), CIO_PG_INT8);
    if (with_point) {
        /* The type cio does not decode comes back as PostgreSQL's text. */
        CIO_ASSERT_OK(cio_pg_get_text(r, 0, 28, &s, &len));
        CIO_ASSERT_STR_EQ(s, "(1,2)");
        CIO_ASSERT_OK(cio_pg_get_text(r, 0, 21, &s, NULL));
        CIO_ASSERT_STR_EQ(s, "Infinity");
    }
    cio_pg_result_free(r);
}

static int t_types_main(void *arg)
{
    (void)arg;
    cio_pg_conn *c = pg_connect_ok(NULL);
    check_types(c, 0);
    check_types(c, 1);
    cio_pg_close(c);
    return 0;
}

/* Types cio does not decode (inet, point, money, a user enum) come back as
 * PostgreSQL's text, beside decoded columns, through every way of reading
 * rows: fetch, fetchval, a stream, and without named statements. */
static void check_unknown(cio_pg_conn *c)
{
    cio_pg_result *r = NULL;
    const char *s;
    int64_t i;
    cio_pg_param p[] = {cio_pg_int4(7)};
    CIO_ASSERT_OK(cio_pg_fetch(c, &r,
                               "SELECT '192.168.0.1/24'::inet, point(1.5, -2), 12.5::money, "
                               "'happy'::mood, $1::int4 + 1, '{10.0.0.1}'::inet[]",
                               p, 1));
    CIO_ASSERT_OK(cio_pg_get_text(r, 0, 0, &s, NULL));
    CIO_ASSERT_STR_EQ(s, "192.168.0.1/24");
    CIO_ASSERT_OK(cio_pg_get_text(r, 0, 1, &s, NULL));
    CIO_ASSERT_STR_EQ(s, "(1.5,-2)");
    CIO_ASSERT_OK(cio_pg_get_text(r, 0, 2, &s, NULL));
    CIO_ASSERT_STR_EQ(s, "$12.50");
    CIO_ASSERT_OK(cio_pg_get_text(r, 0, 3, &s, NULL));
    CIO_ASSERT_STR_EQ(s, "happy");
    CIO_ASSERT_OK(cio_pg_get_int(r, 0, 4, &i));
    CIO_ASSERT_EQ(i, 8);
    CIO_ASSERT_OK(cio_pg_get_text(r, 0, 5, &s, NULL));
    CIO_ASSERT_STR_EQ(s, "{10.0.0.1}");
    cio_pg_result_free(r);
    /* The same statement again (cached, described): still text. */
    CIO_ASSERT_OK(cio_pg_fetch(c, &r,
                               "SELECT '192.168.0.1/24'::inet, point(1.5, -2), 12.5::money, "
                               "'happy'::mood, $1::int4 + 1, '{10.0.0.1}'::inet[]",
                               p, 1));
    CIO_ASSERT_OK(cio_pg_get_text(r, 0, 0, &s, NULL));
    CIO_ASSERT_STR_EQ(s, "192.168.0.1/24");
    cio_pg_result_free(r);
    char *t = NULL;
    CIO_ASSERT_OK(cio_pg_fetchval_text(c, &t, "SELECT '::1'::inet", NULL, 0));
    CIO_ASSERT_STR_EQ(t, "::1");
    free(t);
    cio_pg_stream *st = NULL;
    CIO_ASSERT_OK(cio_pg_stream_open(
        &st, c, "SELECT g, ('10.0.0.' || g)::inet FROM generate_series(1, 3) g", NULL, 0));
    const cio_pg_result *row;
    int n = 0;
    while (cio_pg_stream_next(st, &row) == 1) {
        n++;
        CIO_ASSERT_OK(cio_pg_get_int(row, 0, 0, &i));
        CIO_ASSERT_EQ(i, n);
        char want[32];
        snprintf(want, sizeof want, "10.0.0.%d", n);
        CIO_ASSERT_OK(cio_pg_get_text(row, 0, 1, &s, NULL));
        CIO_ASSERT_STR_EQ(s, want);
    }
    CIO_ASSERT_EQ(n, 3);
    CIO_ASSERT_OK(cio_pg_stream_close(st));
}

static int t_unknown_types_main(void *arg)
{
    (void)arg;
    cio_pg_conn *c = pg_connect_ok(NULL);
    CIO_ASSERT_OK(cio_pg_execute(c, "DROP TYPE IF EXISTS mood", NULL, 0, NULL));
    CIO_ASSERT_OK(cio_pg_execute(c, "CREATE TYPE mood AS ENUM ('sad', 'happy')", NULL, 0, NULL));
    check_unknown(c);
    cio_pg_close(c);
    cio_pg_opts o = {.no_named_statements = 1};
    c = pg_connect_ok(&o);
    check_unknown(c);
    CIO_ASSERT_OK(cio_pg_execute(c, "DROP TYPE mood", NULL, 0, NULL));
    cio_pg_close(c);
    return 0;
}

static void test_unknown_types(void)
{
    CIO_ASSERT_OK(cio_test_run(t_unknown_types_main, NULL));
}

static void test_types(void)
{
    CIO_ASSERT_OK(cio_test_run(t_types_main, NULL));
}

static int t_params_main(void *arg)
{
    (void)arg;
    cio_pg_conn *c = pg_connect_ok(NULL);
    static const uint8_t blob[4] = {0, 1, 0xfe, 0xff};
    static const uint8_t id[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    cio_pg_param p[] = {cio_pg_int2(-7),
                        cio_pg_int4(2147483647),
                        cio_pg_int8(-9000000000LL),
                        cio_pg_float4(0.25f),
                        cio_pg_float8(1e300),
                        cio_pg_bool(1),
                        cio_pg_text("it's"),
                        cio_pg_bytea(blob, 4),
                        cio_pg_uuid(id),
                        cio_pg_timestamp(CIO_PG_TIMESTAMPTZ, 1700000000123456LL),
                        cio_pg_date(19782),
                        cio_pg_null(),
                        cio_pg_text("2024-01-31")};
    cio_pg_result *r = NULL;
    CIO_ASSERT_OK(cio_pg_fetch(c, &r,
                               "SELECT $1, $2, $3, $4, $5, $6, $7::text, $8, $9, $10, $11, "
                               "$12::int4 IS NULL, $13::date, octet_length($8)",
                               p, sizeof p / sizeof p[0]));
    int64_t i;
    double d;
    int b;
    const char *s;
    size_t len;
    CIO_ASSERT_OK(cio_pg_get_int(r, 0, 0, &i));
    CIO_ASSERT_EQ(i, -7);
    CIO_ASSERT_OK(cio_pg_get_int(r, 0, 1, &i));
    CIO_ASSERT_EQ(i, 2147483647);
    CIO_ASSERT_OK(cio_pg_get_int(r, 0, 2, &i));
    CIO_ASSERT_EQ(i, -9000000000LL);
    CIO_ASSERT_OK(cio_pg_get_double(r, 0, 3, &d));
    CIO_ASSERT_CMP(d, ==, 0.25);
    CIO_ASSERT_OK(cio_pg_get_double(r, 0, 4, &d));
    CIO_ASSERT_CMP(d, ==, 1e300);
    CIO_ASSERT_OK(cio_pg_get_bool(r, 0, 5, &b));
    CIO_ASSERT_EQ(b, 1);
    CIO_ASSERT_OK(cio_pg_get_text(r, 0, 6, &s, NULL));
    CIO_ASSERT_STR_EQ(s, "it's");
    const uint8_t *bytes;
    CIO_ASSERT_OK(cio_pg_get_bytea(r, 0, 7, &bytes, &len));
    CIO_ASSERT(len == 4 && memcmp(bytes, blob, 4) == 0);
    uint8_t u[16];
    CIO_ASSERT_OK(cio_pg_get_uuid(r, 0, 8, u));
    CIO_ASSERT(memcmp(u, id, 16) == 0);
    CIO_ASSERT_OK(cio_pg_get_timestamp(r, 0, 9, &i));
    CIO_ASSERT_EQ(i, 1700000000123456LL);
    int32_t days;
    CIO_ASSERT_OK(cio_pg_get_date(r, 0, 10, &days));
    CIO_ASSERT_EQ(days, 19782);
    CIO_ASSERT_OK(cio_pg_get_bool(r, 0, 11, &b));
    CIO_ASSERT_EQ(b, 1);
    CIO_ASSERT_OK(cio_pg_get_date(r, 0, 12, &days));
    CIO_ASSERT_EQ(days, 19753);
    CIO_ASSERT_OK(cio_pg_get_int(r, 0, 13, &i));
    CIO_ASSERT_EQ(i, 4);
    cio_pg_result_free(r);

    /* Arrays, one dimension, with NULL elements; empty arrays. */
    CIO_ASSERT_OK(cio_pg_fetch(c, &r,
                               "SELECT ARRAY[1, NULL, 3]::int4[], ARRAY['a', 'bc']::text[], "
                               "'{}'::int8[], ARRAY[1.5, 2.5]::float8[], ARRAY[true, false], "
                               "ARRAY[[1, 2], [3, 4]]",
                               NULL, 0));
    cio_pg_array a;
    CIO_ASSERT_OK(cio_pg_get_array(r, 0, 0, &a));
    CIO_ASSERT_EQ(a.n, 3);
    CIO_ASSERT_EQ(a.elemtype, CIO_PG_INT4);
    CIO_ASSERT_OK(cio_pg_array_get_int(&a, 0, &i));
    CIO_ASSERT_EQ(i, 1);
    CIO_ASSERT_ERR(cio_pg_array_get_int(&a, 1, &i), -ENODATA);
    CIO_ASSERT_EQ(cio_pg_array_isnull(&a, 1), 1);
    CIO_ASSERT_OK(cio_pg_array_get_int(&a, 2, &i));
    CIO_ASSERT_EQ(i, 3);
    CIO_ASSERT_ERR(cio_pg_array_get_int(&a, 3, &i), -ERANGE);
    CIO_ASSERT_OK(cio_pg_get_array(r, 0, 1, &a));
    CIO_ASSERT_OK(cio_pg_array_get_text(&a, 1, &s, &len));
    CIO_ASSERT_STR_EQ(s, "bc");
    CIO_ASSERT_OK(cio_pg_get_array(r, 0, 2, &a));
    CIO_ASSERT_EQ(a.n, 0);
    CIO_ASSERT_OK(cio_pg_get_array(r, 0, 3, &a));
    CIO_ASSERT_OK(cio_pg_array_get_double(&a, 1, &d));
    CIO_ASSERT_CMP(d, ==, 2.5);
    CIO_ASSERT_OK(cio_pg_get_array(r, 0, 4, &a));
    CIO_ASSERT_OK(cio_pg_array_get_bool(&a, 1, &b));
    CIO_ASSERT_EQ(b, 0);
    CIO_ASSERT_ERR(cio_pg_get_array(r, 0, 5, &a), -EDOM);
    cio_pg_result_free(r);

    /* execute: rows affected; a script of several statements. */
    int64_t n = -1;
    CIO_ASSERT_OK(cio_pg_execute(c,
                                 "CREATE TABLE t (id int primary key, v text); "
                                 "INSERT INTO t VALUES (1, 'a'), (2, 'b')",
                                 NULL, 0, &n));
    CIO_ASSERT_EQ(n, 2);
    cio_pg_param up[] = {cio_pg_text("z"), cio_pg_int4(0)};
    CIO_ASSERT_OK(cio_pg_execute(c, "UPDATE t SET v = $1 WHERE id > $2", up, 2, &n));
    CIO_ASSERT_EQ(n, 2);
    /* fetchrow / fetchval with no row and with NULL. */
    CIO_ASSERT_EQ(cio_pg_fetchrow(c, &r, "SELECT * FROM t WHERE id = 99", NULL, 0), 0);
    CIO_ASSERT(r == NULL);
    CIO_ASSERT_EQ(cio_pg_fetchrow(c, &r, "SELECT * FROM t ORDER BY id", NULL, 0), 1);
    CIO_ASSERT_EQ(cio_pg_nrows(r), 2);
    cio_pg_result_free(r);
    CIO_ASSERT_ERR(cio_pg_fetchval_int(c, &i, "SELECT id FROM t WHERE id = 99", NULL, 0), -ENODATA);
    CIO_ASSERT_ERR(cio_pg_fetchval_int(c, &i, "SELECT NULL::int", NULL, 0), -ENODATA);
    CIO_ASSERT_OK(cio_pg_fetchval_double(c, &d, "SELECT 2.5::numeric", NULL, 0));
    CIO_ASSERT_CMP(d, ==, 2.5);
    cio_pg_close(c);
    return 0;
}

static void test_params(void)
{
    CIO_ASSERT_OK(cio_test_run(t_params_main, NULL));
}

static int notices;
static char notice_text[128];
static void on_notice(void *arg, const char *sev, const char *state, const char *msg)
{
    (void)arg;
    (void)state;
    notices++;
    snprintf(notice_text, sizeof notice_text, "%s: %s", sev, msg);
}

static int t_errors_main(void *arg)
{
    (void)arg;
    cio_pg_opts o = {.notice_fn = on_notice};
    cio_pg_conn *c = pg_connect_ok(&o);
    cio_task *self = cio_current();
    int64_t i;
    CIO_ASSERT_ERR(cio_pg_fetchval_int(c, &i, "SELECT 1 / 0", NULL, 0), -EDOM);
    const cio_pg_error *e = cio_pg_last_error(c);
    CIO_ASSERT(e != NULL);
    CIO_ASSERT_STR_EQ(e->sqlstate, "22012");
    CIO_ASSERT_STR_EQ(e->message, "division by zero");
    CIO_ASSERT_STR_EQ(e->severity, "ERROR");
    CIO_ASSERT(strstr(cio_task_message(self), "22012: division by zero") != NULL);
    CIO_ASSERT_OK(cio_pg_execute(c, "CREATE TABLE u (id int primary key)", NULL, 0, NULL));
    cio_pg_param p[] = {cio_pg_int4(1)};
    CIO_ASSERT_OK(cio_pg_execute(c, "INSERT INTO u VALUES ($1)", p, 1, NULL));
    CIO_ASSERT_ERR(cio_pg_execute(c, "INSERT INTO u VALUES ($1)", p, 1, NULL), -EEXIST);
    e = cio_pg_last_error(c);
    CIO_ASSERT_STR_EQ(e->sqlstate, "23505");
    CIO_ASSERT(strstr(e->detail, "Key (id)=(1) already exists") != NULL);
    CIO_ASSERT(strstr(cio_task_message(self), "(Key (id)=(1) already exists.)") != NULL);
    CIO_ASSERT_ERR(cio_pg_execute(c, "SELECT * FROM nope", NULL, 0, NULL), -ENOENT);
    CIO_ASSERT_ERR(cio_pg_execute(c, "SELEC 1", NULL, 0, NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_pg_execute(c, "SELECT nofunc()", NULL, 0, NULL), -ENOENT);
    e = cio_pg_last_error(c);
    CIO_ASSERT(strstr(e->hint, "No function matches") != NULL);
    /* The connection works after every error. */
    CIO_ASSERT_EQ(pg_int(c, "SELECT 5"), 5);
    /* Notices reach the callback. */
    CIO_ASSERT_OK(cio_pg_execute(c, "DO $$BEGIN RAISE NOTICE 'hello %', 42; END$$", NULL, 0, NULL));
    CIO_ASSERT_EQ(notices, 1);
    CIO_ASSERT_STR_EQ(notice_text, "NOTICE: hello 42");
    cio_pg_close(c);
    return 0;
}

static void test_errors(void)
{
    CIO_ASSERT_OK(cio_test_run(t_errors_main, NULL));
}

static int t_stmt_cache_main(void *arg)
{
    (void)arg;
    cio_pg_opts o = {.statement_cache_size = 2};
    cio_pg_conn *c = pg_connect_ok(&o);
    cio_pg_param p[] = {cio_pg_int4(3)};
    int64_t i;
    for (int k = 0; k < 3; k++) {
        CIO_ASSERT_OK(cio_pg_fetchval_int(c, &i, "SELECT $1 + 1", p, 1));
        CIO_ASSERT_EQ(i, 4);
    }
    /* One statement prepared, reused three times. */
    CIO_ASSERT_EQ(pg_int(c, "SELECT count(*) FROM pg_prepared_statements"), 2);
    CIO_ASSERT_OK(cio_pg_fetchval_int(c, &i, "SELECT $1 + 2", p, 1));
    CIO_ASSERT_OK(cio_pg_fetchval_int(c, &i, "SELECT $1 + 3", p, 1));
    CIO_ASSERT_EQ(i, 6);
    /* The LRU keeps two: the evicted ones were deallocated on the server. */
    CIO_ASSERT_EQ(pg_int(c, "SELECT count(*) FROM pg_prepared_statements"), 2);

    /* A cached statement invalidated by ALTER TABLE is re-prepared. */
    CIO_ASSERT_OK(
        cio_pg_execute(c, "CREATE TABLE w (a int); INSERT INTO w VALUES (1)", NULL, 0, NULL));
    cio_pg_result *r;
    CIO_ASSERT_OK(cio_pg_fetch(c, &r, "SELECT * FROM w", NULL, 0));
    CIO_ASSERT_EQ(cio_pg_ncols(r), 1);
    cio_pg_result_free(r);
    CIO_ASSERT_OK(cio_pg_execute(c, "ALTER TABLE w ADD COLUMN b text DEFAULT 'x'", NULL, 0, NULL));
    CIO_ASSERT_OK(cio_pg_fetch(c, &r, "SELECT * FROM w", NULL, 0));
    CIO_ASSERT_EQ(cio_pg_ncols(r), 2);
    cio_pg_result_free(r);
    /* Inside a transaction it is reported, not retried. */
    cio_pg_tx tx;
    CIO_ASSERT_OK(cio_pg_tx_begin(&tx, c, NULL));
    CIO_ASSERT_OK(cio_pg_execute(c, "ALTER TABLE w ADD COLUMN c int", NULL, 0, NULL));
    int err = cio_pg_fetch(c, &r, "SELECT * FROM w", NULL, 0);
    CIO_ASSERT(err == -ENOTSUP);
    CIO_ASSERT(strstr(cio_task_message(cio_current()), "roll back and retry") != NULL);
    CIO_ASSERT_OK(cio_pg_tx_rollback(&tx));
    CIO_ASSERT_OK(cio_pg_fetch(c, &r, "SELECT * FROM w", NULL, 0));
    CIO_ASSERT_EQ(cio_pg_ncols(r), 2);
    cio_pg_result_free(r);
    cio_pg_close(c);

    /* Without named statements nothing is prepared on the server. */
    cio_pg_opts un = {.no_named_statements = 1};
    c = pg_connect_ok(&un);
    for (int k = 0; k < 3; k++)
        CIO_ASSERT_OK(cio_pg_fetchval_int(c, &i, "SELECT $1 + 1", p, 1));
    CIO_ASSERT_EQ(pg_int(c, "SELECT count(*) FROM pg_prepared_statements"), 0);
    cio_pg_close(c);
    return 0;
}

static void test_stmt_cache(void)
{
    CIO_ASSERT_OK(cio_test_run(t_stmt_cache_main, NULL));
}

typedef struct shared {
    cio_pg_conn *c;
    int id;
    int ok;
} shared;

static int one_query(void *arg)
{
    shared *s = arg;
    cio_pg_param p[] = {cio_pg_int4(s->id)};
    int64_t v;
    int err = cio_pg_fetchval_int(s->c, &v, "SELECT $1::int4 * 2", p, 1);
    s->ok = !err && v == 2 * s->id;
    return err;
}

static int t_pipeline_main(void *arg)
{
    (void)arg;
    cio_pg_conn *c = pg_connect_ok(NULL);
    enum { N = 200 };
    static shared s[N];
    cio_task *t[N];
    for (int i = 0; i < N; i++) {
        s[i] = (shared){c, i, 0};
        t[i] = cio_spawn(one_query, &s[i]);
    }
    CIO_ASSERT_OK(cio_gather(t, N, 0));
    for (int i = 0; i < N; i++) {
        CIO_ASSERT_OK(cio_join(t[i]));
        CIO_ASSERT(s[i].ok);
    }
    cio_pg_close(c);
    return 0;
}

static void test_pipeline(void)
{
    CIO_ASSERT_OK(cio_test_run(t_pipeline_main, NULL));
}

static int t_batch_main(void *arg)
{
    (void)arg;
    cio_pg_conn *c = pg_connect_ok(NULL);
    CIO_ASSERT_OK(
        cio_pg_execute(c, "CREATE TABLE bt (id int primary key, v float8)", NULL, 0, NULL));
    /* executemany: 1,000 rows, one round trip, prepared once. */
    enum { N = 1000 };
    static cio_pg_param rows[N][2];
    for (int i = 0; i < N; i++) {
        rows[i][0] = cio_pg_int4(i);
        rows[i][1] = cio_pg_float8(i * 0.5);
    }
    int64_t n = 0;
    CIO_ASSERT_OK(cio_pg_executemany(c, "INSERT INTO bt VALUES ($1, $2)", &rows[0][0], 2, N, &n));
    CIO_ASSERT_EQ(n, N);
    CIO_ASSERT_EQ(pg_int(c, "SELECT count(*) FROM bt"), N);
    /* Atomic: a duplicate in the middle applies none of the rows. */
    rows[5][0] = cio_pg_int4(2000);
    rows[6][0] = cio_pg_int4(2001);
    rows[7][0] = cio_pg_int4(2000);
    CIO_ASSERT_ERR(cio_pg_executemany(c, "INSERT INTO bt VALUES ($1, $2)", &rows[5][0], 2, 3, &n),
                   -EEXIST);
    CIO_ASSERT_EQ(pg_int(c, "SELECT count(*) FROM bt"), N);
    /* The message names the failing row (its index in params) and the SQLSTATE. */
    CIO_ASSERT(strstr(cio_task_message(cio_current()),
                      "executemany row 2 of 3: PostgreSQL 23505") != NULL);

    /* A batch: results in order; a failure skips the rest of the group. */
    cio_pg_batch *b;
    CIO_ASSERT_OK(cio_pg_batch_new(&b));
    cio_pg_param p1[] = {cio_pg_int4(10)};
    CIO_ASSERT_OK(cio_pg_batch_add(b, "SELECT v FROM bt WHERE id = $1", p1, 1));
    CIO_ASSERT_OK(cio_pg_batch_add(b, "SELECT count(*) FROM bt", NULL, 0));
    CIO_ASSERT_OK(cio_pg_batch_add(b, "UPDATE bt SET v = 0 WHERE id < 10", NULL, 0));
    CIO_ASSERT_OK(cio_pg_batch_run(c, b));
    double d;
    int64_t i;
    CIO_ASSERT_OK(cio_pg_get_double(cio_pg_batch_result(b, 0), 0, 0, &d));
    CIO_ASSERT_CMP(d, ==, 5.0);
    CIO_ASSERT_OK(cio_pg_get_int(cio_pg_batch_result(b, 1), 0, 0, &i));
    CIO_ASSERT_EQ(i, N);
    CIO_ASSERT_STR_EQ(cio_pg_cmd_status(cio_pg_batch_result(b, 2)), "UPDATE 10");
    cio_pg_batch_free(b);
    CIO_ASSERT_OK(cio_pg_batch_new(&b));
    CIO_ASSERT_OK(cio_pg_batch_add(b, "UPDATE bt SET v = 1 WHERE id < 10", NULL, 0));
    CIO_ASSERT_OK(cio_pg_batch_add(b, "SELECT 1 / 0", NULL, 0));
    CIO_ASSERT_OK(cio_pg_batch_add(b, "SELECT 3", NULL, 0));
    CIO_ASSERT_ERR(cio_pg_batch_run(c, b), -EDOM);
    CIO_ASSERT_OK(cio_pg_batch_status(b, 0));
    CIO_ASSERT_ERR(cio_pg_batch_status(b, 1), -EDOM);
    CIO_ASSERT_ERR(cio_pg_batch_status(b, 2), -ECONNABORTED);
    CIO_ASSERT(cio_pg_batch_result(b, 2) == NULL);
    cio_pg_batch_free(b);
    /* The group was rolled back: the first update did not stay. */
    CIO_ASSERT_EQ(pg_int(c, "SELECT count(*) FROM bt WHERE v = 1 AND id < 10"), 0);
    cio_pg_close(c);
    return 0;
}

static void test_batch(void)
{
    CIO_ASSERT_OK(cio_test_run(t_batch_main, NULL));
}

static int64_t prepared_count(cio_pg_conn *c)
{
    return pg_int(c, "SELECT count(*) FROM pg_prepared_statements");
}

/* Batches and executemany describe their statements first, as fetch does. */
static int t_batch_described_main(void *arg)
{
    (void)arg;
    cio_pg_conn *c = pg_connect_ok(NULL);
    /* A column cio does not decode (inet) comes back as text, next to a
     * binary-decodable one, on the batch's first run. */
    cio_pg_batch *b;
    CIO_ASSERT_OK(cio_pg_batch_new(&b));
    cio_pg_param p1[] = {cio_pg_int4(41)};
    CIO_ASSERT_OK(cio_pg_batch_add(b, "SELECT '10.1.2.3'::inet AS a, $1::int4 + 1 AS b", p1, 1));
    CIO_ASSERT_OK(cio_pg_batch_add(b, "SELECT $1::int4 * 2", p1, 1));
    CIO_ASSERT_OK(cio_pg_batch_add(b, "SELECT '10.1.2.3'::inet AS a, $1::int4 + 1 AS b", p1, 1));
    CIO_ASSERT_OK(cio_pg_batch_run(c, b));
    for (size_t q = 0; q < 3; q += 2) {
        const char *s = NULL;
        int64_t v = 0;
        CIO_ASSERT_OK(cio_pg_get_text(cio_pg_batch_result(b, q), 0, 0, &s, NULL));
        CIO_ASSERT_STR_EQ(s, "10.1.2.3");
        CIO_ASSERT_OK(cio_pg_get_int(cio_pg_batch_result(b, q), 0, 1, &v));
        CIO_ASSERT_EQ(v, 42);
    }
    int64_t v = 0;
    CIO_ASSERT_OK(cio_pg_get_int(cio_pg_batch_result(b, 1), 0, 0, &v));
    CIO_ASSERT_EQ(v, 82);
    cio_pg_batch_free(b);
    /* Described once: the same statements fetched later need no describe,
     * and they stay prepared once each. */
    CIO_ASSERT_EQ(prepared_count(c), 3); /* with the count's own statement */
    cio_pg_result *r = NULL;
    CIO_ASSERT_OK(cio_pg_fetch(c, &r, "SELECT $1::int4 * 2", p1, 1));
    CIO_ASSERT_OK(cio_pg_get_int(r, 0, 0, &v));
    CIO_ASSERT_EQ(v, 82);
    cio_pg_result_free(r);
    CIO_ASSERT_EQ(prepared_count(c), 3);

    /* A batch whose later statements need an earlier one's DDL cannot be
     * described ahead: it still runs, outside and inside a transaction, and
     * the transaction survives the failed describe. */
    for (int in_tx = 0; in_tx < 2; in_tx++) {
        cio_pg_tx tx;
        if (in_tx)
            CIO_ASSERT_OK(cio_pg_tx_begin(&tx, c, NULL));
        CIO_ASSERT_OK(cio_pg_batch_new(&b));
        const char *create = in_tx ? "CREATE TABLE dd1 (x int)" : "CREATE TABLE dd0 (x int)";
        const char *insert = in_tx ? "INSERT INTO dd1 VALUES ($1)" : "INSERT INTO dd0 VALUES ($1)";
        const char *select = in_tx ? "SELECT x, x::text::inet FROM (SELECT '1.2.3.4' AS x "
                                     "FROM dd1) s"
                                   : "SELECT x, x::text::inet FROM (SELECT '1.2.3.4' AS x "
                                     "FROM dd0) s";
        cio_pg_param one[] = {cio_pg_int4(1)};
        CIO_ASSERT_OK(cio_pg_batch_add(b, create, NULL, 0));
        CIO_ASSERT_OK(cio_pg_batch_add(b, insert, one, 1));
        CIO_ASSERT_OK(cio_pg_batch_add(b, select, NULL, 0));
        CIO_ASSERT_OK(cio_pg_batch_run(c, b));
        CIO_ASSERT_EQ(cio_pg_nrows(cio_pg_batch_result(b, 2)), 1);
        cio_pg_batch_free(b);
        if (in_tx) {
            CIO_ASSERT_EQ(pg_int(c, "SELECT count(*) FROM dd1"), 1);
            CIO_ASSERT_OK(cio_pg_tx_commit(&tx));
        }
    }
    CIO_ASSERT_EQ(pg_int(c, "SELECT count(*) FROM dd1"), 1); /* committed */
    CIO_ASSERT_EQ(cio_pg_in_transaction(c), 0);

    /* executemany: a bad statement fails before any row is sent, with the
     * server's message; rows with NULLs share the statement of the others. */
    CIO_ASSERT_OK(cio_pg_execute(c, "CREATE TABLE em (id int, v int)", NULL, 0, NULL));
    enum { N = 6 };
    cio_pg_param rows[N][2];
    for (int i = 0; i < N; i++) {
        rows[i][0] = cio_pg_int4(i);
        rows[i][1] = i % 2 ? cio_pg_null() : cio_pg_int4(i * 10);
    }
    CIO_ASSERT_ERR(
        cio_pg_executemany(c, "INSERT INTO nope VALUES ($1, $2)", &rows[0][0], 2, N, NULL),
        -ENOENT);
    CIO_ASSERT(strstr(cio_task_message(cio_current()), "nope") != NULL);
    int64_t before = prepared_count(c), n = 0;
    CIO_ASSERT_OK(cio_pg_executemany(c, "INSERT INTO em VALUES ($1, $2)", &rows[0][0], 2, N, &n));
    CIO_ASSERT_EQ(n, N);
    CIO_ASSERT_EQ(prepared_count(c), before + 1);
    CIO_ASSERT_EQ(pg_int(c, "SELECT count(v) FROM em"), N / 2);
    CIO_ASSERT_EQ(pg_int(c, "SELECT sum(v) FROM em"), 0 + 20 + 40);
    cio_pg_close(c);
    return 0;
}

static void test_batch_described(void)
{
    CIO_ASSERT_OK(cio_test_run(t_batch_described_main, NULL));
}

#ifdef CIO_TEST_CERTS
static int t_tls_main(void *arg)
{
    (void)arg;
    char dsn[512];
    snprintf(dsn, sizeof dsn,
             "host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=verify-ca "
             "sslrootcert=%s/ca.pem",
             pgfx.port, CIO_TEST_CERTS);
    cio_pg_conn *c;
    CIO_ASSERT_OK(cio_pg_connect(&c, dsn, NULL));
    CIO_ASSERT_EQ(pg_int(c, "SELECT count(*) FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND "
                            "ssl"),
                  1);
    /* A large result and pipelined queries through TLS records. */
    cio_pg_result *r;
    CIO_ASSERT_OK(cio_pg_fetch(c, &r,
                               "SELECT g, repeat('x', g % 100) FROM generate_series(1, "
                               "200000) g",
                               NULL, 0));
    CIO_ASSERT_EQ(cio_pg_nrows(r), 200000);
    cio_pg_result_free(r);
    enum { N = 100 };
    static shared s[N];
    cio_task *t[N];
    for (int i = 0; i < N; i++) {
        s[i] = (shared){c, i, 0};
        t[i] = cio_spawn(one_query, &s[i]);
    }
    CIO_ASSERT_OK(cio_gather(t, N, 0));
    for (int i = 0; i < N; i++) {
        CIO_ASSERT_OK(cio_join(t[i]));
        CIO_ASSERT(s[i].ok);
    }
    cio_pg_close(c);
    /* A server certificate from an unknown CA is refused. */
    snprintf(dsn, sizeof dsn,
             "host=127.0.0.1 port=%d user=postgres sslmode=verify-ca sslrootcert=%s/untrusted.pem",
             pgfx.port, CIO_TEST_CERTS);
    CIO_ASSERT(cio_pg_connect(&c, dsn, NULL) < 0);
    return 0;
}

static void test_tls(void)
{
    CIO_ASSERT_OK(cio_test_run(t_tls_main, NULL));
}
#endif

static const cio_test_case tests[] = {
    CIO_TEST(test_connect, "Unix socket and TCP, key=value and URI DSNs, a host name, "
                           "application_name and server options reach the server"),
    CIO_TEST(test_connect_errors, "a malformed DSN, a refused port, an unknown host and database "
                                  "fail with their errno; a silent server hits the timeout"),
    CIO_TEST(test_multi_host, "host=a,b: a refusing first host is skipped (addresses and names); "
                              "target_session_attrs=read-write refuses a read-only session "
                              "(-EROFS), read-only takes it"),
    CIO_TEST(test_types, "results of every supported type decode to their C values in binary "
                         "and in text (a point in the row), text forms match PostgreSQL's, "
                         "NULL and mismatches are distinct"),
    CIO_TEST(test_unknown_types, "inet, point, money, an enum and inet[] come back as PostgreSQL's "
                                 "text beside decoded columns, through fetch, fetchval and a "
                                 "stream, with and without named statements"),
    CIO_TEST(test_params, "binary parameters of every kind round-trip; arrays, execute counts, "
                          "scripts, fetchrow and fetchval"),
    CIO_TEST(test_errors, "server errors give errno, SQLSTATE, message, detail, hint and a task "
                          "message; the connection goes on; notices reach the callback"),
    CIO_TEST(test_stmt_cache, "statements are prepared once, the LRU deallocates, ALTER TABLE "
                              "re-prepares outside a transaction and is reported inside; "
                              "no-named-statements mode prepares nothing"),
    CIO_TEST(test_pipeline, "200 tasks sharing one connection each get their own answer"),
#ifdef CIO_TEST_CERTS
    CIO_TEST(test_tls, "TLS through libpq's settings (verify-ca): a large result and 100 "
                       "pipelined queries over TLS; an unknown CA is refused"),
#endif
    CIO_TEST(test_batch, "executemany inserts 1,000 rows in one round trip and is atomic; a "
                         "batch returns results in order, a failure skips and rolls back the "
                         "rest of its group"),
    CIO_TEST(test_batch_described, "batches describe new statements first (as fetch does): "
                                   "inet reads as text, int4 in binary; a batch needing "
                                   "its own DDL still runs, in a transaction too; executemany "
                                   "fails on a bad statement before sending rows and runs rows "
                                   "with NULLs under one statement"),
};

PG_TEST_MAIN(tests)
