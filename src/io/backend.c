/* Picks the backend a loop runs on. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "backend.h"
#include "cio/core.h"
#include "cio/fault.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

int cio__running_on_valgrind(void)
{
    return RUNNING_ON_VALGRIND != 0;
}

static int open_kind(cio__backend *b, const cio__backend_vtbl *vt)
{
    memset(b, 0, sizeof(*b));
    b->vt = vt;
    return vt->init(b);
}

int cio__backend_open(cio__backend *b, int kind)
{
    int forced = kind != CIO_BACKEND_AUTO;
    if (!forced) {
        const char *env = getenv("CIO_BACKEND");
        if (env && strcmp(env, "uring") == 0) {
            kind = CIO_BACKEND_URING;
            forced = 1;
        } else if (env && strcmp(env, "epoll") == 0) {
            kind = CIO_BACKEND_EPOLL;
        } else if (cio__running_on_valgrind()) {
            /* Valgrind cannot see the kernel write into io_uring's buffers
             * (hundreds of false "uninitialised" reports), and its signal
             * delivery waits for the next completion (Ctrl-C hangs): AUTO
             * picks epoll under it. CIO_BACKEND=uring still forces io_uring. */
            kind = CIO_BACKEND_EPOLL;
        } else {
            kind = CIO_BACKEND_URING;
        }
    }
    if (kind == CIO_BACKEND_URING) {
#ifdef CIO_HAVE_URING
        int err = open_kind(b, &cio__backend_uring);
        if (err == 0 || forced)
            return err;
            /* A kernel or seccomp profile without io_uring: fall back quietly. */
#else
        if (forced)
            return -ENOTSUP;
#endif
        kind = CIO_BACKEND_EPOLL;
    }
    if (kind != CIO_BACKEND_EPOLL)
        return -EINVAL;
    return open_kind(b, &cio__backend_epoll);
}

/* What each kind of operation can really fail with, and the point's name
 * (CIO_FAULT=syscall:NAME:N picks one kind). */
int cio__op_fault(cio__backend *b, cio__op *op)
{
    static const struct {
        const char *name;
        int err;
    } kinds[] = {
        [CIO__OP_POLL] = {"poll", ENOMEM},             /* epoll_ctl, a full ring */
        [CIO__OP_READ] = {"read", EIO},                /* a disk error, a reset tty */
        [CIO__OP_WRITE] = {"write", EIO},              /* ENOSPC, EIO */
        [CIO__OP_RECV] = {"recv", ECONNRESET},         /* the peer reset */
        [CIO__OP_SEND] = {"send", ECONNRESET},         /* the peer reset */
        [CIO__OP_RECVMSG] = {"recvmsg", ECONNREFUSED}, /* UDP: an ICMP error */
        [CIO__OP_SENDMSG] = {"sendmsg", ENETUNREACH},  /* UDP: no route */
        [CIO__OP_ACCEPT] = {"accept", EMFILE},         /* out of descriptors */
        [CIO__OP_CONNECT] = {"connect", ECONNREFUSED},
        [CIO__OP_OPENAT] = {"open", EMFILE},
        [CIO__OP_FSYNC] = {"fsync", EIO},
        [CIO__OP_STATX] = {"statx", ENOMEM},
        [CIO__OP_ACCEPT_MULTI] = {"accept", EMFILE},
    };
    if (op->kind <= 0 || (size_t)op->kind >= sizeof kinds / sizeof kinds[0] ||
        !kinds[op->kind].name || !cio_fault_hit(CIO_FAULT_OP, kinds[op->kind].name))
        return 0;
    if (kinds[op->kind].err == ECONNRESET)
        shutdown(op->fd, SHUT_RDWR); /* a real reset: the peer sees it too */
    cio__op_complete(b, op, -kinds[op->kind].err);
    return 1;
}
