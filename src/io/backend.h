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

typedef struct cio__op cio__op;
typedef void (*cio__op_done_fn)(cio__op *op);

enum cio__op_kind {
    CIO__OP_POLL = 1, /* wait until fd is ready for op->events (POLLIN / POLLOUT) */
};

struct cio__op {
    int kind;
    int fd;
    uint32_t events;
    int32_t res;          /* the result: >= 0 or -errno */
    cio__op_done_fn done; /* runs on the loop thread when the op completes */
    void *data;           /* the submitter's */
    cio__op *next;        /* backend-private linkage */
};

typedef struct cio__backend cio__backend;

typedef struct cio__backend_vtbl {
    const char *name;
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
    size_t pending; /* submitted ops not yet completed */
};

extern const cio__backend_vtbl cio__backend_epoll;

/* Opens the backend of the given kind (a cio_backend_kind; AUTO honours the
 * CIO_BACKEND environment variable). Returns 0 or -errno: -ENOTSUP for a kind
 * this build or kernel lacks. */
int cio__backend_open(cio__backend *b, int kind);

static inline void cio__backend_submit(cio__backend *b, cio__op *op)
{
    b->pending++;
    b->vt->submit(b, op);
}

/* For backends: completes op. */
static inline void cio__op_complete(cio__backend *b, cio__op *op, int32_t res)
{
    b->pending--;
    op->res = res;
    op->done(op);
}

#endif
