/* cio_barrier: asyncio.Barrier.
 *
 * The states are asyncio's. FILLING: tasks arrive and wait. When the last of
 * `parties` arrives the round is DRAINING: its tasks are woken and leave one by
 * one, while newcomers wait (on `block`) until the last has left. A reset with
 * tasks inside makes it RESETTING until they have left; an abort makes it
 * BROKEN until a reset. Each task counts itself out when it leaves.
 *
 * Unlike asyncio, a waiter cancelled while the round fills leaves at once and
 * renumbers those who came after it, so the round's arrival indices stay
 * 0 .. parties-1 with no gap or duplicate: as if it had never arrived. */
#include "sync.h"

/* The struct is public (callers embed it); its size is kept in check here,
 * outside the header, which C++ must compile too. */
_Static_assert(sizeof(cio_barrier) <= 7 * sizeof(void *), "cio_barrier stays seven words");

enum { FILLING = 0, DRAINING, RESETTING, BROKEN };

typedef struct barrier_waiter {
    cio__waiter w; /* first: the fill queue links these */
    cio_barrier *b;
    size_t index;
    int cancelled;
} barrier_waiter;

int cio_barrier_init(cio_barrier *b, size_t parties)
{
    if (!b || parties < 1)
        return cio__invalid(__func__);
    if (parties > CIO__SYNC_COUNT_MAX) /* a negative int converted to size_t */
        return cio_fail(-EINVAL, "barrier of %zu parties (a negative number?)", parties);
    b->priv_fill.priv_head = b->priv_fill.priv_tail = NULL;
    b->priv_block.priv_head = b->priv_block.priv_tail = NULL;
    b->priv_parties = parties;
    b->priv_count = 0;
    b->priv_state = FILLING;
    return 0;
}

void cio_barrier_destroy(cio_barrier *b)
{
    if (!b)
        return;
    cio__waitq_destroy(&b->priv_fill, "cio_barrier", b);
    cio__waitq_destroy(&b->priv_block, "cio_barrier", b);
}

/* A task of the current round leaves; the last one out of a draining or
 * resetting round lets the newcomers in. */
static void leave(cio_barrier *b)
{
    if (--b->priv_count == 0 && (b->priv_state == DRAINING || b->priv_state == RESETTING)) {
        b->priv_state = FILLING;
        cio__waitq_wake_all(&b->priv_block, 0);
    }
}

/* A filling waiter was cancelled: it never arrived. */
static int fill_unpark(cio_task *t, void *data)
{
    (void)t;
    barrier_waiter *bw = data;
    for (cio__waiter *w = bw->w.next; w; w = w->next)
        ((barrier_waiter *)w)->index--;
    cio__waitq_remove(&bw->w);
    bw->cancelled = 1;
    bw->b->priv_count--;
    return 1;
}

/* Waits while a round drains or resets. Returns 0, or the cancel reason. */
static int wait_to_enter(cio_barrier *b, cio_task *self)
{
    while (b->priv_state == DRAINING || b->priv_state == RESETTING) {
        int err = cio__waitq_wait(&b->priv_block, self, "barrier", b);
        if (err == -EIDRM)
            return err;
        int reason = cio__cancel_reason(self);
        if (reason)
            return reason;
    }
    return 0;
}

int cio_barrier_wait(cio_barrier *b, size_t *index)
{
    if (!b)
        return cio__invalid(__func__);
    cio_task *self;
    int err = cio__checkpoint(&self);
    if (!err)
        err = wait_to_enter(b, self);
    if (err)
        return err;
    if (b->priv_state == BROKEN)
        return -EPIPE;
    barrier_waiter bw = {.w = {.task = self}, .b = b, .index = b->priv_count++};
    if (b->priv_count == b->priv_parties) {
        b->priv_state = DRAINING;
        cio__waitq_wake_all(&b->priv_fill, 0);
        leave(b);
        if (index)
            *index = bw.index;
        return 0;
    }
    cio__waitq_push(&b->priv_fill, &bw.w);
    err = cio__park(self, "barrier", b, fill_unpark, &bw);
    if (err == -EIDRM || bw.cancelled)
        return err;
    leave(b);
    int reason = cio__cancel_reason(self);
    if (reason)
        return reason; /* released, but cancelled before it could return */
    if (!err && index)
        *index = bw.index;
    return err;
}

int cio_barrier_reset(cio_barrier *b)
{
    if (!b)
        return cio__invalid(__func__);
    if (b->priv_count > 0) {
        b->priv_state = RESETTING;
        cio__waitq_wake_all(&b->priv_fill, -EPIPE);
    } else {
        b->priv_state = FILLING;
        cio__waitq_wake_all(&b->priv_block, 0);
    }
    return 0;
}

int cio_barrier_abort(cio_barrier *b)
{
    if (!b)
        return cio__invalid(__func__);
    b->priv_state = BROKEN;
    cio__waitq_wake_all(&b->priv_fill, -EPIPE);
    cio__waitq_wake_all(&b->priv_block, 0); /* they see BROKEN */
    return 0;
}

size_t cio_barrier_parties(const cio_barrier *b)
{
    return b ? b->priv_parties : 0;
}

size_t cio_barrier_n_waiting(const cio_barrier *b)
{
    return b && b->priv_state == FILLING ? b->priv_count : 0;
}

int cio_barrier_broken(const cio_barrier *b)
{
    return b && b->priv_state == BROKEN;
}
