/* libcio-http's server: one task per connection (from cio_start_server)
 * reading requests and answering them in turn; servers and their shutdown. */
#include <stdlib.h>
#include <string.h>

#include "server_internal.h"

/* ---- connections ---- */

/* Waits for the next request's head. Returns 0, -EPIPE when the client closed
 * between requests, or another error (the caller answers 400/431/408 or just
 * closes). */
static int read_head(conn *c)
{
    cio_http_app *app = c->srv->app;
    int err = cio__http_feed(c); /* pipelined bytes first */
    if (err || c->req.headers_done)
        return err;
    if (c->beg == c->end) {
        /* Between requests the idle timeout applies; a new connection must
         * start its first request within the header timeout. */
        cio_scope idle;
        cio_timeout_enter(&idle, c->served ? app->o.idle_timeout : app->o.header_timeout);
        c->idle = &idle;
        ssize_t n = c->srv->closing ? -ECANCELED : cio__http_fill(c);
        c->idle = NULL;
        cio_timeout_exit(&idle);
        if (n <= 0) /* closed, idle too long, or shutting down: end quietly */
            return n == 0 || n == -ETIMEDOUT ? -EPIPE : (int)n;
        c->end += (size_t)n;
    }
    cio_scope head;
    cio_timeout_enter(&head, app->o.header_timeout);
    err = cio__http_parse_until(c, &c->req.headers_done);
    cio_timeout_exit(&head);
    return err == -ENOBUFS ? -EMSGSIZE : err;
}

static int serve_one(conn *c)
{
    cio__http_req_reset(&c->req, c);
    int err = read_head(c);
    if (err) {
        if (c->req.head_too_big || err == -EMSGSIZE)
            cio__http_send_error(c, 431);
        else if (err == -EBADMSG)
            cio__http_send_error(c, 400); /* malformed, or smuggling (CL with TE, two CLs) */
        else if (err == -ETIMEDOUT)
            cio__http_send_error(c, 408); /* the head came too slowly (slowloris) */
        return err;
    }
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
    if (!err && !c->req.message_done) {
        /* Skip a body the handler did not read, within the limit. */
        c->req.body_discard = 1;
        c->req.body_len = 0;
        cio_scope sc;
        cio_timeout_enter(&sc, c->srv->app->o.header_timeout);
        err = c->req.body_too_big ? -EMSGSIZE : cio__http_parse_until(c, &c->req.message_done);
        cio_timeout_exit(&sc);
    }
    if (!err)
        err = cio_stream_drain(c->s);
    if (!err && !cio__http_keep_alive(c))
        err = -ECONNABORTED; /* done with this connection */
    return err;
}

static int connection(cio_stream *s, void *arg)
{
    cio_http_server *srv = arg;
    conn *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
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
    cio__http_req_reset(&c->req, c);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
    return 0; /* a connection ending is not a server failure */
}

/* Serves one connection on an existing stream (fuzzing and tests). */
int cio__http_serve_stream(cio_http_app *app, cio_stream *s)
{
    cio_http_server srv = {.app = app};
    return connection(s, &srv);
}

/* ---- servers ---- */

int cio_http_serve(cio_http_server **out, cio_http_app *app, const char *host, int port)
{
    if (!out || !app)
        return -EINVAL;
    *out = NULL;
    cio_http_server *srv = calloc(1, sizeof(*srv));
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
