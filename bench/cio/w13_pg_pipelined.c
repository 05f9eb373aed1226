/* W13 pg pipelined: one connection, N `SELECT $1::int` in batches of --depth
 * (one round trip each); then the same N from 100 tasks sharing the
 * connection (pipelined by the driver). Headline: queries per second. */
#include "pg_bench.h"

static long n, depth, tasks = 100;
static cio_pg_conn *conn;
static long next_i, bad;

static int sharer(void *arg)
{
    (void)arg;
    while (next_i < n) {
        long i = next_i++;
        cio_pg_param p[] = {cio_pg_int4((int32_t)i)};
        int64_t v;
        int err = cio_pg_fetchval_int(conn, &v, "SELECT $1::int", p, 1);
        if (err || v != i)
            bad++;
    }
    return 0;
}

static int run(void *arg)
{
    double *secs = arg;
    int err = cio_pg_connect(&conn, pg_dsn("w13-pg-pipelined"), NULL);
    if (err)
        return pg_bench_fail("w13-pg-pipelined", err);
    cio_pg_param *p = calloc((size_t)depth, sizeof *p);
    double t0 = bench_now();
    for (long done = 0; done < n && !err; done += depth) {
        cio_pg_batch *b;
        cio_pg_batch_new(&b);
        long k = n - done < depth ? n - done : depth;
        for (long i = 0; i < k; i++) {
            p[i] = cio_pg_int4((int32_t)(done + i));
            cio_pg_batch_add(b, "SELECT $1::int", &p[i], 1);
        }
        err = cio_pg_batch_run(conn, b);
        for (long i = 0; i < k && !err; i++) {
            int64_t v;
            err = cio_pg_get_int(cio_pg_batch_result(b, (size_t)i), 0, 0, &v);
            if (!err && v != done + i)
                err = -EPROTO;
        }
        cio_pg_batch_free(b);
    }
    secs[0] = bench_now() - t0;
    free(p);
    if (err)
        return pg_bench_fail("w13-pg-pipelined", err);
    cio_task **t = calloc((size_t)tasks, sizeof *t);
    t0 = bench_now();
    for (long i = 0; i < tasks; i++)
        t[i] = cio_spawn(sharer, NULL);
    cio_gather(t, (size_t)tasks, 0);
    for (long i = 0; i < tasks; i++)
        cio_join(t[i]);
    secs[1] = bench_now() - t0;
    free(t);
    cio_pg_close(conn);
    return bad ? pg_bench_fail("w13-pg-pipelined", -EPROTO) : 0;
}

int main(int argc, char **argv)
{
    static const char *const keys[] = {"n", "depth", NULL};
    args_check(argc, argv, keys);
    n = arg_long(argc, argv, "n", 100000);
    depth = arg_long(argc, argv, "depth", 1000);
    if (depth < 1)
        depth = 1;
    double secs[2] = {0, 0};
    if (cio_run(run, secs))
        return 1;
    printf("impl=cio workload=w13-pg-pipelined n=%ld depth=%ld secs=%.6f qps=%.0f "
           "shared_secs=%.6f shared_qps=%.0f\n",
           n, depth, secs[0], (double)n / secs[0], secs[1], (double)n / secs[1]);
    return 0;
}
