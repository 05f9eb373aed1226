/* The epoll backend: completion-style operations emulated with readiness.
 *
 * Each fd has one slot for a reader and one for a writer; epoll watches the
 * union of their interests (level-triggered, re-armed only when it changes).
 * An eventfd wakes the poll from other threads and signal handlers. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../core/alloc.h"
#include "backend.h"

typedef struct fd_slot {
    cio__op *rd, *wr;
    uint32_t registered; /* events epoll watches for this fd; 0 = not added */
} fd_slot;

typedef struct epoll_state {
    int epfd;
    int wakefd;
    fd_slot *fds;
    size_t nfds;
    cio__op *cancelled; /* ops to complete with -ECANCELED on the next poll */
    int pwait2;         /* epoll_pwait2 may be tried (ns_wait) */
} epoll_state;

#define WAKE_TAG ((uint64_t)-1)

static int ep_init(cio__backend *b)
{
    epoll_state *s = cio__calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->epfd = CIO__SYSCALL("epoll_create", EMFILE, epoll_create1(EPOLL_CLOEXEC));
    s->wakefd = CIO__SYSCALL("eventfd", EMFILE, eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (s->epfd < 0 || s->wakefd < 0)
        goto fail;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WAKE_TAG};
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->wakefd, &ev) < 0)
        goto fail;
#ifdef SYS_epoll_pwait2
    /* Valgrind 3.19 does not know epoll_pwait2: it warns on every call and
     * fails it. Under it the millisecond wait is close enough. */
    s->pwait2 = !cio__running_on_valgrind();
#endif
    b->state = s;
    return 0;
fail:;
    int err = -errno;
    if (s->epfd >= 0)
        close(s->epfd);
    if (s->wakefd >= 0)
        close(s->wakefd);
    free(s);
    return err;
}

static void ep_destroy(cio__backend *b)
{
    epoll_state *s = b->state;
    if (!s)
        return;
    close(s->epfd);
    close(s->wakefd);
    free(s->fds);
    free(s);
    b->state = NULL;
}

static fd_slot *slot_for(epoll_state *s, int fd)
{
    if ((size_t)fd >= s->nfds) {
        size_t n = s->nfds ? s->nfds : 64;
        while (n <= (size_t)fd)
            n *= 2;
        fd_slot *p = cio__realloc(s->fds, n * sizeof(*p));
        if (!p)
            return NULL;
        memset(p + s->nfds, 0, (n - s->nfds) * sizeof(*p));
        s->fds = p;
        s->nfds = n;
    }
    return &s->fds[fd];
}

static uint32_t wanted(const fd_slot *sl)
{
    return (sl->rd ? EPOLLIN : 0) | (sl->wr ? EPOLLOUT : 0);
}

/* Tells the kernel to watch fd for `events` (none: stop watching). Our record
 * of what is registered can be stale: a closed descriptor leaves epoll on its
 * own and its number may come back as a new file, so MOD falls back to ADD
 * and ADD to MOD. */
static int set_interest(epoll_state *s, int fd, fd_slot *sl, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.u64 = (uint64_t)fd};
    if (!events) {
        epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL); /* ENOENT: already gone */
        sl->registered = 0;
        return 0;
    }
    int r = epoll_ctl(s->epfd, sl->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev);
    if (r < 0 && errno == ENOENT)
        r = epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev);
    else if (r < 0 && errno == EEXIST)
        r = epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, &ev);
    if (r < 0)
        return -errno;
    sl->registered = events;
    return 0;
}

/* Interest is dropped lazily: a wait that completes leaves the fd
 * registered, so the next wait on it can cost no epoll_ctl at all. But a
 * descriptor with no wait pending may have been closed (which drops it from
 * epoll) and its number reused, so such a wait tells the kernel again (one
 * call, not the ADD and DEL of eager bookkeeping), unless the submitter
 * vouches for the file (CIO__POLL_SAME_FILE: a stream's read, answer, read
 * again is then one recv and one epoll_wait, as in libuv). Events that find
 * no op waiting drop the interest (complete_ready). */
static int arm(epoll_state *s, int fd, fd_slot *sl, int was_idle)
{
    uint32_t want = wanted(sl);
    if (!was_idle && (want & ~sl->registered) == 0)
        return 0;
    return set_interest(s, fd, sl, want | (was_idle ? 0 : sl->registered));
}

static void ep_submit(cio__backend *b, cio__op *op)
{
    epoll_state *s = b->state;
    if (op->kind != CIO__OP_POLL || op->fd < 0) {
        cio__op_complete(b, op, op->fd < 0 ? -EBADF : -ENOTSUP);
        return;
    }
    fd_slot *sl = slot_for(s, op->fd);
    if (!sl) {
        cio__op_complete(b, op, -ENOMEM);
        return;
    }
    cio__op **slot = (op->events & POLLOUT) ? &sl->wr : &sl->rd;
    if (*slot) {
        cio__op_complete(b, op, -EBUSY); /* one reader and one writer per fd */
        return;
    }
    int was_idle = !sl->rd && !sl->wr && !(op->flags & CIO__POLL_SAME_FILE);
    *slot = op;
    int err = arm(s, op->fd, sl, was_idle);
    if (err) {
        *slot = NULL;
        cio__op_complete(b, op, err);
    }
}

static void ep_cancel(cio__backend *b, cio__op *op)
{
    epoll_state *s = b->state;
    if (op->fd < 0 || (size_t)op->fd >= s->nfds)
        return;
    fd_slot *sl = &s->fds[op->fd];
    cio__op **slot = sl->rd == op ? &sl->rd : sl->wr == op ? &sl->wr : NULL;
    if (!slot)
        return;   /* already completed */
    *slot = NULL; /* the interest goes lazily, with the next event */
    /* Complete on the next poll, never inside the caller's stack frame. */
    op->next = s->cancelled;
    s->cancelled = op;
    b->vt->wakeup(b);
}

static void complete_ready(cio__backend *b, epoll_state *s, int fd, uint32_t ev)
{
    fd_slot *sl = &s->fds[fd];
    cio__op *rd = NULL, *wr = NULL;
    uint32_t err = ev & (EPOLLERR | EPOLLHUP);
    if (sl->rd && (ev & (EPOLLIN | err))) {
        rd = sl->rd;
        sl->rd = NULL;
    }
    if (sl->wr && (ev & (EPOLLOUT | err))) {
        wr = sl->wr;
        sl->wr = NULL;
    }
    if (!rd && !wr) /* nobody waits for this: stop watching what is not wanted */
        set_interest(s, fd, sl, wanted(sl));
    if (rd)
        cio__op_complete(b, rd, (int32_t)(ev & (EPOLLIN | EPOLLERR | EPOLLHUP)));
    if (wr)
        cio__op_complete(b, wr, (int32_t)(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)));
}

/* epoll_wait's timeout is in milliseconds, rounded up so that a timer is
 * never polled for too early: a 300 us sleep on an idle loop would take a
 * whole millisecond, and every timer would fire up to 1 ms late (the tail of
 * a server whose requests wait on timers). epoll_pwait2 (Linux 5.11) takes a
 * timespec: used for every timed wait where the kernel has it, epoll_wait
 * for "just look" and "no limit", and once the kernel (or a seccomp filter)
 * refuses epoll_pwait2, for good. */
static int ns_wait(epoll_state *s, struct epoll_event *evs, int max, int64_t timeout_ns)
{
#ifdef SYS_epoll_pwait2
    if (s->pwait2 && timeout_ns > 0) {
        struct timespec ts = {.tv_sec = (time_t)(timeout_ns / 1000000000),
                              .tv_nsec = (long)(timeout_ns % 1000000000)};
        int n = (int)syscall(SYS_epoll_pwait2, s->epfd, evs, max, &ts, NULL, (size_t)0);
        if (n >= 0 || (errno != ENOSYS && errno != EPERM))
            return n;
        s->pwait2 = 0;
    }
#endif
    int ms;
    if (timeout_ns < 0)
        ms = -1;
    else /* round up so a timer is never polled for too early */
        ms = (int)((timeout_ns + 999999) / 1000000 > 1000000000 ? 1000000000
                                                                : (timeout_ns + 999999) / 1000000);
    return epoll_wait(s->epfd, evs, max, ms);
}

static int ep_poll(cio__backend *b, int64_t timeout_ns)
{
    epoll_state *s = b->state;
    struct epoll_event evs[128];
    if (s->cancelled)
        timeout_ns = 0;
    int n = ns_wait(s, evs, 128, timeout_ns);
    if (n < 0)
        n = errno == EINTR ? 0 : -errno;
    int ran = 0;
    for (int i = 0; i < n; i++) {
        if (evs[i].data.u64 == WAKE_TAG) {
            uint64_t v;
            while (read(s->wakefd, &v, sizeof(v)) > 0) {
            }
            continue;
        }
        complete_ready(b, s, (int)evs[i].data.u64, evs[i].events);
        ran++;
    }
    while (s->cancelled) {
        cio__op *op = s->cancelled;
        s->cancelled = op->next;
        cio__op_complete(b, op, -ECANCELED);
        ran++;
    }
    return n < 0 ? n : ran;
}

static void ep_wakeup(cio__backend *b)
{
    epoll_state *s = b->state;
    uint64_t one = 1;
    /* A full counter already means "wake up"; nothing else can go wrong. */
    ssize_t r = write(s->wakefd, &one, sizeof(one));
    (void)r;
}

const cio__backend_vtbl cio__backend_epoll = {
    .name = "epoll",
    .native_io = 0,
    .init = ep_init,
    .destroy = ep_destroy,
    .submit = ep_submit,
    .cancel = ep_cancel,
    .poll = ep_poll,
    .wakeup = ep_wakeup,
};
