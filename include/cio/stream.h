/* cio streams: asyncio's StreamReader / StreamWriter in one handle, TCP and
 * Unix-domain connections and servers, and host-name resolution.
 *
 * A cio_stream owns a connected descriptor (a socket or a pipe) with a read
 * buffer and a write buffer. Reads follow asyncio: a line or separator search
 * looks at most `limit` bytes (64 KiB by default) and reports -ENOBUFS
 * (asyncio's LimitOverrunError) without consuming anything; a short read at
 * EOF reports what arrived (IncompleteReadError). Writes copy into the write
 * buffer and return at once while it is under the high-water mark; past it,
 * cio_stream_write waits (drain) until the buffer falls to the low-water mark,
 * so a slow reader never makes the writer's memory grow without bound. The
 * buffer goes out in the background (an operation the stream owns), so a
 * task that writes and then reads never waits for its own write.
 *
 * TLS (cio/tls.h) sits behind the same calls: a TLS stream reads and writes
 * plaintext with the same functions and the same buffering.
 *
 * One task may read while another writes. Two tasks reading at once get
 * -EBUSY. A stream closed by one task while another is inside a call on it
 * ends that call with -ECONNABORTED (asyncio's transport.close() under a
 * waiting reader); the memory is released when the last such call returns.
 *
 * Every suspending call starts with a cancellation checkpoint: inside a
 * cancelled scope it returns the reason without doing anything, even when
 * data is buffered.
 */
#ifndef CIO_STREAM_H
#define CIO_STREAM_H

#include <netdb.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* <netdb.h> defines struct addrinfo only with POSIX enabled (not under strict
 * -std=c11): declared here so that the prototypes below mean the same struct. */
struct addrinfo;

typedef struct cio_stream cio_stream;
typedef struct cio_server cio_server;
typedef struct cio_tls_config cio_tls_config; /* see cio/tls.h */

#define CIO_STREAM_LIMIT ((size_t)64 * 1024)      /* asyncio's default limit */
#define CIO_STREAM_HIGH_WATER ((size_t)64 * 1024) /* write buffer high-water mark */
#define CIO_STREAM_LOW_WATER ((size_t)16 * 1024)  /* write buffer low-water mark */

/* Options for connections and servers. Zero-initialise. */
typedef struct cio_stream_opts {
    size_t limit;                /* 0: CIO_STREAM_LIMIT */
    size_t high_water;           /* 0: CIO_STREAM_HIGH_WATER */
    size_t low_water;            /* 0: CIO_STREAM_LOW_WATER (must not exceed high_water) */
    int no_tcp_nodelay;          /* TCP_NODELAY is on by default */
    cio_tls_config *tls;         /* TLS (cio/tls.h); NULL for plain */
    const char *server_hostname; /* TLS client: name to verify and send as SNI (default: host) */
    int backlog;                 /* servers: listen(2) backlog; 0: SOMAXCONN */
    int reuse_port;              /* servers: SO_REUSEPORT, for one loop per core */
    /* Connections (asyncio's happy_eyeballs_delay and interleave, RFC 8305):
     * with a delay > 0, the addresses race: the next attempt starts when the
     * one before fails or has not connected within the delay (0.25 s is the
     * RFC's choice), the first to connect wins and the others are cancelled.
     * 0: one address after another, each to the end. */
    double happy_eyeballs_delay;
    /* Reorders the addresses to alternate families (IPv6, IPv4, ...), taking
     * this many of the first family first. 0: the resolver's order, or 1
     * when happy_eyeballs_delay is set. */
    int interleave;
} cio_stream_opts;

/* ---- resolving ---- */

/* Resolves host and port (getaddrinfo; port may be a number or a service
 * name) on a small pool of threads of its own, so a slow lookup never delays
 * file I/O or to_thread. Numeric addresses resolve in line without a thread.
 * Stores a list to free with freeaddrinfo. Returns 0, -ENOENT for an unknown
 * host, -EINVAL for a malformed host or port or NULL res, -EAGAIN for a
 * temporary resolver failure; the task's cio_fail message names host and port.
 * Suspends: yes (unless numeric).
 * Cancellation: returns the reason at once; the lookup's late result is freed
 * by the resolver. Cost: one heap job (copies of host and port) per lookup. */
CIO_API int cio_getaddrinfo(const char *host, const char *port, const struct addrinfo *hints,
                            struct addrinfo **res);

/* ---- connections ---- */

/* Connects to host:port (asyncio.open_connection): resolves the host and
 * tries every address it gets, IPv6 and IPv4, in the resolver's order, until
 * one connects (or races them: opts->happy_eyeballs_delay); with opts->tls,
 * then runs the TLS handshake. Returns 0 and
 * *out, or -errno: -ECONNREFUSED, -ENOENT (unknown host), -EINVAL (bad host
 * or port), -ETIMEDOUT, CIO_ETLS / CIO_ECERT (cio/tls.h); the task's cio_fail
 * message names host and port. Suspends: yes.
 * Cancellation: returns the reason; nothing is left open. */
CIO_API int cio_open_connection(cio_stream **out, const char *host, int port,
                                const cio_stream_opts *opts);

/* Connects to a Unix-domain socket at path (-ENAMETOOLONG past sun_path);
 * with opts->tls, then runs the TLS handshake. Returns as
 * cio_open_connection. Suspends: yes (the connect, the handshake).
 * Cancellation: returns the reason; nothing is left open. */
CIO_API int cio_open_unix_connection(cio_stream **out, const char *path,
                                     const cio_stream_opts *opts);

/* Wraps a descriptor: a connected socket or a pipe (made non-blocking), or a
 * regular file or block device (a file stream, below). The stream owns fd
 * from now on, even on failure. opts->tls must be NULL here (use
 * cio_stream_start_tls). Returns 0 or -ENOMEM / -EINVAL. Suspends: no.
 *
 * File streams (aiofiles' `async with open(...)`, `async for line in f`):
 * the same calls on both backends (io_uring file operations, or the file
 * worker pool on epoll, which cannot wait on regular files): buffered reads,
 * read_line, read_until, peek. Reads start at the descriptor's offset and
 * keep a position of their own; writes are not buffered (each
 * cio_stream_write returns once its bytes are in the file) and keep their
 * own position too, also from the descriptor's offset (O_APPEND: the end).
 * The descriptor's own offset is not moved. write_eof only stops writes. */
CIO_API int cio_stream_from_fd(cio_stream **out, int fd, const cio_stream_opts *opts);

/* Opens path (cio_open: flags such as O_RDONLY, O_WRONLY | O_CREAT, mode for a
 * new file) and wraps it as a file stream (see cio_stream_from_fd). Returns 0
 * and *out, or -errno with a cio_fail message naming the path.
 * Suspends: yes (the open). Cancellation: returns the reason; nothing is left
 * open. */
CIO_API int cio_stream_open_file(cio_stream **out, const char *path, int flags, mode_t mode,
                                 const cio_stream_opts *opts);

/* ---- reading ---- */

/* Reads up to n bytes (at least 1 unless at EOF): buffered data at once, else
 * one read from the descriptor. Returns the count, 0 at EOF, or -errno.
 * Suspends: yes. Cancellation: returns the reason, nothing consumed. */
CIO_API ssize_t cio_stream_read(cio_stream *s, void *buf, size_t n);

/* Reads exactly n bytes. Returns n, or -EPIPE if EOF came first (then *got, if
 * not NULL, says how many bytes arrived and are in buf).
 * Suspends: yes, until n bytes or EOF.
 * Cancellation (and other errors): returns the reason and puts the bytes that
 * had arrived back in the stream, so nothing is lost (*got is 0). */
CIO_API ssize_t cio_stream_read_exactly(cio_stream *s, void *buf, size_t n, size_t *got);

/* Reads up to and including the separator (sep_len >= 1). Returns the length
 * of the data placed in buf (cap bytes at most), -ENOBUFS if the separator is
 * not within the limit or does not fit in buf (nothing consumed), or -EPIPE at
 * EOF before the separator (the partial data stays readable with
 * cio_stream_read). Suspends: yes, until the separator, the limit or EOF.
 * Cancellation: returns the reason, nothing consumed (what arrived stays
 * buffered). */
CIO_API ssize_t cio_stream_read_until(cio_stream *s, const void *sep, size_t sep_len, void *buf,
                                      size_t cap);

/* read_until with several separators (asyncio 3.13's readuntil with a tuple):
 * reads up to and including whichever separator comes first in the stream (at
 * the same place, the longest), and stores its index in *which (may be NULL).
 * seps holds nseps (1 to 16) NUL-terminated, non-empty separators (for a
 * separator holding a NUL byte, use cio_stream_read_until). Returns as
 * cio_stream_read_until; -EINVAL for bad arguments. Suspends: yes.
 * Cancellation: returns the reason, nothing consumed. */
CIO_API ssize_t cio_stream_read_until_any(cio_stream *s, const char *const *seps, size_t nseps,
                                          void *buf, size_t cap, size_t *which);

/* cio_stream_read_until with "\n", NUL-terminated: the line and its NUL must
 * fit in cap (else -ENOBUFS, nothing consumed); the returned length does not
 * count the NUL. At EOF it returns the partial last line (possibly 0 bytes),
 * as asyncio's readline does. Suspends: yes.
 * Cancellation: returns the reason, nothing consumed. */
CIO_API ssize_t cio_stream_read_line(cio_stream *s, char *buf, size_t cap);

/* For parsers, without a copy: waits until at least `min` bytes are buffered
 * (1 if min is 0) or EOF, and points *data at the buffered bytes. Returns how
 * many are buffered (fewer than min only at EOF; 0 at EOF with none), -EINVAL
 * if min exceeds the limit, or -errno. *data is valid until the next call on
 * s. Nothing is consumed: see cio_stream_consume.
 * Suspends: yes, while fewer than min bytes are buffered.
 * Cancellation: returns the reason; what arrived stays buffered. */
CIO_API ssize_t cio_stream_peek(cio_stream *s, const void **data, size_t min);

/* Drops n buffered bytes (after cio_stream_peek). Returns 0 or -EINVAL if
 * fewer are buffered. Suspends: no. */
CIO_API int cio_stream_consume(cio_stream *s, size_t n);

/* 1 once the buffer is empty and the end of the input is known: a read
 * returned 0, or (looked up without waiting, as asyncio learns EOF as soon as
 * it arrives) the peer's FIN is in the socket, a pipe's writer is gone, a
 * file's read position is at its end. Else 0. Suspends: no.
 * Cost: one non-blocking system call while the end is not yet known. */
CIO_API int cio_stream_at_eof(const cio_stream *s);

/* Bytes in the read buffer / in the write buffer (transport's
 * get_write_buffer_size). Suspends: no. */
CIO_API size_t cio_stream_read_buffered(const cio_stream *s);
CIO_API size_t cio_stream_write_buffered(const cio_stream *s);

/* Waits until a read of s would not suspend: bytes are buffered, the input
 * has ended, or (plain sockets and pipes) the descriptor is readable, without
 * taking a read buffer, so a connection that waits long for its next message
 * holds none (with cio_stream_release_read_buffer). Unlike cio_wait_readable
 * on the stream's descriptor, it keeps the descriptor's epoll registration
 * from one wait to the next. TLS streams and files wait by reading into the
 * buffer. Returns 0, -EBUSY while another task reads s, or -errno.
 * Suspends: yes, until readable.
 * Cancellation: returns the reason; nothing is read.
 * Cost: on epoll, no system call of its own after the first wait. */
CIO_API int cio_stream_wait_readable(cio_stream *s);

/* Frees the read buffer if it holds nothing and no read is in progress (the
 * next read that needs one allocates it again): for a connection that will
 * sit idle long, such as a WebSocket taken over from an HTTP server, whose
 * later reads go straight into the reader's memory. Suspends: no. */
CIO_API void cio_stream_release_read_buffer(cio_stream *s);

/* ---- writing ---- */

/* Queues n bytes; waits (drains) only while the write buffer is above the
 * high-water mark, until it falls to the low-water mark. A write larger than
 * the high-water mark is queued in pieces as room appears, so the buffer never
 * holds much more than the mark. Returns 0 or -errno (-EPIPE, -ECONNRESET once
 * the peer is gone; the error stays: later writes return it too).
 * Suspends: yes, only past the high-water mark.
 * Cancellation: returns the reason; a prefix of buf may have been queued. */
CIO_API int cio_stream_write(cio_stream *s, const void *buf, size_t n);

/* Waits until everything written has gone out to the descriptor (stronger
 * than asyncio's drain, which stops at the high-water mark): after it, the
 * caller may use the descriptor directly (sendfile). Returns 0 or the write
 * error. Suspends: yes, while anything is queued.
 * Cancellation: returns the reason; the data stays queued and goes on going
 * out. */
CIO_API int cio_stream_drain(cio_stream *s);

/* Flushes and half-closes the write side (TLS: close_notify, then shutdown
 * SHUT_WR; a pipe: closes it). Reading goes on. Later writes give -EPIPE.
 * Returns 0 or the write error.
 * Suspends: yes, until the write buffer is out.
 * Cancellation: returns the reason; the socket's write side is not shut
 * (on TLS the close_notify may already be queued) and the data stays
 * queued. */
CIO_API int cio_stream_write_eof(cio_stream *s);

/* Flushes what is buffered (TLS: after close_notify; bounded by the task's
 * scopes, so a cancelled task discards it), closes the descriptor and frees
 * the stream. Always releases; returns the flush error or the cancel reason,
 * if any. Calls other tasks are making on s end with -ECONNABORTED (the memory
 * goes when the last of them returns). NULL is a no-op; so is closing a
 * stream a server handler got a second time. Outside a task nothing is
 * flushed.
 * Suspends: yes, while the buffer flushes (unbounded on a plain stream but
 * for the task's scopes; on TLS bounded by the config's shutdown timeout),
 * then for the moment the kernel takes to confirm that an in-flight
 * write is cancelled (that wait is not cancellable).
 * Cancellation: the buffered data is discarded, the descriptor closed and the
 * stream freed all the same; returns the reason. */
CIO_API int cio_stream_close(cio_stream *s);

/* Addresses (getpeername / getsockname). Return 0 or -errno. Suspends: no. */
CIO_API int cio_stream_peer_addr(const cio_stream *s, struct sockaddr_storage *addr,
                                 socklen_t *len);
CIO_API int cio_stream_local_addr(const cio_stream *s, struct sockaddr_storage *addr,
                                  socklen_t *len);

/* The descriptor (for setsockopt and the like), or -1 once closed.
 * Suspends: no. */
CIO_API int cio_stream_fd(const cio_stream *s);

/* Upgrades a connected stream to TLS (asyncio's start_tls) and runs the
 * handshake under the config's handshake timeout: a client with a client
 * config (server_hostname is verified and sent as SNI; required unless
 * verification is off), a server with a server config (server_hostname
 * ignored). Bytes already buffered count as the start of the handshake.
 * Returns 0, CIO_ETLS, CIO_ECERT (cio/tls.h), -ETIMEDOUT, -ENOTSUP without
 * TLS support, -EBUSY while another task uses s. After a failure only
 * cio_stream_close is useful. Suspends: yes, for the handshake.
 * Cancellation: returns the reason; the handshake is abandoned and only
 * cio_stream_close is useful. */
CIO_API int cio_stream_start_tls(cio_stream *s, cio_tls_config *cfg, const char *server_hostname);

/* ---- servers ---- */

/* Handles one connection. The stream is the server's: it is closed after the
 * handler returns (closing it in the handler is fine too). A handler's
 * failure is printed on stderr (peer resets and cancellation quietly), never
 * stops the server. */
typedef int (*cio_conn_fn)(cio_stream *s, void *arg);

/* Starts a TCP server on host:port (asyncio.start_server): one listening
 * socket per address host resolves to (host NULL: 0.0.0.0 and ::), all on one
 * port; port 0 picks a free one (see cio_server_port). Each connection runs
 * handler in a task of its own, owned by the server (with opts->tls, after
 * the TLS handshake, inside that task). Accepting goes on through EMFILE and
 * the like: the server pauses 100 ms with a message on stderr and keeps
 * serving the connections it has. Returns 0 and *out, or -errno
 * (-EADDRINUSE, -EINVAL, ...) with a cio_fail message. Suspends: yes (to
 * resolve a host name; and, when a later acceptor task cannot start, to stop those
 * already started). Cancellation: returns the reason; nothing is left
 * listening. */
CIO_API int cio_start_server(cio_server **out, const char *host, int port, cio_conn_fn handler,
                             void *arg, const cio_stream_opts *opts);

/* Same on a Unix-domain socket at path (an existing socket file is replaced,
 * and removed at close). Suspends: no (one socket: no acceptor to stop). */
CIO_API int cio_start_unix_server(cio_server **out, const char *path, cio_conn_fn handler,
                                  void *arg, const cio_stream_opts *opts);

/* The port the server listens on (0 for a Unix server, -EINVAL for NULL).
 * Suspends: no. */
CIO_API int cio_server_port(const cio_server *srv);

/* Number of connections being handled. Suspends: no. */
CIO_API size_t cio_server_connections(const cio_server *srv);

/* Waits until the server is closed (serve_forever). Returns 0 once it is, or
 * the cancel reason. Suspends: yes, until cio_server_close.
 * Cancellation: returns the reason; the server stays open (close it). */
CIO_API int cio_server_serve_forever(cio_server *srv);

/* Stops accepting, then waits for the running handlers for up to `grace`
 * seconds, cancels those still running, waits for them, and frees the server.
 * Returns 0 or the caller's cancel reason (a cancelled caller skips the grace
 * period; the server is freed all the same); NULL is a no-op (0), a negative
 * or NaN grace -EINVAL (nothing done). Called from one of the server's
 * own handlers, it stops accepting and returns 0 at once; the rest happens in
 * a task of its own. Suspends: yes, up to grace and the handlers' ends.
 * Cancellation: skips what is left of the grace period, cancels the handlers,
 * waits for them (that wait is not cancellable: they must end before the
 * server's memory goes), frees the server and returns the reason. */
CIO_API int cio_server_close(cio_server *srv, double grace);

#ifdef __cplusplus
}
#endif
#endif
