/* cio synchronization primitives: Lock, Event, Condition, Semaphore,
 * BoundedSemaphore, Barrier, Queue (FIFO, LIFO, priority) and async generators.
 *
 * asyncio's primitives for tasks of one loop. Each is a struct the caller
 * embeds (on a task's stack, in a heap object, as a global), set up with
 * `_init` and torn down with `_destroy`. Using them allocates nothing: a task
 * that waits keeps its place in line on its own stack. Only a queue owns
 * memory (its item storage, made at init for a bounded queue).
 *
 * What every primitive here promises:
 *   - Waiters are served first come, first served (FIFO). A lock, a permit, a
 *     queue item or a queue slot freed while tasks wait is handed to the first
 *     of them: a task that arrives later cannot take it first.
 *   - Every suspending call returns 0 or a negative errno, and the cancel
 *     reason (-ECANCELED, -ETIMEDOUT) when the calling task is cancelled or
 *     its timeout scope expires; inside a cancelled scope it returns the
 *     reason at once, without suspending (cio's level-triggered rule).
 *   - Cancellation is safe: a task whose wait ends by cancellation leaves the
 *     primitive exactly as if it had never waited. If the lock, permit, item or
 *     slot had already been handed to it, it passes on to the next waiter (or
 *     back), so nothing is lost, duplicated or leaked and no wakeup is missed.
 *   - A suspending call made outside a task returns -EPERM; a NULL object
 *     returns -EINVAL.
 *   - Destroying a primitive while tasks wait on it is a bug: it is reported
 *     on stderr and the waiters wake with -EIDRM (as System V semaphores do).
 *
 * The primitives belong to the loop of the tasks using them; like the rest of
 * cio they are not for use from several threads.
 */
#ifndef CIO_SYNC_H
#define CIO_SYNC_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ==== Lock (asyncio.Lock) ==== */

/* A mutual-exclusion lock for tasks. Not reentrant; owned by the task that
 * acquired it. A zeroed cio_lock is an unlocked lock. */
typedef struct cio_lock {
    cio_task *priv_owner;
    cio__waitq priv_waiters;
} cio_lock;

/* Makes an unlocked lock. Returns 0 or -EINVAL (NULL). Suspends: no. */
CIO_API int cio_lock_init(cio_lock *l);

/* Tears the lock down. Reports a lock destroyed while tasks wait on it (they
 * wake with -EIDRM). NULL is a no-op. Suspends: no. */
CIO_API void cio_lock_destroy(cio_lock *l);

/* Acquires the lock, waiting in line while another task holds it (`async with
 * lock`). Returns 0 (the caller now owns the lock), -EINVAL, -EPERM outside a
 * task, -EDEADLK if the caller already holds it (asyncio would hang), or the
 * cancel reason.
 * Suspends: yes while the lock is held (also when cancelled: returns at once).
 * Cancellation: returns the reason without the lock; the caller's place in
 * line is given up, and a lock handed to it at that instant passes on to the
 * next waiter. Cost: no allocation; a release with waiters hands the lock
 * straight to the first one. */
CIO_API int cio_lock_acquire(cio_lock *l);

/* Acquires the lock only if it is free and nobody waits for it. Returns 0,
 * -EAGAIN when it would have to wait, -EINVAL, -EPERM outside a task (a lock
 * needs an owner), -EDEADLK if the caller holds it. Suspends: no. */
CIO_API int cio_lock_try_acquire(cio_lock *l);

/* Releases the lock; the first waiter, if any, owns it now. Returns 0, -EINVAL,
 * or -EPERM when the calling task does not hold it (asyncio's RuntimeError).
 * Suspends: no. */
CIO_API int cio_lock_release(cio_lock *l);

/* 1 if some task holds the lock, else 0 (also for NULL). Suspends: no. */
CIO_API int cio_lock_locked(const cio_lock *l);

/* ==== Event (asyncio.Event) ==== */

/* A flag tasks can wait for. A zeroed cio_event is a clear event. */
typedef struct cio_event {
    cio__waitq priv_waiters;
    int priv_set;
} cio_event;

/* Makes a clear event. Returns 0 or -EINVAL. Suspends: no. */
CIO_API int cio_event_init(cio_event *e);

/* Tears the event down (waiters, a bug, wake with -EIDRM). NULL is a no-op.
 * Suspends: no. */
CIO_API void cio_event_destroy(cio_event *e);

/* Sets the flag and wakes every waiting task, in the order they came. May be
 * called from a task or a callback. Returns 0 or -EINVAL. Suspends: no.
 * Cost: one wakeup per waiter. */
CIO_API int cio_event_set(cio_event *e);

/* Clears the flag: later waits block until the next set. Returns 0 or -EINVAL.
 * Suspends: no. */
CIO_API int cio_event_clear(cio_event *e);

/* 1 if the flag is set, else 0 (also for NULL). Suspends: no. */
CIO_API int cio_event_is_set(const cio_event *e);

/* Waits until the flag is set. Returns 0 at once if it is set, -EINVAL, -EPERM
 * outside a task, or the cancel reason.
 * Suspends: yes until set. Cancellation: returns the reason, also when the set
 * came in the same instant; the event is unchanged. */
CIO_API int cio_event_wait(cio_event *e);

/* ==== Condition (asyncio.Condition) ==== */

/* A condition variable over a cio_lock. */
typedef struct cio_cond {
    cio_lock *priv_lock;
    cio__waitq priv_waiters;
    cio_lock priv_own; /* used when init is given no lock */
} cio_cond;

/* Makes a condition over `lock`, or over a lock of its own when lock is NULL
 * (asyncio.Condition(lock=None)); cio_cond_lock returns it. Returns 0 or
 * -EINVAL. Suspends: no. */
CIO_API int cio_cond_init(cio_cond *c, cio_lock *lock);

/* Tears the condition down (not the caller's lock). NULL is a no-op.
 * Suspends: no. */
CIO_API void cio_cond_destroy(cio_cond *c);

/* The lock the condition uses, or NULL for NULL. Suspends: no. */
CIO_API cio_lock *cio_cond_lock(cio_cond *c);

/* cio_lock_acquire on the condition's lock: the same returns.
 * Suspends: yes, as cio_lock_acquire. Cancellation: as cio_lock_acquire
 * (returns the reason without the lock). */
CIO_API int cio_cond_acquire(cio_cond *c);
/* cio_lock_release / cio_lock_locked on the condition's lock: the same
 * returns. Suspends: no. */
CIO_API int cio_cond_release(cio_cond *c);
CIO_API int cio_cond_locked(const cio_cond *c);

/* Releases the lock, waits for a notify, and acquires the lock again before
 * returning, in every case but -EINVAL, -EPERM and -EIDRM. The caller must hold the
 * lock. Returns 0 when notified, -EINVAL, -EPERM (outside a task, or lock not
 * held), or the cancel reason.
 * Suspends: yes. Cancellation: like asyncio, the lock is re-acquired (that
 * wait cannot be interrupted) before the reason is returned; a notification
 * that reached the task in that instant passes on to the next waiter. A task
 * already cancelled returns the reason at once, still holding the lock.
 * Cost: no allocation. */
CIO_API int cio_cond_wait(cio_cond *c);

/* A predicate for cio_cond_wait_for: nonzero when the awaited state holds. */
typedef int (*cio_pred_fn)(void *arg);

/* Waits until pred(arg) is nonzero: checks it, and cio_cond_wait until it
 * holds (asyncio's wait_for). The caller must hold the lock; pred runs with
 * the lock held. Returns 0 when pred holds, or what cio_cond_wait returned
 * (the lock is held again in both cases, but -EINVAL and -EPERM).
 * Suspends: yes, unless pred already holds and the task is not cancelled.
 * Cancellation: as cio_cond_wait: returns the reason holding the lock again
 * (pred is not checked after). */
CIO_API int cio_cond_wait_for(cio_cond *c, cio_pred_fn pred, void *arg);

/* Wakes up to n waiters, first come first served; each re-acquires the lock
 * in turn. The caller must hold the lock. Returns the number woken, -EINVAL,
 * or -EPERM when the caller does not hold the lock. Suspends: no. */
CIO_API int cio_cond_notify(cio_cond *c, int n);

/* Wakes every waiter. Returns the number woken, -EINVAL or -EPERM.
 * Suspends: no. Cost: one wakeup per waiter. */
CIO_API int cio_cond_notify_all(cio_cond *c);

/* ==== Semaphore and BoundedSemaphore (asyncio.Semaphore, BoundedSemaphore) ==== */

/* A counter of permits. */
typedef struct cio_sem {
    cio__waitq priv_waiters;
    size_t priv_value;
    size_t priv_bound; /* bounded: the initial value; PTRDIFF_MAX otherwise */
} cio_sem;

/* Makes a semaphore holding `value` permits. Returns 0 or -EINVAL (NULL, or a
 * value above PTRDIFF_MAX: a negative number converted to size_t, such as -1,
 * which asyncio rejects with ValueError). Suspends: no. */
CIO_API int cio_sem_init(cio_sem *s, size_t value);

/* Makes a bounded semaphore: releasing it above its initial value fails with
 * -EOVERFLOW (asyncio.BoundedSemaphore raises ValueError). Returns 0 or -EINVAL
 * (as cio_sem_init).
 * Suspends: no. */
CIO_API int cio_sem_init_bounded(cio_sem *s, size_t value);

/* Tears the semaphore down (waiters, a bug, wake with -EIDRM). NULL is a no-op.
 * Suspends: no. */
CIO_API void cio_sem_destroy(cio_sem *s);

/* Takes a permit, waiting in line while there is none (`async with sem`).
 * Returns 0, -EINVAL, -EPERM outside a task, or the cancel reason.
 * Suspends: yes while the value is 0. Cancellation: returns the reason without
 * a permit; a permit handed to the task at that instant passes on to the next
 * waiter or back to the semaphore. Cost: no allocation. */
CIO_API int cio_sem_acquire(cio_sem *s);

/* Takes a permit only if one is free and nobody waits. Returns 0, -EAGAIN, or
 * -EINVAL. Works outside tasks too. Suspends: no. */
CIO_API int cio_sem_try_acquire(cio_sem *s);

/* Gives a permit back: to the first waiter if any, else to the counter. May be
 * called from a task or a callback. Returns 0, -EINVAL, or -EOVERFLOW (a
 * bounded semaphore released more often than acquired, or the counter would
 * pass PTRDIFF_MAX). Suspends: no. */
CIO_API int cio_sem_release(cio_sem *s);

/* The number of free permits (0 for NULL). Suspends: no. */
CIO_API size_t cio_sem_value(const cio_sem *s);

/* 1 if an acquire would wait now (no free permit), else 0. Suspends: no. */
CIO_API int cio_sem_locked(const cio_sem *s);

/* ==== Barrier (asyncio.Barrier) ==== */

/* Waits until `parties` tasks have arrived, then lets them all go, and starts
 * over. States as asyncio's: filling, draining (the tasks of a full round are
 * leaving; newcomers wait), resetting, broken. */
typedef struct cio_barrier {
    cio__waitq priv_fill;  /* arrived, waiting for the round to fill */
    cio__waitq priv_block; /* waiting for a draining or resetting round to end */
    size_t priv_parties;
    size_t priv_count;
    int priv_state;
} cio_barrier;

/* Makes a barrier for `parties` (>= 1, <= PTRDIFF_MAX: a negative number
 * converted to size_t is refused) tasks. Returns 0 or -EINVAL.
 * Suspends: no. */
CIO_API int cio_barrier_init(cio_barrier *b, size_t parties);

/* Tears the barrier down (waiters, a bug, wake with -EIDRM). NULL is a no-op.
 * Suspends: no. */
CIO_API void cio_barrier_destroy(cio_barrier *b);

/* Arrives at the barrier and waits until `parties` tasks have arrived (the
 * last one does not wait). Stores the caller's arrival index, 0 to parties-1,
 * in *index (which may be NULL). Returns 0, -EPIPE when the barrier is broken
 * (aborted, or reset while the caller waited: asyncio's BrokenBarrierError),
 * -EINVAL, -EPERM outside a task, or the cancel reason.
 * Suspends: yes, also while a previous round drains or a reset completes.
 * Cancellation: as in asyncio, a waiter that leaves before its round filled is
 * taken out of the count, as if it had never arrived; one cancelled just after
 * the round filled (too late to undo) returns the reason too, and the round
 * still counted it. Cost: no allocation. */
CIO_API int cio_barrier_wait(cio_barrier *b, size_t *index);

/* Resets the barrier to its empty state; tasks waiting in the current round
 * wake with -EPIPE. Returns 0 or -EINVAL. Suspends: no (asyncio's is async
 * only for its lock). */
CIO_API int cio_barrier_reset(cio_barrier *b);

/* Breaks the barrier: waiting tasks and every later cio_barrier_wait return
 * -EPIPE until cio_barrier_reset. Returns 0 or -EINVAL. Suspends: no. */
CIO_API int cio_barrier_abort(cio_barrier *b);

/* The number of parties (0 for NULL). Suspends: no. */
CIO_API size_t cio_barrier_parties(const cio_barrier *b);

/* The number of tasks waiting in the filling round (asyncio's n_waiting).
 * Suspends: no. */
CIO_API size_t cio_barrier_n_waiting(const cio_barrier *b);

/* 1 if the barrier is broken, else 0. Suspends: no. */
CIO_API int cio_barrier_broken(const cio_barrier *b);

/* ==== Queue (asyncio.Queue, LifoQueue, PriorityQueue) ==== */

/* Orders items of a priority queue: negative when a comes out before b. Items
 * that compare equal come out in the order they were put (the queue is
 * stable). */
typedef int (*cio_queue_cmp_fn)(const void *a, const void *b, void *arg);

/* A queue of `void *` items (the queue stores the pointers; what they point to
 * is the caller's). */
typedef struct cio_queue {
    void *priv_buf; /* ring (FIFO), stack (LIFO) or heap (priority) */
    size_t priv_cap, priv_head, priv_n;
    size_t priv_maxsize; /* 0: unbounded */
    size_t priv_gclaim;  /* items promised to woken getters */
    size_t priv_pclaim;  /* slots promised to woken putters */
    size_t priv_unfinished;
    uint64_t priv_seq;
    cio_queue_cmp_fn priv_cmp;
    void *priv_cmp_arg;
    cio__waitq priv_getters, priv_putters, priv_joiners;
    int priv_kind;
    int priv_shutdown;
} cio_queue;

/* Makes a FIFO queue holding at most `maxsize` items (0: unbounded). A bounded
 * queue allocates its storage here, once; an unbounded one grows as needed.
 * Returns 0, -EINVAL, or -ENOMEM. Suspends: no. */
CIO_API int cio_queue_init(cio_queue *q, size_t maxsize);

/* Makes a LIFO queue (asyncio.LifoQueue): the last item put comes out first.
 * Returns and storage as cio_queue_init. Suspends: no. */
CIO_API int cio_queue_init_lifo(cio_queue *q, size_t maxsize);

/* Makes a priority queue (asyncio.PriorityQueue): the item that cmp orders
 * first comes out first; equal items in the order they were put. cmp gets
 * cmp_arg as its third argument. Returns 0, -EINVAL (NULL cmp), -ENOMEM.
 * Suspends: no. Cost: put and get are O(log n) calls of cmp. */
CIO_API int cio_queue_init_priority(cio_queue *q, size_t maxsize, cio_queue_cmp_fn cmp,
                                    void *cmp_arg);

/* Frees the queue's storage (not the items). Waiters, a bug, wake with
 * -EIDRM. NULL is a no-op. Suspends: no. */
CIO_API void cio_queue_destroy(cio_queue *q);

/* Puts an item, waiting in line while the queue is full. Returns 0, -ESHUTDOWN
 * after cio_queue_shutdown (also for a putter waiting then), -ENOMEM (an
 * unbounded queue could not grow), -EINVAL, -EPERM outside a task, or the
 * cancel reason. Suspends: yes while full.
 * Cancellation: returns the reason and the item was not put; a slot handed to
 * the task at that instant passes on to the next waiting putter.
 * Cost: no allocation for a bounded queue. */
CIO_API int cio_queue_put(cio_queue *q, void *item);

/* Puts an item if there is room now. Returns 0, -EAGAIN when full (or when the
 * free slot is already promised to a waiting putter), -ESHUTDOWN, -ENOMEM,
 * -EINVAL. Works outside tasks too (callbacks). Suspends: no. */
CIO_API int cio_queue_put_nowait(cio_queue *q, void *item);

/* Takes the next item into *item, waiting in line while the queue is empty.
 * Returns 0, -ESHUTDOWN once the queue is shut down and empty (a shut-down
 * queue is drained first), -EINVAL, -EPERM outside a task, or the cancel
 * reason. Suspends: yes while empty.
 * Cancellation: returns the reason and took nothing: an item handed to the
 * task at that instant goes to the next waiting getter, or stays in the queue.
 * Cost: no allocation. */
CIO_API int cio_queue_get(cio_queue *q, void **item);

/* Takes the next item if there is one now. Returns 0, -EAGAIN when empty (or
 * every item is already promised to a woken getter), -ESHUTDOWN when shut down
 * and empty, -EINVAL. Works outside tasks too. Suspends: no. */
CIO_API int cio_queue_get_nowait(cio_queue *q, void **item);

/* Says that an item taken from the queue has been processed. Each successful
 * put counts one unfinished item; join waits until task_done has been called
 * once for each. Returns 0, -EINVAL, or -EOVERFLOW when called more times than
 * items were put (asyncio raises ValueError). Suspends: no. */
CIO_API int cio_queue_task_done(cio_queue *q);

/* Waits until every item put has been marked done with cio_queue_task_done
 * (or dropped by an immediate shutdown). Returns 0, -EINVAL, -EPERM outside a
 * task, or the cancel reason. Suspends: yes while items are unfinished.
 * Cancellation: returns the reason; the queue is unchanged. */
CIO_API int cio_queue_join(cio_queue *q);

/* Shuts the queue down (Python 3.13's Queue.shutdown): puts fail with
 * -ESHUTDOWN from now on, waiting putters wake with -ESHUTDOWN; gets go on
 * until the queue is empty, then fail with -ESHUTDOWN, and so do getters
 * waiting on an empty queue. With `immediate`, the items still queued are
 * dropped (each counts as done for join) and every getter fails at once:
 * the queue only stores pointers, so what they point to is lost unless the
 * caller can reach it otherwise; cio_queue_shutdown_drop hands each dropped
 * item to a callback instead. Idempotent. Returns 0 or -EINVAL.
 * Suspends: no. */
CIO_API int cio_queue_shutdown(cio_queue *q, int immediate);

/* Frees or otherwise disposes of an item an immediate shutdown drops. */
typedef void (*cio_queue_drop_fn)(void *item, void *arg);

/* cio_queue_shutdown(q, 1), calling drop(item, arg) for each queued item in
 * the order gets would have taken them (free, say), before any waiter wakes.
 * drop must not call functions on q. Returns 0 or -EINVAL (NULL q or drop).
 * Suspends: no. */
CIO_API int cio_queue_shutdown_drop(cio_queue *q, cio_queue_drop_fn drop, void *arg);

/* Items ready to be taken (those promised to a woken getter are not counted).
 * 0 for NULL. Suspends: no. */
CIO_API size_t cio_queue_qsize(const cio_queue *q);

/* The maxsize given at init (0: unbounded). Suspends: no. */
CIO_API size_t cio_queue_maxsize(const cio_queue *q);

/* 1 when no item can be taken now (cio_queue_get_nowait would fail), else 0.
 * Suspends: no. */
CIO_API int cio_queue_empty(const cio_queue *q);

/* 1 when no item can be put now (cio_queue_put_nowait would fail with -EAGAIN),
 * else 0. An unbounded queue is never full. Suspends: no. */
CIO_API int cio_queue_full(const cio_queue *q);

/* ==== Async generators ==== */

/* An async generator: a producer body, running as a task of its own, hands
 * values one at a time to a consumer (`async for x in gen()`).
 *
 *     static int pages(cio_gen *g, void *arg) {
 *         for (int p = 1; p <= 4; p++) {
 *             int err = cio_sleep(0.2);               // fetch page p
 *             if (!err)
 *                 err = cio_gen_yield(g, &page[p]);   // -ECANCELED once closed
 *             if (err)
 *                 return err;
 *         }
 *         return 0;
 *     }
 *     cio_gen g;
 *     cio_gen_init(&g, pages, NULL);
 *     void *v;
 *     while ((err = cio_gen_next(&g, &v)) == 0)
 *         use(v);
 *     cio_gen_destroy(&g);                            // err: -ENOENT at the end
 *
 * Like Python's, the body is lazy: it starts on the first next and runs only
 * between a next and its yield. Values are handed over, not copied or queued:
 * no allocation per item. */
typedef struct cio_gen cio_gen;

/* A generator body: yields with cio_gen_yield, returns 0 at its end or a
 * negative errno (with cio_fail for a message) on failure. */
typedef int (*cio_gen_fn)(cio_gen *g, void *arg);

struct cio_gen {
    cio_gen_fn priv_fn;
    void *priv_arg;
    cio_task *priv_producer; /* its handle until joined */
    cio_task *priv_consumer; /* parked in next */
    cio_task *priv_closer;   /* parked in close */
    void *priv_value;
    int priv_state;
    int priv_status;
    uint8_t priv_parked; /* the producer waits in cio_gen_yield */
    uint8_t priv_closing;
    uint8_t priv_reported;
    uint8_t priv_close_told; /* a yield has returned -ECANCELED for the close */
    uint8_t priv_ignored;    /* the body yielded again after that */
};

/* Prepares a generator running fn(g, arg); nothing starts yet. Returns 0 or
 * -EINVAL. Suspends: no. */
CIO_API int cio_gen_init(cio_gen *g, cio_gen_fn fn, void *arg);

/* Closes the generator if it still runs and releases its producer. NULL is a
 * no-op. Call it from a task of the loop while the producer may still run.
 * Suspends: yes while the producer cleans up (see cio_gen_close), and to
 * join it. Cancellation: as cio_gen_close: the producer is cancelled and still
 * waited for, so the generator is released all the same. */
CIO_API void cio_gen_destroy(cio_gen *g);

/* Gets the next value (`await anext(gen)`) into *value: starts the producer
 * on the first call, or lets it go on from its last yield, and waits until it
 * yields again or returns. Returns 0 with a value; -ENOENT once the producer
 * has returned 0 or the generator was closed (StopAsyncIteration); the
 * producer's failure status, once, when it failed (its cio_fail message
 * becomes the caller's, as an exception propagates), then -ENOENT; -EBUSY if
 * another task is in next; -EINVAL; -EPERM outside a task, -EDEADLK from the
 * producer itself; or the cancel reason.
 * Suspends: yes. Cancellation: returns the reason and loses nothing: the
 * producer is not cancelled, and the value it yields is kept for the next call.
 * Cost: two task switches per value, no allocation. */
CIO_API int cio_gen_next(cio_gen *g, void **value);

/* Called by the producer: hands `value` to the consumer and waits for the next
 * request. Returns 0 when the next value is wanted; -ECANCELED once the
 * generator is being closed (the producer should clean up and return; a body
 * that yields again instead stays parked in that yield for good, the close
 * returns -EPROTO at once, and the loop reports the parked task when it
 * closes: Python raises "async generator ignored GeneratorExit"); the error
 * a cio_gen_throw injected; the producer's own cancel reason; -EINVAL; -EPERM
 * when not called from g's producer. Suspends: yes, until the next request.
 * Cancellation (the producer's own): returns the reason; the value is not
 * taken back (a consumer waiting in next already has it). */
CIO_API int cio_gen_yield(cio_gen *g, void *value);

/* Raises `err` (negative) inside the generator at its yield (`await
 * agen.athrow(exc)`): the producer's pending cio_gen_yield returns err, and
 * the body may handle it and yield again (that value is stored in *value and
 * 0 returned, as athrow returns the next yielded value) or return. If the
 * body returns err (or another failure) that status comes back once, then
 * -ENOENT; a body that returns 0 gives -ENOENT. On a generator not started
 * the body never runs: err comes straight back and the generator is done.
 * A value left by a cancelled next is dropped. Returns also -EINVAL (err >= 0,
 * NULL), -EBUSY (another task in next, or the producer is running after a
 * cancelled next), -EPERM outside a task, or the cancel reason (as next).
 * Suspends: yes. Cancellation: as cio_gen_next: returns the reason; if the
 * error was already injected the producer goes on with it, and what it yields
 * next is kept for the next call. */
CIO_API int cio_gen_throw(cio_gen *g, int err, void **value);

/* Ends the generator early (`await gen.aclose()`) and waits for its producer
 * to finish. A producer waiting in cio_gen_yield sees -ECANCELED there and may
 * clean up, suspending freely; a producer running (after a cancelled next) is
 * cancelled (use a shield scope for cleanup that must wait). Later nexts
 * return -ENOENT. Returns 0, or the producer's failure status other than
 * -ECANCELED (its message becomes the caller's), -EPROTO when the body yielded
 * again instead of returning (see cio_gen_yield), -EBUSY when another close is
 * under way, -EINVAL, -EPERM outside a task while the producer runs, or the
 * cancel reason after waiting for the producer as cio_join does.
 * Suspends: yes while the producer runs.
 * Cancellation: passed on to the producer (cancelled), which is still waited
 * for; then the reason is returned and a failure of the producer stays for the
 * next call to report. */
CIO_API int cio_gen_close(cio_gen *g);

#ifdef __cplusplus
}
#endif
#endif
