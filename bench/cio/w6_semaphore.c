/* W6 semaphore: N tasks, a semaphore of 100; each acquires, yields once,
 * releases. Checks that every task ran and that at most `limit` held a permit
 * at once. Headline: ns per task. */
#include "bench.h"
#include "cio.h"

static long n, limit;
static cio_sem sem;
static long holders, peak, done;

static int task(void *arg)
{
    (void)arg;
    int err = cio_sem_acquire(&sem);
    if (err)
        return err;
    if (++holders > peak)
        peak = holders;
    cio_yield(); /* asyncio.sleep(0) while holding the permit */
    holders--;
    done++;
    return cio_sem_release(&sem);
}

static int run(void *arg)
{
    double *secs = arg;
    cio_sem_init_bounded(&sem, (size_t)limit);
    cio_task **t = malloc(sizeof(*t) * (size_t)n);
    if (!t)
        return -ENOMEM;
    double t0 = bench_now();
    for (long i = 0; i < n; i++)
        if (!(t[i] = cio_spawn(task, NULL)))
            return -ENOMEM;
    int err = cio_gather(t, (size_t)n, 0);
    for (long i = 0; i < n; i++)
        cio_join(t[i]);
    *secs = bench_now() - t0;
    free(t);
    if (!err && cio_sem_value(&sem) != (size_t)limit)
        err = -EPROTO; /* a permit was lost */
    cio_sem_destroy(&sem);
    return err;
}

int main(int argc, char **argv)
{
    static const char *const keys[] = {"n", "limit", NULL};
    args_check(argc, argv, keys);
    n = arg_long(argc, argv, "n", 100000);
    limit = arg_long(argc, argv, "limit", 100);
    double secs = 0;
    int err = cio_run(run, &secs);
    if (err) {
        fprintf(stderr, "w6-semaphore: cio: FAILED: %s\n", cio_strerror(err));
        return 1;
    }
    if (done != n || peak > limit) {
        fprintf(stderr,
                "w6-semaphore: cio: FAILED: %ld of %ld done, peak holders %ld (limit %ld)\n", done,
                n, peak, limit);
        return 1;
    }
    printf("impl=cio workload=w6-semaphore n=%ld limit=%ld peak=%ld secs=%.6f ns_per_task=%.1f\n",
           n, limit, peak, secs, secs * 1e9 / (double)(n ? n : 1));
    return 0;
}
