/* Internal state of the cio core: loop, task record, timers, stack pool.
 * Never installed. Read docs/internals/core.md for the big picture. */
#ifndef CIO_CORE_INTERNAL_H
#define CIO_CORE_INTERNAL_H

#include <pthread.h>
#include <signal.h>
#include <stdio.h>

#include "cio/callback.h"
#include "cio/core.h"
#include "cio/group.h"
#include "cio/scope.h"
#include "checked.h"
#include "../io/backend.h"

#if defined(__SANITIZE_ADDRESS__)
#define CIO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CIO_ASAN 1
#endif
#endif
#ifdef CIO_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

#define CIO__UNLIKELY(x) __builtin_expect(!!(x), 0)
#define CIO__LIKELY(x) __builtin_expect(!!(x), 1)

/* ---- context switch (ctx_*.S, ctx_ucontext.c) ---- */

#if !defined(CIO_CTX_UCONTEXT) && defined(__x86_64__)
/* x86-64: the switch is inline assembly that saves only the stack pointer,
 * the resume address and the frame pointer. It tells the compiler that every
 * other register is clobbered, so the function around it saves just the
 * callee-saved registers it really uses, once, in its own prologue; the
 * assembly switch of other architectures pushes all of them again on every
 * switch, behind a call. */
#define CIO__CTX_INLINE 1
typedef struct cio__ctx {
    void *sp; /* saved stack pointer */
    void *ip; /* where the context resumes */
    void *bp; /* saved frame pointer */
} cio__ctx;

#if defined(__CET__)
#define CIO__ENDBR "endbr64\n\t"
#else
#define CIO__ENDBR ""
#endif
#if defined(__AVX512F__)
#define CIO__CLOBBER_ZMM                                                                           \
    , "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25",    \
        "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31"
#else
#define CIO__CLOBBER_ZMM
#endif

/* Saves where the running context is into `from` and resumes `to`. Nothing
 * is written to the stack, so the red zone under the stack pointer stays
 * intact. rdi and rsi are operands (and garbage after a resume); rbp is saved
 * and restored by hand because it may be the frame pointer, which cannot be
 * named as clobbered. */
static inline __attribute__((always_inline)) void cio__ctx_switch(cio__ctx *from, cio__ctx *to)
{
    __asm__ volatile("leaq 1f(%%rip), %%rax\n\t"
                     "movq %%rsp, 0(%0)\n\t"
                     "movq %%rax, 8(%0)\n\t"
                     "movq %%rbp, 16(%0)\n\t"
                     "movq 0(%1), %%rsp\n\t"
                     "movq 16(%1), %%rbp\n\t"
                     "jmpq *8(%1)\n\t"
                     "1:\n\t" CIO__ENDBR
                     : "+D"(from), "+S"(to)
                     :
                     : "rax", "rbx", "rcx", "rdx", "r8", "r9", "r10", "r11", "r12", "r13", "r14",
                       "r15", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
                       "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
                       "xmm15" CIO__CLOBBER_ZMM, "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)",
                       "st(6)", "st(7)", "mm0", "mm1", "mm2", "mm3", "mm4", "mm5", "mm6", "mm7",
                       "cc", "memory");
}

/* The parking switch, for waits whose whole remaining work after the switch
 * is "return the wake result" (ctx_x86_64.S). The waiting function calls it
 * last, as a tail call: it pushes the callee-saved registers, saves the
 * context with cio__ctx_unpark as its resume address and resumes `to` as
 * cio__ctx_switch does. When the parked context is resumed (by any switch:
 * each leaves the resumed context's address in rsi), cio__ctx_unpark asks
 * cio__ctx_parked_result for the value, pops the registers and jumps, not
 * returns, to the waiting function's caller. Why a jump: the return stack
 * buffer of the CPU holds the return addresses of the task that switched
 * away, so the first `ret` of a resumed task always mispredicts (about 12 ns
 * here, two per ping-pong round trip); an indirect jump is predicted from
 * the branch history instead. ASan builds keep the plain switch (the fiber
 * annotations must bracket it). */
int cio__ctx_park(cio__ctx *from, cio__ctx *to);
/* What a context parked by cio__ctx_park returns when it is resumed: its
 * task's cancel reason, else its wake result. Restores the task's errno. */
int cio__ctx_parked_result(cio__ctx *c);
#if !defined(CIO_ASAN)
#define CIO__CTX_TAIL 1
#endif
#else
typedef struct cio__ctx {
    void *sp; /* saved stack pointer (assembly backends) */
#if defined(CIO_CTX_UCONTEXT)
    void *uc; /* ucontext_t *, fallback only */
#endif
} cio__ctx;

/* Saves the callee-saved registers on the current stack into `from` and
 * resumes `to`. */
void cio__ctx_switch(cio__ctx *from, cio__ctx *to);
#endif
/* Prepares `c` to start entry(arg) on the stack [lo, lo + size). */
void cio__ctx_make(cio__ctx *c, void *lo, size_t size, void (*entry)(void *), void *arg);
#if !defined(CIO_CTX_UCONTEXT) && (defined(__x86_64__) || defined(__aarch64__))
static inline void cio__ctx_free(cio__ctx *c) /* nothing to free: no call per task */
{
    (void)c;
}
#else
void cio__ctx_free(cio__ctx *c);
#endif

/* ---- ready queue: tasks and callbacks share one FIFO ---- */

enum { CIO__RUN_TASK = 1, CIO__RUN_CALLBACK = 2 };

typedef struct cio__runnable {
    struct cio__runnable *next;
    int kind;
} cio__runnable;

typedef struct cio__fifo {
    cio__runnable *head, *tail;
} cio__fifo;

static inline void cio__fifo_push(cio__fifo *q, cio__runnable *r)
{
    r->next = NULL;
    if (q->tail)
        q->tail->next = r;
    else
        q->head = r;
    q->tail = r;
}

static inline cio__runnable *cio__fifo_pop(cio__fifo *q)
{
    cio__runnable *r = q->head;
    if (r) {
        q->head = r->next;
        if (!q->head)
            q->tail = NULL;
    }
    return r;
}

/* ---- tasks ---- */

enum { CIO__READY = 1, CIO__RUNNING, CIO__WAITING, CIO__DONE };

/* cio_scope.priv_kind */
enum { CIO__SCOPE_CANCEL = 1, CIO__SCOPE_TIMEOUT = 2, CIO__SCOPE_SHIELD = 3 };

/* cio_task.magic: lets cio_join and friends reject a handle already released
 * (as long as no new task has reused its stack). */
#define CIO__TASK_LIVE 0x7a5c1a11u
#define CIO__TASK_DEAD 0xdeadc10du

static inline int cio__task_valid(const cio_task *t);

/* Someone waiting for a task to finish (join, gather, wait, as_completed,
 * group). notify runs on the loop when the task is done. */
typedef struct cio__watch {
    void (*notify)(struct cio__watch *w, cio_task *done);
} cio__watch;

/* Called when a parked task is cancelled. Returns 1 after unlinking the task
 * from whatever it waits on (the primitive is left as if it never waited; the
 * task wakes with its reason), or 0 when the wait must go on until its normal
 * waker runs (an I/O operation whose cancellation the kernel confirms later). */
typedef int (*cio__unpark_fn)(cio_task *t, void *data);

/* A tail wait's (cio__park_tail) hand-back: the task was woken with 0, having
 * been handed what it waited for (a lock, a permit), but was cancelled before
 * it ran; this passes the thing on to the next waiter of `obj`. */
typedef void (*cio__give_back_fn)(const void *obj);

/* A waiting task's entry in a primitive's FIFO (waitq.h). */
typedef struct cio__waiter {
    struct cio__waiter *prev, *next;
    cio__waitq *q; /* NULL once unlinked */
    cio_task *task;
} cio__waiter;

struct cio_task {
    cio__runnable run; /* must stay first */
    uint32_t magic;
    cio__ctx ctx;
    cio_loop *loop;
    cio_fn fn;
    void *arg;
    uint8_t state;
    uint8_t released; /* handle given up by join or detach */
    uint8_t detached;
    uint8_t guarded;      /* stack has a guard page */
    uint8_t pooled;       /* stack belongs to the pool */
    uint8_t listed;       /* wait.c: seen once in the handle array being checked */
    uint8_t gen_producer; /* runs an async generator's body (src/sync/gen.c) */
    int status;
    int wake_result;  /* what cio__park returns */
    int saved_errno;  /* errno across a switch (cio__suspend) */
    cio_scope *scope; /* innermost open scope; the root scope when none */
    cio__unpark_fn unpark;
    void *unpark_data;
    const char *wait_what; /* what it waits on, for dumps and deadlock reports */
    const void *wait_obj;
    cio__watch *watch;
    cio__waiter waiter;          /* the entry of a cio__park_tail wait (its frame is gone then) */
    cio__give_back_fn give_back; /* a cio__park_tail wait's, or NULL */
    cio_task *done_next;         /* as_completed's delivery list */
    cio_task *all_prev, *all_next;
    cio_group *group;
    cio_task *sib_prev, *sib_next; /* the group's live children */
    char *message;
    void *stack_lo;
    size_t stack_size;
    size_t stack_request; /* cio_task_opts.stack_size, used at first run */
    uint64_t id;
    int64_t step_start; /* debug: when this step began */
    unsigned valgrind_id;
    const char *scope_file; /* where the innermost open scope was entered */
    int scope_line;
    size_t nscopes;      /* open scopes besides the root */
    uint32_t ncancelled; /* open scopes (the root too) with a reason set: 0 on the fast path */
    cio_scope root;      /* cio_cancel cancels this */
    char name[32];
};

static inline int cio__task_valid(const cio_task *t)
{
    return t && t->magic == CIO__TASK_LIVE;
}

/* ---- timers: a binary min-heap of (deadline, seq) ---- */

typedef struct cio__heap_entry {
    int64_t deadline;
    uint64_t seq;
    cio__timer *timer;
} cio__heap_entry;

typedef struct cio__timer_heap {
    cio__heap_entry *a;
    uint32_t n, cap;
    uint64_t seq;
} cio__timer_heap;

CIO__MUST_CHECK int cio__timer_arm(cio_loop *l, cio__timer *t, int64_t deadline);
void cio__timer_disarm(cio_loop *l, cio__timer *t);
/* Removes the timer in heap slot i without touching the timer itself (it may
 * live in a dead stack frame). */
void cio__timer_remove_at(cio_loop *l, uint32_t i);
/* Runs every timer whose deadline is <= now. Returns how many ran. */
size_t cio__timers_run(cio_loop *l, int64_t now);
/* The earliest deadline, or INT64_MAX. */
int64_t cio__timers_next(const cio_loop *l);
void cio__timers_destroy(cio_loop *l);

/* A timer that wakes one task (sleep, as_completed). */
typedef struct cio__timer_waiter {
    cio__timer timer; /* first: the timer callback gets this pointer */
    cio_task *task;
} cio__timer_waiter;

/* ---- stacks ---- */

typedef struct cio__stack_pool {
    cio_task **idle; /* records at the top of idle pool stacks, LIFO */
    size_t nidle, cap;
    size_t hot;      /* idle stacks kept resident; the rest are trimmed when idle */
    size_t ntrimmed; /* idle[0 .. ntrimmed) were given back to the kernel */
    void **slabs;
    size_t nslabs, slabcap;
    char *slab_next; /* next unused stack in the newest slab */
    size_t slab_left;
    size_t nguarded;
    size_t stack_size;
    size_t page;
    size_t guard;  /* bytes of PROT_NONE under a guarded stack */
    int guard_all; /* debug: every stack gets a guard page */
    int valgrind;  /* running under Valgrind: tell it about stacks */
} cio__stack_pool;

/* Debug mode's guard region under each stack. */
#define CIO__DEBUG_GUARD ((size_t)1024 * 1024)
/* Debug mode reports a task step that kept the loop for longer than this. */
#define CIO__SLOW_STEP_NS (100 * 1000000LL)

CIO__MUST_CHECK int cio__stacks_init(cio__stack_pool *p, size_t stack_size, int guard_all);
/* Lends t a stack of `size` bytes (0: the pool's size): sets t->stack_lo and
 * friends. Returns 0 or -ENOMEM. */
CIO__MUST_CHECK int cio__stack_get(cio__stack_pool *p, cio_task *t, size_t size);
/* Takes t's stack back (no-op without one), checking it for overflow. */
void cio__stack_put(cio__stack_pool *p, cio_task *t);
/* Hands the stack of `from`, a task that just finished on it, to `to`, a
 * task that has not run yet and wants the pool's size, when the stack needs
 * none of cio__stack_put's checks (it stayed in its top page). Returns 1 if
 * handed over, else 0 (nothing changed). */
int cio__stack_pass(cio__stack_pool *p, cio_task *from, cio_task *to);
/* Gives the memory of idle stacks beyond the hot set back to the kernel. */
void cio__stacks_trim(cio__stack_pool *p);
void cio__stacks_destroy(cio__stack_pool *p);
/* Checks the red zone at the bottom of t's stack; aborts naming t if an
 * overflow wrote into it. */
void cio__stack_check(const cio_task *t);
/* Debug mode: the SIGSEGV handler that names the task whose guard page was hit. */
void cio__stack_guard_handler_install(void);

/* ---- callbacks ---- */

struct cio_handle {
    cio__runnable run;
    cio__timer timer; /* call_later */
    cio_callback_fn fn;
    void *arg;
    int cancelled;
    struct cio_handle *free_next;
};

typedef struct cio__ts_call {
    cio_callback_fn fn;
    void *arg;
} cio__ts_call;

/* ---- the loop ---- */

#define CIO__RBUF_MIN 4096  /* a stream's first read buffer */
#define CIO__RBUF_CACHE 128 /* such buffers a loop keeps for reuse (512 KiB) */

struct cio_loop {
    cio__ctx sched_ctx; /* the scheduler's own context (the thread's stack) */
    cio_task *current;
    cio__fifo ready;
    size_t nready;
    size_t batch_left;    /* entries of this turn's batch not yet run */
    unsigned extra_steps; /* direct switches left beyond the batch this turn */
    cio__timer_heap timers;
    cio__stack_pool stacks;
    cio__backend backend;
    int64_t now;    /* ns, refreshed once per loop turn */
    int64_t clock0; /* real-clock origin */
    int virtual_clock;
    int debug;
    /* Debug mode's slow-step check (debug.c): /proc/thread-self/schedstat
     * (-1 where absent) and, read once per turn before the batch, the clock
     * and the thread's run-queue wait then. */
    int sched_fd;
    int64_t turn_clock;
    int64_t turn_wait;
    size_t stack_size;
    size_t nlive;    /* tasks not yet finished */
    size_t nwaiting; /* tasks parked */
    uint64_t next_id;
    cio_task *all;       /* every live task */
    cio_task *task_free; /* recycled task records */
    void **task_chunks;  /* record slabs, freed at close */
    size_t ntask_chunks;
    unsigned steps_since_clock; /* task steps run since `now` was read */
    int64_t last_trim;          /* when idle stacks were last given back */
    int64_t coarse_seen;        /* the coarse clock at the last precise reading */
    cio_task *main_task;
    int closing; /* cio_run is cancelling leftovers */
    int refs;    /* cio_loop_ref */
    /* callbacks */
    struct cio_handle *handle_free;
    size_t nhandles_pending; /* scheduled call_soon/call_later not yet run */
    /* threadsafe calls */
    pthread_mutex_t ts_lock;
    cio__ts_call *ts_calls;
    size_t ts_n, ts_cap;
    int ts_closed;
    /* failures of detached tasks, reported at close */
    char **unjoined;
    size_t nunjoined;
    /* ASan fiber bookkeeping */
    const void *main_stack_bottom;
    size_t main_stack_size;
    /* SIGINT */
    struct sigaction old_sigint;
    int sigint_installed;
    int *errno_at;           /* this thread's errno, saved per task across a switch */
    volatile int ts_pending; /* threadsafe calls or a signal await the loop */
    int ts_sleeping;         /* the loop blocks (or is about to) in the backend's poll:
                              * threadsafe callers must write its wakeup (callback.c) */
    unsigned deadlocks;      /* consecutive deadlock reports */
    /* First-size stream read buffers, kept for reuse: a stream that waits
     * for data with nothing buffered gives its buffer back (an idle
     * connection holds none) and takes one again on the next read, here
     * instead of through malloc (src/io/stream_buf.c). Freed at close.
     * Up to 128: as many as busy connections give back in one turn (100
     * echo connections overflowed 16 into ~1,000 brk calls per 100k round
     * trips); at most 512 KiB, held only after that many were in use. */
    void *rbuf_cache[CIO__RBUF_CACHE];
    unsigned nrbuf_cache;
};

extern __thread cio_loop *cio__loop;

int64_t cio__clock_ns(void);
int64_t cio__coarse_clock_ns(void);
/* Refreshes loop->now from the real clock (not with a virtual clock). */
void cio__update_now(cio_loop *l);

/* The loop time a new deadline is measured from. The cached time may be old
 * if the running task computed for a while; the coarse clock (about 3 ns, one
 * kernel tick of resolution) tells whether a tick passed since the last
 * precise reading, and only then is the precise clock (about 20 ns) read. So
 * a deadline is never set early by more than one tick, however long the task
 * ran, and the common case stays cheap. */
static inline int64_t cio__deadline_base(cio_loop *l)
{
    if (!l->virtual_clock) {
        int64_t coarse = cio__coarse_clock_ns();
        if (coarse != l->coarse_seen) {
            l->coarse_seen = coarse;
            cio__update_now(l);
        }
    }
    return l->now;
}

/* Current task if running inside a task of a live loop, else NULL. */
static inline cio_task *cio__self(void)
{
    cio_loop *l = cio__loop;
    return l ? l->current : NULL;
}

/* The reason the task's suspending calls return now, or 0. Every suspending
 * call asks, so the common answer (no cancelled scope at all) is one load. */
int cio__cancel_reason_slow(const cio_task *t);

static inline int cio__cancel_reason(const cio_task *t)
{
    return CIO__LIKELY(!t->ncancelled) ? 0 : cio__cancel_reason_slow(t);
}

/* Cancels open scope s with `reason`, unless it already has one (the first
 * reason stays). The caller then wakes the task (cio__deliver_cancel). */
static inline void cio__scope_set_reason(cio_scope *s, int reason)
{
    if (!s->priv_reason) {
        s->priv_reason = reason;
        s->priv_task->ncancelled++;
    }
}

/* A call failing without a message of its own (a bad argument, a cancel
 * reason) clears the one an earlier call left, so that cio_task_message never
 * tells of an unrelated failure; returns err. Only failure paths call these:
 * success costs nothing. cio__invalid(func) sets "FUNC: invalid argument"
 * (func NULL: clears) and returns -EINVAL. */
void cio__clear_message(void) __attribute__((cold));
void cio__invalid_message(const char *func) __attribute__((cold));
static inline int cio__fail_bare(int err)
{
    cio__clear_message();
    return err;
}
static inline int cio__invalid(const char *func)
{
    cio__invalid_message(func);
    return -EINVAL;
}

/* Outside a task: sets the thread's message "FUNC: not inside a task" (read
 * with cio_task_message(NULL)) and returns -EPERM. */
int cio__not_in_task(const char *func);

/* The first step of every suspending call: stores the running task in *self
 * and returns 0, or returns -EPERM outside a task (with a message naming the
 * call) or the cancel reason. */
static inline int cio__checkpoint_in(cio_task **self, const char *func)
{
    cio_task *t = cio__self();
    *self = t;
    if (CIO__UNLIKELY(!t))
        return cio__not_in_task(func);
    int reason = cio__cancel_reason(t);
    return CIO__LIKELY(!reason) ? 0 : cio__fail_bare(reason);
}
#define cio__checkpoint(self) cio__checkpoint_in((self), __func__)

/* ---- parking and waking: the fast paths, inline ---- */

/* Steps a turn may run beyond its batch by switching task to task, before the
 * loop looks at timers and I/O again: ping-ponging tasks switch directly
 * without starving the rest for more than a few microseconds. */
#define CIO__EXTRA_STEPS 64

/* Gives t its stack and first frame (a task gets its stack when it first
 * runs). Returns 0 or -ENOMEM. */
int cio__give_stack(cio_loop *l, cio_task *t);
/* Debug mode's check of a parking task's stack. */
void cio__park_check(cio_task *t);

/* The task the running task may switch to directly, skipping the scheduler:
 * the next one of this turn's batch (or, within the turn's budget of extra
 * steps, one made ready during it), if it is a task. Left in the queue. */
static inline cio_task *cio__batch_peek(cio_loop *l)
{
    if (!l->nready || CIO__UNLIKELY(l->debug)) /* debug mode times every step from the scheduler */
        return NULL;
    if (!l->batch_left && !l->extra_steps)
        return NULL;
    cio__runnable *r = l->ready.head;
    return r->kind == CIO__RUN_TASK ? (cio_task *)r : NULL;
}

/* Takes `next`, which cio__batch_peek returned, off the ready queue as the
 * running task, counting the step against the turn's batch. */
static inline void cio__batch_take(cio_loop *l, cio_task *next)
{
    l->ready.head = next->run.next;
    if (!next->run.next)
        l->ready.tail = NULL;
    l->nready--;
    if (l->batch_left) {
        l->batch_left--;
    } else {
        l->extra_steps--;
        l->steps_since_clock++;
    }
    next->state = CIO__RUNNING;
    l->current = next;
}

/* cio__batch_peek's task, taken, with a stack. */
static inline cio_task *cio__next_in_batch(cio_loop *l)
{
    cio_task *next = cio__batch_peek(l);
    if (!next)
        return NULL;
    if (CIO__UNLIKELY(!next->stack_lo) && cio__give_stack(l, next) < 0)
        return NULL; /* the scheduler reports it */
    cio__batch_take(l, next);
    return next;
}

/* Running task -> the next task of the batch, or the scheduler. Returns when
 * the task is resumed, with its errno as it left it. */
static inline __attribute__((always_inline)) void cio__suspend(cio_loop *l, cio_task *t)
{
    /* Only t lives across the switch (in rbp, which it preserves): the errno
     * and the loop are stored and read back through it, so the compiler keeps
     * nothing else on the stack around it. */
    t->saved_errno = *l->errno_at;
    cio_task *next = cio__next_in_batch(l);
    cio__ctx *to = next ? &next->ctx : &l->sched_ctx;
#ifdef CIO_ASAN
    void *fake = NULL;
    __sanitizer_start_switch_fiber(&fake, next ? next->stack_lo : l->main_stack_bottom,
                                   next ? next->stack_size : l->main_stack_size);
    cio__ctx_switch(&t->ctx, to);
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#else
    cio__ctx_switch(&t->ctx, to);
#endif
    *t->loop->errno_at = t->saved_errno;
}

/* Suspends the running task t until cio__wake. Call cio__checkpoint first and
 * register t with the thing it waits on. `unpark` detaches t from that thing
 * when cancellation arrives while parked; NULL makes the wait uncancellable.
 * `what` and `obj` say what t waits on, for dumps. Returns the result passed to
 * cio__wake, or the cancel reason. cio__park is the out-of-line copy for the
 * many waits where a call does not matter; the sync primitives' hot waits use
 * cio__park_inline. */
static inline __attribute__((always_inline)) void
cio__park_prepare(cio_task *t, const char *what, const void *obj, cio__unpark_fn unpark, void *data)
{
    cio_loop *l = t->loop;
    t->state = CIO__WAITING;
    t->unpark = unpark;
    t->unpark_data = data;
    t->wait_what = what;
    t->wait_obj = obj;
    l->nwaiting++;
    if (CIO__UNLIKELY(l->debug))
        cio__park_check(t);
}

static inline __attribute__((always_inline)) int
cio__park_inline(cio_task *t, const char *what, const void *obj, cio__unpark_fn unpark, void *data)
{
    cio__park_prepare(t, what, obj, unpark, data);
    cio__suspend(t->loop, t);
    return t->wake_result;
}
int cio__park(cio_task *t, const char *what, const void *obj, cio__unpark_fn unpark, void *data);

/* cio__park for a wait with nothing left to do after it. Without
 * `give_back` (an event: nothing was handed over) it returns the cancel
 * reason if the task has one when it resumes, else the wake result. With it
 * (a lock, a semaphore) a nonzero wake result wins (cancelled in line, the
 * primitive destroyed), and a task woken with 0 but cancelled before it ran
 * calls give_back(obj) and returns the reason: the thing it was handed goes
 * to the next waiter. Call it as the waiting function's last act, `return
 * cio__park_tail(...)`, with nothing of the waiting function's frame in use
 * (the entry lives in t->waiter): the compiler then turns it into a jump, and
 * the task resumes straight into its caller (cio__ctx_park, above).
 * Elsewhere it is cio__park_inline. */
static inline int cio__parked_result(cio_task *t, int result, cio__give_back_fn give_back)
{
    int reason = cio__cancel_reason(t);
    if (CIO__LIKELY(!reason))
        return result;
    if (!give_back)
        return reason;
    if (result)
        return result;
    give_back(t->wait_obj);
    return reason;
}

static inline __attribute__((always_inline)) int cio__park_tail(cio_task *t, const char *what,
                                                                const void *obj,
                                                                cio__unpark_fn unpark, void *data,
                                                                cio__give_back_fn give_back)
{
#ifdef CIO__CTX_TAIL
    cio__park_prepare(t, what, obj, unpark, data);
    t->give_back = give_back;
    cio_loop *l = t->loop;
    t->saved_errno = *l->errno_at;
    cio_task *next = cio__next_in_batch(l);
    return cio__ctx_park(&t->ctx, next ? &next->ctx : &l->sched_ctx);
#else
    int result = cio__park_inline(t, what, obj, unpark, data);
    return cio__parked_result(t, result, give_back);
#endif
}

/* Makes a parked task ready; its cio__park returns `result`. */
static inline void cio__wake(cio_task *t, int result)
{
    if (t->state != CIO__WAITING)
        return;
    cio_loop *l = t->loop;
    l->nwaiting--;
    t->wake_result = result;
    /* unpark, wait_what and wait_obj are read only while the task waits, and
     * every park sets them: nothing to clear. */
    t->state = CIO__READY;
    cio__fifo_push(&l->ready, &t->run);
    l->nready++;
}

/* Puts a task (not parked) at the end of the ready queue. */
static inline void cio__make_ready(cio_task *t)
{
    cio_loop *l = t->loop;
    t->state = CIO__READY;
    cio__fifo_push(&l->ready, &t->run);
    l->nready++;
}
/* Called after a scope of t was cancelled: wakes t with its reason if t is
 * parked in a cancellable wait. */
void cio__deliver_cancel(cio_task *t);

/* Task bookkeeping shared by task.c, wait.c and group.c. */
CIO__MUST_CHECK int cio__spawn(cio_loop *l, cio_task **out, cio_fn fn, void *arg,
                               const cio_task_opts *opts);
void cio__task_free(cio_task *t);
/* Marks the handle released; frees the record if the task is done. */
void cio__task_release(cio_task *t);
/* Task records: a per-loop free list over slabs. */
cio_task *cio__task_alloc(cio_loop *l);
void cio__task_records_destroy(cio_loop *l);
/* Entry run on every task's own stack. */
void cio__task_main(void *arg);
/* Scheduler side of a finished task (runs on the loop's stack). */
void cio__task_finished(cio_task *t);
/* A watch that wakes one parked task when the watched task finishes. */
typedef struct cio__join_watch {
    cio__watch w;
    cio_task *waiter;
} cio__join_watch;
void cio__join_notify(cio__watch *w, cio_task *done);
/* The checks cio_join and cio_shield share. Returns 1 when t had finished
 * (its status is in *status and the handle is released), 0 to go on and wait
 * (*self and *reason set), or a negative error. */
int cio__join_begin(cio_task *t, cio_task **self, int *reason, int *status);

/* Scopes (scope.c). */
CIO__MUST_CHECK int cio__scope_push(cio_scope *s, int kind, const char *file, int line);
/* Reports scopes still open when t returned and disarms their timers. */
void cio__scope_close_leaked(cio_task *t);

/* Groups (group.c): a child of a group finished. */
void cio__group_child_done(cio_task *t);

#define CIO__FAR_FUTURE ((int64_t)3000000000 * 1000000000) /* ~95 years */

/* Converts a duration to loop nanoseconds, rounding up (a timer never fires
 * early) and capping at about a century. Returns -EINVAL for negative or NaN. */
static inline int cio__duration_ns(double seconds, int64_t *ns)
{
    if (CIO__UNLIKELY(!(seconds >= 0))) /* negative or NaN */
        return -EINVAL;
    if (CIO__UNLIKELY(seconds >= (double)CIO__FAR_FUTURE / 1e9)) {
        *ns = CIO__FAR_FUTURE;
        return 0;
    }
    double exact = seconds * 1e9;
    *ns = (int64_t)exact;
    *ns += (double)*ns < exact;
    return 0;
}

/* Records a detached task's failure for the report at close. */
void cio__report_unjoined(cio_loop *l, cio_task *t);
/* t's name, made on first use. */
const char *cio__task_name(cio_task *t);

/* Debug. */
void cio__deadlock_report(cio_loop *l);
/* Debug mode: opens (and closes) the slow-step check's schedstat file, reads
 * its per-turn baseline, and reports a step that ran `ran` ns from `start`
 * if it blocked the loop for over 100 ms (time spent preempted excluded). */
void cio__slow_step_open(cio_loop *l);
void cio__slow_step_close(cio_loop *l);
void cio__slow_step_turn(cio_loop *l);
void cio__slow_step_check(cio_loop *l, const cio_task *t, int64_t start, int64_t ran);
const char *cio__state_name(int state);
int cio__debug_env(void);

/* The shared executors (src/io/executor.c) live while some loop is open. */
void cio__executors_loop_opened(void);
void cio__executors_loop_closed(void);

/* Callbacks (callback.c). */
void cio__run_callback(cio_loop *l, struct cio_handle *h);
void cio__drain_threadsafe(cio_loop *l);
int64_t cio__ts_sleep_begin(cio_loop *l, int64_t timeout);
void cio__ts_sleep_end(cio_loop *l);
void cio__callbacks_destroy(cio_loop *l);

#endif
