/* W15 pg rows: `SELECT i, i::text, i::float8 FROM generate_series(1, N) i`,
 * every value decoded into C types; then the same streamed row by row.
 * Headline: rows per second (fetched); the streamed rate after it. */
#include <string.h>

#include "pg_bench.h"

static long n;

static int decode(const cio_pg_result *r, size_t row, int64_t *sum)
{
    int64_t i;
    const char *s;
    size_t len;
    double d;
    int err = cio_pg_get_int(r, row, 0, &i);
    if (!err)
        err = cio_pg_get_text(r, row, 1, &s, &len);
    if (!err)
        err = cio_pg_get_double(r, row, 2, &d);
    *sum += i + (int64_t)len + (int64_t)d;
    return err;
}

static int run(void *arg)
{
    double *secs = arg;
    cio_pg_conn *c;
    int err = cio_pg_connect(&c, pg_dsn("w15-pg-rows"), NULL);
    if (err)
        return pg_bench_fail("w15-pg-rows", err);
    const char *sql = "SELECT i, i::text, i::float8 FROM generate_series(1, $1) i";
    cio_pg_param p[] = {cio_pg_int4((int32_t)n)};
    int64_t sum = 0;
    double t0 = bench_now();
    cio_pg_result *r;
    err = cio_pg_fetch(c, &r, sql, p, 1);
    for (size_t i = 0; !err && i < cio_pg_nrows(r); i++)
        err = decode(r, i, &sum);
    if (!err && cio_pg_nrows(r) != (size_t)n)
        err = -EPROTO;
    cio_pg_result_free(r);
    secs[0] = bench_now() - t0;
    t0 = bench_now();
    cio_pg_stream *s;
    if (!err)
        err = cio_pg_stream_open(&s, c, sql, p, 1);
    if (!err) {
        const cio_pg_result *row;
        long rows = 0;
        int rc;
        while ((rc = cio_pg_stream_next(s, &row)) == 1 && !(err = decode(row, 0, &sum)))
            rows++;
        if (rc < 0)
            err = rc;
        cio_pg_stream_close(s);
        if (!err && rows != n)
            err = -EPROTO;
    }
    secs[1] = bench_now() - t0;
    cio_pg_close(c);
    return err ? pg_bench_fail("w15-pg-rows", err) : 0;
}

int main(int argc, char **argv)
{
    static const char *const keys[] = {"n", NULL};
    args_check(argc, argv, keys);
    n = arg_long(argc, argv, "n", 1000000);
    double secs[2] = {0, 0};
    if (cio_run(run, secs))
        return 1;
    printf("impl=cio workload=w15-pg-rows n=%ld secs=%.6f rows_per_sec=%.0f stream_secs=%.6f "
           "stream_rows_per_sec=%.0f\n",
           n, secs[0], (double)n / secs[0], secs[1], (double)n / secs[1]);
    return 0;
}
