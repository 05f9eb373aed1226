/* W14 pg pool: a pool of 10 connections; 100 tasks (--tasks), each --iters
 * times: acquire, `SELECT 1`, release. Headline: queries per second. With
 * --tasks below 10 no acquire waits (the uncontended path). */
#include "pg_bench.h"

static long tasks = 100, iters;
static cio_pg_pool *pool;
static long bad;

static int worker(void *arg)
{
    (void)arg;
    for (long i = 0; i < iters; i++) {
        cio_pg_conn *c;
        int err = cio_pg_pool_acquire(pool, &c);
        int64_t v = 0;
        if (!err) {
            err = cio_pg_fetchval_int(c, &v, "SELECT 1", NULL, 0);
            cio_pg_pool_release(pool, c);
        }
        if (err || v != 1)
            bad++;
    }
    return 0;
}

static int run(void *arg)
{
    double *secs = arg;
    cio_pg_pool_opts o = {.min_size = 10, .max_size = 10};
    int err = cio_pg_pool_new(&pool, pg_dsn("w14-pg-pool"), &o);
    if (err)
        return pg_bench_fail("w14-pg-pool", err);
    cio_task **t = calloc((size_t)tasks, sizeof *t);
    double t0 = bench_now();
    for (long i = 0; i < tasks; i++)
        t[i] = cio_spawn(worker, NULL);
    cio_gather(t, (size_t)tasks, 0);
    for (long i = 0; i < tasks; i++)
        cio_join(t[i]);
    *secs = bench_now() - t0;
    free(t);
    cio_pg_pool_free(pool);
    return bad ? pg_bench_fail("w14-pg-pool", -EPROTO) : 0;
}

int main(int argc, char **argv)
{
    static const char *const keys[] = {"iters", "tasks", NULL};
    args_check(argc, argv, keys);
    iters = arg_long(argc, argv, "iters", 200);
    tasks = arg_long(argc, argv, "tasks", 100);
    double secs = 0;
    if (cio_run(run, &secs))
        return 1;
    printf("impl=cio workload=w14-pg-pool queries=%ld secs=%.6f qps=%.0f\n", tasks * iters, secs,
           (double)(tasks * iters) / secs);
    return 0;
}
