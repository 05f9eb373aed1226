/* A WebSocket connection: its record, pings and keepalive, failing and
 * closing. Receiving is in recv.c (frames checked by frame.c), sending in
 * send.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../core/alloc.h"
#include "ws_internal.h"

/* ---- the record ---- */

int cio__ws_new(cio_ws **out, int server, cio_stream *s, const cio_ws_opts *opts, const void *early,
                size_t nearly)
{
    static const cio_ws_opts defaults;
    cio_ws *ws = cio__calloc(1, sizeof(*ws));
    if (!ws)
        return -ENOMEM;
    ws->server = server;
    ws->s = s;
    ws->o = opts ? *opts : defaults;
    cio_ws_opts *o = &ws->o;
    o->subprotocols = NULL;
    o->origins = NULL;
    o->headers = NULL;
    o->origin = NULL;
    if (!o->max_message)
        o->max_message = WS_DEFAULT_MAX_MESSAGE;
    if (!o->max_queue)
        o->max_queue = 16;
    if (!o->write_high)
        o->write_high = 64 * 1024;
    if (!o->write_low || o->write_low > o->write_high)
        o->write_low = o->write_high / 4;
    if (!o->write_cap)
        o->write_cap = 64 * o->write_high;
    if (o->ping_interval <= 0)
        o->ping_interval = 20;
    if (o->ping_timeout <= 0)
        o->ping_timeout = 20;
    if (o->close_timeout <= 0)
        o->close_timeout = 5;
    if (!o->deflate_min_size)
        o->deflate_min_size = 64;
    /* Below the stream's low-water mark a write never suspends. */
    ws->direct_max = o->stream.low_water ? o->stream.low_water : CIO_STREAM_LOW_WATER;
    ws->peer_code = CIO_WS_ABNORMAL;
    ws->rtt = -1;
    ws->state = WS_OPEN;
    ws->plain = cio_stream_tls_version(s) == NULL;
    cio_event_init(&ws->closed_ev);
    cio_event_init(&ws->rx_room_ev);
    cio_event_init(&ws->eof_ev);
    cio_event_init(&ws->written_ev);
    cio_event_init(&ws->room_ev);
    cio_event_init(&ws->keepalive.ev);
    if (nearly) {
        ws->early = cio__malloc(nearly);
        if (!ws->early) {
            cio__ws_free(ws);
            return -ENOMEM;
        }
        memcpy(ws->early, early, nearly);
        ws->nearly = nearly;
    }
    *out = ws;
    return 0;
}

void cio__ws_free(cio_ws *ws)
{
    if (!ws)
        return;
    if (ws->reader_cb)
        cio_handle_cancel(ws->reader_cb);
    cio__ws_drain_rxq(ws);
    free(ws->rx_asm);
    free(ws->cur);
    cio__ws_free_queue(ws);
    cio_event_destroy(&ws->closed_ev);
    cio_event_destroy(&ws->rx_room_ev);
    cio_event_destroy(&ws->eof_ev);
    cio_event_destroy(&ws->written_ev);
    cio_event_destroy(&ws->room_ev);
    cio_event_destroy(&ws->keepalive.ev);
    cio__ws_deflate_free(ws->dfl);
    free(ws->early);
    free(ws->subprotocol);
    free(ws);
}

/* ---- failing ---- */

static void set_error(cio_ws *ws, int err, const char *fmt, va_list ap)
{
    if (ws->err)
        return;
    ws->err = err;
    vsnprintf(ws->errmsg, sizeof(ws->errmsg), fmt, ap);
}

static void set_errorf(cio_ws *ws, int err, const char *fmt, ...) CIO_PRINTF(3, 4);
static void set_errorf(cio_ws *ws, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_error(ws, err, fmt, ap);
    va_end(ap);
}

/* Waits on e for a change of state: the caller checks its condition before
 * each call. The event is a signal, not a state: cleared before waiting. */
int cio__ws_wait(cio_event *e)
{
    cio_event_clear(e);
    return cio_event_wait(e);
}

/* Wakes everything that waits on the connection's progress. */
void cio__ws_wake_all(cio_ws *ws)
{
    cio_event_set(&ws->closed_ev);
    cio_event_set(&ws->room_ev);
    cio_event_set(&ws->rx_room_ev);
    /* A task reading inside cio_ws_recv waits on the socket: nothing more
     * comes for it, so its wait ends. */
    if (ws->rx_shut && ws->rd_scope && ws->rd_task != cio_current())
        cio_scope_cancel(ws->rd_scope);
    for (ws_ping *p = ws->pings; p; p = p->next)
        cio_event_set(&p->ev);
}

/* Fails the connection (RFC 6455 7.1.7): records the error, drops the data
 * still queued, sends a close frame with code (0: none, the peer is gone),
 * and ends the receive queue after what it holds. */
void cio__ws_fail(cio_ws *ws, int code, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_error(ws, err, fmt, ap);
    va_end(ap);
    if (ws->state == WS_OPEN)
        ws->state = WS_CLOSING;
    cio__ws_drop_data(ws);
    if (code && !ws->close_queued && !ws->lost && !ws->close_written) {
        uint8_t b[2] = {(uint8_t)(code >> 8), (uint8_t)code};
        cio__ws_queue_control(ws, WS_OP_CLOSE, b, 2, 0);
        ws->close_queued = 1;
    }
    ws->rx_shut = 1;
    cio__ws_wake_all(ws);
}

int cio__ws_close_code_valid(int code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
           (code >= 3000 && code <= 4999);
}

/* ---- keepalive: a loop callback, so it fires whatever the tasks do ---- */

static void keepalive_fire(void *arg);

static void keepalive_arm(cio_ws *ws, double delay)
{
    ws->ka_timer = delay == CIO_FOREVER ? NULL : cio_call_later(delay, keepalive_fire, ws);
}

static void keepalive_fire(void *arg)
{
    cio_ws *ws = arg;
    ws->ka_timer = NULL;
    if (ws->state != WS_OPEN)
        return;
    if (ws->keepalive_out) {
        cio__ws_fail(ws, CIO_WS_INTERNAL_ERROR, -ETIMEDOUT, "no pong within %g s (keepalive)",
                     ws->o.ping_timeout);
        return;
    }
    ws_ping *k = &ws->keepalive;
    uint32_t seq = ++ws->ping_seq;
    memcpy(ws->ka_data, "cio", 3);
    memcpy(ws->ka_data + 3, &seq, 4);
    k->data = ws->ka_data;
    k->len = 7;
    k->sent = cio_now();
    k->done = 0;
    k->next = NULL;
    ws_ping **pp = &ws->pings;
    while (*pp)
        pp = &(*pp)->next;
    *pp = k;
    ws->keepalive_out = 1;
    cio__ws_queue_control(ws, WS_OP_PING, k->data, k->len, 1);
    keepalive_arm(ws, ws->o.ping_timeout);
}

/* The pong arrived: the timer that waited for it now waits for the next
 * ping, one interval after this one was sent (not after the timeout). */
void cio__ws_keepalive_answered(cio_ws *ws)
{
    ws->keepalive_out = 0;
    if (ws->ka_timer)
        cio_handle_cancel(ws->ka_timer);
    ws->ka_timer = NULL;
    if (ws->state != WS_OPEN || ws->o.ping_interval == CIO_FOREVER)
        return;
    double wait = ws->keepalive.sent + ws->o.ping_interval - cio_now();
    keepalive_arm(ws, wait > 0 ? wait : 0);
}

int cio__ws_start(cio_ws *ws)
{
    /* Nobody reads yet: a reader starts a loop turn from now unless the
     * caller is in cio_ws_recv by then. */
    cio__ws_want_reader(ws);
    if (ws->err == -ENOMEM)
        return -ENOMEM;
    keepalive_arm(ws, ws->o.ping_interval);
    return 0;
}

/* ---- calls ---- */

int cio__ws_enter(cio_ws *ws)
{
    if (!ws)
        return -EINVAL;
    ws->calls++;
    return 0;
}

/* Without a timer for the bound (its enter failed: no memory), the socket is
 * shut down first, so the flush fails at once instead of waiting unbounded. */
void cio__ws_close_stream(cio_stream *s, double seconds)
{
    cio_scope t;
    if (cio_timeout_enter(&t, seconds) == 0) {
        cio_stream_close(s);
        cio_timeout_exit(&t);
        return;
    }
    if (cio_stream_fd(s) >= 0)
        shutdown(cio_stream_fd(s), SHUT_RDWR);
    cio_stream_close(s);
}

int cio__ws_leave(cio_ws *ws, int err)
{
    if (--ws->calls == 0 && ws->released)
        cio__ws_free(ws);
    return err;
}

int cio__ws_closed_error(cio_ws *ws)
{
    int err = ws->err ? ws->err : -EPIPE;
    return cio_fail(err, "WebSocket: %s", ws->err ? ws->errmsg : "closed");
}

/* ---- pings ---- */

int cio_ws_ping(cio_ws *ws, const void *data, size_t len, double *rtt)
{
    if (!ws || len > 125 || (!data && len))
        return -EINVAL;
    cio__ws_enter(ws);
    int err = 0;
    if (ws->state != WS_OPEN) {
        err = cio__ws_closed_error(ws);
        goto out;
    }
    ws_ping p = {.data = data, .len = len, .sent = cio_now()};
    cio_event_init(&p.ev);
    err = cio__ws_queue_control(ws, WS_OP_PING, data, len, 1);
    if (err)
        goto out;
    ws_ping **pp = &ws->pings;
    while (*pp)
        pp = &(*pp)->next;
    *pp = &p;
    while (!p.done && ws->state == WS_OPEN && !err)
        err = cio__ws_wait(&p.ev);
    if (!p.done) {
        for (pp = &ws->pings; *pp; pp = &(*pp)->next)
            if (*pp == &p) {
                *pp = p.next;
                break;
            }
        if (!err)
            err = cio__ws_closed_error(ws);
    } else if (rtt) {
        *rtt = cio_now() - p.sent;
    }
    cio_event_destroy(&p.ev);
out:
    return cio__ws_leave(ws, err);
}

double cio_ws_rtt(const cio_ws *ws)
{
    return ws ? ws->rtt : -1;
}

/* ---- closing ---- */

/* The handshake part of cio_ws_close, under its deadline. */
static int close_handshake(cio_ws *ws, int code, const char *reason)
{
    if (!ws->close_queued && !ws->lost) {
        uint8_t b[125];
        size_t rl = reason ? strlen(reason) : 0;
        b[0] = (uint8_t)(code >> 8);
        b[1] = (uint8_t)code;
        if (rl)
            memcpy(b + 2, reason, rl);
        set_errorf(ws, -EPIPE, "closed by this side: %d%s%s", code, rl ? " " : "",
                   rl ? reason : "");
        ws->state = WS_CLOSING;
        cio__ws_queue_control(ws, WS_OP_CLOSE, b, 2 + rl, 0);
        ws->close_queued = 1;
    }
    ws->rx_shut = 1; /* the reading drops what comes now */
    cio__ws_drain_rxq(ws);
    cio__ws_wake_all(ws);
    int err = 0;
    while (!err && ws->close_queued && !ws->close_written && !ws->lost)
        err = cio__ws_wait(&ws->written_ev);
    if (!err && !ws->lost)
        err = cio_stream_drain(ws->s);
    while (!err && !ws->close_rcvd && !ws->rd_done)
        err = cio__ws_wait(&ws->closed_ev);
    /* The server closes TCP first (RFC 6455 7.1.1): a client waits for it.
     * A server's connection is closed by the HTTP server when the handler
     * returns. */
    while (!err && !ws->server && !ws->rd_done)
        err = cio__ws_wait(&ws->eof_ev);
    if (err)
        return err == -EPIPE || err == -ECONNRESET ? 0 : err;
    if (!ws->close_rcvd)
        return cio_fail(ws->err == -EPIPE ? -ECONNRESET : ws->err, "WebSocket: %s", ws->errmsg);
    if (ws->err && ws->err != -EPIPE)
        return cio_fail(ws->err, "WebSocket: %s", ws->errmsg);
    return 0;
}

static void stop_task(cio_task **t)
{
    if (*t) {
        cio_cancel(*t);
        cio_join(*t);
        *t = NULL;
    }
}

int cio_ws_close(cio_ws *ws, int code, const char *reason)
{
    if (!ws)
        return 0;
    if (ws->released)
        return -EINVAL;
    if (code == 0)
        code = CIO_WS_NORMAL;
    size_t rl = reason ? strlen(reason) : 0;
    int err = 0;
    if (!cio__ws_close_code_valid(code) || rl > 123 || (rl && !cio__ws_utf8_valid(reason, rl))) {
        err = cio_fail(-EINVAL, "WebSocket close: code %d or its reason may not be sent", code);
        code = CIO_WS_INTERNAL_ERROR;
        reason = NULL;
    }
    cio__ws_enter(ws);
    ws->released = 1;
    cio_scope sc;
    int terr = cio_timeout_enter(&sc, ws->o.close_timeout);
    int herr = terr ? terr : close_handshake(ws, code, reason);
    if (!terr) {
        terr = cio_timeout_exit(&sc);
        if (terr && !cio_cancelled())
            herr = cio_fail(-ETIMEDOUT, "WebSocket close: no close handshake within %g s",
                            ws->o.close_timeout);
    }
    if (!err)
        err = herr;
    /* Teardown, whatever happened: it must not be cut short. */
    cio_scope sh;
    int shielded = cio_shield_enter(&sh) == 0; /* cannot fail in a task */
    if (ws->ka_timer) {
        cio_handle_cancel(ws->ka_timer);
        ws->ka_timer = NULL;
    }
    if (err && ws->s && cio_stream_fd(ws->s) >= 0)
        shutdown(cio_stream_fd(ws->s), SHUT_RDWR); /* nothing more goes either way */
    ws->state = WS_CLOSED;                         /* no writer starts from now on */
    cio__ws_stop_reading(ws);
    stop_task(&ws->writer);
    if (!ws->err)
        ws->err = -EPIPE;
    ws->rx_shut = 1;
    cio__ws_drain_rxq(ws);
    cio__ws_wake_all(ws);
    if (ws->own_stream) {
        cio__ws_close_stream(ws->s, err ? 0 : ws->o.close_timeout);
        ws->s = NULL;
    }
    if (shielded)
        cio_shield_exit(&sh);
    return cio__ws_leave(ws, err);
}

int cio_ws_wait_closed(cio_ws *ws)
{
    if (!ws)
        return -EINVAL;
    cio__ws_enter(ws);
    int err = 0;
    while (!err && ws->state == WS_OPEN && !ws->close_rcvd && !ws->rd_done)
        err = cio__ws_wait(&ws->closed_ev);
    return cio__ws_leave(ws, err);
}

/* ---- accessors ---- */

int cio_ws_close_code(const cio_ws *ws)
{
    return ws ? ws->peer_code : CIO_WS_ABNORMAL;
}

const char *cio_ws_close_reason(const cio_ws *ws)
{
    return ws ? ws->peer_reason : "";
}

const char *cio_ws_subprotocol(const cio_ws *ws)
{
    return ws ? ws->subprotocol : NULL;
}

int cio_ws_deflate(const cio_ws *ws)
{
    return ws && ws->dfl && ws->dfl->p.enabled;
}

int cio_ws_is_open(const cio_ws *ws)
{
    return ws && ws->state == WS_OPEN;
}

cio_stream *cio_ws_stream(const cio_ws *ws)
{
    return ws ? ws->s : NULL;
}
