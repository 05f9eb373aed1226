/* cio_lock: asyncio.Lock with an owner and FIFO hand-off.
 *
 * A release with waiters makes the first waiter the owner at once, so the
 * lock is never free while tasks wait: nobody can barge in ahead of them, and
 * `owner == NULL` alone tells whether an acquire may take it. */
#include "sync.h"

/* The struct is public (callers embed it); its size is kept in check here,
 * outside the header, which C++ must compile too. */
_Static_assert(sizeof(cio_lock) <= 3 * sizeof(void *), "cio_lock stays three words");

int cio_lock_init(cio_lock *l)
{
    if (!l)
        return cio__invalid(__func__);
    l->priv_owner = NULL;
    l->priv_waiters.priv_head = l->priv_waiters.priv_tail = NULL;
    return 0;
}

void cio_lock_destroy(cio_lock *l)
{
    if (!l)
        return;
    cio__waitq_destroy(&l->priv_waiters, "cio_lock", l);
    l->priv_owner = NULL;
}

/* Gives the lock to the first waiter, or frees it. */
void cio__lock_pass(cio_lock *l)
{
    cio__waiter *w = cio__waitq_pop(&l->priv_waiters);
    if (w) {
        l->priv_owner = w->task;
        cio__wake(w->task, 0);
    } else {
        l->priv_owner = NULL;
    }
}

static void lock_give_back(const void *obj)
{
    cio__lock_pass((cio_lock *)(uintptr_t)obj);
}

int cio_lock_acquire(cio_lock *l)
{
    if (!l)
        return cio__invalid(__func__);
    cio_task *self;
    int err = cio__checkpoint(&self);
    if (err)
        return err;
    if (CIO__LIKELY(!l->priv_owner)) {
        l->priv_owner = self;
        return 0;
    }
    if (l->priv_owner == self)
        return -EDEADLK;
    /* Cancelled in line, or -EIDRM: that error. Handed the lock but
     * cancelled since: lock_give_back passes it on. */
    return cio__sync_wait_tail(&l->priv_waiters, self, "lock", l, lock_give_back);
}

void cio__lock_acquire_uncancellable(cio_lock *l, cio_task *self)
{
    if (!l->priv_owner) {
        l->priv_owner = self;
        return;
    }
    cio__waitq_wait_uncancellable(&l->priv_waiters, self, "lock", l);
}

int cio_lock_try_acquire(cio_lock *l)
{
    if (!l)
        return cio__invalid(__func__);
    cio_task *self = cio__self();
    if (!self)
        return -EPERM;
    if (l->priv_owner == self)
        return -EDEADLK;
    if (l->priv_owner)
        return -EAGAIN;
    l->priv_owner = self;
    return 0;
}

int cio_lock_release(cio_lock *l)
{
    if (!l)
        return cio__invalid(__func__);
    cio_task *self = cio__self();
    if (!self || l->priv_owner != self)
        return -EPERM;
    cio__lock_pass(l);
    return 0;
}

int cio_lock_locked(const cio_lock *l)
{
    return l && l->priv_owner;
}
