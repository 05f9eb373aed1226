/* W1 spawn: create N tasks whose body returns at once, in batches of 10,000;
 * gather each batch before the next. Headline: ns per task (create + run +
 * join). */
#include "bench.h"
#include "cio.h"

static long n, batch;
static const char *backend;

static int body(void *arg)
{
    *(int *)arg = 1;
    return 0;
}

static int run(void *arg)
{
    double *secs = arg;
    backend = cio_backend_name();
    cio_task **tasks = malloc(sizeof(*tasks) * (size_t)batch);
    int *slots = calloc((size_t)batch, sizeof(*slots));
    long done = 0;
    if (!tasks || !slots)
        return -ENOMEM;
    double t0 = bench_now();
    for (long base = 0; base < n; base += batch) {
        long size = n - base < batch ? n - base : batch;
        for (long i = 0; i < size; i++)
            if (!(tasks[i] = cio_spawn(body, &slots[i])))
                return -ENOMEM;
        int err = cio_gather(tasks, (size_t)size, 0);
        if (err)
            return err;
        for (long i = 0; i < size; i++) {
            cio_join(tasks[i]);
            done += slots[i];
            slots[i] = 0;
        }
    }
    *secs = bench_now() - t0;
    free(tasks);
    free(slots);
    return done == n ? 0 : -EPROTO;
}

int main(int argc, char **argv)
{
    static const char *const keys[] = {"n", "batch", NULL};
    args_check(argc, argv, keys);
    n = arg_long(argc, argv, "n", 1000000);
    batch = arg_long(argc, argv, "batch", 10000);
    if (batch < 1)
        batch = 1;
    double secs = 0;
    int err = cio_run(run, &secs);
    if (err) {
        fprintf(stderr, "w1-spawn: cio: FAILED: %s\n", cio_strerror(err));
        return 1;
    }
    printf("impl=%s workload=w1-spawn n=%ld batch=%ld secs=%.6f ns_per_task=%.1f\n",
           bench_impl(backend), n, batch, secs, secs * 1e9 / (double)n);
    return 0;
}
