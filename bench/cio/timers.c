/* The measurement behind src/core/timer.c's choice of a binary heap: the
 * loop's own heap (the real code, called through the loop) against a
 * hierarchical timing wheel written here the way Tokio and the Linux kernel
 * build theirs: 6 levels of 64 slots, 1 ms ticks, intrusive lists, O(1)
 * insert and cancel, a bitmap of occupied slots per level, and timers that
 * cascade down a level as their slot comes due.
 *
 * The cases are the loop's two common ones and their harder variants:
 *   timeout_newest  arm a 10 s timeout and cancel it before it fires (a call
 *                   under a timeout scope), with `others` timers armed
 *   timeout_random  arm `others` timeouts, then cancel them in random order
 *                   (many connections, each with its own idle timeout)
 *   sleep_same      arm n sleeps of one duration (deadline order), then run
 *                   the loop in 1 ms turns until all have fired
 *   sleep_random    the same with deadlines spread at random over 1 s
 * Each prints ns per timer (arm + cancel, or arm + fire) for both.
 *
 *   cio-timers [--n=1000000] [--others=100000] */
#include <stdint.h>
#include <string.h>

#include "bench.h"
#include "cio.h"
#include "internal.h" /* src/core: the timer heap is not public */

/* ---- the wheel ---- */

#define LEVELS 6
#define SLOT_BITS 6
#define SLOTS (1 << SLOT_BITS)
#define TICK_NS 1000000LL /* 1 ms, Tokio's resolution */

typedef struct wtimer {
    struct wtimer *next, **pprev; /* pprev: the pointer that points at us */
    uint64_t when;                /* the tick it fires at */
    void (*fn)(struct wtimer *);
} wtimer;

typedef struct wheel {
    uint64_t now; /* ticks elapsed */
    size_t n;
    uint64_t occupied[LEVELS];
    wtimer *slot[LEVELS][SLOTS];
} wheel;

/* The level is the highest 6-bit digit in which `when` differs from now. */
static int level_for(uint64_t now, uint64_t when)
{
    uint64_t diff = (now ^ when) | (SLOTS - 1);
    int level = (63 - __builtin_clzll(diff)) / SLOT_BITS;
    return level < LEVELS ? level : LEVELS - 1;
}

/* Files t under its tick. A cascaded timer may be due this very tick: level
 * 0's slot for the tick is fired after the cascade. */
static void wheel_link(wheel *w, wtimer *t)
{
    int level = level_for(w->now, t->when);
    unsigned i = (unsigned)(t->when >> (level * SLOT_BITS)) & (SLOTS - 1);
    wtimer **head = &w->slot[level][i];
    t->next = *head;
    if (t->next)
        t->next->pprev = &t->next;
    t->pprev = head;
    *head = t;
    w->occupied[level] |= 1ULL << i;
}

static void wheel_arm(wheel *w, wtimer *t, int64_t deadline_ns)
{
    t->when = (uint64_t)((deadline_ns + TICK_NS - 1) / TICK_NS); /* never early */
    if (t->when <= w->now)
        t->when = w->now + 1; /* this tick's slot has been fired: the next one */
    wheel_link(w, t);
    w->n++;
}

static void wheel_cancel(wheel *w, wtimer *t)
{
    if (!t->pprev)
        return;
    *t->pprev = t->next;
    if (t->next)
        t->next->pprev = t->pprev;
    else if (t->pprev >= &w->slot[0][0] && t->pprev < &w->slot[0][0] + LEVELS * SLOTS) {
        size_t at = (size_t)(t->pprev - &w->slot[0][0]); /* we were the only one */
        if (!w->slot[at / SLOTS][at % SLOTS])
            w->occupied[at / SLOTS] &= ~(1ULL << (at % SLOTS));
    }
    t->pprev = NULL;
    w->n--;
}

/* Detaches a slot's list. */
static wtimer *wheel_take(wheel *w, int level, unsigned i)
{
    wtimer *list = w->slot[level][i];
    w->slot[level][i] = NULL;
    w->occupied[level] &= ~(1ULL << i);
    return list;
}

/* Advances to the tick of now_ns: cascades each higher-level slot that comes
 * due into the levels below, fires level 0's. Idle ticks are skipped through
 * the bitmaps only when the wheel is empty; with 1 ms turns that is enough. */
static void wheel_advance(wheel *w, int64_t now_ns)
{
    uint64_t to = (uint64_t)(now_ns / TICK_NS);
    if (!w->n) {
        w->now = to > w->now ? to : w->now;
        return;
    }
    while (w->now < to) {
        uint64_t tick = ++w->now;
        for (int level = LEVELS - 1; level > 0; level--) {
            if (tick & ((1ULL << (level * SLOT_BITS)) - 1))
                continue;
            unsigned i = (unsigned)(tick >> (level * SLOT_BITS)) & (SLOTS - 1);
            for (wtimer *t = wheel_take(w, level, i), *next; t; t = next) {
                next = t->next;
                wheel_link(w, t);
            }
        }
        for (wtimer *t = wheel_take(w, 0, tick & (SLOTS - 1)), *next; t; t = next) {
            next = t->next;
            t->pprev = NULL;
            w->n--;
            t->fn(t);
        }
    }
}

/* ---- the cases ---- */

static long n, others;
static long fired;

static void heap_fired(cio__timer *t)
{
    (void)t;
    fired++;
}

static void wheel_fired(wtimer *t)
{
    (void)t;
    fired++;
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* A random permutation of 0..count-1. */
static long *shuffled(long count)
{
    long *p = malloc((size_t)count * sizeof(*p));
    if (!p)
        exit(1);
    for (long i = 0; i < count; i++)
        p[i] = i;
    for (long i = count - 1; i > 0; i--) {
        long j = (long)(next_random() % (uint64_t)(i + 1));
        long tmp = p[i];
        p[i] = p[j];
        p[j] = tmp;
    }
    return p;
}

static void report(const char *name, long count, double heap_secs, double wheel_secs)
{
    printf("impl=cio micro=timers case=%s n=%ld heap_ns=%.1f wheel_ns=%.1f\n", name, count,
           heap_secs * 1e9 / (double)count, wheel_secs * 1e9 / (double)count);
}

static void case_timeout_newest(cio_loop *l, cio__timer *ht, wtimer *wt, wheel *w)
{
    int64_t now = l->now;
    for (long i = 0; i < others; i++) { /* the background: spread over 1..100 s */
        if (cio__timer_arm(l, &ht[i],
                           now + 1000000000LL + (int64_t)(next_random() % 99000000000ULL)))
            abort(); /* the heap grows only with more than 100k timers */
        wheel_arm(w, &wt[i], now + 1000000000LL + (int64_t)(next_random() % 99000000000ULL));
    }
    cio__timer *h = &ht[others];
    wtimer *x = &wt[others];
    double t0 = bench_now();
    for (long i = 0; i < n; i++) {
        if (cio__timer_arm(l, h, now + 10000000000LL + i))
            abort(); /* the heap grows only with more than 100k timers */
        cio__timer_disarm(l, h);
    }
    double heap_secs = bench_now() - t0;
    t0 = bench_now();
    for (long i = 0; i < n; i++) {
        wheel_arm(w, x, now + 10000000000LL + i);
        wheel_cancel(w, x);
    }
    report("timeout_newest", n, heap_secs, bench_now() - t0);
    for (long i = 0; i < others; i++) {
        cio__timer_disarm(l, &ht[i]);
        wheel_cancel(w, &wt[i]);
    }
}

static void case_timeout_random(cio_loop *l, cio__timer *ht, wtimer *wt, wheel *w)
{
    long *order = shuffled(others);
    int64_t now = l->now;
    double t0 = bench_now();
    for (long i = 0; i < others; i++) /* 30 s idle timeouts, armed as requests come */
        if (cio__timer_arm(l, &ht[i], now + 30000000000LL + i * 1000LL))
            abort(); /* the heap grows only with more than 100k timers */
    for (long i = 0; i < others; i++)
        cio__timer_disarm(l, &ht[order[i]]);
    double heap_secs = bench_now() - t0;
    t0 = bench_now();
    for (long i = 0; i < others; i++)
        wheel_arm(w, &wt[i], now + 30000000000LL + i * 1000LL);
    for (long i = 0; i < others; i++)
        wheel_cancel(w, &wt[order[i]]);
    report("timeout_random", others, heap_secs, bench_now() - t0);
    free(order);
}

/* Arms n sleeps with the given spread (0: all the same duration) and runs
 * 1 ms loop turns until every one has fired. */
static void case_sleeps(const char *name, cio_loop *l, cio__timer *ht, wtimer *wt, wheel *w,
                        int64_t spread_ns)
{
    int64_t now = l->now, span = 1000000000LL, turn = TICK_NS;
    int64_t *deadline = malloc((size_t)n * sizeof(*deadline));
    if (!deadline)
        exit(1);
    for (long i = 0; i < n; i++)
        deadline[i] = now + span - spread_ns +
                      (spread_ns ? (int64_t)(next_random() % (uint64_t)spread_ns) : 0);

    fired = 0;
    double t0 = bench_now();
    for (long i = 0; i < n; i++)
        if (cio__timer_arm(l, &ht[i], deadline[i]))
            abort(); /* the heap grows only with more than 100k timers */
    for (int64_t t = now + turn; fired < n; t += turn)
        cio__timers_run(l, t);
    double heap_secs = bench_now() - t0;

    fired = 0;
    w->now = (uint64_t)(now / TICK_NS);
    t0 = bench_now();
    for (long i = 0; i < n; i++)
        wheel_arm(w, &wt[i], deadline[i]);
    for (int64_t t = now + turn; fired < n; t += turn)
        wheel_advance(w, t);
    report(name, n, heap_secs, bench_now() - t0);
    free(deadline);
}

static int run(void *arg)
{
    (void)arg;
    cio_loop *l = cio_loop_current();
    long count = (n > others ? n : others) + 1;
    cio__timer *ht = calloc((size_t)count, sizeof(*ht));
    wtimer *wt = calloc((size_t)count, sizeof(*wt));
    wheel *w = calloc(1, sizeof(*w));
    if (!ht || !wt || !w)
        return -1;
    for (long i = 0; i < count; i++) {
        ht[i].fn = heap_fired;
        wt[i].fn = wheel_fired;
    }
    w->now = (uint64_t)(l->now / TICK_NS);
    case_timeout_newest(l, ht, wt, w);
    case_timeout_random(l, ht, wt, w);
    case_sleeps("sleep_same", l, ht, wt, w, 0);
    case_sleeps("sleep_random", l, ht, wt, w, 1000000000LL);
    int ok = w->n == 0 && cio__timers_next(l) == INT64_MAX;
    free(ht);
    free(wt);
    free(w);
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    static const char *const keys[] = {"n", "others", NULL};
    args_check(argc, argv, keys);
    n = arg_long(argc, argv, "n", 1000000);
    others = arg_long(argc, argv, "others", 100000);
    if (n < 1 || others < 1) {
        fprintf(stderr, "cio-timers: --n and --others must be at least 1\n");
        return 2;
    }
    return cio_run(run, NULL) == 0 ? 0 : 1;
}
