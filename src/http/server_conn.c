/* libcio-http's server: one task per connection (from cio_start_server)
 * reading requests and answering them in turn; servers and their shutdown. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "server_internal.h"

/* ---- logging ---- */

void cio__http_log(conn *c, int status, int err, const char *fmt, ...)
{
    const cio_http_server_opts *o = &c->srv->app->o;
    if (!o->log)
        return;
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    o->log(o->log_arg, status, err, what);
}

/* ---- connections ---- */

/* Waits for the first byte of a request. A new plain connection first waits
 * for readability, so that a connection that sends nothing holds no read
 * buffer. Returns 0, -EPIPE at EOF, or the error (the caller's timeout). */
static int first_byte(conn *c)
{
    if (!c->served && !c->srv->app->o.stream.tls && !cio_stream_read_buffered(c->s)) {
        int err = cio_stream_wait_readable(c->s);
        if (err)
            return err;
    }
    const void *data;
    ssize_t n = cio_stream_peek(c->s, &data, 1);
    return n < 0 ? (int)n : n == 0 ? -EPIPE : 0;
}

/* Reads the next request's head. The first request on a connection has
 * header_timeout from the accept; a later one idle_timeout to start, then
 * header_timeout from its first byte. Returns 0, -EPIPE when the connection
 * should end quietly (closed, idle, shut down), or the error. */
static int read_head(conn *c)
{
    cio_http_app *app = c->srv->app;
    cio_http_req *r = &c->req;
    int err = cio__http_parse_until(c, &r->headers_done, -1); /* pipelined bytes first */
    if (err != -EAGAIN)
        return err;
    int first = !c->served;
    cio_scope head, idle;
    if (first && (err = cio_timeout_enter(&head, app->o.header_timeout)) < 0)
        return err;
    if (!r->started) {
        if (!first && (err = cio_timeout_enter(&idle, app->o.idle_timeout)) < 0)
            return err;
        c->idle = first ? &head : &idle; /* shutdown cancels it */
        err = c->srv->closing ? -ECANCELED : first_byte(c);
        c->idle = NULL;
        if (!first)
            cio_timeout_exit(&idle);
        if (err == -ETIMEDOUT && first)
            cio__http_log(c, 0, err, "no request within header_timeout (%g s)",
                          app->o.header_timeout);
        if (err == -ETIMEDOUT || err == -ECANCELED)
            err = -EPIPE; /* nothing came: end quietly */
    }
    if (!err && !first)
        err = cio_timeout_enter(&head, app->o.header_timeout);
    if (!err) {
        err = cio__http_parse_until(c, &r->headers_done, 0);
        if (!first)
            cio_timeout_exit(&head);
    }
    if (first)
        cio_timeout_exit(&head);
    return err;
}

/* A head that did not come whole: the status it gets, then the end. */
static int head_failed(conn *c, int err)
{
    const char *why;
    if (err == -EBADMSG) {
        int status = cio__http_error_status(c, &why);
        cio__http_send_error(c, status);
        cio__http_log(c, status,
                      status == 505 || status == 501 ? -ENOTSUP
                      : status == 400                ? -EBADMSG
                                                     : -EMSGSIZE,
                      "%s", why);
    } else if (err == -ETIMEDOUT) {
        cio__http_send_error(c, 408); /* the head came too slowly (slowloris) */
        cio__http_log(c, 408, err, "header timeout: the head took over %g s",
                      c->srv->app->o.header_timeout);
    } else if (err != -EPIPE && err != -ECANCELED) {
        cio__http_log(c, 0, err, "reading a request: %s", cio_strerror(err));
    } else if (c->req.started && err == -EPIPE) {
        cio__http_log(c, 0, err, "the client closed in the middle of a head");
    }
    return err;
}

/* After the response: the rest of a body the handler did not read is parsed
 * and dropped, within max_body_bytes and body_timeout. */
static int skip_body(conn *c)
{
    cio_http_req *r = &c->req;
    r->body_discard = 1;
    int err = cio__http_parse_until(c, &r->message_done, c->srv->app->o.body_timeout);
    if (err) {
        const char *why = cio_strerror(err);
        int status = err == -EBADMSG ? cio__http_error_status(c, &why) : 0;
        c->broken = 1;
        c->linger = err != -EPIPE;
        cio__http_log(c, 0, err, "request body after the response (status %d): %s", status, why);
    }
    return err;
}

static int serve_one(conn *c)
{
    cio__http_req_reset(&c->req, c);
    int err = read_head(c);
    if (err)
        return head_failed(c, err);
    cio__http_split_url(&c->req);
    cio_http_resp resp = {.c = c, .status = 200};
    err = cio__http_dispatch(c, &resp);
    if (c->req.hijacked) { /* another protocol spoke on it: nothing more to say */
        cio__http_headers_clear(&resp.headers);
        free(resp.body);
        return -ECONNABORTED;
    }
    if (!err)
        err = cio__http_finish_response(&resp);
    cio__http_headers_clear(&resp.headers);
    free(resp.body);
    if (!err && !c->req.message_done && !c->broken)
        err = skip_body(c);
    if (!err)
        err = cio__http_drain(c);
    if (c->req.body_err && c->req.body_err != -EPIPE)
        c->linger = 1; /* the client may still be sending the body */
    if (!err && !cio__http_keep_alive(c))
        err = -ECONNABORTED; /* done with this connection */
    return err;
}

/* Lingering close, as nginx's: shut the write side (the response is out),
 * then read and drop what the client still sends, until it closes or
 * linger_timeout passes, so that closing with unread input does not reset
 * the connection before the client read the response. */
static void linger(conn *c)
{
    cio_scope sc;
    if (cio_timeout_enter(&sc, c->srv->app->o.linger_timeout) < 0)
        return; /* no lingering without its bound */
    if (cio_stream_write_eof(c->s) == 0) {
        char buf[4096];
        while (cio_stream_read(c->s, buf, sizeof(buf)) > 0) {
        }
    }
    cio_timeout_exit(&sc);
}

/* Serves requests on s until the connection ends; s stays the caller's. */
static void serve(cio_http_server *srv, cio_stream *s, conn *c)
{
    c->srv = srv;
    c->s = s;
    llhttp_init(&c->parser, HTTP_REQUEST, &cio__http_settings);
    c->parser.data = c;
    c->req.c = c;
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    while (serve_one(c) == 0)
        c->served++;
    if (c->linger && !c->send_timed_out)
        linger(c);
    cio__http_req_reset(&c->req, c);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
}

static int connection(cio_stream *s, void *arg)
{
    cio_http_server *srv = arg;
    conn *c = cio__calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    serve(srv, s, c);
    /* Close here, with the flush of what is left bounded by send_timeout (at
     * once when the client already stopped reading). */
    cio_scope sc;
    if (cio_timeout_enter(&sc, c->send_timed_out ? 0 : srv->app->o.send_timeout) == 0) {
        cio_stream_close(s);
        cio_timeout_exit(&sc);
    } else { /* no bound for the flush (cannot happen in a task) */
        cio_stream_close(s);
    }
    free(c);
    return 0; /* a connection ending is not a server failure */
}

/* Serves one connection on an existing stream (fuzzing and tests). */
int cio__http_serve_stream(cio_http_app *app, cio_stream *s)
{
    cio_http_server srv = {.app = app};
    conn *c = cio__calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    serve(&srv, s, c);
    free(c);
    return 0;
}

/* ---- servers ---- */

int cio_http_serve(cio_http_server **out, cio_http_app *app, const char *host, int port)
{
    if (!out || !app)
        return -EINVAL;
    *out = NULL;
    cio_http_server *srv = cio__calloc(1, sizeof(*srv));
    if (!srv)
        return -ENOMEM;
    srv->app = app;
    int err = cio_start_server(&srv->listener, host, port, connection, srv, &app->o.stream);
    if (err) {
        free(srv);
        return err;
    }
    *out = srv;
    return 0;
}

int cio_http_server_port(const cio_http_server *srv)
{
    return srv ? cio_server_port(srv->listener) : -EINVAL;
}

int cio_http_server_close(cio_http_server *srv)
{
    if (!srv)
        return -EINVAL;
    srv->closing = 1;
    /* Idle keep-alive connections end now; busy ones finish their request. */
    for (conn *c = srv->conns; c; c = c->next)
        if (c->idle)
            cio_scope_cancel(c->idle);
    int err = cio_server_close(srv->listener, srv->app->o.shutdown_grace);
    free(srv);
    return err;
}
