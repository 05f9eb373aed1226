/* Signals for tasks (include/cio/signal.h).
 *
 * Each thread has one hub: a signalfd watching the union of the signals of
 * the thread's open sets, with a count per signal of the sets watching it.
 * A task waiting on a set first takes a signal the set already holds. If
 * there is none, it becomes the hub's reader when nobody reads yet: it drains
 * the signalfd (a non-blocking read on the loop's own thread, which is the
 * thread whose signals a signalfd reports), waits for it to become readable,
 * and drains it again. Other waiters park on their set. Each signal read is
 * handed to the first waiter of every set watching it, or kept in the set.
 * A reader that leaves wakes one parked waiter to take over the reading.
 *
 * The readiness wait is a POLL operation on both backends: an io_uring READ
 * of a signalfd could be run by a kernel worker thread, which would read that
 * thread's signals instead of ours. */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "../core/alloc.h"
#include "cio/signal.h"
#include "../core/waitq.h"
#include "io_internal.h"

#define MAX_SIG 64

typedef struct waiter {
    cio__waiter link; /* first: in the set's line while link.q is set */
    int got;          /* the signal handed to this waiter; 0 while none */
    int closed;       /* the set was closed under it */
} waiter;

typedef struct hub hub;

struct cio_signal_set {
    cio_signal_set *prev, *next; /* the hub's sets */
    hub *hub;
    uint64_t mask;         /* bit sig-1 for each signal watched */
    uint64_t pending_mask; /* signals held for the next wait */
    uint32_t pending[MAX_SIG + 1];
    cio__waitq waiters; /* waiting tasks, FIFO */
};

struct hub {
    int fd; /* the signalfd */
    sigset_t watched;
    unsigned refs[MAX_SIG + 1]; /* open sets watching each signal */
    uint64_t preblocked;        /* watched signals that were blocked before */
    cio_signal_set *sets;
    size_t nsets;
    waiter *reader;     /* the waiter reading the signalfd, or NULL */
    cio__op *reader_op; /* its readiness wait while parked in it */
};

static __thread hub *thread_hub;

static inline uint64_t bit(int sig)
{
    return (uint64_t)1 << (sig - 1);
}

static int valid_signal(int sig)
{
    if (sig < 1 || sig > MAX_SIG || sig > SIGRTMAX)
        return 0;
    switch (sig) {
    case SIGKILL:
    case SIGSTOP: /* cannot be caught */
    case SIGSEGV:
    case SIGBUS:
    case SIGFPE:
    case SIGILL: /* synchronous faults: blocking them is undefined */
        return 0;
    }
    /* 32 and 33 belong to the C library's threads. */
    return sig < 32 || sig >= SIGRTMIN;
}

/* ---- waiters ---- */

static waiter *first_waiter(const cio_signal_set *s)
{
    return (waiter *)s->waiters.priv_head;
}

static void unlink_waiter(waiter *w)
{
    if (w->link.q)
        cio__waitq_remove(&w->link);
}

/* ---- delivery ---- */

static int take_pending(cio_signal_set *s)
{
    if (!s->pending_mask)
        return 0;
    int sig = __builtin_ctzll(s->pending_mask) + 1;
    if (--s->pending[sig] == 0)
        s->pending_mask &= ~bit(sig);
    return sig;
}

/* Hands one instance of sig to the first waiter of every set watching it,
 * or keeps it in the set. */
static void deliver(hub *h, int sig)
{
    if (sig < 1 || sig > MAX_SIG)
        return;
    for (cio_signal_set *s = h->sets; s; s = s->next) {
        if (!(s->mask & bit(sig)))
            continue;
        waiter *w = first_waiter(s);
        if (w) {
            unlink_waiter(w);
            w->got = sig;
            if (w != h->reader)
                cio__wake(w->link.task, 0);
        } else if (sig >= SIGRTMIN || !s->pending[sig]) {
            /* Standard signals coalesce, as in the kernel; real-time ones queue. */
            s->pending[sig]++;
            s->pending_mask |= bit(sig);
        }
    }
}

/* Reads every signal the signalfd holds and delivers it. */
static void drain(hub *h)
{
    struct signalfd_siginfo si[8];
    for (;;) {
        ssize_t r = read(h->fd, si, sizeof(si));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < (ssize_t)sizeof(si[0]))
            return; /* EAGAIN: nothing more */
        for (size_t i = 0; i < (size_t)r / sizeof(si[0]); i++)
            deliver(h, (int)si[i].ssi_signo);
    }
}

/* The reader is leaving: make sure a parked waiter takes over the reading. A
 * linked waiter other than the reader is either parked or already woken to
 * take over, so looking at the first one found is enough. */
static void hand_off(hub *h)
{
    for (cio_signal_set *s = h->sets; s; s = s->next) {
        waiter *w = first_waiter(s);
        if (w) {
            if (w->link.task->state == CIO__WAITING)
                cio__wake(w->link.task, 0);
            return;
        }
    }
}

static void hub_free(hub *h)
{
    if (h->fd >= 0)
        close(h->fd);
    if (thread_hub == h)
        thread_hub = NULL;
    free(h);
}

/* ---- the API ---- */

int cio_signal_set_open(cio_signal_set **out, const int *signos, size_t n)
{
    if (!out)
        return cio__invalid(__func__);
    *out = NULL;
    if (!signos || n == 0)
        return cio__invalid(__func__);
    uint64_t mask = 0;
    for (size_t i = 0; i < n; i++) {
        if (!valid_signal(signos[i]))
            return cio__invalid(__func__);
        mask |= bit(signos[i]);
    }
    hub *h = thread_hub;
    int made = 0, err;
    if (!h) {
        h = cio__calloc(1, sizeof(*h));
        if (!h)
            return cio_fail(-ENOMEM, "cio_signal_set_open: out of memory");
        h->fd = -1;
        sigemptyset(&h->watched);
        made = 1;
    }
    cio_signal_set *s = cio__calloc(1, sizeof(*s));
    if (!s) {
        err = -ENOMEM;
        goto fail;
    }
    /* Signals new to the hub: watch them, then block them. A signal sent in
     * between is handled as before, which is the same as before the call. */
    sigset_t add, watched = h->watched;
    sigemptyset(&add);
    uint64_t fresh = 0;
    for (int sig = 1; sig <= MAX_SIG; sig++) {
        if ((mask & bit(sig)) && !h->refs[sig]) {
            sigaddset(&add, sig);
            sigaddset(&watched, sig);
            fresh |= bit(sig);
        }
    }
    if (fresh) {
        int fd =
            CIO__SYSCALL("signalfd", EMFILE, signalfd(h->fd, &watched, SFD_NONBLOCK | SFD_CLOEXEC));
        if (fd < 0) {
            err = -errno;
            goto fail;
        }
        h->fd = fd;
        h->watched = watched;
        sigset_t old;
        pthread_sigmask(SIG_BLOCK, &add, &old);
        for (int sig = 1; sig <= MAX_SIG; sig++)
            if ((fresh & bit(sig)) && sigismember(&old, sig) == 1)
                h->preblocked |= bit(sig);
    }
    for (int sig = 1; sig <= MAX_SIG; sig++)
        if (mask & bit(sig))
            h->refs[sig]++;
    s->hub = h;
    s->mask = mask;
    s->next = h->sets;
    if (h->sets)
        h->sets->prev = s;
    h->sets = s;
    h->nsets++;
    thread_hub = h;
    *out = s;
    return 0;
fail:
    free(s);
    if (made)
        hub_free(h);
    return cio_fail(err, "cio_signal_set_open: %s", cio_strerror(err));
}

/* The waiter becomes the hub's reader for one round: drain, wait for the
 * signalfd to become readable, drain again. Returns 0 to go on, or the cancel
 * reason or an error. */
static int read_round(hub *h, cio_task *self, waiter *w)
{
    h->reader = w;
    drain(h);
    if (w->got || w->closed)
        return 0;
    cio__op op = {.kind = CIO__OP_POLL, .fd = h->fd, .events = POLLIN};
    h->reader_op = &op;
    int r = cio__op_run(self, &op, "signal");
    h->reader_op = NULL;
    if (w->closed)
        return 0;
    if (r < 0)
        return r; /* cancelled: consume nothing */
    drain(h);
    return 0;
}

int cio_signal_set_wait(cio_signal_set *s)
{
    if (!s)
        return cio__invalid(__func__);
    cio_task *self;
    int err = cio__checkpoint(&self);
    if (err)
        return err;
    hub *h = s->hub;
    if (h != thread_hub)
        return cio__invalid(__func__);
    int sig = take_pending(s);
    if (sig)
        return sig;
    waiter w = {.link.task = self};
    cio__waitq_push(&s->waiters, &w.link);
    for (;;) {
        if (w.got)
            return w.got;
        if (w.closed)
            return cio_fail(-EBADF, "cio_signal_set_wait: the set was closed while waiting");
        err = cio__cancel_reason(self);
        if (err) {
            unlink_waiter(&w);
            return err;
        }
        if (h->reader && h->reader != &w) {
            /* Someone else reads: wait in line until a signal, or the reading,
             * is handed over. */
            err = cio__park(self, "signal", s, cio__waitq_unpark, &w.link);
            if (err < 0 && !w.got)
                return err; /* unlinked by the canceller or by close */
            continue;
        }
        err = read_round(h, self, &w);
        if (!err && !w.got && !w.closed)
            continue; /* nothing for us yet: read on */
        h->reader = NULL;
        if (!w.got)
            unlink_waiter(&w);
        hand_off(h);
        if (h->nsets == 0)
            hub_free(h); /* the last set was closed while we read */
        if (w.got)
            return w.got;
        return w.closed ? -EBADF : err;
    }
}

void cio_signal_set_close(cio_signal_set *s)
{
    if (!s)
        return;
    hub *h = s->hub;
    if (h != thread_hub) {
        fprintf(stderr, "cio: cio_signal_set_close on a thread other than the set's; "
                        "the set is left open\n");
        return;
    }
    /* Tasks waiting on s wake with -EBADF. */
    waiter *w;
    while ((w = first_waiter(s))) {
        unlink_waiter(w);
        w->closed = 1;
        if (w == h->reader) {
            if (h->reader_op) {
                cio__backend *b = &w->link.task->loop->backend;
                b->vt->cancel(b, h->reader_op);
            }
        } else {
            cio__wake(w->link.task, -EBADF);
        }
    }
    if (s->prev)
        s->prev->next = s->next;
    else
        h->sets = s->next;
    if (s->next)
        s->next->prev = s->prev;
    h->nsets--;
    /* Signals no other set watches: stop watching them, drop a pending
     * instance and unblock them, unless they were blocked before. */
    sigset_t unblock;
    sigemptyset(&unblock);
    int dropped = 0, unblocked = 0;
    for (int sig = 1; sig <= MAX_SIG; sig++) {
        if (!(s->mask & bit(sig)) || --h->refs[sig] > 0)
            continue;
        sigdelset(&h->watched, sig);
        dropped = 1;
        if (!(h->preblocked & bit(sig))) {
            sigaddset(&unblock, sig);
            unblocked = 1;
        }
        h->preblocked &= ~bit(sig);
    }
    if (dropped && h->nsets)
        signalfd(h->fd, &h->watched, SFD_NONBLOCK | SFD_CLOEXEC);
    if (unblocked) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&unblock, NULL, &zero) > 0) {
        }
        pthread_sigmask(SIG_UNBLOCK, &unblock, NULL);
    }
    free(s);
    if (h->nsets == 0 && !h->reader)
        hub_free(h);
}

int cio_signal_wait(int signo)
{
    cio_signal_set *s;
    int err = cio_signal_set_open(&s, &signo, 1);
    if (err)
        return err;
    int r = cio_signal_set_wait(s);
    cio_signal_set_close(s);
    return r;
}
