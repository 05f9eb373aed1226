/* Internal parts of streams, servers, TLS and UDP. Never installed.
 *
 * A stream has a read buffer (payload: plaintext for TLS) and a write side
 * of two buffers: `wout`, which the write operation in flight sends from and
 * nobody else touches, and `win`, where new bytes are appended (so appending
 * may reallocate while the kernel still reads wout). The write operation is
 * owned by the stream, not by a task: its completion advances wout, swaps the
 * buffers when wout is empty and starts the next send, so writes return
 * without waiting. A small vtable turns payload into wire bytes and back:
 * plain streams copy, TLS streams run OpenSSL over memory BIOs (tls.c).
 */
#ifndef CIO_NET_INTERNAL_H
#define CIO_NET_INTERNAL_H

#include "cio/stream.h"
#include "cio/tls.h"
#include "cio/udp.h"
#include "../core/waitq.h"
#include "io_internal.h"

typedef struct cio__buf {
    char *p;
    size_t cap, off, len; /* data is p[off, off + len) */
} cio__buf;

typedef struct cio__stream_vt {
    /* Reads payload into dst (up to cap bytes). Returns the count, 0 at EOF,
     * or -errno. Suspends. */
    ssize_t (*recv)(cio_stream *s, void *dst, size_t cap);
    /* Turns n bytes of payload into wire bytes queued on s->win (and kicks
     * the writer). Returns 0 or -errno. Never suspends. */
    int (*send)(cio_stream *s, const void *src, size_t n);
    /* Queues the end of the payload (TLS close_notify). Never suspends. */
    int (*shutdown)(cio_stream *s);
    void (*destroy)(cio_stream *s);
} cio__stream_vt;

/* A task waiting for the write buffer to fall to `level` bytes. */
typedef struct cio__wwait {
    cio__waiter link; /* first: in the stream's `waiters` */
    size_t level;
} cio__wwait;

/* The state of a stream, flag by flag (all start 0 unless said):
 *
 *   flag          set by                       cleared by  meaning
 *   is_socket     stream_new                   -           send/recv, shutdown; else read/write
 *   is_file       stream_new                   -           pread/pwrite at roff/woff, no polls
 *   wdirect       stream_new (1)               tls.c       write may try send(2) at once
 *   polled        first POLL on fd (epoll)     -           later polls say CIO__POLL_SAME_FILE
 *   rshort        raw_recv (epoll)             raw_recv    last read was short: poll first
 *   rbusy         read_enter                   read_leave  a read call runs (-EBUSY for more)
 *   eof           a read of 0, eof_known, tls  -           no more payload will come
 *   winflight     kick (wop submitted)         wop_done    the write op is in the kernel
 *   werr          write_failed (first error)   -           sticky: later writes return it
 *   wclosed       write_eof                    -           no more writes (-EPIPE)
 *   closestarted  close_impl, first thing      -           new calls get -EBADF
 *   closing       close_impl, after the flush  -           calls inside end -ECONNABORTED
 *   wstop         close_impl                   -           start no new write op
 *
 * Order at close: closestarted, flush (bounded by close_timeout), closing and
 * wstop, cancel rop and wop (waiting in wquiet for the wop), wake writers,
 * close fd; the memory goes when busy is 0 and no wop is in flight. */
struct cio_stream {
    int fd;
    uint8_t is_socket;
    uint8_t closing;   /* closed: calls in progress end with -ECONNABORTED */
    uint8_t eof;       /* the payload ended (EOF or close_notify) */
    uint8_t rbusy;     /* a read call is in progress */
    uint8_t wclosed;   /* write_eof done */
    uint8_t winflight; /* wop submitted, not completed */
    uint8_t wstop;     /* do not start new writes (closing) */
    uint8_t wdirect;   /* plain stream: writes may go straight to send(2) */
    uint8_t rshort;    /* epoll: the last read came back short */
    uint8_t polled;    /* epoll: s->fd has been polled, so later polls can vouch for it */
    uint8_t is_file;   /* a regular file or block device: pread/pwrite at roff/woff */
    off_t roff, woff;  /* file streams: where the next read and write go */
    int werr;          /* sticky write error */
    unsigned busy;     /* calls in progress (and a server's hold) */
    size_t limit, high, low;
    cio__buf rb;
    cio__op *rop; /* the reader's operation in flight (on its stack) */
    cio__buf win, wout;
    cio__op wop;
    cio__waitq waiters;   /* cio__wwait entries: writers waiting for a level */
    uint8_t closestarted; /* cio_stream_close began (a second one is refused) */
    cio_task *wquiet;     /* close: waits for the cancelled wop to complete */
    double close_timeout; /* bound on the flush at close (TLS shutdown timeout) */
    const cio__stream_vt *vt;
    void *tls;
    /* server bookkeeping (server.c) */
    cio_server *server;
    cio_stream *sprev, *snext;
    cio_task *task;
};

/* What cio__stream_new knows of its descriptor. */
enum {
    CIO__FD_UNKNOWN, /* look (fstat) and make it non-blocking */
    CIO__FD_SOCKET,  /* a non-blocking TCP socket */
    CIO__FD_UNIX,    /* a non-blocking Unix-domain socket */
    CIO__FD_OTHER,   /* a non-blocking pipe or the like */
    CIO__FD_FILE,    /* a regular file or block device (no readiness to wait for) */
};

/* -EINVAL (with a message) for options no stream can take. */
CIO__MUST_CHECK int cio__check_opts(const cio_stream_opts *opts);

/* Makes a stream around fd. Frees fd on failure. */
CIO__MUST_CHECK int cio__stream_new(cio_stream **out, int fd, const cio_stream_opts *opts,
                                    int kind);

/* One read of wire bytes from s->fd (suspends), published in s->rop so that a
 * close from another task can cancel it. -ECONNABORTED once s is closing. */
CIO__MUST_CHECK ssize_t cio__stream_raw_recv(cio_stream *s, void *buf, size_t len);

/* Appends wire bytes to s->win and starts sending. Returns 0 or -ENOMEM. */
CIO__MUST_CHECK int cio__stream_queue(cio_stream *s, const void *p, size_t n);

/* Waits until the write buffer holds at most `level` bytes. Returns 0, the
 * write error, -ECONNABORTED, or the cancel reason. */
CIO__MUST_CHECK int cio__stream_wait_level(cio_stream *s, size_t level);

/* stream_buf.c: makes room for `extra` bytes after b's data, keeping the
 * data (a first buffer holds min_cap). Returns 0 or -ENOMEM. */
int cio__buf_reserve(cio__buf *b, size_t extra, size_t min_cap);
void cio__buf_free(cio__buf *b);

static inline void cio__buf_consume(cio__buf *b, size_t n)
{
    b->off += n;
    b->len -= n;
    if (!b->len)
        b->off = 0;
}

/* Bytes written but not yet sent. */
static inline size_t cio__stream_wbuffered(const cio_stream *s)
{
    return s->win.len + s->wout.len;
}

/* stream.c: plain streams (copy) and file streams (pread/pwrite). */
extern const cio__stream_vt cio__stream_plain_vt, cio__stream_file_vt;

/* stream_write.c: wakes the writers whose level has been reached, or all of
 * them on an error or a close. */
void cio__stream_notify(cio_stream *s);

/* stream_open.c: frees s once it is closed, nobody is inside and no write
 * operation is in flight. */
void cio__stream_destroy_if_done(cio_stream *s);

/* Closes s without freeing it (flush, stop the writer, cancel another task's
 * read, close fd). Returns the flush error or cancel reason. */
int cio__stream_close_impl(cio_stream *s);

/* Ends a call on s: frees s when it is closed and nobody else is inside. */
void cio__stream_release(cio_stream *s);
/* A stream call failed with r: the cancel reason clears the message (not the
 * stream's fault); anything else gets one naming the call and the stream's
 * descriptor. Returns r. stream.c. */
ssize_t cio__stream_fail(const cio_stream *s, ssize_t r, const char *call);
static inline ssize_t cio__stream_result(const cio_stream *s, ssize_t r, const char *call)
{
    return __builtin_expect(r >= 0, 1) ? r : cio__stream_fail(s, r, call);
}

/* TLS (tls.c). Upgrades s; see cio_stream_start_tls. `peer` names the
 * other side in messages. */
CIO__MUST_CHECK int cio__tls_start(cio_stream *s, cio_tls_config *cfg, const char *server_hostname);
int cio__tls_config_is_server(const cio_tls_config *cfg);
void cio__tls_config_ref(cio_tls_config *cfg);

/* Resolving (dns.c): checks a host string (NULL allowed when `passive`). */
int cio__check_host(const char *host);
/* getaddrinfo's error as -errno, with a cio_fail message naming host and port. */
int cio__gai_error(int gai, int sys_errno, const char *host, const char *port);

/* Formats addr as "1.2.3.4:80" or "[::1]:80" into buf. */
const char *cio__addr_str(const struct sockaddr *addr, char *buf, size_t len);

/* connect.c: reorders the list to alternate address families, taking
 * `first` of the first family first (asyncio's interleave). Returns the new
 * head. */
struct addrinfo *cio__interleave_addrinfo(struct addrinfo *list, int first);
/* connect.c: connects to one of the addresses in `list` (in order, or
 * raced with opts->happy_eyeballs_delay). Returns a connected non-blocking
 * socket or -errno, with a cio_fail message naming host and port. The list
 * stays the caller's. */
CIO__MUST_CHECK int cio__connect_addrs(const char *host, int port, struct addrinfo *list,
                                       const cio_stream_opts *opts);

/* Whether an error means the peer went away (quiet in server reports). */
static inline int cio__peer_gone(int err)
{
    return err == -ECONNRESET || err == -EPIPE || err == -ECONNABORTED || err == -ECANCELED ||
           err == -ETIMEDOUT || err == -ENOTCONN;
}

#endif
