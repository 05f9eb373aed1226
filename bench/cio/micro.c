/* Microbenchmarks of cio's internals that the workload table does not show:
 * one raw context switch, a wait's return after a switch with `ret` and
 * with the parking switch, a yield between two tasks, spawn+run+join with a
 * cold and a warm stack pool, timer arm+disarm with an empty and a full heap,
 * a queue put/get pair with no contention, and what the machine charges for
 * the first touch of a fresh page (the floor under every cold stack: W3 and
 * W6 pay it once per task). Prints one key=value line per figure. */
#include <sys/mman.h>

#include "bench.h"
#include "cio.h"
#include "internal.h" /* src/core: the raw switch is not public */

static long n;

/* ---- raw switch: two contexts bounce N times ---- */

static cio__ctx main_ctx, other_ctx;

static void bouncer(void *arg)
{
    (void)arg;
    for (;;)
        cio__ctx_switch(&other_ctx, &main_ctx);
}

static void bench_raw_switch(void)
{
    size_t size = 64 * 1024;
    void *stack = aligned_alloc(4096, size);
    cio__ctx_make(&other_ctx, stack, size, bouncer, NULL);
    double t0 = bench_now();
    for (long i = 0; i < n; i++)
        cio__ctx_switch(&main_ctx, &other_ctx);
    double secs = bench_now() - t0;
    printf("impl=cio micro=switch n=%ld secs=%.6f ns_per_switch=%.2f\n", n, secs,
           secs * 1e9 / (2.0 * (double)n));
    free(stack);
}

/* ---- a wait's return after a switch: `ret` against the parking switch ----
 *
 * Two contexts bounce through a one-line wait function, each calling it from
 * its own loop, as two tasks do: after the switch the resumed side returns to
 * a caller the CPU's return stack does not hold. wait_ret switches inline and
 * returns with `ret`; wait_park ends in the parking switch (internal.h), whose
 * resumed side jumps to its caller. Two switches per round trip. */

#ifdef CIO__CTX_TAIL
static cio_task side_a, side_b; /* records the parking switch resumes through */
static cio_loop side_loop;

__attribute__((noinline)) static int wait_ret(cio__ctx *from, cio__ctx *to)
{
    cio__ctx_switch(from, to);
    return 0;
}

__attribute__((noinline)) static int wait_park(cio__ctx *from, cio__ctx *to)
{
    return cio__ctx_park(from, to);
}

static int park_mode;

static void side_b_loop(void *arg)
{
    (void)arg;
    for (;;)
        if (park_mode)
            wait_park(&side_b.ctx, &side_a.ctx);
        else
            wait_ret(&side_b.ctx, &side_a.ctx);
}

static void bench_wait_return(void)
{
    size_t size = 64 * 1024;
    void *stack = aligned_alloc(4096, size);
    side_loop.errno_at = &errno;
    side_a.loop = side_b.loop = &side_loop;
    for (park_mode = 0; park_mode < 2; park_mode++) {
        cio__ctx_make(&side_b.ctx, stack, size, side_b_loop, NULL);
        double t0 = bench_now();
        for (long i = 0; i < n; i++)
            if (park_mode)
                wait_park(&side_a.ctx, &side_b.ctx);
            else
                wait_ret(&side_a.ctx, &side_b.ctx);
        double secs = bench_now() - t0;
        printf("impl=cio micro=%s n=%ld ns_per_round_trip=%.2f\n",
               park_mode ? "wait_park" : "wait_ret", n, secs * 1e9 / (double)n);
    }
    free(stack);
}
#else
static void bench_wait_return(void) {}
#endif

/* ---- the machine: first touch of a fresh anonymous page ---- */

static void bench_page_fault(void)
{
    long pages = 20000;
    size_t stride = 64 * 1024; /* one page per 64 KiB, as the top pages of stacks are */
    char *p = mmap(NULL, (size_t)pages * stride, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return;
    double t0 = bench_now();
    for (long i = 0; i < pages; i++)
        p[(size_t)i * stride + stride - 64] = 1;
    double secs = bench_now() - t0;
    munmap(p, (size_t)pages * stride);
    printf("impl=cio micro=page_fault n=%ld ns_per_fault=%.1f\n", pages,
           secs * 1e9 / (double)pages);
}

/* ---- yield between two tasks ---- */

static int yielder(void *arg)
{
    long *left = arg;
    while ((*left)-- > 0)
        if (cio_yield())
            return -1;
    return 0;
}

static int run_yield(void *arg)
{
    (void)arg;
    long a = n, b = n;
    cio_task *t[2] = {cio_spawn(yielder, &a), cio_spawn(yielder, &b)};
    double t0 = bench_now();
    int err = cio_gather(t, 2, 0);
    double secs = bench_now() - t0;
    cio_join(t[0]);
    cio_join(t[1]);
    printf("impl=cio micro=yield n=%ld secs=%.6f ns_per_yield=%.2f\n", n, secs,
           secs * 1e9 / (2.0 * (double)n));
    return err;
}

/* ---- spawn: cold pool (every task needs a new stack) vs warm ---- */

static int yield_once(void *arg)
{
    (void)arg;
    return cio_yield();
}

static double spawn_round(long count)
{
    cio_task **t = malloc(sizeof(*t) * (size_t)count);
    double t0 = bench_now();
    for (long i = 0; i < count; i++)
        t[i] = cio_spawn(yield_once, NULL); /* all alive at once: one stack each */
    cio_gather(t, (size_t)count, 0);
    for (long i = 0; i < count; i++)
        cio_join(t[i]);
    double secs = bench_now() - t0;
    free(t);
    return secs;
}

static int run_spawn(void *arg)
{
    (void)arg;
    long count = 4000; /* within the guarded budget: each cold stack is mmap+mprotect */
    double cold = spawn_round(count);
    double warm = spawn_round(count);
    printf("impl=cio micro=spawn_cold n=%ld ns_per_task=%.1f\n", count, cold * 1e9 / (double)count);
    printf("impl=cio micro=spawn_warm n=%ld ns_per_task=%.1f\n", count, warm * 1e9 / (double)count);
    return 0;
}

/* ---- timers ---- */

static void never(cio__timer *t)
{
    (void)t;
}

static int run_timers(void *arg)
{
    (void)arg;
    cio_loop *l = cio_loop_current();
    cio__timer t = {.fn = never};
    for (int full = 0; full < 2; full++) {
        static cio__timer others[100000];
        if (full)
            for (int i = 0; i < 100000; i++) {
                others[i].fn = never;
                if (cio__timer_arm(l, &others[i], l->now + 1000000000LL + i * 1000LL))
                    abort(); /* the heap grows only with more than 100k timers */
            }
        double t0 = bench_now();
        for (long i = 0; i < n; i++) {
            if (cio__timer_arm(l, &t, l->now + 10000000000LL))
                abort(); /* the heap grows only with more than 100k timers */ /* later than all: no
                                                                                 sifting */
            cio__timer_disarm(l, &t);
        }
        double secs = bench_now() - t0;
        double t1 = bench_now();
        for (long i = 0; i < n; i++) {
            if (cio__timer_arm(l, &t, l->now + 1))
                abort(); /* the heap grows only with more than 100k timers */ /* earliest: sifts to
                                                                                 the root */
            cio__timer_disarm(l, &t);
        }
        double secs_root = bench_now() - t1;
        printf("impl=cio micro=timer_arm_disarm heap=%d ns_latest=%.2f ns_earliest=%.2f\n",
               full ? 100000 : 0, secs * 1e9 / (double)n, secs_root * 1e9 / (double)n);
        if (full)
            for (int i = 0; i < 100000; i++)
                cio__timer_disarm(l, &others[i]);
    }
    return 0;
}

/* ---- a queue put/get pair with no contention ---- */

static int run_queue(void *arg)
{
    (void)arg;
    cio_queue q;
    cio_queue_init(&q, 128);
    long sum = 0;
    double t0 = bench_now();
    for (long i = 0; i < n; i++) {
        void *item;
        cio_queue_put(&q, (void *)(intptr_t)(i + 1));
        cio_queue_get(&q, &item);
        sum += (long)(intptr_t)item;
    }
    double secs = bench_now() - t0;
    cio_queue_destroy(&q);
    if (sum != n * (n + 1) / 2)
        return -EPROTO;
    printf("impl=cio micro=queue_put_get n=%ld ns_per_pair=%.2f\n", n, secs * 1e9 / (double)n);
    return 0;
}

int main(int argc, char **argv)
{
    static const char *const keys[] = {"n", NULL};
    args_check(argc, argv, keys);
    n = arg_long(argc, argv, "n", 10000000);
    bench_raw_switch();
    bench_wait_return();
    bench_page_fault();
    if (cio_run(run_yield, NULL) || cio_run(run_spawn, NULL) || cio_run(run_timers, NULL) ||
        cio_run(run_queue, NULL))
        return 1;
    return 0;
}
