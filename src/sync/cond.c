/* cio_cond: asyncio.Condition over a cio_lock.
 *
 * A waiter queues itself, releases the lock, parks, and re-acquires the lock
 * before it returns, even when cancelled (asyncio does the same, so that the
 * caller's `async with` block always ends holding the lock). A notification
 * that lands on a waiter cancelled in the same instant is passed on, so no
 * wakeup is lost. */
#include "sync.h"

/* The struct is public (callers embed it); its size is kept in check here,
 * outside the header, which C++ must compile too. */
_Static_assert(sizeof(cio_cond) <= 6 * sizeof(void *), "cio_cond stays six words");

int cio_cond_init(cio_cond *c, cio_lock *lock)
{
    if (!c)
        return cio__invalid(__func__);
    cio_lock_init(&c->priv_own);
    c->priv_lock = lock ? lock : &c->priv_own;
    c->priv_waiters.priv_head = c->priv_waiters.priv_tail = NULL;
    return 0;
}

void cio_cond_destroy(cio_cond *c)
{
    if (!c)
        return;
    cio__waitq_destroy(&c->priv_waiters, "cio_cond", c);
    cio_lock_destroy(&c->priv_own);
}

cio_lock *cio_cond_lock(cio_cond *c)
{
    return c ? c->priv_lock : NULL;
}

int cio_cond_acquire(cio_cond *c)
{
    return c ? cio_lock_acquire(c->priv_lock) : -EINVAL;
}

int cio_cond_release(cio_cond *c)
{
    return c ? cio_lock_release(c->priv_lock) : -EINVAL;
}

int cio_cond_locked(const cio_cond *c)
{
    return c ? cio_lock_locked(c->priv_lock) : 0;
}

static int notify(cio_cond *c, int n)
{
    int woken = 0;
    while (woken < n && cio__waitq_wake_one(&c->priv_waiters, 0))
        woken++;
    return woken;
}

int cio_cond_wait(cio_cond *c)
{
    if (!c)
        return cio__invalid(__func__);
    cio_task *self;
    int reason = cio__checkpoint(&self);
    if (!self || c->priv_lock->priv_owner != self)
        return -EPERM;
    if (reason)
        return reason; /* never let go of the lock */
    cio__waiter w;
    w.task = self;
    cio__waitq_push(&c->priv_waiters, &w);
    cio__lock_pass(c->priv_lock);
    int r = cio__park(self, "condition", c, cio__waitq_unpark, &w);
    if (r == -EIDRM)
        return r; /* the condition was destroyed under us */
    cio__lock_acquire_uncancellable(c->priv_lock, self);
    reason = cio__cancel_reason(self);
    if (reason) {
        if (r == 0)
            notify(c, 1); /* we were notified, but will not act on it */
        return reason;
    }
    return r;
}

int cio_cond_wait_for(cio_cond *c, cio_pred_fn pred, void *arg)
{
    if (!c || !pred)
        return cio__invalid(__func__);
    cio_task *self = cio__self();
    if (!self || c->priv_lock->priv_owner != self)
        return -EPERM;
    int reason = cio__cancel_reason(self);
    if (reason)
        return reason;
    while (!pred(arg)) {
        int err = cio_cond_wait(c);
        if (err)
            return err;
    }
    return 0;
}

int cio_cond_notify(cio_cond *c, int n)
{
    if (!c || n < 0)
        return cio__invalid(__func__);
    cio_task *self = cio__self();
    if (!self || c->priv_lock->priv_owner != self)
        return -EPERM;
    return notify(c, n);
}

int cio_cond_notify_all(cio_cond *c)
{
    return cio_cond_notify(c, INT32_MAX);
}
