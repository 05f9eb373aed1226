/* cio_event: asyncio.Event. */
#include "sync.h"

/* The struct is public (callers embed it); its size is kept in check here,
 * outside the header, which C++ must compile too. */
_Static_assert(sizeof(cio_event) <= 3 * sizeof(void *), "cio_event stays three words");

int cio_event_init(cio_event *e)
{
    if (!e)
        return cio__invalid(__func__);
    e->priv_waiters.priv_head = e->priv_waiters.priv_tail = NULL;
    e->priv_set = 0;
    return 0;
}

void cio_event_destroy(cio_event *e)
{
    if (e)
        cio__waitq_destroy(&e->priv_waiters, "cio_event", e);
}

int cio_event_set(cio_event *e)
{
    if (!e)
        return cio__invalid(__func__);
    e->priv_set = 1;
    cio__waitq_wake_all(&e->priv_waiters, 0);
    return 0;
}

int cio_event_clear(cio_event *e)
{
    if (!e)
        return cio__invalid(__func__);
    e->priv_set = 0;
    return 0;
}

int cio_event_is_set(const cio_event *e)
{
    return e && e->priv_set;
}

int cio_event_wait(cio_event *e)
{
    if (!e)
        return cio__invalid(__func__);
    cio_task *self;
    int err = cio__checkpoint(&self);
    if (err)
        return err;
    if (e->priv_set)
        return 0;
    /* Woken by a set but cancelled before running: nothing to give back,
     * and the reason wins (level-triggered), as cio__sync_wait_tail does. */
    return cio__sync_wait_tail(&e->priv_waiters, self, "event", e, NULL);
}
