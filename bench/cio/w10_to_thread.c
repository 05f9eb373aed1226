/* W10 to_thread: N calls of a function that returns at once, run on the
 * default worker pool with cio_to_thread, at most `inflight` in flight: a
 * fixed set of caller tasks, each taking the next call until N have started
 * (the shape of the Python peer). Headline: ns per call. */
#include <unistd.h>

#include "bench.h"
#include "cio.h"

static long n, inflight, started, total;
static const char *backend;

static int work(void *arg)
{
    *(int *)arg = 1;
    return 0;
}

static int caller(void *arg)
{
    (void)arg;
    while (started < n) {
        started++;
        int result = 0;
        int err = cio_to_thread(work, &result);
        if (err)
            return err;
        total += result;
    }
    return 0;
}

static int run(void *arg)
{
    double *secs = arg;
    backend = cio_backend_name();
    cio_task **tasks = calloc((size_t)inflight, sizeof(*tasks));
    if (!tasks)
        return -ENOMEM;
    double t0 = bench_now();
    for (long i = 0; i < inflight; i++)
        if (!(tasks[i] = cio_spawn(caller, NULL)))
            return -ENOMEM;
    int err = cio_gather(tasks, (size_t)inflight, 0);
    for (long i = 0; i < inflight; i++)
        cio_join(tasks[i]);
    *secs = bench_now() - t0;
    free(tasks);
    if (err)
        return err;
    return total == n ? 0 : -EPROTO;
}

int main(int argc, char **argv)
{
    static const char *const keys[] = {"n", "inflight", NULL};
    args_check(argc, argv, keys);
    n = arg_long(argc, argv, "n", 100000);
    inflight = arg_long(argc, argv, "inflight", 64);
    if (inflight < 1) {
        fprintf(stderr, "w10-to-thread: --inflight must be at least 1\n");
        return 2;
    }
    double secs = 0;
    int err = cio_run(run, &secs);
    if (err) {
        fprintf(stderr, "w10-to-thread: cio: FAILED: %s (%ld of %ld calls returned)\n",
                cio_strerror(err), total, n);
        return err == -ENOSYS || err == -EPERM ? 77 : 1;
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    printf("impl=%s workload=w10-to-thread n=%ld inflight=%ld workers=%ld secs=%.6f "
           "ns_per_call=%.1f\n",
           bench_impl(backend), n, inflight, cpus > 4 ? cpus : 4, secs, secs * 1e9 / (double)n);
    return 0;
}
