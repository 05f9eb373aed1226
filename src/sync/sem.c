/* cio_sem: asyncio.Semaphore and BoundedSemaphore, with FIFO hand-off.
 *
 * A release with waiters hands its permit straight to the first waiter (the
 * value stays 0), so waiters present implies value == 0 and a newcomer can
 * never take a permit ahead of them. */
#include "sync.h"

/* The struct is public (callers embed it); its size is kept in check here,
 * outside the header, which C++ must compile too. */
_Static_assert(sizeof(cio_sem) <= 4 * sizeof(void *), "cio_sem stays four words");

static int init(cio_sem *s, size_t value, size_t bound)
{
    if (!s)
        return cio__invalid(NULL);
    if (value > CIO__SYNC_COUNT_MAX) /* a negative int converted to size_t */
        return cio_fail(-EINVAL, "semaphore of %zu permits (a negative number?)", value);
    s->priv_waiters.priv_head = s->priv_waiters.priv_tail = NULL;
    s->priv_value = value;
    s->priv_bound = bound;
    return 0;
}

int cio_sem_init(cio_sem *s, size_t value)
{
    return init(s, value, CIO__SYNC_COUNT_MAX);
}

int cio_sem_init_bounded(cio_sem *s, size_t value)
{
    return init(s, value, value);
}

void cio_sem_destroy(cio_sem *s)
{
    if (s)
        cio__waitq_destroy(&s->priv_waiters, "cio_sem", s);
}

/* Gives a permit to the first waiter, or to the counter. */
static void pass(cio_sem *s)
{
    if (!cio__waitq_wake_one(&s->priv_waiters, 0))
        s->priv_value++;
}

static void sem_give_back(const void *obj)
{
    pass((cio_sem *)(uintptr_t)obj);
}

int cio_sem_acquire(cio_sem *s)
{
    if (!s)
        return cio__invalid(__func__);
    cio_task *self;
    int err = cio__checkpoint(&self);
    if (err)
        return err;
    if (CIO__LIKELY(s->priv_value > 0)) {
        s->priv_value--;
        return 0;
    }
    /* Cancelled in line, or -EIDRM: that error. Handed a permit but
     * cancelled since: sem_give_back passes it on. */
    return cio__sync_wait_tail(&s->priv_waiters, self, "semaphore", s, sem_give_back);
}

int cio_sem_try_acquire(cio_sem *s)
{
    if (!s)
        return cio__invalid(__func__);
    if (!s->priv_value)
        return -EAGAIN;
    s->priv_value--;
    return 0;
}

int cio_sem_release(cio_sem *s)
{
    if (!s)
        return cio__invalid(__func__);
    /* Unbounded: the counter is full. Bounded: nobody holds a permit (with
     * waiters the value is 0, so this holds only for a bound of 0). */
    if (s->priv_value >= s->priv_bound)
        return -EOVERFLOW;
    pass(s);
    return 0;
}

size_t cio_sem_value(const cio_sem *s)
{
    return s ? s->priv_value : 0;
}

int cio_sem_locked(const cio_sem *s)
{
    return s && s->priv_value == 0;
}
