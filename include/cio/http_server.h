/* libcio-http, the server: aiohttp.web's shape for cio. An app holds routes
 * (method + path pattern with {parameters}); each request runs its handler in
 * the connection's task. Requests are parsed by llhttp (Node.js's parser) in
 * strict mode; keep-alive and pipelining, Expect: 100-continue, chunked
 * responses, sendfile and graceful shutdown are built in.
 *
 * Hostile input gets what nginx gives it, and the server goes on. Each of
 * these ends the connection after its response (which says
 * "Connection: close"), so no byte after the bad one is ever taken for a
 * request (request smuggling):
 * - 400: a malformed request line or header (whitespace before a colon, a
 *   control byte or NUL in a value, a line without a colon, obs-fold, CR
 *   without LF), a malformed chunked body (chunk lines and data must end in
 *   CRLF), Content-Length with Transfer-Encoding, several or non-numeric
 *   Content-Lengths, two Transfer-Encoding headers, Transfer-Encoding on
 *   HTTP/1.0, no Host (HTTP/1.1) or two;
 * - 501: a Transfer-Encoding other than exactly "chunked" (before the handler);
 * - 505: a version other than HTTP/1.0 and HTTP/1.1;
 * - 413: a Content-Length or a chunk over max_body_bytes, before any of the
 *   body is read (and without "100 Continue");
 * - 431: headers over max_header_bytes or max_headers, or trailers over
 *   max_header_bytes (trailers are kept apart: cio_http_req_trailer);
 * - 408: the head not in within header_timeout, or a body stalled for
 *   body_timeout; a client that stops reading the response is cut off after
 *   send_timeout.
 * A connection the server ends after an error is closed gracefully: the write
 * side is shut, then the client's remaining input is read and dropped for up
 * to linger_timeout, so the client reads the response instead of a reset.
 * An absolute-form target ("GET http://host/path") is routed by its path.
 * None of this is printed: opts.log receives it.
 */
#ifndef CIO_HTTP_SERVER_H
#define CIO_HTTP_SERVER_H

#include <stddef.h>
#include <sys/types.h>

#include "core.h"
#include "stream.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_http_app cio_http_app;
typedef struct cio_http_server cio_http_server;
typedef struct cio_http_req cio_http_req;
typedef struct cio_http_resp cio_http_resp;
typedef struct json_t json_t;

/* A handler: fill in resp (or leave it: 200 with an empty body) and return 0,
 * or return a negative errno: the client gets 500 (if nothing was sent yet)
 * and the server goes on. */
typedef int (*cio_http_handler)(cio_http_req *req, cio_http_resp *resp, void *arg);

/* A failure caused by a client (a bad request, a timeout, a reset) or a
 * handler (500): status is what the client was answered (0: nothing, the
 * connection just closed), err a negative errno (-EBADMSG for a bad request,
 * -EMSGSIZE over a limit, -ETIMEDOUT, -ENOTSUP for 501 and 505, the
 * handler's error), what a sentence for a person ("header timeout",
 * "Invalid header value char", ...). Called on the connection's task; must
 * not suspend. */
typedef void (*cio_http_log_fn)(void *arg, int status, int err, const char *what);

/* Builds the body of a response the server makes itself: 404, 405 (Allow
 * is kept), 500 for a failing handler, and the error replies above (400,
 * 408, 413, 431, 501, 505). status is the code, reason its phrase ("Not
 * Found"). Writes at most cap (CIO_HTTP_ERROR_BODY_MAX) bytes into buf and
 * returns how many; a negative return or one over cap gives the default
 * body. Called on the connection's task; must not suspend. */
typedef long (*cio_http_error_body_fn)(void *arg, int status, const char *reason, char *buf,
                                       size_t cap);

/* The largest body an error_body callback may write. */
#define CIO_HTTP_ERROR_BODY_MAX 1024

/* The stored cost of one request header counted against max_header_bytes on
 * top of its name and value: the bookkeeping that holds it. */
#define CIO_HTTP_HEADER_COST 64

/* Limits and timeouts; zero-initialise for the documented defaults. */
typedef struct cio_http_server_opts {
    size_t max_header_bytes; /* request line's target + header names and values
                                + CIO_HTTP_HEADER_COST per header; trailers
                                likewise, apart; 0: 16 KiB (431 past it) */
    size_t max_headers;      /* headers in a request; 0: 100 (431 past it) */
    size_t max_body_bytes;   /* whole or streamed; 0: 1 MiB (413; -EMSGSIZE from
                                the body calls: return it) */
    double header_timeout;   /* the whole head: a new connection's first one
                                from accept, a later one from its first byte;
                                0: 10 s (408, close) */
    double body_timeout;     /* between two reads of a request body, as nginx's
                                client_body_timeout; 0: 60 s (-ETIMEDOUT from the
                                body calls, 408, close) */
    double send_timeout;     /* between two writes of a response that the client
                                is not reading, as nginx's send_timeout; 0: 60 s
                                (the connection is closed) */
    double idle_timeout;     /* keep-alive connection between requests; 0: 60 s */
    double linger_timeout;   /* after an error response: how long the client's
                                further input is read and dropped before closing
                                (nginx's lingering close); 0: 2 s */
    double shutdown_grace;   /* cio_http_server_close: in-flight requests; 0: 5 s */
    int quiet;               /* 1: do not report failing handlers on stderr */
    cio_http_log_fn log;     /* NULL: client failures are dropped, handler
                                failures go to stderr (unless quiet) */
    void *log_arg;
    /* The server's own replies (404, 405, 500, 400, 413, ...): their
     * Content-Type (NULL: "text/plain", body "404 Not Found\n"). With
     * "application/json" and no error_body the body is
     * {"status":404,"error":"Not Found"}. */
    const char *error_content_type;
    cio_http_error_body_fn error_body; /* NULL: the default body above */
    void *error_body_arg;
    cio_stream_opts stream; /* TLS (stream.tls) for HTTPS, buffer limits */
} cio_http_server_opts;

/* Creates an app. Returns 0, -EINVAL, -ENOMEM. Suspends: no. */
CIO_API int cio_http_app_new(cio_http_app **out, const cio_http_server_opts *opts);

/* Adds a route: method ("GET", ..., or "*" for any) and a path pattern where
 * "{name}" matches one path segment ("/posts/{id}"). The first matching route
 * wins; a path that matches no route gives 404, a path that matches only with
 * another method gives 405 with Allow. Returns 0, -EINVAL, -ENOMEM.
 * Suspends: no. */
CIO_API int cio_http_app_route(cio_http_app *app, const char *method, const char *pattern,
                               cio_http_handler handler, void *arg);

/* Frees the app. Its servers must be closed first. NULL is a no-op.
 * Suspends: no. */
CIO_API void cio_http_app_free(cio_http_app *app);

/* Starts serving app on host:port (NULL host: all addresses; port 0: a free
 * one, see cio_http_server_port). Returns 0 or -errno. Suspends: only to
 * resolve a host name. Cancellation: returns the reason; nothing is left
 * listening. */
CIO_API int cio_http_serve(cio_http_server **out, cio_http_app *app, const char *host, int port);

/* The port the server listens on (the one picked for port 0), or -EINVAL for
 * NULL. Suspends: no. */
CIO_API int cio_http_server_port(const cio_http_server *srv);

/* Graceful shutdown: stops accepting, closes idle keep-alive connections, lets
 * in-flight requests finish for up to the app's shutdown_grace, cancels the
 * rest, and frees the server. Returns 0 or the caller's cancel reason; NULL
 * gives -EINVAL (not a no-op, unlike cio_server_close).
 * Call it from a task of its own, never from a handler of this server (the
 * handler's connection would outlive the server it belongs to).
 * Suspends: yes, up to shutdown_grace and the handlers' ends.
 * Cancellation: cancels the remaining handlers at once, still frees the
 * server, and returns the reason. */
CIO_API int cio_http_server_close(cio_http_server *srv);

/* ---- requests ---- */

/* The request method as sent ("GET", "POST", ...), or NULL for NULL.
 * Suspends: no. */
CIO_API const char *cio_http_req_method(const cio_http_req *r);
/* The path, without the query string, not decoded. Suspends: no. */
CIO_API const char *cio_http_req_path(const cio_http_req *r);
/* The raw query string (after '?'), or "". Suspends: no. */
CIO_API const char *cio_http_req_query(const cio_http_req *r);
/* A query parameter, percent-decoded into the request's memory, or NULL.
 * Suspends: no. */
CIO_API const char *cio_http_req_query_param(cio_http_req *r, const char *name);
/* A path parameter of the matched route ("{id}" → "id"), or NULL.
 * Suspends: no. */
CIO_API const char *cio_http_req_param(const cio_http_req *r, const char *name);
/* A request header, case-insensitive, or NULL. Suspends: no. */
CIO_API const char *cio_http_req_header(const cio_http_req *r, const char *name);
/* A trailer of a chunked request body (kept apart from the headers; there
 * once the whole body was read), case-insensitive, or NULL. Suspends: no. */
CIO_API const char *cio_http_req_trailer(const cio_http_req *r, const char *name);
/* The whole body, read on first call (bounded by max_body_bytes: -EMSGSIZE
 * and the client gets 413). Stores a pointer valid for the request and its
 * length. Returns 0, -EMSGSIZE, -EBADMSG (a malformed body: 400), -ETIMEDOUT
 * (body_timeout: 408), -EPIPE (the client closed). Return any of them from
 * the handler: the client gets that status and the connection closes.
 * Suspends: yes. Cancellation: returns the reason; the connection closes
 * after the handler. */
CIO_API int cio_http_req_body(cio_http_req *r, const char **body, size_t *len);
/* Streams the body instead: returns up to cap bytes, 0 at its end, -errno
 * as cio_http_req_body. Suspends: yes. Cancellation: as cio_http_req_body. */
CIO_API ssize_t cio_http_req_read(cio_http_req *r, void *buf, size_t cap);
/* Parses the body as JSON (json_decref the result). -EBADMSG if it is not.
 * Suspends: yes (reads the body). Cancellation: as cio_http_req_body. */
CIO_API int cio_http_req_json(cio_http_req *r, json_t **out);

/* Takes the connection over for another protocol (a WebSocket upgrade, for
 * one). On success *s is the connection's stream and *early / *nearly the
 * bytes the client sent after this request's head that the server had already
 * read: they come before anything read from *s, and stay valid until the
 * handler returns. The server sends nothing more on the connection (the
 * caller writes its own 101 response) and closes it when the handler returns;
 * cio_http_server_close cancels the handler after the shutdown grace as for
 * any request. resp is ignored from then on.
 * Returns 0, -EINVAL (a NULL argument), -EALREADY (a response was started, or
 * the connection was already taken), -ENOMEM.
 * Suspends: no. Cost: the early bytes are copied out of the stream's buffer
 * (usually none or a few). */
CIO_API int cio_http_req_hijack(cio_http_req *r, cio_http_resp *resp, cio_stream **s,
                                const void **early, size_t *nearly);

/* ---- responses ---- */

/* Sets the status (default 200). Suspends: no. */
CIO_API void cio_http_resp_status(cio_http_resp *r, int status);
/* Adds a header. Returns 0, -EINVAL (CR/LF in it), -EALREADY once sent.
 * Suspends: no. */
CIO_API int cio_http_resp_header(cio_http_resp *r, const char *name, const char *value);
/* Sets the body from memory (copied); Content-Length follows. Suspends: no. */
CIO_API int cio_http_resp_body(cio_http_resp *r, const void *data, size_t len);
/* Sets a JSON body (application/json). Suspends: no. */
CIO_API int cio_http_resp_json(cio_http_resp *r, const json_t *json);
/* Streams the body in chunks (Transfer-Encoding: chunked): the first call
 * sends the status and headers. Suspends: yes (backpressure), each wait
 * bounded by send_timeout (-ETIMEDOUT: return it; the connection closes).
 * Cancellation: returns the reason; the connection closes. */
CIO_API int cio_http_resp_write(cio_http_resp *r, const void *data, size_t len);
/* Sends a file as the body with sendfile(2) on plain connections (read and
 * write on TLS). Returns 0 or -errno. When the file cannot be opened it sets a
 * 404 response and returns the error: return 0 from the handler to send that
 * 404 (returning the error gives 500).
 * Suspends: yes (backpressure), each wait bounded by send_timeout.
 * Cancellation: returns the reason; the response is cut short and the
 * connection closes. */
CIO_API int cio_http_resp_file(cio_http_resp *r, const char *path, const char *content_type);

#ifdef __cplusplus
}
#endif
#endif
