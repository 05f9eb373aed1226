/* The FIFO of waiting tasks that every primitive in src/sync uses, and the
 * waits of src/io (process, signal, server, stream writers).
 *
 * A waiting task links an entry on its own stack into the primitive's queue
 * and parks; whoever frees the resource unlinks the first entry and wakes its
 * task with a result (0: "the lock / permit / item / slot is yours"). An entry
 * is doubly linked so that a cancelled waiter can leave from the middle of the
 * line in O(1): cio__waitq_unpark is the unpark function given to cio__park.
 *
 * The rule that keeps primitives cancellation-safe: a waiter woken with 0 has
 * been handed something. If its task is cancelled before it runs (the loop
 * cannot take the wakeup back), it sees the reason from cio__cancel_reason
 * after cio__park returns and must hand the thing on itself. Never installed. */
#ifndef CIO_CORE_WAITQ_H
#define CIO_CORE_WAITQ_H

#include "internal.h" /* cio__park, cio__wake, cio_task */

static inline int cio__waitq_empty(const cio__waitq *q)
{
    return !q->priv_head;
}

static inline void cio__waitq_push(cio__waitq *q, cio__waiter *w)
{
    w->q = q;
    w->next = NULL;
    w->prev = q->priv_tail;
    if (q->priv_tail)
        q->priv_tail->next = w;
    else
        q->priv_head = w;
    q->priv_tail = w;
}

static inline void cio__waitq_remove(cio__waiter *w)
{
    cio__waitq *q = w->q;
    if (w->prev)
        w->prev->next = w->next;
    else
        q->priv_head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        q->priv_tail = w->prev;
    w->q = NULL;
}

/* Unlinks and returns the first waiter, or NULL. */
static inline cio__waiter *cio__waitq_pop(cio__waitq *q)
{
    cio__waiter *w = q->priv_head;
    if (w)
        cio__waitq_remove(w);
    return w;
}

/* Wakes the first waiter with `result`. Returns 1 if there was one. */
static inline int cio__waitq_wake_one(cio__waitq *q, int result)
{
    cio__waiter *w = cio__waitq_pop(q);
    if (!w)
        return 0;
    cio__wake(w->task, result);
    return 1;
}

/* Wakes every waiter, in order, with `result`. Returns how many. */
static inline size_t cio__waitq_wake_all(cio__waitq *q, int result)
{
    size_t n = 0;
    while (cio__waitq_wake_one(q, result))
        n++;
    return n;
}

/* cio__park's unpark function for a waiter entry: leaves the line. */
int cio__waitq_unpark(cio_task *t, void *waiter);

/* Parks the running task `self` at the end of q until a wake or cancellation.
 * Returns the wake result, or the cancel reason (the entry is unlinked then).
 * `what` and `obj` describe the wait in task dumps. */
static inline int cio__waitq_wait(cio__waitq *q, cio_task *self, const char *what, const void *obj)
{
    cio__waiter w;
    w.task = self;
    cio__waitq_push(q, &w);
    return cio__park(self, what, obj, cio__waitq_unpark, &w);
}

/* The same wait, but cancellation does not end it (only a wake does). */
static inline int cio__waitq_wait_uncancellable(cio__waitq *q, cio_task *self, const char *what,
                                                const void *obj)
{
    cio__waiter w;
    w.task = self;
    cio__waitq_push(q, &w);
    return cio__park(self, what, obj, NULL, NULL);
}

/* For _destroy: reports waiters still in q (a bug) and wakes them with -EIDRM
 * so that none is left parked on freed memory. */
void cio__waitq_destroy(cio__waitq *q, const char *what, const void *obj);

#endif
