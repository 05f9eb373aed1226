/* What the files of src/sync share. Never installed. */
#ifndef CIO_SYNC_INTERNAL_H
#define CIO_SYNC_INTERNAL_H

#include "cio/sync.h"
#include "../core/waitq.h"

/* The largest count a semaphore or barrier accepts: beyond it the size_t is
 * almost surely a negative int converted (-1 becomes SIZE_MAX). */
#define CIO__SYNC_COUNT_MAX ((size_t)PTRDIFF_MAX)

/* lock.c, for cond.c: hands the lock to its first waiter or frees it. */
void cio__lock_pass(cio_lock *l);
/* Takes the lock for `self`, waiting in line; cancellation does not end the
 * wait (a condition waiter must hold the lock again before it returns). */
void cio__lock_acquire_uncancellable(cio_lock *l, cio_task *self);

#endif
