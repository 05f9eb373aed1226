/* Streams, the write side (see stream.c for the map of the stream files).
 *
 * Writing: an idle plain stream first tries send(2) straight from the
 * caller's buffer, like asyncio's transport.write (TLS streams do the same
 * with the ciphertext); only what does not fit is copied. The rest goes out
 * in the background: on io_uring as one SEND the kernel completes as room
 * appears, on epoll after a POLLOUT wait. The operation belongs to the
 * stream and its completion (wop_done) starts the next one. Pipes are
 * written with write(2) on both backends, SIGPIPE blocked around it.
 *
 * On io_uring, once a loop turn has made RING_AFTER direct sends (a
 * broadcast writing to thousands of sockets), its later small writes are
 * copied and go as SENDs with the loop's next io_uring_enter: one system
 * call for all of them (a failure of such a send is reported by the
 * stream's next write, drain or close). W22's fan-out to 10,000 sockets went
 * from 15.6 s to 4.6 s of server CPU. A few writes a turn (an echo server)
 * are cheaper sent at once: a SEND for every write measured slower on W7
 * (82.8k against 90.7-103.5k round trips/s, 5-13% more server CPU). */
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net_internal.h"

#define WBUF_MIN 1024         /* first write buffer */
#define WBUF_KEEP (64 * 1024) /* larger write buffers are freed once empty */
#define RING_AFTER 64         /* direct sends in a loop turn before small writes batch */
#define RING_MAX (16 * 1024)  /* larger writes always try send(2) first, saving the copy */

/* Whether the rest of a write that did not fit goes to the backend's SEND
 * (io_uring, sockets) rather than waiting for POLLOUT and writing again.
 * Pipes always take the second road: a write to a pipe whose reader is gone
 * raises SIGPIPE in the writing thread, and only a synchronous write can
 * have it blocked around it. */
static int native_send(const cio_stream *s)
{
    return s->is_socket && cio__loop && cio__loop->backend.vt->native_io;
}

/* Whether a write of n bytes skips send(2) and goes to the ring: this turn
 * has made RING_AFTER direct sends already (see the top of the file). */
static int ring_send(const cio_stream *s, size_t n)
{
    return n <= RING_MAX && native_send(s) && cio__loop->backend.direct_sends >= RING_AFTER;
}

/* send(2) or write(2), never raising SIGPIPE: -EPIPE instead. */
static ssize_t write_some(const cio_stream *s, const void *p, size_t n)
{
    if (s->is_socket) {
        if (cio__loop)
            cio__loop->backend.direct_sends++;
        ssize_t r =
            CIO__SYSCALL_RESET("send", s->fd, send(s->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL));
        return r < 0 ? -errno : r;
    }
    return cio__write_nosigpipe(s->fd, p, n);
}

/* ---- the write side ---- */

/* Wakes the writers whose level has been reached, or all of them on an
 * error or a close. */
void cio__stream_notify(cio_stream *s)
{
    size_t level = cio__stream_wbuffered(s);
    cio__waiter *next;
    for (cio__waiter *w = s->waiters.priv_head; w; w = next) {
        next = w->next;
        int res = s->werr ? s->werr : s->closing ? -ECONNABORTED : 0;
        if (res || level <= ((cio__wwait *)w)->level) {
            cio__waitq_remove(w);
            cio__wake(w->task, res);
        }
    }
}

static void write_failed(cio_stream *s, int err)
{
    if (!s->werr)
        s->werr = err;
    s->win.off = s->win.len = 0;
    s->wout.off = s->wout.len = 0;
}

static void sent(cio_stream *s, size_t n)
{
    cio__buf_consume(&s->wout, n);
    if (!s->wout.len && s->wout.cap > WBUF_KEEP)
        cio__buf_free(&s->wout);
}

static void wop_done(cio__op *op);

/* Sends what is queued until the socket is full, then leaves an operation
 * in flight whose completion carries on: on io_uring a SEND of the rest (the
 * kernel sends as room appears), on epoll a wait for POLLOUT. */
static void kick(cio_stream *s)
{
    while (!s->winflight && !s->werr && !s->wstop) {
        if (!s->wout.len) {
            if (!s->win.len)
                break;
            cio__buf t = s->wout;
            s->wout = s->win;
            s->win = t;
        }
        const char *p = s->wout.p + s->wout.off;
        int native = native_send(s);
        ssize_t r = ring_send(s, s->wout.len) ? -EAGAIN : write_some(s, p, s->wout.len);
        if (r > 0) {
            sent(s, (size_t)r);
            continue;
        }
        if (r == -EINTR)
            continue;
        if (r != -EAGAIN && r != -EWOULDBLOCK) {
            write_failed(s, r < 0 ? (int)r : -EPIPE);
            break;
        }
        cio__backend *b = &cio__loop->backend;
        if (native)
            s->wop = (cio__op){.kind = CIO__OP_SEND,
                               .fd = s->fd,
                               .buf = (void *)p,
                               .len = s->wout.len,
                               .flags = MSG_NOSIGNAL,
                               .done = wop_done,
                               .data = s};
        else {
            s->wop = (cio__op){.kind = CIO__OP_POLL,
                               .fd = s->fd,
                               .events = POLLOUT,
                               .flags = s->polled ? CIO__POLL_SAME_FILE : 0,
                               .done = wop_done,
                               .data = s};
            s->polled = 1;
        }
        s->winflight = 1;
        cio__backend_submit(b, &s->wop);
        return; /* wop_done may have run already: s is not ours now */
    }
    cio__stream_notify(s);
}

static void wop_done(cio__op *op)
{
    cio_stream *s = op->data;
    s->winflight = 0;
    int r = op->res;
    if (s->wstop) {
        if (s->wquiet) {
            cio__wake(s->wquiet, 0);
            s->wquiet = NULL;
        } else {
            cio__stream_destroy_if_done(s);
        }
        return;
    }
    if (op->kind != CIO__OP_POLL) {
        if (r > 0)
            sent(s, (size_t)r);
        else
            write_failed(s, r < 0 ? r : -EPIPE);
    } else if (r < 0) {
        write_failed(s, r);
    } /* else writable (or an error that send(2) will name) */
    kick(s);
}

int cio__stream_queue(cio_stream *s, const void *p, size_t n)
{
    if (!n)
        return 0;
    if (cio__buf_reserve(&s->win, n, WBUF_MIN))
        return -ENOMEM;
    memcpy(s->win.p + s->win.off + s->win.len, p, n);
    s->win.len += n;
    kick(s);
    return 0;
}

int cio__stream_wait_level(cio_stream *s, size_t level)
{
    cio_task *self;
    int err = cio__checkpoint(&self);
    if (err)
        return err;
    for (;;) {
        if (s->werr)
            return s->werr;
        if (s->closing)
            return -ECONNABORTED;
        if (cio__stream_wbuffered(s) <= level)
            return 0;
        cio__wwait w = {.link.task = self, .level = level};
        cio__waitq_push(&s->waiters, &w.link);
        err = cio__park(self, "stream drain", s, cio__waitq_unpark, &w.link);
        if (err)
            return err;
    }
}

/* cio_stream_write on a file: unbuffered, the task waits for each pwrite. */
static int file_write(cio_stream *s, const char *p, size_t n)
{
    while (n) {
        ssize_t r = cio_pwrite(s->fd, p, n, s->woff);
        if (r < 0)
            return (int)r;
        if (r == 0)
            return -EIO;
        s->woff += r;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* ---- writing ---- */

static int write_enter(cio_stream *s)
{
    if (!s)
        return cio__fail_bare(-EINVAL);
    cio_task *self;
    int err = cio__checkpoint(&self);
    if (err)
        return err;
    if (s->closestarted)
        return (int)cio__stream_fail(s, -EBADF, "write");
    if (s->wclosed)
        return (int)cio__stream_fail(s, -EPIPE, "write");
    if (s->werr)
        return (int)cio__stream_fail(s, s->werr, "write (an earlier write failed)");
    s->busy++;
    return 0;
}

static int write_leave(cio_stream *s, int err)
{
    err = (int)cio__stream_result(s, err, "write");
    cio__stream_release(s);
    return err;
}

int cio_stream_write(cio_stream *s, const void *buf, size_t n)
{
    if (!buf && n)
        return cio__invalid(__func__);
    int err = write_enter(s);
    if (err)
        return err;
    const char *p = buf;
    if (s->is_file)
        return write_leave(s, file_write(s, p, n));
    while (n) {
        size_t queued = cio__stream_wbuffered(s);
        if (queued >= s->high) {
            err = cio__stream_wait_level(s, s->low);
            if (err)
                break;
            continue;
        }
        size_t chunk = n < s->high - queued ? n : s->high - queued;
        if (s->wdirect && !queued && !s->winflight && !ring_send(s, chunk)) {
            ssize_t r = write_some(s, p, chunk);
            if (r > 0) {
                p += r;
                n -= (size_t)r;
                continue;
            }
            if (r < 0 && r != -EAGAIN && r != -EWOULDBLOCK && r != -EINTR) {
                err = (int)r;
                write_failed(s, err);
                break;
            }
        }
        err = s->vt->send(s, p, chunk);
        if (err)
            break;
        if (s->werr) {
            err = s->werr;
            break;
        }
        p += chunk;
        n -= chunk;
    }
    return write_leave(s, err);
}

int cio_stream_drain(cio_stream *s)
{
    int err = write_enter(s);
    if (err)
        return err;
    return write_leave(s, cio__stream_wait_level(s, 0));
}

int cio_stream_write_eof(cio_stream *s)
{
    if (s && s->wclosed && !s->closestarted)
        return 0;
    int err = write_enter(s);
    if (err)
        return err;
    if (s->vt->shutdown)
        err = s->vt->shutdown(s);
    if (!err)
        err = cio__stream_wait_level(s, 0);
    if (!err) {
        s->wclosed = 1;
        if (s->is_socket) {
            if (shutdown(s->fd, SHUT_WR) < 0)
                err = -errno;
        } else if (!s->rop && !s->is_file) { /* a pipe: its end is its close */
            close(s->fd);
            s->fd = -1;
        }
    }
    return write_leave(s, err);
}

size_t cio_stream_write_buffered(const cio_stream *s)
{
    return s ? cio__stream_wbuffered(s) : 0;
}
