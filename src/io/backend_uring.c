/* The io_uring backend: every operation is native.
 *
 * Submissions queue in the SQ during a loop turn and go to the kernel in one
 * io_uring_enter when the loop polls (or earlier if the SQ fills). Setup flags
 * are probed from the best for one loop per thread down: SINGLE_ISSUER with
 * DEFER_TASKRUN (6.1+), then COOP_TASKRUN (5.19+), then none. An eventfd with a
 * poll request on it lets other threads and signal handlers wake the ring. */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../core/alloc.h"
#include "backend.h"

#define RING_ENTRIES 1024
#define WAKE_TAG ((uint64_t)1) /* user_data of the eventfd's poll */
/* Cancel requests carry no op: their own completions are ignored. */
#define CANCEL_TAG ((uint64_t)0)

typedef struct uring_state {
    struct io_uring ring;
    int wakefd;
    uint64_t wakebuf;
    int wake_armed;
    unsigned setup_flags;
} uring_state;

static int try_setup(uring_state *s, unsigned flags)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof(p));
    p.flags = flags;
    int err = io_uring_queue_init_params(RING_ENTRIES, &s->ring, &p);
    if (err == 0)
        s->setup_flags = flags;
    return err;
}

static int ur_init(cio__backend *b)
{
    uring_state *s = cio__calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    static const unsigned choices[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        IORING_SETUP_COOP_TASKRUN,
        0,
    };
    int err = -EINVAL;
    for (size_t i = 0; i < sizeof(choices) / sizeof(choices[0]) && err == -EINVAL; i++)
        err = try_setup(s, choices[i]);
    if (err) {
        free(s);
        return err; /* -ENOSYS or -EPERM: no io_uring here */
    }
    s->wakefd = CIO__SYSCALL("eventfd", EMFILE, eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (s->wakefd < 0) {
        err = -errno;
        io_uring_queue_exit(&s->ring);
        free(s);
        return err;
    }
    b->state = s;
    return 0;
}

static void ur_destroy(cio__backend *b)
{
    uring_state *s = b->state;
    if (!s)
        return;
    io_uring_queue_exit(&s->ring);
    close(s->wakefd);
    free(s);
    b->state = NULL;
}

/* An SQE, flushing the queue to the kernel if it is full. */
static struct io_uring_sqe *get_sqe(uring_state *s)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);
    if (!sqe) {
        io_uring_submit(&s->ring);
        sqe = io_uring_get_sqe(&s->ring);
    }
    return sqe;
}

static void arm_wake(uring_state *s)
{
    if (s->wake_armed)
        return;
    struct io_uring_sqe *sqe = get_sqe(s);
    if (!sqe)
        return;
    io_uring_prep_read(sqe, s->wakefd, &s->wakebuf, sizeof(s->wakebuf), 0);
    io_uring_sqe_set_data64(sqe, WAKE_TAG);
    s->wake_armed = 1;
}

static void ur_submit(cio__backend *b, cio__op *op)
{
    uring_state *s = b->state;
    struct io_uring_sqe *sqe = get_sqe(s);
    if (!sqe) {
        cio__op_complete(b, op, -EAGAIN);
        return;
    }
    switch (op->kind) {
    case CIO__OP_POLL:
        io_uring_prep_poll_add(sqe, op->fd, op->events);
        break;
    case CIO__OP_READ:
        io_uring_prep_read(sqe, op->fd, op->buf, (unsigned)op->len, (uint64_t)op->off);
        break;
    case CIO__OP_WRITE:
        io_uring_prep_write(sqe, op->fd, op->buf, (unsigned)op->len, (uint64_t)op->off);
        break;
    case CIO__OP_RECV:
        io_uring_prep_recv(sqe, op->fd, op->buf, op->len, op->flags);
        break;
    case CIO__OP_SEND:
        io_uring_prep_send(sqe, op->fd, op->buf, op->len, op->flags);
        break;
    case CIO__OP_RECVMSG:
        io_uring_prep_recvmsg(sqe, op->fd, op->msg, (unsigned)op->flags);
        break;
    case CIO__OP_SENDMSG:
        io_uring_prep_sendmsg(sqe, op->fd, op->msg, (unsigned)op->flags);
        break;
    case CIO__OP_ACCEPT:
        io_uring_prep_accept(sqe, op->fd, op->addr, op->addrlen, op->flags);
        break;
    case CIO__OP_ACCEPT_MULTI:
        io_uring_prep_multishot_accept(sqe, op->fd, NULL, NULL, op->flags);
        break;
    case CIO__OP_CONNECT:
        io_uring_prep_connect(sqe, op->fd, op->addr, op->alen);
        break;
    case CIO__OP_OPENAT:
        io_uring_prep_openat(sqe, AT_FDCWD, op->path, op->flags, op->mode);
        break;
    case CIO__OP_FSYNC:
        io_uring_prep_fsync(sqe, op->fd, 0);
        break;
    case CIO__OP_STATX:
        io_uring_prep_statx(sqe, AT_FDCWD, op->path, 0, STATX_BASIC_STATS, op->buf);
        break;
    default:
        io_uring_prep_nop(sqe);
        io_uring_sqe_set_data64(sqe, CANCEL_TAG);
        cio__op_complete(b, op, -ENOTSUP);
        return;
    }
    io_uring_sqe_set_data(sqe, op);
}

static void ur_cancel(cio__backend *b, cio__op *op)
{
    uring_state *s = b->state;
    struct io_uring_sqe *sqe = get_sqe(s);
    if (!sqe)
        return; /* the op still completes on its own */
    io_uring_prep_cancel(sqe, op, 0);
    io_uring_sqe_set_data64(sqe, CANCEL_TAG);
}

static int ur_poll(cio__backend *b, int64_t timeout_ns)
{
    uring_state *s = b->state;
    arm_wake(s);
    int err;
    if (timeout_ns == 0) {
        err = io_uring_submit_and_get_events(&s->ring);
    } else if (timeout_ns < 0) {
        err = io_uring_submit_and_wait(&s->ring, 1);
    } else {
        struct io_uring_cqe *cqe;
        struct __kernel_timespec ts = {.tv_sec = timeout_ns / 1000000000,
                                       .tv_nsec = timeout_ns % 1000000000};
        err = io_uring_submit_and_wait_timeout(&s->ring, &cqe, 1, &ts, NULL);
    }
    if (err < 0 && err != -ETIME && err != -EINTR && err != -EBUSY)
        return err;
    int ran = 0;
    unsigned head, seen = 0;
    struct io_uring_cqe *cqe;
    io_uring_for_each_cqe(&s->ring, head, cqe)
    {
        seen++;
        uint64_t tag = io_uring_cqe_get_data64(cqe);
        if (tag == CANCEL_TAG)
            continue;
        if (tag == WAKE_TAG) {
            s->wake_armed = 0;
            continue;
        }
        if (cqe->flags & IORING_CQE_F_MORE)
            cio__op_deliver((cio__op *)(uintptr_t)tag, cqe->res);
        else
            cio__op_complete(b, (cio__op *)(uintptr_t)tag, cqe->res);
        ran++;
    }
    io_uring_cq_advance(&s->ring, seen);
    return ran;
}

static void ur_wakeup(cio__backend *b)
{
    uring_state *s = b->state;
    uint64_t one = 1;
    ssize_t r = write(s->wakefd, &one, sizeof(one)); /* full counter: already woken */
    (void)r;
}

const cio__backend_vtbl cio__backend_uring = {
    .name = "uring",
    .native_io = 1,
    .init = ur_init,
    .destroy = ur_destroy,
    .submit = ur_submit,
    .cancel = ur_cancel,
    .poll = ur_poll,
    .wakeup = ur_wakeup,
};
