/* W12 pg round trips: one connection, N sequential `SELECT $1::int` (prepared
 * automatically), each result checked. Headline: queries per second. */
#include "pg_bench.h"

static long n;

static int run(void *arg)
{
    double *secs = arg;
    cio_pg_conn *c;
    int err = cio_pg_connect(&c, pg_dsn("w12-pg-roundtrips"), NULL);
    if (err)
        return pg_bench_fail("w12-pg-roundtrips", err);
    double t0 = bench_now();
    for (long i = 0; i < n && !err; i++) {
        cio_pg_param p[] = {cio_pg_int4((int32_t)i)};
        int64_t v;
        err = cio_pg_fetchval_int(c, &v, "SELECT $1::int", p, 1);
        if (!err && v != i)
            err = -EPROTO;
    }
    *secs = bench_now() - t0;
    if (err)
        pg_bench_fail("w12-pg-roundtrips", err);
    cio_pg_close(c);
    return err;
}

int main(int argc, char **argv)
{
    static const char *const keys[] = {"n", NULL};
    args_check(argc, argv, keys);
    n = arg_long(argc, argv, "n", 20000);
    double secs = 0;
    if (cio_run(run, &secs))
        return 1;
    printf("impl=cio workload=w12-pg-roundtrips n=%ld secs=%.6f qps=%.0f\n", n, secs,
           (double)n / secs);
    return 0;
}
