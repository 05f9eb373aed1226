/* Internal parts of libcio-http's server, shared by its four files:
 * server_router.c (apps, routes, dispatch), server_request.c (llhttp and
 * reading requests), server_response.c (writing responses) and server_conn.c
 * (one connection's loop, servers, shutdown). Never installed.
 *
 * The parser is paused at the end of each request's head and at the end of
 * each message, so a connection task handles one request at a time while
 * pipelined bytes wait in the stream's buffer. The body is read only when
 * the handler asks for it (which is also when "100 Continue" goes out); a
 * body the handler did not read is drained afterwards, bounded by the body
 * limit. */
#ifndef CIO_HTTP_SERVER_INTERNAL_H
#define CIO_HTTP_SERVER_INTERNAL_H

#include <llhttp.h>

#include "cio/http_server.h"
#include "http_internal.h"

#define MAX_PARAMS 8

typedef struct route {
    char method[16];
    char *pattern;
    char **segs;
    size_t nsegs;
    cio_http_handler fn;
    void *arg;
} route;

struct cio_http_app {
    cio_http_server_opts o;
    route *routes;
    size_t nroutes, cap;
};

typedef struct conn conn;

struct cio_http_server {
    cio_http_app *app;
    cio_server *listener;
    conn *conns;
    int closing;
};

struct cio_http_req {
    conn *c;
    char method[16];
    char *url;
    size_t url_len, url_cap;
    char *path, *query;
    cio__http_headers headers;
    cio__http_headers trailers; /* a chunked body's trailers, never merged */
    char *field, *value;        /* header name and value being parsed */
    size_t field_len, field_cap, value_len, value_cap;
    int value_open;    /* the value's last piece ended at the end of the bytes fed */
    size_t head_bytes; /* the head's cost so far (see max_header_bytes) */
    size_t trailer_bytes;
    int started, headers_done, message_done;
    int reject;       /* the status a check of ours failed the request with */
    const char *why;  /* and why */
    int body_err;     /* a body call failed with it: the response says so */
    int body_discard; /* drained after the handler: counted, not kept */
    size_t body_seen; /* body bytes parsed, against max_body_bytes */
    char *body;
    size_t body_len, body_cap, body_pos;
    int body_whole; /* cio_http_req_body was called: body holds all of it */
    int sent_continue;
    int hijacked; /* cio_http_req_hijack: the handler owns the connection now */
    char *early;  /* the bytes after the head, handed over by the hijack */
    const char *param_names[MAX_PARAMS];
    char *param_values[MAX_PARAMS];
    size_t nparams;
    char **decoded; /* query values handed out */
    size_t ndecoded;
};

struct cio_http_resp {
    conn *c;
    int status;
    cio__http_headers headers;
    char *body;
    size_t len;
    int head_sent, chunked, failed;
};

struct conn {
    cio_http_server *srv;
    cio_stream *s;
    llhttp_t parser;
    const char *feed_beg, *feed_end; /* what llhttp_execute is parsing */
    int tail_newline;                /* the bytes fed before ended a line (then spaces, tabs) */
    int upgraded;                    /* llhttp stopped after an Upgrade or CONNECT request */
    int broken;                      /* the request stream cannot go on: close after this */
    int linger;                      /* close gracefully: the client may still be sending */
    int send_timed_out;              /* the client stopped reading: close without a flush */
    cio_scope *idle;                 /* set while waiting for a new request */
    unsigned served;                 /* requests answered on this connection */
    cio_http_req req;
    conn *next, *prev;
};

/* server_request.c */
extern const llhttp_settings_t cio__http_settings;
/* Parses until *flag is set (headers_done or message_done), reading more as
 * needed; each wait for bytes is bounded by `wait` seconds (0: only by the
 * caller's scopes; < 0: no wait, -EAGAIN when the bytes held do not do).
 * Returns 0, -EBADMSG (a bad request: see
 * cio__http_error_status), -EPIPE (EOF), -ETIMEDOUT or another error. */
CIO__MUST_CHECK int cio__http_parse_until(conn *c, const int *flag, double wait);
/* The status a failed parse gets (400, 413, 431, 501, 505) and why. */
int cio__http_error_status(conn *c, const char **why);
void cio__http_req_reset(cio_http_req *r, conn *c);
void cio__http_split_url(cio_http_req *r);

/* server_response.c */
int cio__http_keep_alive(const conn *c);
CIO__MUST_CHECK int cio__http_finish_response(cio_http_resp *r);
/* Writes to the client, each wait for room bounded by send_timeout. */
CIO__MUST_CHECK int cio__http_write(conn *c, const void *p, size_t n);
/* Waits until everything written went out, bounded by send_timeout. */
CIO__MUST_CHECK int cio__http_drain(conn *c);
/* An error response (text body, Connection: close); the connection lingers. */
void cio__http_send_error(conn *c, int status);
/* The body of a reply the server makes itself (opts.error_body or the
 * default for opts.error_content_type) into buf, which holds
 * CIO_HTTP_ERROR_BODY_MAX + 1 bytes; returns its length. */
size_t cio__http_error_body(const cio_http_server_opts *o, int status, char *buf);
/* Fills r with the server's own reply for status (its type and body). */
CIO__MUST_CHECK int cio__http_resp_error(cio_http_resp *r, int status);

/* server_router.c */
CIO__MUST_CHECK int cio__http_dispatch(conn *c, cio_http_resp *resp);

/* server_conn.c */
/* Reports a failure to opts.log (nothing without one). */
void cio__http_log(conn *c, int status, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
