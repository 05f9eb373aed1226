/* Plain callbacks: call_soon, call_later, call_soon_threadsafe.
 *
 * Handles come from a per-loop free list, so scheduling a callback allocates
 * only while the list grows. Calls from other threads queue under a mutex and
 * wake the backend only when the loop sleeps in it (ts_sleeping); the loop
 * turns them into call_soon callbacks. */
#include <stdlib.h>

#include "alloc.h"
#include "internal.h"
#include "vec.h"

static struct cio_handle *handle_new(cio_loop *l, cio_callback_fn fn, void *arg)
{
    struct cio_handle *h = l->handle_free;
    if (h)
        l->handle_free = h->free_next;
    else if (!(h = cio__malloc(sizeof(*h))))
        return NULL;
    h->run.kind = CIO__RUN_CALLBACK;
    h->timer.idx = 0;
    h->fn = fn;
    h->arg = arg;
    h->cancelled = 0;
    l->nhandles_pending++;
    return h;
}

static void handle_free(cio_loop *l, struct cio_handle *h)
{
    l->nhandles_pending--;
    h->fn = NULL;
    h->free_next = l->handle_free;
    l->handle_free = h;
}

static void push_ready(cio_loop *l, struct cio_handle *h)
{
    cio__fifo_push(&l->ready, &h->run);
    l->nready++;
}

cio_handle *cio_call_soon(cio_callback_fn fn, void *arg)
{
    cio_loop *l = cio__loop;
    if (!l || !fn)
        return NULL;
    struct cio_handle *h = handle_new(l, fn, arg);
    if (h)
        push_ready(l, h);
    return h;
}

static void later_due(cio__timer *tm)
{
    struct cio_handle *h = (struct cio_handle *)((char *)tm - offsetof(struct cio_handle, timer));
    push_ready(cio__loop, h);
}

cio_handle *cio_call_later(double delay, cio_callback_fn fn, void *arg)
{
    cio_loop *l = cio__loop;
    int64_t ns;
    if (!l || !fn || cio__duration_ns(delay, &ns) < 0)
        return NULL;
    struct cio_handle *h = handle_new(l, fn, arg);
    if (!h)
        return NULL;
    h->timer.fn = later_due;
    if (cio__timer_arm(l, &h->timer, cio__deadline_base(l) + ns) < 0) {
        handle_free(l, h);
        return NULL;
    }
    return h;
}

void cio_handle_cancel(cio_handle *h)
{
    cio_loop *l = cio__loop;
    if (!h || !l || !h->fn || h->cancelled)
        return;
    h->cancelled = 1;
    if (h->timer.idx) { /* still waiting for its time: not in the ready queue */
        cio__timer_disarm(l, &h->timer);
        handle_free(l, h);
    }
}

void cio__run_callback(cio_loop *l, struct cio_handle *h)
{
    if (!h->cancelled)
        h->fn(h->arg);
    handle_free(l, h);
}

int cio_call_soon_threadsafe(cio_loop *l, cio_callback_fn fn, void *arg)
{
    if (!l || !fn)
        return cio__invalid(__func__);
    pthread_mutex_lock(&l->ts_lock);
    int err = 0;
    if (l->ts_closed) {
        err = -ESHUTDOWN;
    } else {
        err = cio__vec_room(l->ts_calls, l->ts_n, l->ts_cap, 16);
    }
    if (!err) {
        l->ts_calls[l->ts_n++] = (cio__ts_call){fn, arg};
        /* The Dekker pattern with cio__ts_sleep_begin: we store "pending"
         * then read "sleeping", the loop stores "sleeping" then reads
         * "pending", all sequentially consistent, so at least one of us sees
         * the other's store: either the loop does not block, or we wake it.
         * A loop that is awake finds the call at its next turn, so the
         * eventfd write (a system call, and a wakeup to read it) is saved. */
        __atomic_store_n(&l->ts_pending, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&l->ts_sleeping, __ATOMIC_SEQ_CST))
            l->backend.vt->wakeup(&l->backend);
    }
    pthread_mutex_unlock(&l->ts_lock);
    return err;
}

/* The loop is about to block in the backend's poll for up to `timeout`:
 * publishes that, then looks for threadsafe calls once more. Returns the
 * timeout to poll with: 0 when a call came meanwhile (its caller may have
 * seen the loop awake and skipped the wakeup). */
int64_t cio__ts_sleep_begin(cio_loop *l, int64_t timeout)
{
    __atomic_store_n(&l->ts_sleeping, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&l->ts_pending, __ATOMIC_SEQ_CST)) {
        __atomic_store_n(&l->ts_sleeping, 0, __ATOMIC_RELAXED);
        return 0;
    }
    return timeout;
}

/* The poll returned: threadsafe callers need not wake the loop any more. */
void cio__ts_sleep_end(cio_loop *l)
{
    __atomic_store_n(&l->ts_sleeping, 0, __ATOMIC_RELAXED);
}

void cio__drain_threadsafe(cio_loop *l)
{
    __atomic_store_n(&l->ts_pending, 0, __ATOMIC_RELAXED);
    pthread_mutex_lock(&l->ts_lock);
    for (size_t i = 0; i < l->ts_n; i++) {
        cio__ts_call c = l->ts_calls[i];
        struct cio_handle *h = handle_new(l, c.fn, c.arg);
        if (h) {
            push_ready(l, h);
        } else { /* out of memory: run it now rather than lose it */
            pthread_mutex_unlock(&l->ts_lock);
            c.fn(c.arg);
            pthread_mutex_lock(&l->ts_lock);
        }
    }
    l->ts_n = 0;
    pthread_mutex_unlock(&l->ts_lock);
}

void cio_loop_ref(void)
{
    if (cio__loop)
        cio__loop->refs++;
}

void cio_loop_unref(void)
{
    if (cio__loop && cio__loop->refs > 0)
        cio__loop->refs--;
}

void cio__callbacks_destroy(cio_loop *l)
{
    /* Callbacks still queued at close never run (asyncio drops them too). */
    cio__runnable *r;
    while ((r = cio__fifo_pop(&l->ready)))
        if (r->kind == CIO__RUN_CALLBACK)
            handle_free(l, (struct cio_handle *)r);
    for (uint32_t i = 0; i < l->timers.n; i++)
        if (l->timers.a[i].timer->fn == later_due)
            handle_free(l, (struct cio_handle *)((char *)l->timers.a[i].timer -
                                                 offsetof(struct cio_handle, timer)));
    while (l->handle_free) {
        struct cio_handle *h = l->handle_free;
        l->handle_free = h->free_next;
        free(h);
    }
}
