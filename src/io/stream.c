/* Streams (include/cio/stream.h), the read side. A stream is four files:
 *
 *   stream.c        reading: raw reads, the plain and file vtables, the read calls
 *   stream_write.c  writing: the background writer, water marks, write_eof
 *   stream_open.c   lifetime: making, closing and freeing streams, addresses
 *   stream_buf.c    the byte buffers both sides use
 *
 * (tls.c turns payload into records; tls_none.c stands in for it in builds
 * without OpenSSL.) The layout and the state flags are in net_internal.h.
 *
 * Reading: a read of a large buffer with nothing buffered goes straight into
 * the caller's memory (no copy, no allocation); small reads and separator
 * searches fill the stream's buffer, which starts at 4 KiB and grows by
 * doubling, bounded by the limit. */
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net_internal.h"

#define READ_DIRECT 4096 /* reads this large bypass the buffer when it is empty */

/* ---- raw reads ---- */

/* Waits until s->fd is readable (or has an error or a hang-up). The stream
 * owns its descriptor, so after the first poll it vouches for the file and
 * epoll keeps it registered: no epoll_ctl per wait. Returns 0 or -errno. */
static int wait_in(cio_task *self, cio_stream *s)
{
    cio__op op = {.kind = CIO__OP_POLL,
                  .fd = s->fd,
                  .events = POLLIN,
                  .flags = s->polled ? CIO__POLL_SAME_FILE : 0};
    s->polled = 1;
    s->rop = &op;
    ssize_t r = cio__op_run(self, &op, "stream read");
    s->rop = NULL;
    if (s->closing)
        return -ECONNABORTED;
    return r < 0 ? (int)r : 0;
}

ssize_t cio__stream_raw_recv(cio_stream *s, void *buf, size_t len)
{
    cio_task *self;
    int err = cio__checkpoint(&self);
    if (err)
        return err;
    if (s->closing)
        return -ECONNABORTED;
    if (self->loop->backend.vt->native_io) {
        cio__op op = {.kind = s->is_socket ? CIO__OP_RECV : CIO__OP_READ,
                      .fd = s->fd,
                      .buf = buf,
                      .len = len,
                      .off = -1};
        s->rop = &op;
        ssize_t r = cio__op_run(self, &op, "stream read");
        s->rop = NULL;
        return s->closing ? -ECONNABORTED : r;
    }
    /* A read that came back short has probably emptied the socket: wait for
     * readiness first rather than spend a system call on EAGAIN (libuv's
     * rule too). */
    int wait_first = s->rshort;
    for (;;) {
        if (!wait_first) {
            ssize_t r = CIO__SYSCALL_RESET("recv", s->fd,
                                           s->is_socket ? recv(s->fd, buf, len, MSG_DONTWAIT)
                                                        : read(s->fd, buf, len));
            if (r >= 0) {
                s->rshort = (size_t)r < len;
                return r;
            }
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return -errno;
        }
        wait_first = 0;
        err = wait_in(self, s);
        if (err)
            return err;
    }
}

static ssize_t plain_recv(cio_stream *s, void *dst, size_t cap)
{
    return cio__stream_raw_recv(s, dst, cap);
}

const cio__stream_vt cio__stream_plain_vt = {
    .recv = plain_recv,
    .send = cio__stream_queue,
};

/* Files: a regular file is always "ready", so epoll refuses it (EPERM) and
 * readiness means nothing; reads and writes go through cio_pread/cio_pwrite
 * instead (io_uring operations, or the file worker pool on epoll), at
 * positions of the stream's own, so both backends behave the same. */
static ssize_t file_recv(cio_stream *s, void *dst, size_t cap)
{
    ssize_t r = cio_pread(s->fd, dst, cap, s->roff);
    if (r > 0)
        s->roff += r;
    return s->closing ? -ECONNABORTED : r;
}

const cio__stream_vt cio__stream_file_vt = {
    .recv = file_recv, .send = cio__stream_queue, /* unused: cio_stream_write writes files itself */
};

/* ---- the read side ---- */

/* Reads more payload into the buffer. Returns the count, 0 at EOF, -errno. */
static ssize_t fill(cio_stream *s)
{
    if (s->eof)
        return 0;
    cio__buf *b = &s->rb;
    if (b->cap - b->off - b->len < CIO__RBUF_MIN / 4 &&
        cio__buf_reserve(b, b->len < CIO__RBUF_MIN ? CIO__RBUF_MIN : b->len, CIO__RBUF_MIN))
        return -ENOMEM;
    ssize_t r = s->vt->recv(s, b->p + b->off + b->len, b->cap - b->off - b->len);
    if (r > 0)
        b->len += (size_t)r;
    else if (r == 0)
        s->eof = 1;
    return r;
}

/* Copies up to n buffered bytes out. */
static size_t take(cio_stream *s, void *buf, size_t n)
{
    if (n > s->rb.len)
        n = s->rb.len;
    if (!n)
        return 0;
    memcpy(buf, s->rb.p + s->rb.off, n);
    cio__buf_consume(&s->rb, n);
    return n;
}

/* Puts n bytes back in front of the buffer (a cancelled read_exactly). */
static int unread(cio_stream *s, const void *p, size_t n)
{
    cio__buf *b = &s->rb;
    if (!n)
        return 0;
    if (b->off < n) {
        if (cio__buf_reserve(b, n, CIO__RBUF_MIN))
            return -ENOMEM;
        memmove(b->p + n, b->p + b->off, b->len);
        b->off = n;
    }
    b->off -= n;
    b->len += n;
    memcpy(b->p + b->off, p, n);
    return 0;
}

ssize_t cio__stream_fail(const cio_stream *s, ssize_t r, const char *call)
{
    cio_task *t = cio__self();
    if (!t)
        return r; /* "not inside a task" was said */
    if (r == cio__cancel_reason(t))
        return cio__fail_bare((int)r);
    int local = r == -EBADF || r == -EBUSY || r == -ECONNABORTED || r == -ENOBUFS || r == -EPIPE;
    if (s->tls && !local)
        return r; /* the TLS layer's own message names the peer and the reason */
    const char *why = r == -EBADF          ? "the stream is closing or closed"
                      : r == -EBUSY        ? "another task is reading it"
                      : r == -ECONNABORTED ? "the stream was closed meanwhile"
                      : r == -ENOBUFS      ? "no separator within the stream's limit or buffer"
                      : r == -EPIPE        ? "end of the stream (or of its writing side)"
                                           : cio_strerror((int)r);
    return cio_fail((int)r, "%s on stream fd %d: %s", call, s->fd, why);
}

static int read_enter(cio_stream *s)
{
    if (!s)
        return cio__fail_bare(-EINVAL);
    cio_task *self;
    int err = cio__checkpoint(&self);
    if (err)
        return err;
    if (s->closestarted)
        return (int)cio__stream_fail(s, -EBADF, "read");
    if (s->rbusy)
        return (int)cio__stream_fail(s, -EBUSY, "read");
    s->rbusy = 1;
    s->busy++;
    return 0;
}

static ssize_t read_leave(cio_stream *s, ssize_t r)
{
    s->rbusy = 0;
    r = cio__stream_result(s, r, "read");
    cio__stream_release(s);
    return r;
}

ssize_t cio_stream_read(cio_stream *s, void *buf, size_t n)
{
    if (!buf && n)
        return cio__invalid(__func__);
    int err = read_enter(s);
    if (err)
        return err;
    ssize_t r;
    if (!n) {
        r = 0;
    } else if (s->rb.len) {
        r = (ssize_t)take(s, buf, n);
    } else if (s->eof) {
        r = 0;
    } else if (n >= READ_DIRECT) {
        r = s->vt->recv(s, buf, n);
        if (r == 0)
            s->eof = 1;
    } else {
        r = fill(s);
        if (r > 0)
            r = (ssize_t)take(s, buf, n);
    }
    return read_leave(s, r);
}

ssize_t cio_stream_read_exactly(cio_stream *s, void *buf, size_t n, size_t *got)
{
    if (got)
        *got = 0;
    if (!buf && n)
        return cio__invalid(__func__);
    int err = read_enter(s);
    if (err)
        return err;
    char *p = buf;
    size_t done = take(s, p, n);
    ssize_t r = 0;
    while (done < n) {
        if (s->eof) {
            r = -EPIPE;
            break;
        }
        if (n - done >= READ_DIRECT) {
            r = s->vt->recv(s, p + done, n - done);
            if (r > 0)
                done += (size_t)r;
            else if (r == 0)
                s->eof = 1;
        } else {
            r = fill(s);
            if (r > 0)
                done += take(s, p + done, n - done);
        }
        if (r < 0)
            break;
    }
    if (r == -EPIPE) {
        if (got)
            *got = done;
    } else if (r < 0 && r != -ECONNABORTED) {
        unread(s, p, done); /* nothing lost: the next read sees these bytes */
    }
    return read_leave(s, r < 0 ? r : (ssize_t)n);
}

/* The earliest of the separators in data[from, len): its start in *idx and
 * its index in *which; at a tie the longest wins. Returns 0 if none is there. */
static int find_sep(const char *data, size_t len, size_t from, const char *const *seps,
                    const size_t *lens, size_t nseps, size_t *idx, size_t *which)
{
    int found = 0;
    for (size_t i = 0; i < nseps; i++) {
        if (len - from < lens[i])
            continue;
        const char *hit = memmem(data + from, len - from, seps[i], lens[i]);
        if (!hit)
            continue;
        size_t at = (size_t)(hit - data);
        if (!found || at < *idx || (at == *idx && lens[i] > lens[*which])) {
            *idx = at;
            *which = i;
            found = 1;
        }
    }
    return found;
}

/* read_until, read_until_any and read_line. `line`: NUL-terminate, and at
 * EOF return the partial line. */
static ssize_t until(cio_stream *s, const char *const *seps, const size_t *lens, size_t nseps,
                     char *buf, size_t cap, int line, size_t *which)
{
    size_t minlen = SIZE_MAX, maxlen = 0;
    for (size_t i = 0; i < nseps; i++) {
        minlen = lens[i] < minlen ? lens[i] : minlen;
        maxlen = lens[i] > maxlen ? lens[i] : maxlen;
    }
    size_t scanned = 0;
    for (;;) {
        const char *data = s->rb.p + s->rb.off;
        size_t len = s->rb.len;
        if (len >= minlen) {
            size_t from = scanned >= maxlen ? scanned - (maxlen - 1) : 0;
            size_t idx = 0, w = 0;
            if (find_sep(data, len, from, seps, lens, nseps, &idx, &w)) {
                size_t total = idx + lens[w];
                if (idx > s->limit || total + (line ? 1 : 0) > cap)
                    return -ENOBUFS;
                take(s, buf, total);
                if (line)
                    buf[total] = 0;
                if (which)
                    *which = w;
                return (ssize_t)total;
            }
            if (len + 1 - minlen > s->limit)
                return -ENOBUFS;
        }
        scanned = len;
        if (s->eof) {
            if (!line)
                return -EPIPE;
            if (len + 1 > cap)
                return -ENOBUFS;
            take(s, buf, len);
            buf[len] = 0;
            return (ssize_t)len;
        }
        ssize_t r = fill(s);
        if (r < 0)
            return r;
    }
}

ssize_t cio_stream_read_until(cio_stream *s, const void *sep, size_t sep_len, void *buf, size_t cap)
{
    if (!sep || !sep_len || (!buf && cap))
        return cio__invalid(__func__);
    int err = read_enter(s);
    if (err)
        return err;
    const char *seps[1] = {sep};
    return read_leave(s, until(s, seps, &sep_len, 1, buf, cap, 0, NULL));
}

#define MAX_SEPS 16

ssize_t cio_stream_read_until_any(cio_stream *s, const char *const *seps, size_t nseps, void *buf,
                                  size_t cap, size_t *which)
{
    size_t lens[MAX_SEPS];
    if (!seps || !nseps || nseps > MAX_SEPS || (!buf && cap))
        return cio__invalid(__func__);
    for (size_t i = 0; i < nseps; i++)
        if (!seps[i] || !(lens[i] = strlen(seps[i])))
            return cio__invalid(__func__);
    int err = read_enter(s);
    if (err)
        return err;
    return read_leave(s, until(s, seps, lens, nseps, buf, cap, 0, which));
}

ssize_t cio_stream_read_line(cio_stream *s, char *buf, size_t cap)
{
    if (!buf || !cap)
        return cio__invalid(__func__);
    int err = read_enter(s);
    if (err)
        return err;
    static const char *const nl[1] = {"\n"};
    static const size_t one = 1;
    return read_leave(s, until(s, nl, &one, 1, buf, cap, 1, NULL));
}

ssize_t cio_stream_peek(cio_stream *s, const void **data, size_t min)
{
    if (!data)
        return cio__invalid(__func__);
    *data = NULL;
    if (s && min > s->limit)
        return cio__invalid(__func__);
    int err = read_enter(s);
    if (err)
        return err;
    if (!min)
        min = 1;
    ssize_t r = 0;
    while (s->rb.len < min && !s->eof) {
        if (cio__buf_reserve(&s->rb, min - s->rb.len, CIO__RBUF_MIN)) {
            r = -ENOMEM;
            break;
        }
        r = fill(s);
        if (r < 0)
            break;
    }
    if (r >= 0) {
        *data = s->rb.len ? s->rb.p + s->rb.off : "";
        r = (ssize_t)s->rb.len;
    }
    return read_leave(s, r);
}

int cio_stream_consume(cio_stream *s, size_t n)
{
    if (!s || n > s->rb.len)
        return cio__invalid(__func__);
    cio__buf_consume(&s->rb, n);
    return 0;
}

/* Whether the end of the input is known without reading: the peer's FIN
 * waits in the socket, a pipe's writer is gone with nothing left, a file's
 * position is at its end. Looks only while no read is in progress. */
static int eof_known(cio_stream *s)
{
    if (s->rbusy || s->closing || s->fd < 0)
        return 0;
    if (s->is_file) { /* not sticky: the file may grow */
        struct stat st;
        return fstat(s->fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= s->roff;
    }
    if (s->vt != &cio__stream_plain_vt) /* TLS: the end is close_notify, inside the records */
        return 0;
    if (s->is_socket) {
        char c;
        if (recv(s->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
            s->eof = 1;
    } else {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        if (poll(&p, 1, 0) == 1 && (p.revents & POLLHUP) && !(p.revents & POLLIN))
            s->eof = 1;
    }
    return s->eof;
}

int cio_stream_at_eof(const cio_stream *s)
{
    if (!s || s->rb.len)
        return 0;
    /* at_eof asks; it does not change what reads return, so the cast is fair */
    return s->eof || eof_known((cio_stream *)s);
}

size_t cio_stream_read_buffered(const cio_stream *s)
{
    return s ? s->rb.len : 0;
}

int cio_stream_wait_readable(cio_stream *s)
{
    int err = read_enter(s);
    if (err)
        return err;
    ssize_t r = 0;
    if (!s->rb.len && !s->eof) {
        if (s->vt == &cio__stream_plain_vt) {
            r = wait_in(cio__self(), s);
            s->rshort = 0; /* ready: the next read tries recv at once */
        } else {
            r = fill(s); /* TLS, files: the descriptor's readiness says nothing of payload */
        }
    }
    return (int)read_leave(s, r > 0 ? 0 : r);
}

void cio_stream_release_read_buffer(cio_stream *s)
{
    if (s && !s->rbusy && !s->rb.len)
        cio__buf_free(&s->rb);
}
