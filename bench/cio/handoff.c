/* Handoffs through the sync primitives, for instruction counts (callgrind):
 * two tasks pass the baton N times, every pass parking one task and waking
 * the other. kind=lock: each task releases (handing the lock to the other,
 * parked in line) and acquires again (parking behind it). kind=sem: two
 * semaphores of 0, each task releases the other's and acquires its own.
 * Run with two N and divide the difference of the counts by it. Prints
 * ns_per_handoff (wall clock: meaningful on an idle machine only). */
#include <string.h>

#include "bench.h"
#include "cio.h"

static long n;
static const char *kind = "lock";
static cio_lock lock;
static cio_sem sems[2];

static int lock_side(void *arg)
{
    (void)arg;
    int err = cio_lock_acquire(&lock);
    for (long i = 0; i < n && !err; i++) {
        if ((err = cio_lock_release(&lock)) == 0)
            err = cio_lock_acquire(&lock);
    }
    if (!err)
        err = cio_lock_release(&lock);
    return err;
}

static int sem_side(void *arg)
{
    int me = *(int *)arg;
    int err = 0;
    for (long i = 0; i < n && !err; i++) {
        if ((err = cio_sem_release(&sems[!me])) == 0)
            err = cio_sem_acquire(&sems[me]);
    }
    return err;
}

static int run(void *arg)
{
    double *secs = arg;
    static int ids[2] = {0, 1};
    int lk = strcmp(kind, "lock") == 0;
    cio_lock_init(&lock);
    cio_sem_init(&sems[0], 0);
    cio_sem_init(&sems[1], 1);
    double t0 = bench_now();
    cio_task *a = cio_spawn(lk ? lock_side : sem_side, &ids[0]);
    cio_task *b = cio_spawn(lk ? lock_side : sem_side, &ids[1]);
    if (!a || !b)
        return -ENOMEM;
    int ea = cio_join(a), eb = cio_join(b);
    *secs = bench_now() - t0;
    return ea ? ea : eb;
}

int main(int argc, char **argv)
{
    static const char *const keys[] = {"n", "kind", NULL};
    args_check(argc, argv, keys);
    n = arg_long(argc, argv, "n", 1000000);
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], "--kind=", 7) == 0)
            kind = argv[i] + 7;
    if (strcmp(kind, "lock") && strcmp(kind, "sem")) {
        fprintf(stderr, "handoff: kind is lock or sem\n");
        return 2;
    }
    double secs = 0;
    int err = cio_run(run, &secs);
    if (err) {
        fprintf(stderr, "handoff: FAILED: %s\n", cio_strerror(err));
        return 1;
    }
    printf("impl=cio workload=handoff-%s n=%ld secs=%.6f ns_per_handoff=%.1f\n", kind, n, secs,
           secs * 1e9 / (double)(2 * n));
    return 0;
}
