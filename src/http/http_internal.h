/* Internal parts of libcio-http. Never installed. */
#ifndef CIO_HTTP_INTERNAL_H
#define CIO_HTTP_INTERNAL_H

#include <curl/curl.h>
#include <stddef.h>

#include "../core/checked.h"
#include "cio.h"
#include "cio/http.h"
#include "cio/stream.h"

/* Header lists: name/value pairs in arrival order. */
typedef struct cio__http_header {
    char *name;
    char *value;
} cio__http_header;

typedef struct cio__http_headers {
    cio__http_header *v;
    size_t n, cap;
} cio__http_headers;

CIO__MUST_CHECK int cio__http_headers_add(cio__http_headers *h, const char *name, size_t name_len,
                                          const char *value, size_t value_len);
/* The last value of a header, case-insensitive, or NULL. */
const char *cio__http_headers_get(const cio__http_headers *h, const char *name);
void cio__http_headers_clear(cio__http_headers *h);

/* Appends n bytes to a growable buffer, keeping a NUL after the data. */
CIO__MUST_CHECK int cio__http_buf_append(char **buf, size_t *len, size_t *cap, const void *data,
                                         size_t n);

/* The reason phrase of an HTTP status ("Not Found"); a generic one for codes
 * it does not know. */
const char *cio__http_reason(int status);

struct watcher;
typedef struct cio__http_pool cio__http_pool;
typedef struct cio__http_conn cio__http_conn;

struct cio_http_session {
    CURLM *multi;
    cio_handle *timer;
    cio_http_session_opts o;
    char *base_url;
    char *ca_file;
    struct curl_slist *headers;
    struct cio__http_xfer *xfers; /* transfers in flight */
    struct watcher **watchers;    /* socket watchers, indexed by fd */
    size_t nwatchers;
    struct { /* the proxy environment when the session was created */
        char *http_proxy, *https_proxy, *all_proxy, *no_proxy;
    } env;
    cio__http_pool *pool; /* the native path's idle connections */
    int native_off;       /* CIO_HTTP_CLIENT=libcurl */
    CURL **spare;         /* easy handles kept for reuse, session options set */
    size_t nspare;
};

#define CIO__HTTP_SPARE_HANDLES 64

/* Bytes a streaming transfer buffers before curl is paused. */
#define CIO__HTTP_STREAM_BUFFER ((size_t)256 * 1024)

/* One transfer; lives on the requesting task's stack (or in a stream). */
typedef struct cio__http_xfer {
    cio_http_session *s;
    CURL *easy;
    struct curl_slist *req_headers;
    char *url;
    cio_event done_ev; /* set when curl reports the transfer done */
    cio_event data_ev; /* set when body bytes arrive or it is done */
    int attached;      /* in the multi handle */
    int done, aborted, too_big, streaming, paused, got_body, headers_done;
    CURLcode result;
    char errbuf[CURL_ERROR_SIZE];
    char *body;
    size_t len, cap, read_pos, max_body;
    cio__http_headers headers;
    struct cio__http_xfer *next, *prev;
} cio__http_xfer;

CIO__MUST_CHECK int cio__http_xfer_start(cio__http_xfer *x, cio_http_session *s,
                                         const cio_http_request *req, int streaming);
CIO__MUST_CHECK int cio__http_xfer_wait(cio__http_xfer *x);
CIO__MUST_CHECK int cio__http_xfer_result(cio__http_xfer *x);
void cio__http_xfer_detach(cio__http_xfer *x);
void cio__http_xfer_free(cio__http_xfer *x);

/* The full URL of req: the base URL joined, the query encoded (easy may be
 * NULL). malloc'd, or NULL. */
char *cio__http_build_url(cio_http_session *s, CURL *easy, const cio_http_request *req);
/* The proxy libcurl would use for url ("" for none; NULL: not http(s)). */
const char *cio__http_session_proxy(const cio_http_session *s, const char *url);

/* The native HTTP/1.1 path (native.c). cio__http_native_send returns 0 when
 * the request is not for it (libcurl then sends it), else 1 with the
 * request's result in *result and *out as cio_http_request_send's. */
cio__http_pool *cio__http_pool_new(long max_total, long max_host);
void cio__http_pool_close(cio__http_pool *p);
CIO__MUST_CHECK int cio__http_native_send(cio_http_session *s, const cio_http_request *req, cio_http_response **out,
                          int *result);

/* A response from parts; takes body (malloc'd, NUL-terminated) and the
 * headers (left empty) on success. */
CIO__MUST_CHECK int cio__http_response_new(cio_http_response **out, int status, char *body,
                                           size_t len, cio__http_headers *headers, const char *url,
                                           const char *version);

/* Moves a finished transfer's body and headers into a new response. */
CIO__MUST_CHECK int cio__http_response_take(cio__http_xfer *x, cio_http_response **out);

/* Serves one connection on s with app's routes until it closes (the stream
 * stays the caller's). For the fuzz target and tests. */
typedef struct cio_http_app cio_http_app;
int cio__http_serve_stream(cio_http_app *app, cio_stream *s);

#endif
