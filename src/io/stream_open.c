/* Streams, their lifetime: making, closing and freeing them (see stream.c
 * for the map of the stream files).
 *
 * Lifetime: `busy` counts the calls in progress (and a server's hold).
 * Closing marks the stream, cancels the write operation (waiting for the
 * kernel's confirmation) and the other tasks' operations, and closes the
 * descriptor; the memory goes when nobody else is inside. */
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/alloc.h"
#include "net_internal.h"

/* ---- lifetime ---- */

static void destroy(cio_stream *s)
{
    if (s->vt->destroy)
        s->vt->destroy(s);
    if (s->fd >= 0)
        close(s->fd);
    cio__buf_free(&s->rb);
    cio__buf_free(&s->win);
    cio__buf_free(&s->wout);
    free(s);
}

void cio__stream_destroy_if_done(cio_stream *s)
{
    if (s->closing && !s->busy && !s->winflight)
        destroy(s);
}

void cio__stream_release(cio_stream *s)
{
    s->busy--;
    cio__stream_destroy_if_done(s);
}

/* ---- closing ---- */

int cio__stream_close_impl(cio_stream *s)
{
    if (s->closestarted)
        return 0;
    s->closestarted = 1;
    int err = 0;
    cio_task *self = cio__self();
    if (self && s->fd >= 0 && !s->werr) {
        if (s->vt->shutdown && !s->wclosed)
            err = s->vt->shutdown(s);
        if (!err && cio__stream_wbuffered(s)) {
            cio_scope sc;
            int timed =
                s->close_timeout < CIO_FOREVER && cio_timeout_enter(&sc, s->close_timeout) == 0;
            err = cio__stream_wait_level(s, 0);
            if (timed)
                cio_timeout_exit(&sc);
        }
    }
    s->closing = 1;
    s->wstop = 1;
    if (cio__loop) {
        cio__backend *b = &cio__loop->backend;
        if (s->rop)
            b->vt->cancel(b, s->rop);
        if (s->winflight) {
            /* Wait the moment the kernel takes to confirm, so that the stream
             * is gone when close returns (the loop may end right after). */
            b->vt->cancel(b, &s->wop);
            if (self) {
                s->wquiet = self;
                cio__park(self, "stream close", s, NULL, NULL);
            }
        }
    }
    if (!cio__loop)
        s->winflight = 0;  /* its loop is gone, and its backend with it */
    cio__stream_notify(s); /* other writers end with -ECONNABORTED */
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    return err;
}

int cio_stream_close(cio_stream *s)
{
    if (!s)
        return 0;
    if (s->closestarted)
        return s->server ? 0 : cio_fail(-EBADF, "cio_stream_close: stream closed twice");
    int err = cio__stream_close_impl(s);
    cio__stream_destroy_if_done(s);
    return err;
}

/* ---- making streams ---- */

/* The water marks opts ask for: either may be left 0 for its default, and a
 * mark set alone moves the other out of its way. -EINVAL for low > high. */
static int water_marks(const cio_stream_opts *o, size_t *high_out, size_t *low_out)
{
    size_t high = o->high_water ? o->high_water : CIO_STREAM_HIGH_WATER;
    size_t low = o->low_water ? o->low_water : CIO_STREAM_LOW_WATER;
    if (o->low_water && !o->high_water && low > high)
        high = low;
    if (!o->low_water && low > high)
        low = high / 4;
    *high_out = high;
    *low_out = low;
    return low > high ? -EINVAL : 0;
}

int cio__check_opts(const cio_stream_opts *opts)
{
    size_t high, low;
    if (!opts)
        return 0;
    if (water_marks(opts, &high, &low))
        return cio_fail(-EINVAL, "stream options: low-water mark %zu above high-water mark %zu",
                        low, high);
    if (!(opts->happy_eyeballs_delay >= 0) || opts->happy_eyeballs_delay > 3600)
        return cio_fail(-EINVAL, "stream options: happy_eyeballs_delay %g is not 0..3600 s",
                        opts->happy_eyeballs_delay);
    if (opts->interleave < 0)
        return cio_fail(-EINVAL, "stream options: interleave %d is negative", opts->interleave);
    return 0;
}

int cio__stream_new(cio_stream **out, int fd, const cio_stream_opts *opts, int kind)
{
    static const cio_stream_opts defaults;
    const cio_stream_opts *o = opts ? opts : &defaults;
    size_t high, low;
    int err = water_marks(o, &high, &low);
    cio_stream *s = NULL;
    if (err)
        goto fail;
    if (kind == CIO__FD_UNKNOWN) {
        struct stat st;
        if (fstat(fd, &st) < 0) {
            err = -errno;
            goto fail;
        }
        if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) {
            kind = CIO__FD_FILE; /* left blocking: pread/pwrite never wait for readiness */
        } else {
            int fl = fcntl(fd, F_GETFL);
            if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)) {
                err = -errno;
                goto fail;
            }
            kind = S_ISSOCK(st.st_mode) ? CIO__FD_SOCKET : CIO__FD_OTHER;
        }
    }
    s = cio__calloc(1, sizeof(*s));
    if (!s) {
        err = -ENOMEM;
        goto fail;
    }
    s->fd = fd;
    s->is_socket = kind != CIO__FD_OTHER && kind != CIO__FD_FILE;
    if (kind == CIO__FD_FILE) {
        off_t at = lseek(fd, 0, SEEK_CUR);
        s->is_file = 1;
        s->roff = s->woff = at > 0 ? at : 0;
    }
    s->limit = o->limit ? o->limit : CIO_STREAM_LIMIT;
    s->high = high;
    s->low = low;
    s->vt = s->is_file ? &cio__stream_file_vt : &cio__stream_plain_vt;
    s->wdirect = 1;
    s->close_timeout = CIO_FOREVER;
    if (kind != CIO__FD_OTHER && kind != CIO__FD_UNIX && !o->no_tcp_nodelay) {
        int one = 1; /* fails harmlessly on Unix-domain sockets */
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    *out = s;
    return 0;
fail:
    close(fd);
    return err;
}

int cio_stream_open_file(cio_stream **out, const char *path, int flags, mode_t mode,
                         const cio_stream_opts *opts)
{
    if (out)
        *out = NULL;
    if (!out || !path || (opts && opts->tls))
        return cio__invalid(__func__);
    int fd = cio_open(path, flags, mode);
    if (fd < 0)
        return fd; /* cio_open's message names the path */
    int err = cio__stream_new(out, fd, opts, CIO__FD_UNKNOWN);
    if (err)
        return cio_fail(err, "cannot make a stream of %s: %s", path, cio_strerror(err));
    return 0;
}

int cio_stream_from_fd(cio_stream **out, int fd, const cio_stream_opts *opts)
{
    if (out)
        *out = NULL;
    if (fd < 0)
        return cio__invalid(__func__);
    if (!out || (opts && opts->tls)) {
        close(fd);
        return cio__invalid(__func__);
    }
    return cio__stream_new(out, fd, opts, CIO__FD_UNKNOWN);
}

/* ---- addresses ---- */

int cio_stream_peer_addr(const cio_stream *s, struct sockaddr_storage *addr, socklen_t *len)
{
    if (!s || !addr || !len)
        return cio__invalid(__func__);
    *len = sizeof(*addr);
    return getpeername(s->fd, (struct sockaddr *)addr, len) < 0 ? -errno : 0;
}

int cio_stream_local_addr(const cio_stream *s, struct sockaddr_storage *addr, socklen_t *len)
{
    if (!s || !addr || !len)
        return cio__invalid(__func__);
    *len = sizeof(*addr);
    return getsockname(s->fd, (struct sockaddr *)addr, len) < 0 ? -errno : 0;
}

int cio_stream_fd(const cio_stream *s)
{
    return s ? s->fd : -1;
}
