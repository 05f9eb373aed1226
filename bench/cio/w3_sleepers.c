/* W3 sleepers: N tasks start together; task i sleeps i/N seconds; gather all.
 * Headline: overhead = wall seconds - 1.0 (peak RSS is read from outside). */
#include "bench.h"
#include "cio.h"

static long n;
static const char *backend;

static int sleeper(void *arg)
{
    long i = (long)(intptr_t)arg;
    return cio_sleep((double)i / (double)n);
}

static int run(void *arg)
{
    double *secs = arg;
    backend = cio_backend_name();
    cio_task **tasks = malloc(sizeof(*tasks) * (size_t)n);
    if (!tasks)
        return -ENOMEM;
    double t0 = bench_now();
    for (long i = 0; i < n; i++)
        if (!(tasks[i] = cio_spawn(sleeper, (void *)(intptr_t)i)))
            return -ENOMEM;
    int err = cio_gather(tasks, (size_t)n, 0);
    *secs = bench_now() - t0;
    for (long i = 0; i < n; i++)
        cio_join(tasks[i]);
    free(tasks);
    return err;
}

int main(int argc, char **argv)
{
    static const char *const keys[] = {"n", NULL};
    args_check(argc, argv, keys);
    n = arg_long(argc, argv, "n", 100000);
    double secs = 0;
    int err = cio_run(run, &secs);
    if (err) {
        fprintf(stderr, "w3-sleepers: cio: FAILED: %s\n", cio_strerror(err));
        return 1;
    }
    if (secs < 1.0 - 1.0 / (double)n) {
        fprintf(stderr, "w3-sleepers: cio: FAILED: finished in %.3f s, before the last deadline\n",
                secs);
        return 1;
    }
    printf("impl=%s workload=w3-sleepers n=%ld secs=%.6f overhead_secs=%.6f\n", bench_impl(backend),
           n, secs, secs - 1.0);
    return 0;
}
