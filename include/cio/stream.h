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
 * so a slow reader never makes the writer's memory grow without bound.
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

typedef struct cio_stream cio_stream;
typedef struct cio_server cio_server;
typedef struct cio_tls_config cio_tls_config; /* see cio/tls.h */

#define CIO_STREAM_LIMIT ((size_t)64 * 1024)     /* asyncio's default limit */
#define CIO_STREAM_HIGH_WATER ((size_t)64 * 1024) /* write buffer high-water mark */
#define CIO_STREAM_LOW_WATER ((size_t)16 * 1024)  /* write buffer low-water mark */

/* Options for connections and servers. Zero-initialise. */
typedef struct cio_stream_opts {
    size_t limit;        /* 0: CIO_STREAM_LIMIT */
    size_t high_water;   /* 0: CIO_STREAM_HIGH_WATER */
    size_t low_water;    /* 0: CIO_STREAM_LOW_WATER */
    int no_tcp_nodelay;  /* TCP_NODELAY is on by default */
    cio_tls_config *tls; /* TLS (cio/tls.h); NULL for plain */
    const char *server_hostname; /* TLS: name to verify (default: the host) */
} cio_stream_opts;

/* ---- resolving ---- */

/* Resolves host and port (getaddrinfo) on a small pool of its own, so a slow
 * lookup never delays file I/O or to_thread. Stores a list to free with
 * freeaddrinfo. Returns 0, -ENOENT for an unknown host (cio_fail names it),
 * -EINVAL for a bad port or NULL, or the cancel reason: cancellation returns
 * at once and the lookup's late result is discarded. */
CIO_API int cio_getaddrinfo(const char *host, const char *port, const struct addrinfo *hints,
                            struct addrinfo **res);

/* ---- connections ---- */

/* Connects to host:port (asyncio.open_connection): resolves the host and
 * tries every address it gets, IPv6 and IPv4, in the resolver's order, until
 * one connects. Returns 0 and *out, or -errno: -ECONNREFUSED, -ENOENT (unknown
 * host), -ETIMEDOUT, ...; the task's cio_fail message names host and port. */
CIO_API int cio_open_connection(cio_stream **out, const char *host, int port,
                                const cio_stream_opts *opts);

/* Connects to a Unix-domain socket at path. */
CIO_API int cio_open_unix_connection(cio_stream **out, const char *path,
                                     const cio_stream_opts *opts);

/* Wraps a connected descriptor (socket or pipe; made non-blocking). The stream
 * owns fd from now on, even on failure. Returns 0 or -ENOMEM / -EINVAL. */
CIO_API int cio_stream_from_fd(cio_stream **out, int fd, const cio_stream_opts *opts);

/* ---- reading ---- */

/* Reads up to n bytes (at least 1 unless at EOF). Returns the count, 0 at EOF,
 * or -errno. */
CIO_API ssize_t cio_stream_read(cio_stream *s, void *buf, size_t n);

/* Reads exactly n bytes. Returns n, or -EPIPE if EOF came first (then *got, if
 * not NULL, says how many bytes arrived and are in buf). */
CIO_API ssize_t cio_stream_read_exactly(cio_stream *s, void *buf, size_t n, size_t *got);

/* Reads up to and including the separator (sep_len >= 1). Returns the length
 * of the data placed in buf (cap bytes at most), -ENOBUFS if the separator is
 * not within the limit or does not fit in buf (nothing consumed), or -EPIPE at
 * EOF before the separator (the partial data stays readable with
 * cio_stream_read). */
CIO_API ssize_t cio_stream_read_until(cio_stream *s, const void *sep, size_t sep_len, void *buf,
                                      size_t cap);

/* cio_stream_read_until with "\n". At EOF it returns the partial last line
 * (possibly 0 bytes), as asyncio's readline does. */
CIO_API ssize_t cio_stream_read_line(cio_stream *s, char *buf, size_t cap);

/* 1 once the peer closed its side and the buffer is empty. */
CIO_API int cio_stream_at_eof(const cio_stream *s);

/* ---- writing ---- */

/* Queues n bytes; waits (drains) only while the write buffer is above the
 * high-water mark. Returns 0 or -errno (-EPIPE, -ECONNRESET once the peer is
 * gone). */
CIO_API int cio_stream_write(cio_stream *s, const void *buf, size_t n);

/* Waits until the write buffer has gone out (asyncio's drain after write). */
CIO_API int cio_stream_drain(cio_stream *s);

/* Flushes and half-closes the write side (shutdown SHUT_WR). */
CIO_API int cio_stream_write_eof(cio_stream *s);

/* Flushes what is buffered (bounded by the task's scopes), closes the
 * descriptor and frees the stream. Always releases; returns the flush error,
 * if any. NULL is a no-op. */
CIO_API int cio_stream_close(cio_stream *s);

/* Addresses (getpeername / getsockname). Return 0 or -errno. */
CIO_API int cio_stream_peer_addr(const cio_stream *s, struct sockaddr_storage *addr,
                                 socklen_t *len);
CIO_API int cio_stream_local_addr(const cio_stream *s, struct sockaddr_storage *addr,
                                  socklen_t *len);

/* The descriptor (for setsockopt and the like). */
CIO_API int cio_stream_fd(const cio_stream *s);

/* ---- servers ---- */

/* Handles one connection. The stream is the server's: it is closed after the
 * handler returns. */
typedef int (*cio_conn_fn)(cio_stream *s, void *arg);

/* Starts a TCP server on host:port (asyncio.start_server); host NULL means
 * every address, port 0 picks a free port (see cio_server_port). Each
 * connection runs handler in a task of its own, inside a group the server
 * owns. Returns 0 and *out, or -errno (-EADDRINUSE, ...). */
CIO_API int cio_start_server(cio_server **out, const char *host, int port, cio_conn_fn handler,
                             void *arg, const cio_stream_opts *opts);

/* Same on a Unix-domain socket at path (an existing socket file is replaced). */
CIO_API int cio_start_unix_server(cio_server **out, const char *path, cio_conn_fn handler,
                                  void *arg, const cio_stream_opts *opts);

/* The port the server listens on. */
CIO_API int cio_server_port(const cio_server *srv);

/* Waits until the server is closed (serve_forever). */
CIO_API int cio_server_serve_forever(cio_server *srv);

/* Stops accepting, then waits for the running handlers for up to `grace`
 * seconds, cancels those still running, waits for them, and frees the server.
 * Returns 0 or the cancel reason. */
CIO_API int cio_server_close(cio_server *srv, double grace);

#ifdef __cplusplus
}
#endif
#endif
