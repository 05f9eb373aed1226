/* libcio-pg COPY both ways (1M rows each way) and row-by-row streaming, with
 * errors and cancellation in the middle. */
#include "pg_fixture.h"

#if defined(__SANITIZE_ADDRESS__)
enum { ROWS = 200000 }; /* the sanitizers make 1M rows take minutes */
#else
enum { ROWS = 1000000 };
#endif

typedef struct gen {
    long next, end;
    cio_scope *cut; /* cancelled after 10 chunks, when set */
    int bad_at;     /* emit a malformed row there (0: never) */
    int calls;
} gen;

static ssize_t gen_rows(void *arg, char *buf, size_t cap)
{
    gen *g = arg;
    size_t n = 0;
    if (g->cut && g->calls == 10)
        cio_scope_cancel(g->cut);
    if (++g->calls % 8 == 0 && cio_yield() != 0)
        return cio_cancelled(); /* a source that suspends */
    while (g->next < g->end && cap - n > 64) {
        if (g->bad_at && g->next == g->bad_at)
            n += (size_t)snprintf(buf + n, cap - n, "oops\tx\t1\n");
        else
            n += (size_t)snprintf(buf + n, cap - n, "%ld\tname%ld\t%ld.5\n", g->next, g->next,
                                  g->next);
        g->next++;
    }
    return (ssize_t)n;
}

typedef struct sink {
    long rows, bytes;
    cio_scope *cut; /* cancelled after 1,000 rows, when set */
    int calls;
} sink;

static int count_rows(void *arg, const char *data, size_t len)
{
    sink *s = arg;
    (void)data;
    s->rows++;
    s->bytes += (long)len;
    if (s->cut && s->rows == 1000)
        cio_scope_cancel(s->cut);
    if (++s->calls % 1000 == 0)
        return cio_yield(); /* a slow consumer: backpressure */
    return 0;
}

static int t_copy_main(void *arg)
{
    (void)arg;
    cio_pg_conn *c = pg_connect_ok(NULL);
    CIO_ASSERT_OK(cio_pg_execute(c,
                                 "DROP TABLE IF EXISTS big; "
                                 "CREATE TABLE big (id int4, name text, v float8)",
                                 NULL, 0, NULL));
    gen g = {.next = 0, .end = ROWS};
    int64_t rows = 0;
    CIO_ASSERT_OK(cio_pg_copy_in(c, "COPY big FROM STDIN", gen_rows, &g, &rows));
    CIO_ASSERT_EQ(rows, ROWS);
    CIO_ASSERT_EQ(pg_int(c, "SELECT count(*) FROM big"), ROWS);
    CIO_ASSERT_EQ(pg_int(c, "SELECT sum(id) FROM big"), (int64_t)ROWS * (ROWS - 1) / 2);

    sink s = {0};
    CIO_ASSERT_OK(cio_pg_copy_out(c, "COPY big TO STDOUT", count_rows, &s, &rows));
    CIO_ASSERT_EQ(rows, ROWS);
    CIO_ASSERT_EQ(s.rows, ROWS);

    /* A malformed row: the server's error, nothing copied. */
    gen bad = {.next = 0, .end = 1000, .bad_at = 500};
    CIO_ASSERT_ERR(cio_pg_copy_in(c, "COPY big FROM STDIN", gen_rows, &bad, &rows), -EINVAL);
    CIO_ASSERT_STR_EQ(cio_pg_last_error(c)->sqlstate, "22P02");
    CIO_ASSERT_EQ(pg_int(c, "SELECT count(*) FROM big"), ROWS);
    /* Not a COPY, and a COPY of a missing table. */
    CIO_ASSERT_ERR(cio_pg_copy_in(c, "COPY nosuch FROM STDIN", gen_rows, &bad, &rows), -ENOENT);
    CIO_ASSERT_EQ(pg_int(c, "SELECT 1"), 1);
    cio_pg_close(c);
    return 0;
}

static void test_copy(void)
{
    CIO_ASSERT_OK(cio_test_run(t_copy_main, NULL));
}

static int t_copy_cancel_main(void *arg)
{
    (void)arg;
    cio_pg_conn *c = pg_connect_ok(NULL);
    CIO_ASSERT_OK(cio_pg_execute(c,
                                 "DROP TABLE IF EXISTS big; "
                                 "CREATE TABLE big (id int4, name text, v float8)",
                                 NULL, 0, NULL));
    /* COPY IN cancelled midway: rolled back, the connection goes on. */
    cio_scope sc;
    gen g = {.next = 0, .end = 100000000, .cut = &sc};
    int64_t rows;
    cio_scope_enter(&sc);
    CIO_ASSERT_ERR(cio_pg_copy_in(c, "COPY big FROM STDIN", gen_rows, &g, &rows), -ECANCELED);
    cio_scope_exit(&sc);
    CIO_ASSERT_CMP(g.next, >, 0);
    double t0 = cio_now();
    CIO_ASSERT_EQ(pg_int(c, "SELECT count(*) FROM big"), 0);
    CIO_ASSERT_CMP(cio_now() - t0, <, 1.0);
    /* COPY OUT of an endless query cut short: cancelled and drained. */
    sink s = {.cut = &sc};
    cio_scope_enter(&sc);
    /* (A cross join streams; one big generate_series would be materialized first.) */
    CIO_ASSERT_ERR(cio_pg_copy_out(c,
                                   "COPY (SELECT a, b FROM generate_series(1, 10000) a, "
                                   "generate_series(1, 100000) b) TO STDOUT",
                                   count_rows, &s, &rows),
                   -ECANCELED);
    cio_scope_exit(&sc);
    CIO_ASSERT_EQ(s.rows, 1000);
    t0 = cio_now();
    CIO_ASSERT_EQ(pg_int(c, "SELECT 5"), 5);
    CIO_ASSERT_CMP(cio_now() - t0, <, 1.0);
    cio_pg_close(c);
    return 0;
}

static void test_copy_cancel(void)
{
    CIO_ASSERT_OK(cio_test_run(t_copy_cancel_main, NULL));
}

static int t_stream_main(void *arg)
{
    (void)arg;
    cio_pg_conn *c = pg_connect_ok(NULL);
    cio_pg_stream *s;
    cio_pg_param p[] = {cio_pg_int4(ROWS)};
    CIO_ASSERT_OK(cio_pg_stream_open(&s, c,
                                     "SELECT g::int4, 'row' || g, g * 0.5::float8 "
                                     "FROM generate_series(1, $1) g",
                                     p, 1));
    const cio_pg_result *row;
    long n = 0;
    int64_t sum = 0;
    int rc;
    while ((rc = cio_pg_stream_next(s, &row)) == 1) {
        int64_t id;
        CIO_ASSERT_EQ(cio_pg_nrows(row), 1);
        CIO_ASSERT_OK(cio_pg_get_int(row, 0, 0, &id));
        sum += id;
        n++;
        if (n % 10000 == 0)
            CIO_ASSERT_OK(cio_yield());
    }
    CIO_ASSERT_OK(rc);
    CIO_ASSERT_EQ(n, ROWS);
    CIO_ASSERT_EQ(sum, (int64_t)ROWS * (ROWS + 1) / 2);
    CIO_ASSERT_OK(cio_pg_stream_close(s));
    /* Closed after 10 rows of a huge result: cancelled, the connection goes on. */
    CIO_ASSERT_OK(cio_pg_stream_open(&s, c,
                                     "SELECT a, b FROM generate_series(1, 10000) a, "
                                     "generate_series(1, 100000) b",
                                     NULL, 0));
    for (int i = 0; i < 10; i++)
        CIO_ASSERT_EQ(cio_pg_stream_next(s, &row), 1);
    cio_pg_stream_close(s);
    double t0 = cio_now();
    CIO_ASSERT_EQ(pg_int(c, "SELECT 6"), 6);
    /* the rows already sent are drained first */
    CIO_ASSERT_CMP(cio_now() - t0, <, 2.0);
    /* An error mid-stream reaches the reader. */
    CIO_ASSERT_OK(
        cio_pg_stream_open(&s, c, "SELECT 1 / (5 - g) FROM generate_series(1, 10) g", NULL, 0));
    n = 0;
    while ((rc = cio_pg_stream_next(s, &row)) == 1)
        n++;
    CIO_ASSERT_ERR(rc, -EDOM);
    CIO_ASSERT_EQ(n, 4);
    cio_pg_stream_close(s);
    CIO_ASSERT_EQ(pg_int(c, "SELECT 7"), 7);
    cio_pg_close(c);
    return 0;
}

static void test_stream(void)
{
    CIO_ASSERT_OK(cio_test_run(t_stream_main, NULL));
}

static const cio_test_case tests[] = {
    CIO_TEST(test_copy, "COPY IN of 1M rows from a suspending source and COPY OUT to a slow "
                        "sink; a malformed row and a missing table fail cleanly"),
    CIO_TEST(test_copy_cancel, "COPY IN and COPY OUT cancelled midway: rolled back or "
                               "drained, the connection answers within a second"),
    CIO_TEST(test_stream, "1M rows streamed one by one; a stream closed early is cancelled; an "
                          "error mid-stream reaches the reader"),
};

PG_TEST_MAIN(tests)
