/* fd-level I/O for tasks (include/cio/io.h).
 *
 * On io_uring every call is one native operation. On epoll a call first tries
 * the non-blocking system call and, on EAGAIN, waits for readiness with a POLL
 * operation and tries again; regular files never report readiness, so file
 * calls run on the file executor instead. Either way the operation lives on
 * the calling task's stack and the task stays parked until the backend has
 * completed it, cancelled or not. */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "../core/alloc.h"
#include "../core/internal.h"
#include "io_internal.h"

static void op_done(cio__op *op)
{
    cio__wake(op->data, 0);
}

/* Cancellation while parked: ask the kernel, keep waiting for the op. */
static int op_unpark(cio_task *t, void *data)
{
    cio__backend *b = &t->loop->backend;
    b->vt->cancel(b, data);
    return 0;
}

int cio__op_run(cio_task *self, cio__op *op, const char *what)
{
    cio__backend *b = &self->loop->backend;
    op->done = op_done;
    op->data = self;
    op->completed = 0;
    cio__backend_submit(b, op);
    if (!op->completed) /* epoll completes some errors at once */
        cio__park(self, what, NULL, op_unpark, op);
    if (op->res == -ECANCELED) {
        int reason = cio__cancel_reason(self);
        if (reason)
            return reason;
    }
    return op->res;
}

static int native(const cio_task *t)
{
    return t->loop->backend.vt->native_io;
}

/* epoll: waits for readiness. Returns 0 or -errno / the cancel reason. */
static int wait_ready(cio_task *self, int fd, uint32_t events)
{
    cio__op op = {.kind = CIO__OP_POLL, .fd = fd, .events = events};
    int r = cio__op_run(self, &op, events & POLLOUT ? "writable" : "readable");
    return r < 0 ? r : 0;
}

/* The readiness loop around one non-blocking system call. `call` returns
 * the result or -errno. */
#define READY_LOOP(self, fd, events, call)                                                         \
    do {                                                                                           \
        for (;;) {                                                                                 \
            ssize_t r_ = (call);                                                                   \
            if (r_ >= 0 || (r_ != -EAGAIN && r_ != -EWOULDBLOCK && r_ != -EINTR))                  \
                return r_;                                                                         \
            if (r_ == -EINTR)                                                                      \
                continue;                                                                          \
            int w_ = wait_ready(self, fd, events);                                                 \
            if (w_ < 0)                                                                            \
                return w_;                                                                         \
        }                                                                                          \
    } while (0)

static inline ssize_t sys(ssize_t r)
{
    return r < 0 ? -errno : r;
}

/* A call on descriptor fd failed with r. The cancel reason is not the
 * descriptor's fault: it clears the message; outside a task the call said
 * "not inside a task" already. Anything else gets a message naming the call
 * and the descriptor. Returns r. */
__attribute__((cold)) static ssize_t fd_fail(ssize_t r, const char *call, int fd)
{
    cio_task *t = cio__self();
    if (!t)
        return r;
    if (r == cio__cancel_reason(t))
        return cio__fail_bare((int)r);
    return cio_fail((int)r, "%s fd %d: %s", call, fd, cio_strerror((int)r));
}

static inline ssize_t fd_result(ssize_t r, const char *call, int fd)
{
    return CIO__LIKELY(r >= 0) ? r : fd_fail(r, call, fd);
}

static ssize_t fd_read_(int fd, void *buf, size_t len)
{
    cio_task *self;
    int err = cio__checkpoint(&self);
    if (err)
        return err;
    if (native(self)) {
        cio__op op = {.kind = CIO__OP_READ, .fd = fd, .buf = buf, .len = len, .off = -1};
        return cio__op_run(self, &op, "read");
    }
    READY_LOOP(self, fd, POLLIN, sys(CIO__SYSCALL("read", EIO, read(fd, buf, len))));
}

ssize_t cio_read(int fd, void *buf, size_t len)
{
    return fd_result(fd_read_(fd, buf, len), "read", fd);
}

static ssize_t fd_write_(int fd, const void *buf, size_t len)
{
    cio_task *self;
    int err = cio__checkpoint(&self);
    if (err)
        return err;
    if (native(self)) {
        cio__op op = {.kind = CIO__OP_WRITE, .fd = fd, .buf = (void *)buf, .len = len, .off = -1};
        return cio__op_run(self, &op, "write");
    }
    READY_LOOP(self, fd, POLLOUT, sys(CIO__SYSCALL("write", EIO, write(fd, buf, len))));
}

ssize_t cio_write(int fd, const void *buf, size_t len)
{
    return fd_result(fd_write_(fd, buf, len), "write", fd);
}

ssize_t cio_write_all(int fd, const void *buf, size_t len, size_t *written)
{
    size_t done = 0;
    ssize_t r = 0;
    while (done < len) {
        r = cio_write(fd, (const char *)buf + done, len - done);
        if (r < 0)
            break;
        done += (size_t)r;
    }
    if (written)
        *written = done;
    return r < 0 ? r : (ssize_t)done;
}

/* write(2) that reports a closed pipe as -EPIPE without raising SIGPIPE: the
 * signal is blocked around the call and, if the write raised it, taken back
 * (unless one was pending already). */
ssize_t cio__write_nosigpipe(int fd, const void *buf, size_t len)
{
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigpending(&pending);
    int was_pending = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    ssize_t r = CIO__SYSCALL("write", EPIPE, write(fd, buf, len));
    int err = errno;
    if (r < 0 && err == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        sigtimedwait(&pipe_set, NULL, &zero); /* take back the one we raised */
    }
    if (sigismember(&old, SIGPIPE) != 1)
        pthread_sigmask(SIG_UNBLOCK, &pipe_set, NULL);
    return r < 0 ? -err : r;
}

static ssize_t fd_recv_(int fd, void *buf, size_t len, int flags)
{
    cio_task *self;
    int err = cio__checkpoint(&self);
    if (err)
        return err;
    if (native(self)) {
        cio__op op = {.kind = CIO__OP_RECV, .fd = fd, .buf = buf, .len = len, .flags = flags};
        return cio__op_run(self, &op, "recv");
    }
    READY_LOOP(self, fd, POLLIN,
               sys(CIO__SYSCALL_RESET("recv", fd, recv(fd, buf, len, flags | MSG_DONTWAIT))));
}

ssize_t cio_recv(int fd, void *buf, size_t len, int flags)
{
    return fd_result(fd_recv_(fd, buf, len, flags), "recv", fd);
}

static ssize_t fd_send_(int fd, const void *buf, size_t len, int flags)
{
    cio_task *self;
    int err = cio__checkpoint(&self);
    if (err)
        return err;
    flags |= MSG_NOSIGNAL;
    if (native(self)) {
        cio__op op = {
            .kind = CIO__OP_SEND, .fd = fd, .buf = (void *)buf, .len = len, .flags = flags};
        return cio__op_run(self, &op, "send");
    }
    READY_LOOP(self, fd, POLLOUT,
               sys(CIO__SYSCALL_RESET("send", fd, send(fd, buf, len, flags | MSG_DONTWAIT))));
}

ssize_t cio_send(int fd, const void *buf, size_t len, int flags)
{
    return fd_result(fd_send_(fd, buf, len, flags), "send", fd);
}

static ssize_t fd_recvfrom_(int fd, void *buf, size_t len, int flags, struct sockaddr *addr,
                            socklen_t *alen)
{
    cio_task *self;
    int err = cio__checkpoint(&self);
    if (err)
        return err;
    if (native(self)) {
        struct iovec iov = {buf, len};
        struct msghdr msg = {.msg_name = addr,
                             .msg_namelen = addr && alen ? *alen : 0,
                             .msg_iov = &iov,
                             .msg_iovlen = 1};
        cio__op op = {.kind = CIO__OP_RECVMSG, .fd = fd, .msg = &msg, .flags = flags};
        ssize_t r = cio__op_run(self, &op, "recvfrom");
        if (r >= 0 && addr && alen)
            *alen = msg.msg_namelen;
        return r;
    }
    READY_LOOP(self, fd, POLLIN,
               sys(CIO__SYSCALL("recvmsg", ECONNREFUSED,
                                recvfrom(fd, buf, len, flags | MSG_DONTWAIT, addr, alen))));
}

ssize_t cio_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *addr,
                     socklen_t *alen)
{
    return fd_result(fd_recvfrom_(fd, buf, len, flags, addr, alen), "recvfrom", fd);
}

static ssize_t fd_sendto_(int fd, const void *buf, size_t len, int flags,
                          const struct sockaddr *addr, socklen_t alen)
{
    cio_task *self;
    int err = cio__checkpoint(&self);
    if (err)
        return err;
    flags |= MSG_NOSIGNAL;
    if (native(self)) {
        struct iovec iov = {(void *)buf, len};
        struct msghdr msg = {.msg_name = (void *)addr,
                             .msg_namelen = addr ? alen : 0,
                             .msg_iov = &iov,
                             .msg_iovlen = 1};
        cio__op op = {.kind = CIO__OP_SENDMSG, .fd = fd, .msg = &msg, .flags = flags};
        return cio__op_run(self, &op, "sendto");
    }
    READY_LOOP(self, fd, POLLOUT,
               sys(CIO__SYSCALL("sendmsg", ENETUNREACH,
                                sendto(fd, buf, len, flags | MSG_DONTWAIT, addr, alen))));
}

ssize_t cio_sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr,
                   socklen_t alen)
{
    return fd_result(fd_sendto_(fd, buf, len, flags, addr, alen), "sendto", fd);
}

static int fd_accept_(int fd, struct sockaddr *addr, socklen_t *alen)
{
    cio_task *self;
    int err = cio__checkpoint(&self);
    if (err)
        return err;
    int flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
    if (native(self)) {
        cio__op op = {
            .kind = CIO__OP_ACCEPT, .fd = fd, .addr = addr, .addrlen = alen, .flags = flags};
        return cio__op_run(self, &op, "accept");
    }
    READY_LOOP(self, fd, POLLIN,
               sys(CIO__SYSCALL("accept", EMFILE, accept4(fd, addr, alen, flags))));
}

int cio_accept(int fd, struct sockaddr *addr, socklen_t *alen)
{
    return (int)fd_result(fd_accept_(fd, addr, alen), "accept", fd);
}

static int fd_connect_(int fd, const struct sockaddr *addr, socklen_t alen)
{
    cio_task *self;
    int err = cio__checkpoint(&self);
    if (err)
        return err;
    if (native(self)) {
        cio__op op = {
            .kind = CIO__OP_CONNECT, .fd = fd, .addr = (struct sockaddr *)addr, .alen = alen};
        return cio__op_run(self, &op, "connect");
    }
    if (CIO__SYSCALL("connect", ECONNREFUSED, connect(fd, addr, alen)) == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EINTR)
        return -errno;
    err = wait_ready(self, fd, POLLOUT);
    if (err)
        return err;
    int so_error = 0;
    socklen_t len = sizeof(so_error);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) < 0)
        return -errno;
    return -so_error;
}

int cio_connect(int fd, const struct sockaddr *addr, socklen_t alen)
{
    return (int)fd_result(fd_connect_(fd, addr, alen), "connect", fd);
}

static int wait_event(int fd, uint32_t events)
{
    cio_task *self;
    int err = cio__checkpoint(&self);
    if (err)
        return err;
    return wait_ready(self, fd, events);
}

int cio_wait_readable(int fd)
{
    return (int)fd_result(wait_event(fd, POLLIN), "wait for readable", fd);
}

int cio_wait_writable(int fd)
{
    return (int)fd_result(wait_event(fd, POLLOUT), "wait for writable", fd);
}

int cio_socket(int domain, int type, int protocol)
{
    int fd = CIO__SYSCALL("socket", EMFILE,
                          socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol));
    if (fd < 0)
        return cio_fail(-errno, "socket (domain %d, type %d): %s", domain, type, strerror(errno));
    return fd;
}

int cio_close(int fd)
{
    if (close(fd) < 0)
        return cio_fail(-errno, "close fd %d: %s", fd, strerror(errno));
    return 0;
}

/* ---- files ---- */

typedef struct file_call {
    int kind;
    int fd;
    void *buf;
    size_t len;
    off_t off;
    const char *path;
    int flags;
    mode_t mode;
    ssize_t res;
    int ran; /* the worker ran the call: res holds its result */
} file_call;

/* Runs on a file worker thread (epoll backend). */
static int file_call_run(void *arg)
{
    file_call *c = arg;
    ssize_t r = -1;
    switch (c->kind) {
    case CIO__OP_OPENAT:
        r = CIO__SYSCALL("open", EMFILE, open(c->path, c->flags, c->mode));
        break;
    case CIO__OP_READ:
        r = CIO__SYSCALL("read", EIO, pread(c->fd, c->buf, c->len, c->off));
        break;
    case CIO__OP_WRITE:
        r = CIO__SYSCALL("write", EIO, pwrite(c->fd, c->buf, c->len, c->off));
        break;
    case CIO__OP_FSYNC:
        r = fsync(c->fd);
        break;
    case CIO__OP_STATX:
        r = stat(c->path, c->buf);
        break;
    }
    c->res = r < 0 ? -errno : r;
    c->ran = 1;
    return 0;
}

static ssize_t file_op(file_call *c)
{
    cio_task *self;
    int err = cio__checkpoint(&self);
    if (err)
        return err;
    if (native(self)) {
        struct statx stx;
        cio__op op = {.kind = c->kind,
                      .fd = c->fd,
                      .buf = c->buf,
                      .len = c->len,
                      .off = c->off,
                      .path = c->path,
                      .flags = c->flags,
                      .mode = c->mode};
        if (c->kind == CIO__OP_STATX)
            op.buf = &stx;
        ssize_t r = cio__op_run(self, &op, "file");
        if (r >= 0 && c->kind == CIO__OP_STATX)
            cio__statx_to_stat(&stx, c->buf);
        return r;
    }
    err = cio_executor_run(cio__file_executor(), file_call_run, c);
    /* Cancelled after the worker ran the call: its result stands, as when an
     * io_uring operation completes before its cancel. Dropping it would leak
     * the descriptor an open made. */
    return err && !c->ran ? err : c->res;
}

/* A call on a path failed: the message names the path (not for the cancel
 * reason, which is not the file's fault). Returns r. */
static int path_result(int r, const char *what, const char *path)
{
    if (r < 0 && cio_current() && r != cio_cancelled()) /* outside: "not inside a task" */
        cio_fail(r, "%s %s: %s", what, path, cio_strerror(r));
    return r;
}

int cio_open(const char *path, int flags, mode_t mode)
{
    if (!path)
        return cio__invalid(__func__);
    file_call c = {.kind = CIO__OP_OPENAT, .path = path, .flags = flags | O_CLOEXEC, .mode = mode};
    return path_result((int)file_op(&c), "open", path);
}

ssize_t cio_pread(int fd, void *buf, size_t len, off_t offset)
{
    file_call c = {.kind = CIO__OP_READ, .fd = fd, .buf = buf, .len = len, .off = offset};
    return fd_result(file_op(&c), "pread", fd);
}

ssize_t cio_pwrite(int fd, const void *buf, size_t len, off_t offset)
{
    file_call c = {.kind = CIO__OP_WRITE, .fd = fd, .buf = (void *)buf, .len = len, .off = offset};
    return fd_result(file_op(&c), "pwrite", fd);
}

int cio_fsync(int fd)
{
    file_call c = {.kind = CIO__OP_FSYNC, .fd = fd};
    return (int)fd_result(file_op(&c), "fsync", fd);
}

int cio_stat(const char *path, struct stat *st)
{
    if (!path || !st)
        return cio__invalid(__func__);
    file_call c = {.kind = CIO__OP_STATX, .path = path, .buf = st};
    return path_result((int)file_op(&c), "stat", path);
}

void cio__statx_to_stat(const struct statx *x, struct stat *st)
{
    memset(st, 0, sizeof(*st));
    st->st_mode = x->stx_mode;
    st->st_nlink = x->stx_nlink;
    st->st_uid = x->stx_uid;
    st->st_gid = x->stx_gid;
    st->st_size = (off_t)x->stx_size;
    st->st_blksize = x->stx_blksize;
    st->st_blocks = (blkcnt_t)x->stx_blocks;
    st->st_ino = x->stx_ino;
    st->st_dev = makedev(x->stx_dev_major, x->stx_dev_minor);
    st->st_rdev = makedev(x->stx_rdev_major, x->stx_rdev_minor);
    st->st_atim.tv_sec = x->stx_atime.tv_sec;
    st->st_atim.tv_nsec = x->stx_atime.tv_nsec;
    st->st_mtim.tv_sec = x->stx_mtime.tv_sec;
    st->st_mtim.tv_nsec = x->stx_mtime.tv_nsec;
    st->st_ctim.tv_sec = x->stx_ctime.tv_sec;
    st->st_ctim.tv_nsec = x->stx_ctime.tv_nsec;
}

int cio_read_file(const char *path, char **data, size_t *len, size_t limit)
{
    if (!path || !data || !len)
        return cio__invalid(__func__);
    *data = NULL;
    *len = 0;
    int fd = cio_open(path, O_RDONLY, 0);
    if (fd < 0)
        return fd;
    size_t cap = 4096, n = 0;
    char *buf = cio__malloc(cap + 1);
    int err = buf ? 0 : -ENOMEM;
    while (!err) {
        if (n == cap) {
            if (limit && cap >= limit) {
                err = -EFBIG;
                break;
            }
            char *bigger = cio__realloc(buf, cap * 2 + 1);
            if (!bigger) {
                err = -ENOMEM;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t want = cap - n;
        if (limit && n + want > limit)
            want = limit + 1 - n; /* read one past the limit to detect it */
        ssize_t r = cio_pread(fd, buf + n, want, (off_t)n);
        if (r < 0)
            err = (int)r;
        else if (r == 0)
            break;
        else
            n += (size_t)r;
        if (!err && limit && n > limit)
            err = -EFBIG;
    }
    cio_close(fd);
    if (err) {
        free(buf);
        if (err == -EFBIG)
            return cio_fail(err, "%s is larger than the limit of %zu bytes", path, limit);
        return path_result(err, "read", path);
    }
    buf[n] = 0;
    *data = buf;
    *len = n;
    return 0;
}
