/* cio_gen: async generators as a producer task handing values to a consumer.
 *
 * A rendezvous of two tasks with one slot, no queue: next asks, the producer
 * runs to its next yield, the value passes through g->priv_value. Between a
 * yield and the next request the producer stays parked in cio_gen_yield, so it
 * runs only on demand, like a Python async generator's body.
 *
 * States: NEW (not started), RUNNING (asked for a value, computing it),
 * SUSPENDED (parked in yield, its value taken), READY (parked in yield, its
 * value not yet taken: the next that asked for it was cancelled, or is about to
 * run), DONE (the body returned, or the generator was closed). */
#include "sync.h"

/* The struct is public (callers embed it); its size is kept in check here,
 * outside the header, which C++ must compile too. */
_Static_assert(sizeof(struct cio_gen) <= 8 * sizeof(void *), "cio_gen stays eight words");

enum { NEW = 0, RUNNING, SUSPENDED, READY, DONE };

int cio_gen_init(cio_gen *g, cio_gen_fn fn, void *arg)
{
    if (!g || !fn)
        return cio__invalid(__func__);
    *g = (cio_gen){.priv_fn = fn, .priv_arg = arg, .priv_state = NEW};
    return 0;
}

static int producer_main(void *arg)
{
    cio_gen *g = arg;
    int status = g->priv_fn(g, g->priv_arg);
    if (status > 0 || (g->priv_closing && status == -ECANCELED))
        status = 0; /* the body obeyed close: not a failure */
    g->priv_status = status;
    g->priv_state = DONE;
    if (g->priv_consumer) {
        cio_task *c = g->priv_consumer;
        g->priv_consumer = NULL;
        cio__wake(c, 0);
    }
    if (g->priv_closer)
        cio__wake(g->priv_closer, 0);
    return status;
}

static int consumer_unpark(cio_task *t, void *data)
{
    (void)t;
    ((cio_gen *)data)->priv_consumer = NULL;
    return 1;
}

static int producer_unpark(cio_task *t, void *data)
{
    (void)t;
    ((cio_gen *)data)->priv_parked = 0;
    return 1;
}

/* Releases the finished producer's handle. Its failure, not yet reported, is
 * returned once with its message handed to the calling task. */
static int reap(cio_gen *g)
{
    if (!cio__self()) {
        /* Outside the loop the producer's record may be gone with it. */
        g->priv_producer = NULL;
        g->priv_reported = 1;
        return 0;
    }
    int status = 0;
    if (!g->priv_reported && g->priv_status < 0) {
        status = g->priv_status;
        const char *msg = g->priv_producer ? cio_task_message(g->priv_producer) : NULL;
        if (msg)
            cio_fail(status, "%s", msg);
    }
    g->priv_reported = 1;
    if (g->priv_producer) {
        cio_join(g->priv_producer); /* finished: returns at once */
        g->priv_producer = NULL;
    }
    return status;
}

/* Lets the producer compute the next value; its parked yield returns
 * `inject` (0, or the error cio_gen_throw puts there). */
static int resume_producer(cio_gen *g, cio_task *self, int inject)
{
    if (g->priv_state == NEW) {
        cio_task_opts o = {.name = "gen"};
        int err = cio__spawn(self->loop, &g->priv_producer, producer_main, g, &o);
        if (err)
            return err;
        g->priv_producer->gen_producer = 1; /* reports speak of a generator */
    } else if (g->priv_parked) {
        g->priv_parked = 0;
        cio__wake(g->priv_producer, inject);
    }
    /* Else the producer was cancelled out of its yield and is ending. */
    g->priv_state = RUNNING;
    return 0;
}

/* next and throw: resumes the producer (with `inject` at its yield) unless a
 * value is already waiting, then waits for its next yield or its end. */
static int step(cio_gen *g, void **value, int inject)
{
    cio_task *self;
    int err = cio__checkpoint(&self);
    if (err)
        return err;
    if (self == g->priv_producer)
        return -EDEADLK;
    if (g->priv_consumer)
        return -EBUSY;
    for (;;) {
        switch (g->priv_state) {
        case DONE: {
            if (g->priv_closing)
                return -ENOENT; /* the closing task reaps the producer */
            int status = reap(g);
            return status ? status : -ENOENT;
        }
        case READY:
            *value = g->priv_value;
            g->priv_value = NULL;
            g->priv_state = SUSPENDED;
            return 0;
        case NEW:
        case SUSPENDED:
            err = resume_producer(g, self, inject);
            if (err)
                return err;
            inject = 0;
            break;
        default: /* RUNNING: a cancelled next already asked */
            break;
        }
        g->priv_consumer = self;
        err = cio__park(self, "gen next", g, consumer_unpark, g);
        /* Cancelled: the value, when it comes, waits in READY for the next call. */
        int reason = cio__cancel_reason(self);
        if (reason)
            return reason;
        if (err)
            return err;
    }
}

int cio_gen_next(cio_gen *g, void **value)
{
    if (!g || !value)
        return cio__invalid(__func__);
    return step(g, value, 0);
}

int cio_gen_throw(cio_gen *g, int err, void **value)
{
    if (!g || !value || err >= 0)
        return cio__invalid(__func__);
    *value = NULL;
    if (!cio__self())
        return -EPERM;
    switch (g->priv_state) {
    case NEW: /* Python: the body never starts; the error comes straight back */
        g->priv_state = DONE;
        g->priv_reported = 1;
        return err;
    case READY: /* a value a cancelled next left behind: the throw replaces it */
        g->priv_value = NULL;
        g->priv_state = SUSPENDED;
        break;
    case RUNNING: /* the producer is between yields: nowhere to put the error */
        return g->priv_closing ? -ENOENT : -EBUSY;
    default:
        break;
    }
    return step(g, value, err);
}

/* The body yielded again after its yield returned -ECANCELED for a close
 * (Python: "async generator ignored GeneratorExit"). Returning to it would let
 * it spin for ever; it stays parked here for good instead, and the closer
 * returns -EPROTO at once. The loop reports the parked task when it closes. */
static int ignored_close(cio_gen *g, cio_task *self)
{
    g->priv_ignored = 1;
    if (g->priv_closer)
        cio__wake(g->priv_closer, 0);
    cio__park(self, "gen yield after close (ignored cio_gen_close)", g, NULL, NULL);
    return -ECANCELED; /* never reached: nothing wakes it */
}

int cio_gen_yield(cio_gen *g, void *value)
{
    if (!g)
        return cio__invalid(__func__);
    cio_task *self = cio__self();
    if (!self || self != g->priv_producer)
        return -EPERM;
    if (g->priv_closing) {
        if (g->priv_close_told)
            return ignored_close(g, self);
        g->priv_close_told = 1;
        return -ECANCELED;
    }
    int err = cio__cancel_reason(self);
    if (err)
        return err;
    if (g->priv_state != RUNNING)
        return -EPERM; /* cannot happen: only a running producer gets here */
    g->priv_value = value;
    g->priv_state = READY;
    if (g->priv_consumer) {
        cio_task *c = g->priv_consumer;
        g->priv_consumer = NULL;
        cio__wake(c, 0);
    }
    g->priv_parked = 1;
    err = cio__park(self, "gen yield", g, producer_unpark, g);
    if (err)
        return err; /* closed (-ECANCELED) or cancelled */
    if (g->priv_closing) {
        g->priv_close_told = 1;
        return -ECANCELED;
    }
    return cio__cancel_reason(self);
}

/* The closer was cancelled: pass it on to the producer and keep waiting. */
static int close_unpark(cio_task *t, void *data)
{
    (void)t;
    cio_gen *g = data;
    cio_cancel(g->priv_producer);
    return 0;
}

int cio_gen_close(cio_gen *g)
{
    if (!g)
        return cio__invalid(__func__);
    if (g->priv_state == NEW) {
        g->priv_state = DONE;
        g->priv_reported = 1;
        return 0;
    }
    if (g->priv_state == DONE && !g->priv_closing)
        return reap(g);
    cio_task *self = cio__self();
    if (!self)
        return -EPERM;
    if (self == g->priv_producer)
        return -EDEADLK;
    if (g->priv_closing)
        return -EBUSY;
    g->priv_closing = 1;
    if (g->priv_parked) {
        g->priv_parked = 0;
        g->priv_value = NULL;
        g->priv_close_told = 1;
        cio__wake(g->priv_producer, -ECANCELED); /* its yield returns it */
    } else {
        cio_cancel(g->priv_producer); /* busy after a cancelled next */
    }
    /* Wait without releasing the handle, to read the producer's message. Like
     * cio_join, this waits for the producer even if we are cancelled. */
    g->priv_closer = self;
    while (g->priv_state != DONE && !g->priv_ignored)
        cio__park(self, "gen close", g, close_unpark, g);
    g->priv_closer = NULL;
    if (g->priv_ignored) {
        /* The producer is parked for good; later nexts return -ENOENT. */
        g->priv_state = DONE;
        g->priv_reported = 1;
        g->priv_closing = 0;
        cio_detach(g->priv_producer);
        g->priv_producer = NULL;
        return cio_fail(-EPROTO, "the generator's body yielded again after cio_gen_close (its "
                                 "cio_gen_yield returned -ECANCELED: it must return)");
    }
    g->priv_closing = 0;
    int reason = cio__cancel_reason(self);
    if (reason)
        return reason; /* a failure stays for the next call to report */
    return reap(g);
}

void cio_gen_destroy(cio_gen *g)
{
    if (!g)
        return;
    if (g->priv_state != DONE && g->priv_state != NEW && !cio__self()) {
        fprintf(stderr, "cio: cio_gen %p destroyed outside a task while its producer runs\n",
                (void *)g);
        return;
    }
    cio_gen_close(g);
    if (g->priv_producer && !g->priv_closing) {
        cio_join(g->priv_producer);
        g->priv_producer = NULL;
    }
}
