/* libcio-http, the client: aiohttp's ClientSession / httpx's AsyncClient for
 * cio, driven by libcurl's multi-socket API on cio's loop, with a native
 * HTTP/1.1 path for plain http:// requests.
 *
 * A task calls cio_http_request_send (or cio_http_get ...) and suspends until the
 * response has arrived, while the loop serves every other transfer. A session
 * holds the connection pools; closing it closes every connection. Redirects,
 * gzip/deflate, HTTPS with verification, and HTTP/2 come from libcurl.
 * cio_http_request_send of an http:// URL with no proxy (GET and HEAD, or
 * any method when redirects are off, without headers such as Host or
 * Accept-Encoding of the caller's) goes over cio streams instead: keep-alive
 * connections in a per-session pool with the same limits, responses parsed by
 * llhttp (strict), gzip/deflate decoded with zlib, a redirect handed to
 * libcurl, and a GET, HEAD, PUT or DELETE retried once on a new connection
 * when a pooled one turns out closed by the server. Streams always use
 * libcurl. The environment variable CIO_HTTP_CLIENT=libcurl, read when a
 * session is created, sends everything through libcurl. Cost: ~13,000
 * instructions and 2 system calls a request on the native path, ~76,000 and
 * 4 through libcurl.
 *
 * Errors: a negative errno, and the calling task's cio_fail message carries
 * libcurl's explanation and the URL. -ENOENT: unknown host; -ECONNREFUSED;
 * -ETIMEDOUT (connect, total or read-idle timeout); -ELOOP: too many
 * redirects; -EPROTO: a malformed response or a TLS failure; -EMSGSIZE: a body
 * over the limit; -ECONNRESET: the connection failed mid-transfer or the
 * server sent nothing; -EINVAL: a bad URL or scheme; -ESHUTDOWN: the session
 * was closed; -ENOMEM.
 * Cancellation (and timeout scopes) work mid-transfer: the transfer is removed
 * and its connection closed, never returned to the pool half-read.
 */
#ifndef CIO_HTTP_H
#define CIO_HTTP_H

#include <stddef.h>
#include <sys/types.h> /* ssize_t */

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_http_session cio_http_session;
typedef struct cio_http_response cio_http_response;
typedef struct cio_http_stream cio_http_stream;

/* Session options. Zero-initialise; every field has a default. */
typedef struct cio_http_session_opts {
    const char *base_url;       /* joined with relative URLs ("/posts/1") */
    const char *const *headers; /* default headers, "Name: value", NULL-terminated */
    double connect_timeout;     /* seconds; 0: 10 s */
    double total_timeout;       /* whole request; 0: none (use timeout scopes) */
    double read_idle_timeout;   /* under 1 byte/s for this long (whole seconds) fails;
                                   0: 60 s (libcurl's low-speed limit) */
    long max_connections;       /* pool total; 0: 100 */
    long max_host_connections;  /* per host; 0: 0 = no per-host limit */
    long max_redirects;         /* 0: 10; -1: do not follow redirects */
    size_t max_body;            /* bytes buffered per response; 0: 64 MiB */
    int insecure;               /* 1 turns TLS verification off (tests only) */
    const char *ca_file;        /* extra CA bundle for TLS verification */
} cio_http_session_opts;

/* Creates a session on the current loop. Returns 0, -EPERM outside a loop,
 * -ENOMEM. Suspends: no. */
CIO_API int cio_http_session_new(cio_http_session **out, const cio_http_session_opts *opts);

/* Closes every connection and frees the session. Transfers still running in
 * other tasks fail with -ESHUTDOWN; connections they are using close under
 * them. NULL is a no-op.
 * Suspends: only for the moment the kernel takes to confirm that a
 * connection's in-flight write is cancelled (as cio_stream_close; not
 * cancellable). Cancellation: changes nothing: every connection is closed and
 * the session freed. */
CIO_API void cio_http_session_close(cio_http_session *s);

/* One request. Zero-initialise; method and url are required. */
typedef struct cio_http_request {
    const char *method;         /* "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD" */
    const char *url;            /* absolute, or relative to the session's base_url */
    const char *const *query;   /* "name", "value" pairs, NULL-terminated; encoded */
    const char *const *headers; /* extra headers, "Name: value", NULL-terminated */
    const void *body;           /* request body from memory (may be NULL; ignored
                                   for GET and HEAD) */
    size_t body_len;
    const char *content_type; /* Content-Type of the body (libcurl's default,
                                 application/x-www-form-urlencoded, otherwise) */
    double timeout;           /* this request; 0: the session's */
} cio_http_request;

/* Sends req and waits for the whole response. Returns 0 and *out (free it
 * with cio_http_response_free), or -errno (see the top of this header); any
 * HTTP status is success here: check it or use cio_http_raise_for_status.
 * Suspends: yes, until the whole response is in.
 * Cancellation: returns the reason; the transfer is removed and its connection
 * closed (never pooled half-read); *out is NULL. */
CIO_API int cio_http_request_send(cio_http_session *s, const cio_http_request *req,
                                  cio_http_response **out);

/* Shorthands for cio_http_request_send. Suspends: yes.
 * Cancellation: as cio_http_request_send. */
CIO_API int cio_http_get(cio_http_session *s, const char *url, cio_http_response **out);
CIO_API int cio_http_post(cio_http_session *s, const char *url, const void *body, size_t len,
                          const char *content_type, cio_http_response **out);

/* The response. Valid until cio_http_response_free. Suspends: no. */
CIO_API int cio_http_response_status(const cio_http_response *r);
/* The body (NUL-terminated for convenience; the NUL is not counted).
 * Suspends: no. */
CIO_API const char *cio_http_response_body(const cio_http_response *r, size_t *len);
/* The value of a header, case-insensitive; the last one if repeated; or NULL.
 * Suspends: no. */
CIO_API const char *cio_http_response_header(const cio_http_response *r, const char *name);
/* The final URL after redirects. Suspends: no. */
CIO_API const char *cio_http_response_url(const cio_http_response *r);
/* "HTTP/1.1", "HTTP/2". Suspends: no. */
CIO_API const char *cio_http_response_version(const cio_http_response *r);
/* Frees a response. NULL is a no-op (safe after a failed request).
 * Suspends: no. */
CIO_API void cio_http_response_free(cio_http_response *r);

/* aiohttp's raise_for_status: 0 for 1xx-3xx; for 4xx/5xx returns -EPROTO...
 * precisely: -ENOENT for 404, -EACCES for 401/403, -EPROTO otherwise, and sets
 * the task's cio_fail message to "STATUS REASON for URL". Suspends: no. */
CIO_API int cio_http_raise_for_status(const cio_http_response *r);

/* ---- streaming responses ---- */

/* Sends req and returns once the response headers are in; read the body with
 * cio_http_stream_read as it arrives (libcurl is paused while the reader lags,
 * so memory stays bounded). *status (if not NULL) gets the status code.
 * Returns 0 and *out (close it with cio_http_stream_close), or -errno.
 * Suspends: yes, until the response head. Cancellation: returns the reason;
 * the transfer is removed and *out is NULL. */
CIO_API int cio_http_stream_open(cio_http_session *s, const cio_http_request *req,
                                 cio_http_stream **out, int *status);

/* Reads the next bytes of the body. Returns the count, 0 at the end, or -errno.
 * Suspends: yes, until bytes arrive. Cancellation: returns the reason when it
 * has to wait (bytes already received are returned even in a cancelled
 * scope); the transfer goes on, so a later read continues where this one
 * stopped, or close the stream. */
CIO_API ssize_t cio_http_stream_read(cio_http_stream *st, void *buf, size_t cap);

/* A response header of the stream (as cio_http_response_header).
 * Suspends: no. */
CIO_API const char *cio_http_stream_header(const cio_http_stream *st, const char *name);

/* Ends the transfer (early or not) and frees the stream. NULL is a no-op.
 * Suspends: no. */
CIO_API void cio_http_stream_close(cio_http_stream *st);

/* ---- JSON (jansson) ---- */

typedef struct json_t json_t;

/* GET url and parse the body as JSON (after raise_for_status). Returns 0 and
 * *out (json_decref it), or -errno; -EBADMSG for a body that is not JSON.
 * Suspends: yes. Cancellation: as cio_http_request_send. */
CIO_API int cio_http_get_json(cio_http_session *s, const char *url, json_t **out);

/* Sends `json` as the body (application/json) with the given method and parses
 * the response as JSON into *out (NULL: ignore the body). Suspends: yes.
 * Cancellation: as cio_http_request_send. */
CIO_API int cio_http_send_json(cio_http_session *s, const char *method, const char *url,
                               const json_t *json, int *status, json_t **out);

#ifdef __cplusplus
}
#endif
#endif
