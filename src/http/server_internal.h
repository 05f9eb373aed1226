/* Internal parts of libcio-http's server, shared by its four files:
 * server_router.c (apps, routes, dispatch), server_request.c (llhttp and
 * reading requests), server_response.c (writing responses) and server_conn.c
 * (one connection's loop, servers, shutdown). Never installed.
 *
 * The parser is paused at the end of each request's head and at the end of
 * each message, so a connection task handles one request at a time while
 * pipelined bytes wait in its buffer. The body is read only when the handler
 * asks for it (which is also when "100 Continue" goes out); a body the handler
 * did not read is drained afterwards, bounded by the body limit. */
#ifndef CIO_HTTP_SERVER_INTERNAL_H
#define CIO_HTTP_SERVER_INTERNAL_H

#include <llhttp.h>

#include "cio/http_server.h"
#include "http_internal.h"

#define IN_BUFFER 16384
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
    size_t url_len;
    char *path, *query;
    cio__http_headers headers;
    char *field, *value; /* header name and value being parsed */
    size_t field_len, value_len;
    size_t head_bytes;
    int head_too_big, body_too_big, headers_done, message_done, body_discard;
    char *body;
    size_t body_len, body_cap, body_pos;
    size_t body_streamed; /* bytes handed out by cio_http_req_read */
    int body_whole;       /* cio_http_req_body was called: body holds all of it */
    int sent_continue;
    int hijacked; /* cio_http_req_hijack: the handler owns the connection now */
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
    size_t len, cap;
    int head_sent, chunked, failed;
};

struct conn {
    cio_http_server *srv;
    cio_stream *s;
    llhttp_t parser;
    int upgraded; /* llhttp stopped after an Upgrade or CONNECT request */
    char in[IN_BUFFER];
    size_t beg, end;
    cio_scope *idle; /* set while waiting for a new request */
    unsigned served; /* requests answered on this connection */
    cio_http_req req;
    conn *next, *prev;
};

/* server_request.c */
extern const llhttp_settings_t cio__http_settings;
int cio__http_feed(conn *c);
ssize_t cio__http_fill(conn *c);
int cio__http_parse_until(conn *c, const int *flag);
void cio__http_req_reset(cio_http_req *r, conn *c);
void cio__http_split_url(cio_http_req *r);

/* server_response.c */
int cio__http_keep_alive(const conn *c);
int cio__http_finish_response(cio_http_resp *r);
void cio__http_send_error(conn *c, int status);

/* server_router.c */
int cio__http_dispatch(conn *c, cio_http_resp *resp);

#endif
