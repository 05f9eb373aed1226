/* Task stacks: a per-loop pool of stacks, lent to tasks while they run.
 *
 * A task gets its stack when it first runs and gives it back the moment it
 * finishes, so a task that spawns thousands of short children keeps reusing a
 * handful of hot stacks (LIFO) instead of touching a new one for each. Task
 * records live apart from the stacks (task.c), so finished-but-unjoined tasks
 * hold no stack.
 *
 * Protection. The first CIO__GUARD_BUDGET stacks of a pool, and every stack in
 * debug mode, get their own mapping with a PROT_NONE guard page below them, so
 * an overflow faults (and debug mode names the task). In debug mode the guard
 * is CIO__DEBUG_GUARD (1 MiB of address space, no memory) so that one large
 * frame cannot jump over it. Beyond the budget stacks
 * are carved from shared slabs without guard pages, because every guard page
 * splits a mapping and the kernel allows only vm.max_map_count (65530 by
 * default) of them: a million guarded stacks cannot exist. Those stacks keep a
 * red zone at their bottom that is checked when the task ends.
 *
 * Memory given back. A canary word sits at the start of the stack's top page.
 * A task that went deeper than that page overwrote it; when its stack returns
 * to the pool the pages below the top one are dropped with MADV_DONTNEED, so
 * one deep call does not pin memory for ever. Idle stacks beyond the hot set
 * are dropped whole when the loop is about to sleep (cio__stacks_trim). */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "alloc.h"
#include "internal.h"
#include "vec.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#define CIO_HAVE_VALGRIND 1
#endif
#endif
#ifndef CIO_HAVE_VALGRIND
#define VALGRIND_MAKE_MEM_DEFINED(p, n) ((void)(p), (void)(n))
#define RUNNING_ON_VALGRIND 0
#endif

#define CIO__GUARD_BUDGET 4096 /* guarded pool stacks in release mode */
#define SLAB_STACKS 64
#define HOT_STACKS 256
#define RED_ZONE 64
#define DEEP_CANARY 0x5ca1ab1ec10deadbULL
#define GUARDED_BIT ((uintptr_t)1)

static size_t page_size = 4096; /* set by cio__stacks_init */

/* The canary sits at the start of the stack's top page. */
static uint64_t *deep_canary(const cio_task *t)
{
    return (uint64_t *)((char *)t->stack_lo + t->stack_size - page_size);
}

int cio__stacks_init(cio__stack_pool *p, size_t stack_size, int guard_all)
{
    memset(p, 0, sizeof(*p));
    p->page = page_size = (size_t)sysconf(_SC_PAGESIZE);
    if (stack_size < 4 * p->page)
        stack_size = 4 * p->page;
    p->stack_size = (stack_size + p->page - 1) & ~(p->page - 1);
    p->guard_all = guard_all;
    /* Debug mode: a frame bigger than a page (a large local array) skips a
     * one-page guard and lands in whatever mapping lies below; a guard of
     * CIO__DEBUG_GUARD catches frames up to that size. It costs address
     * space only. */
    p->guard = guard_all ? CIO__DEBUG_GUARD : p->page;
    p->hot = HOT_STACKS;
    /* Valgrind's requests are a dozen instructions each, three per task:
     * asked once here, they cost a test when Valgrind is not there. */
    p->valgrind = RUNNING_ON_VALGRIND != 0;
    return 0;
}

/* Maps one stack with a guard region of `guard` bytes below it. Returns its
 * low end or NULL. */
static void *map_guarded(size_t size, size_t guard)
{
    char *m = mmap(NULL, size + guard, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    if (mprotect(m, guard, PROT_NONE) < 0) {
        munmap(m, size + guard);
        return NULL;
    }
    madvise(m + guard, size, MADV_NOHUGEPAGE);
    return m + guard;
}

static int remember_mapping(cio__stack_pool *p, void *base)
{
    if (cio__vec_room(p->slabs, p->nslabs, p->slabcap, 64))
        return -ENOMEM;
    p->slabs[p->nslabs++] = base;
    return 0;
}

/* A new pool stack; its low end, tagged with GUARDED_BIT when guarded. */
static uintptr_t new_pool_stack(cio__stack_pool *p)
{
    size_t size = p->stack_size;
    if (p->guard_all || p->nguarded < CIO__GUARD_BUDGET) {
        void *lo = map_guarded(size, p->guard);
        if (!lo)
            return 0;
        /* Tag the mapping's base with the guard bit: destroy unmaps size+guard. */
        if (remember_mapping(p, (void *)((uintptr_t)((char *)lo - p->guard) | GUARDED_BIT)) < 0) {
            munmap((char *)lo - p->guard, size + p->guard);
            return 0;
        }
        p->nguarded++;
        return (uintptr_t)lo | GUARDED_BIT;
    }
    if (!p->slab_left) {
        char *m = mmap(NULL, size * SLAB_STACKS, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (m == MAP_FAILED)
            return 0;
        madvise(m, size * SLAB_STACKS, MADV_NOHUGEPAGE);
        if (remember_mapping(p, m) < 0) {
            munmap(m, size * SLAB_STACKS);
            return 0;
        }
        p->slab_next = m;
        p->slab_left = SLAB_STACKS;
    }
    char *lo = p->slab_next;
    p->slab_next += size;
    p->slab_left--;
    return (uintptr_t)lo;
}

static void lend(const cio__stack_pool *p, cio_task *t, void *lo, size_t size, int guarded,
                 int pooled)
{
    t->stack_lo = lo;
    t->stack_size = size;
    t->guarded = (uint8_t)guarded;
    t->pooled = (uint8_t)pooled;
    *deep_canary(t) = DEEP_CANARY;
#ifdef CIO_HAVE_VALGRIND
    if (p->valgrind)
        t->valgrind_id = VALGRIND_STACK_REGISTER(lo, (char *)lo + size);
#else
    (void)p;
#endif
}

int cio__stack_get(cio__stack_pool *p, cio_task *t, size_t size)
{
    if (size == 0 || size == p->stack_size) {
        uintptr_t e;
        if (p->nidle) {
            e = (uintptr_t)p->idle[--p->nidle];
            if (p->ntrimmed > p->nidle)
                p->ntrimmed = p->nidle;
        } else {
            e = new_pool_stack(p);
            if (!e)
                return -ENOMEM;
        }
        lend(p, t, (void *)(e & ~GUARDED_BIT), p->stack_size, (int)(e & GUARDED_BIT), 1);
        return 0;
    }
    /* A task with its own size gets its own guarded mapping, unmapped at exit. */
    size = (size + p->page - 1) & ~(p->page - 1);
    if (size < 4 * p->page)
        size = 4 * p->page;
    void *lo = map_guarded(size, p->guard);
    if (!lo)
        return -ENOMEM;
    lend(p, t, lo, size, 1, 0);
    return 0;
}

static void check_red_zone(const void *lo, const cio_task *t)
{
    const uint64_t *red = lo;
    /* Below a task's stack pointer Valgrind sees unaddressable memory. */
    VALGRIND_MAKE_MEM_DEFINED(red, RED_ZONE);
    for (size_t i = 0; i < RED_ZONE / sizeof(*red); i++) {
        if (red[i] != 0) {
            fprintf(stderr,
                    "cio: stack overflow in task %s (stack of %zu bytes): memory next to "
                    "it may be corrupt; give the task a bigger stack (cio_task_opts.stack_size)\n",
                    t->name, t->stack_size);
            abort();
        }
    }
}

void cio__stack_check(const cio_task *t)
{
    if (t->stack_lo && !t->guarded)
        check_red_zone(t->stack_lo, t);
}

void cio__stack_put(cio__stack_pool *p, cio_task *t)
{
    void *lo = t->stack_lo;
    if (!lo)
        return;
    t->stack_lo = NULL;
    size_t size = t->stack_size;
    int guarded = t->guarded;
    uint64_t *canary = (uint64_t *)((char *)lo + size - p->page);
    if (p->valgrind)
        VALGRIND_MAKE_MEM_DEFINED(canary, sizeof(*canary));
    int deep = *canary != DEEP_CANARY; /* the task went past its top page */
    /* A task that stayed in its top page cannot have reached the red zone;
     * not reading it spares a page fault per fresh stack. */
    if (!guarded && deep)
        check_red_zone(lo, t);
#ifdef CIO_HAVE_VALGRIND
    if (p->valgrind)
        VALGRIND_STACK_DEREGISTER(t->valgrind_id);
#endif
    if (!t->pooled) {
        munmap((char *)lo - p->guard, size + p->guard);
        return;
    }
    if (deep)
        madvise(lo, (size_t)((char *)canary - (char *)lo), MADV_DONTNEED);
    if (cio__vec_room(p->idle, p->nidle, p->cap, 1024))
        return; /* keep the memory mapped but forget the stack: no crash */
    p->idle[p->nidle++] = (cio_task *)((uintptr_t)lo | (guarded ? GUARDED_BIT : 0));
}

int cio__stack_pass(cio__stack_pool *p, cio_task *from, cio_task *to)
{
    if (!from->pooled || (to->stack_request && to->stack_request != p->stack_size))
        return 0;
    uint64_t *canary = deep_canary(from);
    if (p->valgrind) /* below the stack pointer: unaddressable to Valgrind */
        VALGRIND_MAKE_MEM_DEFINED(canary, sizeof(*canary));
    if (*canary != DEEP_CANARY)
        return 0; /* went deep: cio__stack_put checks the red zone and drops pages */
    to->stack_lo = from->stack_lo;
    to->stack_size = from->stack_size;
    to->guarded = from->guarded;
    to->pooled = 1;
    to->valgrind_id = from->valgrind_id; /* the same registered stack */
    from->stack_lo = NULL;
    return 1;
}

void cio__stacks_trim(cio__stack_pool *p)
{
    if (p->nidle <= p->hot + p->ntrimmed)
        return;
    size_t end = p->nidle - p->hot;
    for (size_t i = p->ntrimmed; i < end; i++)
        madvise((void *)((uintptr_t)p->idle[i] & ~GUARDED_BIT), p->stack_size, MADV_DONTNEED);
    p->ntrimmed = end;
}

void cio__stacks_destroy(cio__stack_pool *p)
{
    for (size_t i = 0; i < p->nslabs; i++) {
        uintptr_t b = (uintptr_t)p->slabs[i];
        if (b & GUARDED_BIT)
            munmap((void *)(b & ~GUARDED_BIT), p->stack_size + p->guard);
        else
            munmap((void *)b, p->stack_size * SLAB_STACKS);
    }
    free(p->slabs);
    free(p->idle);
    memset(p, 0, sizeof(*p));
}
