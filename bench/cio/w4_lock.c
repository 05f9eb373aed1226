/* W4 lock: T tasks, each K times: acquire a lock, read a shared counter, yield
 * once, write counter+1, release. Checks counter = T*K.
 * Headline: ns per critical section. */
#include "bench.h"
#include "cio.h"

static long tasks, iters;
static cio_lock lock;
static long counter;

static int worker(void *arg)
{
    (void)arg;
    for (long k = 0; k < iters; k++) {
        int err = cio_lock_acquire(&lock);
        if (err)
            return err;
        long value = counter;
        cio_yield(); /* asyncio.sleep(0) inside the critical section */
        counter = value + 1;
        cio_lock_release(&lock);
    }
    return 0;
}

static int run(void *arg)
{
    double *secs = arg;
    cio_lock_init(&lock);
    cio_task **t = malloc(sizeof(*t) * (size_t)tasks);
    if (!t)
        return -ENOMEM;
    double t0 = bench_now();
    for (long i = 0; i < tasks; i++)
        if (!(t[i] = cio_spawn(worker, NULL)))
            return -ENOMEM;
    int err = cio_gather(t, (size_t)tasks, 0);
    for (long i = 0; i < tasks; i++)
        cio_join(t[i]);
    *secs = bench_now() - t0;
    free(t);
    cio_lock_destroy(&lock);
    return err;
}

int main(int argc, char **argv)
{
    static const char *const keys[] = {"tasks", "iters", NULL};
    args_check(argc, argv, keys);
    tasks = arg_long(argc, argv, "tasks", 1000);
    iters = arg_long(argc, argv, "iters", 1000);
    double secs = 0;
    int err = cio_run(run, &secs);
    if (err) {
        fprintf(stderr, "w4-lock: cio: FAILED: %s\n", cio_strerror(err));
        return 1;
    }
    long n = tasks * iters;
    if (counter != n) {
        fprintf(stderr, "w4-lock: cio: FAILED: counter is %ld, expected %ld\n", counter, n);
        return 1;
    }
    printf("impl=cio workload=w4-lock n=%ld tasks=%ld iters=%ld secs=%.6f ns_per_op=%.1f\n", n,
           tasks, iters, secs, secs * 1e9 / (double)(n ? n : 1));
    return 0;
}
