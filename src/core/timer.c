/* Loop timers: a 4-ary min-heap of (deadline, arming order).
 *
 * Chosen over a timing wheel by measurement (bench/cio/timers.c, figures in
 * docs/BENCHMARKS.md). A hierarchical wheel (Tokio's: 6 levels of 64 slots,
 * 1 ms ticks) is faster where timers are many: arming and cancelling a
 * timeout costs it 3-4 ns against 4-7 ns here, 8-13 against 19-38 ns when
 * 100k timeouts are cancelled in random order, and firing a million sleeps of
 * one duration 8-13 ns each against 95 ns. But it rounds every deadline up to
 * its tick and fires a tick's timers in no particular order, and cio promises
 * more: a sleep ends at its deadline, not up to a millisecond later, equal
 * deadlines fire in arming order, and the next deadline is one read away (the
 * loop's wait and the virtual clock need it every turn). No workload pays
 * for the heap: a timeout scope costs 20 ns in all (W9), and in W3 the timer
 * work hides between deadlines.
 *
 * Sleeps armed in deadline order land at the bottom without sifting, and a
 * timeout scope closed before it fires is usually the newest timer, so
 * removing it is O(1); other operations are O(log n), with four children per
 * node to halve the depth (it made bulk firing 27% faster than two). Each
 * timer stores its slot, so no search is ever needed.
 *
 * The heap holds each timer's key next to its pointer: timers live on task
 * stacks all over memory, and comparing through the pointers would touch a
 * different page at every level of a sift (a TLB miss each with a million
 * sleepers). */
#include <stdlib.h>

#include "alloc.h"
#include "internal.h"

static inline int earlier(const cio__heap_entry *a, const cio__heap_entry *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static inline void place(cio__heap_entry *a, uint32_t i, cio__heap_entry e)
{
    a[i] = e;
    e.timer->idx = i + 1;
}

#define ARITY 4

static void sift_up(cio__heap_entry *a, uint32_t i)
{
    cio__heap_entry e = a[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / ARITY;
        if (!earlier(&e, &a[parent]))
            break;
        place(a, i, a[parent]);
        i = parent;
    }
    place(a, i, e);
}

static void sift_down(cio__heap_entry *a, uint32_t n, uint32_t i)
{
    cio__heap_entry e = a[i];
    for (;;) {
        uint32_t first = ARITY * i + 1;
        if (first >= n)
            break;
        uint32_t c = first, end = first + ARITY < n ? first + ARITY : n;
        for (uint32_t k = first + 1; k < end; k++)
            if (earlier(&a[k], &a[c]))
                c = k;
        if (!earlier(&a[c], &e))
            break;
        place(a, i, a[c]);
        i = c;
    }
    place(a, i, e);
}

int cio__timer_arm(cio_loop *l, cio__timer *t, int64_t deadline)
{
    cio__timer_heap *h = &l->timers;
    if (t->idx)
        cio__timer_disarm(l, t);
    if (h->n == h->cap) {
        uint32_t cap = h->cap ? h->cap * 2 : 64;
        cio__heap_entry *a = cio__realloc(h->a, cap * sizeof(*a));
        if (!a)
            return -ENOMEM;
        h->a = a;
        h->cap = cap;
    }
    t->deadline = deadline;
    t->seq = h->seq++;
    h->a[h->n] = (cio__heap_entry){deadline, t->seq, t};
    sift_up(h->a, h->n++);
    return 0;
}

void cio__timer_disarm(cio_loop *l, cio__timer *t)
{
    if (!t->idx)
        return;
    uint32_t i = t->idx - 1;
    t->idx = 0;
    cio__timer_remove_at(l, i);
}

void cio__timer_remove_at(cio_loop *l, uint32_t i)
{
    cio__timer_heap *h = &l->timers;
    cio__heap_entry last = h->a[--h->n];
    if (i == h->n)
        return; /* it was the last slot: the common case for timeouts */
    h->a[i] = last;
    last.timer->idx = i + 1;
    if (i > 0 && earlier(&last, &h->a[(i - 1) / ARITY]))
        sift_up(h->a, i);
    else
        sift_down(h->a, h->n, i);
}

size_t cio__timers_run(cio_loop *l, int64_t now)
{
    cio__timer_heap *h = &l->timers;
    size_t ran = 0;
    while (h->n && h->a[0].deadline <= now) {
        cio__timer *t = h->a[0].timer;
        cio__timer_disarm(l, t);
        t->fn(t);
        ran++;
    }
    return ran;
}

int64_t cio__timers_next(const cio_loop *l)
{
    return l->timers.n ? l->timers.a[0].deadline : INT64_MAX;
}

void cio__timers_destroy(cio_loop *l)
{
    free(l->timers.a);
    l->timers.a = NULL;
    l->timers.n = l->timers.cap = 0;
}
