/* The loop's I/O backend: one small interface, one file per backend
 * (backend_epoll.c, backend_uring.c). Nothing else knows which one runs.
 *
 * Operations are completion-style, io_uring's native shape: the loop submits an
 * operation, the backend completes it later by setting op->res and calling
 * op->done on the loop's thread. epoll emulates this with readiness and
 * non-blocking syscalls. A cancelled operation still completes (with -ECANCELED
 * or with the result that won the race), so a buffer is never touched after
 * its completion ran.
 */
#ifndef CIO_IO_BACKEND_H
#define CIO_IO_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "cio/fault.h"

typedef struct cio__op cio__op;
typedef void (*cio__op_done_fn)(cio__op *op);

/* The operations. A backend without native I/O (vtbl->native_io == 0, epoll)
 * implements POLL only; the fd layer (src/io/fd.c) does the rest with
 * non-blocking system calls and POLL, or with the file worker pool. */
enum cio__op_kind {
    CIO__OP_POLL = 1, /* wait until fd is ready for op->events (POLLIN / POLLOUT) */
    CIO__OP_READ,     /* read(fd, buf, len) at off (-1: current position) */
    CIO__OP_WRITE,    /* write(fd, buf, len) at off (-1: current position) */
    CIO__OP_RECV,     /* recv(fd, buf, len, flags) */
    CIO__OP_SEND,     /* send(fd, buf, len, flags) */
    CIO__OP_RECVMSG,  /* recvmsg(fd, msg, flags) */
    CIO__OP_SENDMSG,  /* sendmsg(fd, msg, flags) */
    CIO__OP_ACCEPT,   /* accept4(fd, addr, addrlen, flags) */
    CIO__OP_CONNECT,  /* connect(fd, addr, alen) */
    CIO__OP_OPENAT,   /* openat(AT_FDCWD, path, flags, mode) */
    CIO__OP_FSYNC,    /* fsync(fd) */
    CIO__OP_STATX,    /* statx(AT_FDCWD, path, 0, STATX_BASIC_STATS, buf) */
    /* accept4(fd, NULL, NULL, flags) again and again (io_uring's multishot
     * accept): op->done runs once per connection with op->more set, and a
     * last time with op->more clear when the kernel stops (an error, a
     * cancel, or -EINVAL from a kernel without it). Native backends only. */
    CIO__OP_ACCEPT_MULTI,
};

/* POLL flags. SAME_FILE: the submitter has polled this fd before and vouches
 * that it is still the same open file (a stream that owns its descriptor), so
 * epoll may trust its registration instead of renewing it: a number closed
 * and reused elsewhere is the one case a registration goes stale unnoticed. */
#define CIO__POLL_SAME_FILE 1

struct cio__op {
    int kind;
    int fd;
    uint32_t events; /* POLL: POLLIN / POLLOUT */
    int32_t res;     /* the result: >= 0 or -errno */
    uint8_t completed;
    uint8_t more;         /* multishot: further completions will follow this one */
    cio__op_done_fn done; /* runs on the loop thread when the op completes */
    void *data;           /* the submitter's */
    cio__op *next;        /* backend-private linkage */
    /* arguments, by kind */
    void *buf;
    size_t len;
    int64_t off;
    int flags;
    struct sockaddr *addr;
    socklen_t *addrlen; /* ACCEPT */
    socklen_t alen;     /* CONNECT */
    struct msghdr *msg;
    const char *path;
    unsigned mode;
};

typedef struct cio__backend cio__backend;

typedef struct cio__backend_vtbl {
    const char *name;
    int native_io; /* implements every op kind, not only POLL */
    int (*init)(cio__backend *b);
    void (*destroy)(cio__backend *b);
    /* Starts op. Never fails synchronously: errors complete the op. */
    void (*submit)(cio__backend *b, cio__op *op);
    /* Asks for op's early completion with -ECANCELED; op->done still runs. */
    void (*cancel)(cio__backend *b, cio__op *op);
    /* Waits up to timeout_ns (-1: no limit, 0: just look) for completions or a
     * wakeup, and runs the completions. Returns how many ran, or -errno. */
    int (*poll)(cio__backend *b, int64_t timeout_ns);
    /* Interrupts a poll. Any thread; async-signal-safe. */
    void (*wakeup)(cio__backend *b);
} cio__backend_vtbl;

struct cio__backend {
    const cio__backend_vtbl *vt;
    void *state;
    size_t pending;        /* submitted ops not yet completed */
    unsigned direct_sends; /* send(2) calls by streams since the last poll */
};

extern const cio__backend_vtbl cio__backend_epoll;
#ifdef CIO_HAVE_URING
extern const cio__backend_vtbl cio__backend_uring;
#endif

/* Opens the backend of the given kind (a cio_backend_kind). AUTO honours the
 * CIO_BACKEND environment variable ("uring" or "epoll"), else takes io_uring
 * where the build and the kernel have it and falls back to epoll quietly.
 * Returns 0 or -errno: -ENOTSUP for a kind this build lacks, or the kernel's
 * refusal (-ENOSYS, -EPERM) when io_uring was asked for by name. */
int cio__backend_open(cio__backend *b, int kind);
/* 1 when the process runs under Valgrind (which lacks some system calls). */
int cio__running_on_valgrind(void);

/* The fault seam's point for every operation (CIO_FAULT=op:N): when it fires,
 * completes op at once with the errno its kind could really return and
 * returns 1. backend.c. */
int cio__op_fault(cio__backend *b, cio__op *op);

static inline void cio__backend_submit(cio__backend *b, cio__op *op)
{
    b->pending++;
    if (__builtin_expect(cio_fault_armed, 0) && cio__op_fault(b, op))
        return;
    b->vt->submit(b, op);
}

/* For backends: completes op. */
static inline void cio__op_complete(cio__backend *b, cio__op *op, int32_t res)
{
    b->pending--;
    op->res = res;
    op->more = 0;
    op->completed = 1;
    op->done(op);
}

/* For backends: one result of a multishot op that goes on. */
static inline void cio__op_deliver(cio__op *op, int32_t res)
{
    op->res = res;
    op->more = 1;
    op->done(op);
}

#endif
