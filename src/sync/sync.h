/* What the files of src/sync share. Never installed. */
#ifndef CIO_SYNC_INTERNAL_H
#define CIO_SYNC_INTERNAL_H

#include "cio/sync.h"
#include "../core/waitq.h"

/* The largest count a semaphore or barrier accepts: beyond it the size_t is
 * almost surely a negative int converted (-1 becomes SIZE_MAX). */
#define CIO__SYNC_COUNT_MAX ((size_t)PTRDIFF_MAX)

/* cio__waitq_wait with the park inlined: the hot waits of events, locks,
 * semaphores and queues switch straight to the next task without a call. */
static inline int cio__sync_wait(cio__waitq *q, cio_task *self, const char *what, const void *obj)
{
    cio__waiter w;
    w.task = self;
    cio__waitq_push(q, &w);
    return cio__park_inline(self, what, obj, cio__waitq_unpark, &w);
}

/* cio__sync_wait for a wait that ends with it (`return cio__sync_wait_tail
 * (...)`): the task resumes straight into the caller of the waiting function
 * (cio__park_tail, which says what it returns and what give_back is for). */
static inline int cio__sync_wait_tail(cio__waitq *q, cio_task *self, const char *what,
                                      const void *obj, cio__give_back_fn give_back)
{
    cio__waiter *w = &self->waiter;
    w->task = self;
    cio__waitq_push(q, w);
    return cio__park_tail(self, what, obj, cio__waitq_unpark, w, give_back);
}

/* lock.c, for cond.c: hands the lock to its first waiter or frees it. */
void cio__lock_pass(cio_lock *l);
/* Takes the lock for `self`, waiting in line; cancellation does not end the
 * wait (a condition waiter must hold the lock again before it returns). */
void cio__lock_acquire_uncancellable(cio_lock *l, cio_task *self);

#endif
