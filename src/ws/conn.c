/* A WebSocket connection: its record, the reader task (frames through
 * wslay's frame layer, protocol checks, pongs, the receive queue), receiving,
 * pings and keepalive, failing and closing. Sending is in send.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../core/alloc.h"
#include "ws_internal.h"

/* ---- wslay's receive callback: the stream underneath ---- */

static ssize_t recv_cb(uint8_t *buf, size_t len, int flags, void *user)
{
    (void)flags;
    cio_ws *ws = user;
    if (ws->early_off < ws->nearly) {
        size_t n = ws->nearly - ws->early_off;
        if (n > len)
            n = len;
        memcpy(buf, ws->early + ws->early_off, n);
        ws->early_off += n;
        return (ssize_t)n;
    }
    ssize_t n = cio_stream_read(ws->s, buf, len);
    if (n > 0)
        return n;
    ws->rd_err = n == 0 ? -ECONNRESET : (int)n;
    return -1; /* wslay says WANT_READ; rd_err says why */
}

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
    int err = cio_queue_init(&ws->rxq, o->max_queue);
    if (err) {
        free(ws);
        return err;
    }
    ws->rxq_ready = 1;
    cio_event_init(&ws->closed_ev);
    cio_event_init(&ws->eof_ev);
    cio_event_init(&ws->written_ev);
    cio_event_init(&ws->room_ev);
    cio_event_init(&ws->keepalive.ev);
    /* wslay parses received frames only: cio writes its frames itself
     * (send.c), so the send and mask callbacks are never called. */
    struct wslay_frame_callbacks cb = {NULL, recv_cb, NULL};
    if (wslay_frame_context_init(&ws->fr, &cb, ws) != 0)
        goto nomem;
    if (nearly) {
        ws->early = cio__malloc(nearly);
        if (!ws->early)
            goto nomem;
        memcpy(ws->early, early, nearly);
        ws->nearly = nearly;
    }
    *out = ws;
    return 0;
nomem:
    cio__ws_free(ws);
    return -ENOMEM;
}

static void part_free(void *item)
{
    free(item);
}

void cio__ws_free(cio_ws *ws)
{
    if (!ws)
        return;
    if (ws->rxq_ready) {
        void *item;
        while (cio_queue_get_nowait(&ws->rxq, &item) == 0)
            part_free(item);
        cio_queue_destroy(&ws->rxq);
    }
    free(ws->rx_asm);
    free(ws->cur);
    cio__ws_free_queue(ws);
    cio_event_destroy(&ws->closed_ev);
    cio_event_destroy(&ws->eof_ev);
    cio_event_destroy(&ws->written_ev);
    cio_event_destroy(&ws->room_ev);
    cio_event_destroy(&ws->keepalive.ev);
    if (ws->fr)
        wslay_frame_context_free(ws->fr);
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

/* Takes back the parts nobody will receive. */
static void drain_rxq(cio_ws *ws)
{
    void *item;
    while (cio_queue_get_nowait(&ws->rxq, &item) == 0)
        part_free(item);
}

/* Wakes everything that waits on the connection's progress. */
static void wake_all(cio_ws *ws)
{
    cio_event_set(&ws->closed_ev);
    cio_event_set(&ws->room_ev);
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
        cio__ws_queue_control(ws, WSLAY_CONNECTION_CLOSE, b, 2, 0);
        ws->close_queued = 1;
    }
    cio_queue_shutdown(&ws->rxq, 0);
    wake_all(ws);
}

/* ---- the reader ---- */

static int close_code_valid(int code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
           (code >= 3000 && code <= 4999);
}

/* Puts the part being built into the receive queue (waits while it is full:
 * TCP pushes back). A part for a connection that is closing is dropped. */
static int push_part(cio_ws *ws, int fin)
{
    ws_part *p = ws->cur;
    if (!p) {
        if (!fin)
            return 0;
        p = cio__calloc(1, sizeof(*p) + 1);
        if (!p)
            return -ENOMEM;
        p->type = ws->m_type;
    }
    ws->cur = NULL;
    p->fin = (uint8_t)fin;
    p->data[p->len] = 0;
    if (ws->state != WS_OPEN) {
        free(p);
        return 0;
    }
    int err = cio_queue_put(&ws->rxq, p);
    if (err) {
        free(p);
        return err == -ESHUTDOWN ? 0 : err;
    }
    return 0;
}

/* Appends message bytes (inflated) to the part being built. */
static int sink(cio_ws *ws, const uint8_t *data, size_t n)
{
    if (ws->m_len + n > ws->o.max_message)
        return -EMSGSIZE;
    if (ws->m_type == CIO_WS_TEXT && cio__ws_utf8_feed(&ws->m_utf8, data, n))
        return -EILSEQ;
    ws->m_len += n;
    while (n) {
        ws_part *p = ws->cur;
        if (!p || p->len == WS_PART_MAX) {
            if (p) {
                int err = push_part(ws, 0);
                if (err)
                    return err;
            }
            /* Sized by what the frame announced (already under the limit),
             * at most a part; grown as bytes come. */
            size_t want = ws->f_len - ws->f_got > n ? (size_t)(ws->f_len - ws->f_got) : n;
            size_t cap = want < 256 ? 256 : want > WS_PART_MAX ? WS_PART_MAX : want;
            p = cio__malloc(sizeof(*p) + cap + 1);
            if (!p)
                return -ENOMEM;
            p->type = ws->m_type;
            p->fin = 0;
            p->len = 0;
            p->cap = cap;
            ws->cur = p;
        }
        size_t room = WS_PART_MAX - p->len, k = n < room ? n : room;
        if (p->len + k > p->cap) {
            size_t cap = p->cap * 2 > p->len + k ? p->cap * 2 : p->len + k;
            if (cap > WS_PART_MAX)
                cap = WS_PART_MAX;
            ws_part *q = cio__realloc(p, sizeof(*q) + cap + 1);
            if (!q)
                return -ENOMEM;
            q->cap = cap;
            ws->cur = p = q;
        }
        memcpy(p->data + p->len, data, k);
        p->len += k;
        data += k;
        n -= k;
    }
    return 0;
}

static int sink_error(cio_ws *ws, int err)
{
    if (err == -EMSGSIZE)
        cio__ws_fail(ws, CIO_WS_TOO_BIG, err, "message over the %zu-byte limit", ws->o.max_message);
    else if (err == -EILSEQ)
        cio__ws_fail(ws, CIO_WS_INVALID_DATA, err, "invalid UTF-8 in a text message");
    else if (err == -EBADMSG)
        cio__ws_fail(ws, CIO_WS_INVALID_DATA, err, "a compressed message that does not inflate");
    else if (err == -ENOMEM)
        cio__ws_fail(ws, CIO_WS_INTERNAL_ERROR, err, "out of memory receiving a message");
    return err;
}

static void got_pong(cio_ws *ws, const uint8_t *data, size_t n)
{
    ws_ping *match = NULL;
    for (ws_ping *p = ws->pings; p; p = p->next)
        if (p->len == n && memcmp(p->data, data, n) == 0)
            match = p;
    if (!match)
        return; /* unsolicited: fine (RFC 6455 5.5.3) */
    /* A pong answers its ping and every ping sent before it. */
    ws_ping **pp = &ws->pings;
    double now = cio_now();
    for (;;) {
        ws_ping *p = *pp;
        *pp = p->next;
        p->done = 1;
        if (p == &ws->keepalive)
            ws->keepalive_out = 0;
        cio_event_set(&p->ev);
        if (p == match) {
            ws->rtt = now - p->sent;
            break;
        }
    }
}

static int got_close(cio_ws *ws, const uint8_t *data, size_t n)
{
    if (n == 1) {
        cio__ws_fail(ws, CIO_WS_PROTOCOL_ERROR, -EPROTO, "a close frame of 1 byte");
        return -EPROTO;
    }
    int code = n >= 2 ? data[0] << 8 | data[1] : CIO_WS_NO_STATUS;
    if (n >= 2 && !close_code_valid(code)) {
        cio__ws_fail(ws, CIO_WS_PROTOCOL_ERROR, -EPROTO, "close code %d may not be sent", code);
        return -EPROTO;
    }
    if (n > 2 && !cio__ws_utf8_valid(data + 2, n - 2)) {
        cio__ws_fail(ws, CIO_WS_INVALID_DATA, -EILSEQ, "invalid UTF-8 in a close reason");
        return -EILSEQ;
    }
    ws->close_rcvd = 1;
    ws->peer_code = code;
    if (n > 2)
        memcpy(ws->peer_reason, data + 2, n - 2);
    ws->peer_reason[n > 2 ? n - 2 : 0] = 0;
    set_errorf(ws, -EPIPE, "closed by the peer: %d%s%s", code, n > 2 ? " " : "", ws->peer_reason);
    if (!ws->close_queued) {
        /* Echo the code (RFC 6455 5.5.1), after the data already queued. */
        uint8_t b[2] = {(uint8_t)(code >> 8), (uint8_t)code};
        cio__ws_queue_control(ws, WSLAY_CONNECTION_CLOSE, b, code == CIO_WS_NO_STATUS ? 0 : 2, 0);
        ws->close_queued = 1;
    }
    if (ws->state == WS_OPEN)
        ws->state = WS_CLOSING;
    cio_queue_shutdown(&ws->rxq, 0);
    wake_all(ws);
    return 0;
}

static int control_frame(cio_ws *ws)
{
    size_t n = (size_t)ws->f_len;
    switch (ws->f_op) {
    case WSLAY_PING:
        if (ws->state == WS_OPEN)
            return cio__ws_queue_control(ws, WSLAY_PONG, ws->ctl, n, 1);
        return 0;
    case WSLAY_PONG:
        got_pong(ws, ws->ctl, n);
        return 0;
    default:
        return ws->close_rcvd ? 0 : got_close(ws, ws->ctl, n);
    }
}

/* A frame's header: the checks RFC 6455 5.2-5.4 and RFC 7692 6 ask for. */
static int frame_start(cio_ws *ws, const struct wslay_frame_iocb *io)
{
    ws->in_frame = 1;
    ws->f_op = io->opcode;
    ws->f_fin = io->fin;
    ws->f_rsv = io->rsv;
    ws->f_len = io->payload_length;
    ws->f_got = 0;
    if (io->mask != (ws->server ? 1 : 0)) {
        cio__ws_fail(ws, CIO_WS_PROTOCOL_ERROR, -EPROTO, "%s frame from the %s",
                     io->mask ? "a masked" : "an unmasked", ws->server ? "client" : "server");
        return -EPROTO;
    }
    int data = io->opcode == WSLAY_TEXT_FRAME || io->opcode == WSLAY_BINARY_FRAME;
    int rsv_ok = io->rsv == 0 || (io->rsv == WSLAY_RSV1_BIT && data && ws->dfl &&
                                  ws->dfl->p.enabled && !ws->in_msg);
    if (!rsv_ok) {
        cio__ws_fail(ws, CIO_WS_PROTOCOL_ERROR, -EPROTO, "reserved bits 0x%x set", io->rsv);
        return -EPROTO;
    }
    if (wslay_is_ctrl_frame(io->opcode)) {
        if (io->opcode != WSLAY_PING && io->opcode != WSLAY_PONG &&
            io->opcode != WSLAY_CONNECTION_CLOSE)
            goto bad_opcode;
        return 0; /* wslay checked the length (<= 125) and FIN */
    }
    if (io->opcode == WSLAY_CONTINUATION_FRAME) {
        if (!ws->in_msg) {
            cio__ws_fail(ws, CIO_WS_PROTOCOL_ERROR, -EPROTO,
                         "a continuation frame outside a message");
            return -EPROTO;
        }
    } else if (data) {
        if (ws->in_msg) {
            cio__ws_fail(ws, CIO_WS_PROTOCOL_ERROR, -EPROTO,
                         "a new message inside a fragmented one");
            return -EPROTO;
        }
        ws->in_msg = 1;
        ws->m_type = io->opcode;
        ws->m_compressed = io->rsv != 0;
        ws->m_wire = 0;
        ws->m_len = 0;
        memset(&ws->m_utf8, 0, sizeof(ws->m_utf8));
    } else {
        goto bad_opcode;
    }
    /* The limit, from the header, before anything is allocated. A compressed
     * message may be a little longer on the wire than inflated. */
    uint64_t wire_max = ws->o.max_message;
    if (ws->m_compressed && wire_max < UINT64_MAX / 2)
        wire_max += wire_max / 64 + 1024;
    if (io->payload_length > wire_max || ws->m_wire + io->payload_length > wire_max) {
        cio__ws_fail(ws, CIO_WS_TOO_BIG, -EMSGSIZE,
                     "a frame of %llu bytes takes the message over the %zu-byte limit",
                     (unsigned long long)io->payload_length, ws->o.max_message);
        return -EMSGSIZE;
    }
    ws->m_wire += io->payload_length;
    return 0;
bad_opcode:
    cio__ws_fail(ws, CIO_WS_PROTOCOL_ERROR, -EPROTO, "unknown opcode 0x%x", io->opcode);
    return -EPROTO;
}

/* A piece of a frame's payload (unmasked by wslay). */
static int frame_data(cio_ws *ws, const struct wslay_frame_iocb *io, size_t n)
{
    if (!ws->in_frame) {
        int err = frame_start(ws, io);
        if (err)
            return err;
    }
    int end = ws->f_got + n == ws->f_len;
    int ctl = wslay_is_ctrl_frame(ws->f_op);
    if (ctl) {
        memcpy(ws->ctl + ws->f_got, io->data, n);
    } else if (ws->state != WS_OPEN) {
        /* Closing: data is read and dropped, so the close frame is seen. */
    } else {
        int err = ws->m_compressed ? cio__ws_inflate(ws, io->data, n, end && ws->f_fin, sink)
                                   : sink(ws, io->data, n);
        if (err)
            return sink_error(ws, err);
    }
    ws->f_got += n;
    if (!end)
        return 0;
    ws->in_frame = 0;
    if (ctl)
        return control_frame(ws);
    if (ws->state != WS_OPEN) {
        if (ws->f_fin)
            ws->in_msg = 0;
        return 0;
    }
    if (ws->f_fin) {
        ws->in_msg = 0;
        if (ws->m_type == CIO_WS_TEXT && !cio__ws_utf8_complete(&ws->m_utf8))
            return sink_error(ws, -EILSEQ);
        return push_part(ws, 1);
    }
    return push_part(ws, 0);
}

static int reader_main(void *arg)
{
    cio_ws *ws = arg;
    for (;;) {
        struct wslay_frame_iocb io;
        ws->rd_err = 0;
        ssize_t r = wslay_frame_recv(ws->fr, &io);
        if (r >= 0) {
            int err = frame_data(ws, &io, (size_t)r);
            if (err == -ECANCELED || err == -ETIMEDOUT)
                break;
            continue;
        }
        if (r == WSLAY_ERR_PROTO) {
            cio__ws_fail(ws, CIO_WS_PROTOCOL_ERROR, -EPROTO,
                         "a malformed frame header (length encoding or control frame)");
            /* Nothing after a malformed header can be framed: stop reading. */
            break;
        }
        if (r != WSLAY_ERR_WANT_READ) {
            cio__ws_fail(ws, CIO_WS_INTERNAL_ERROR, -EIO, "wslay failed reading a frame (%zd)", r);
            break;
        }
        if (cio_cancelled())
            break;
        /* EOF or a read error: the peer is gone (normal after a close). */
        if (!ws->close_rcvd) {
            ws->lost = 1;
            cio__ws_fail(ws, 0, -ECONNRESET, "the peer vanished without a close frame (1006)%s%s",
                         ws->rd_err != -ECONNRESET ? ": " : "",
                         ws->rd_err != -ECONNRESET ? cio_strerror(ws->rd_err) : "");
        }
        break;
    }
    ws->rd_done = 1;
    cio_event_set(&ws->eof_ev);
    wake_all(ws);
    return 0;
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
    memcpy(k->data, "cio", 3);
    memcpy(k->data + 3, &seq, 4);
    k->len = 7;
    k->sent = cio_now();
    k->done = 0;
    k->next = NULL;
    ws_ping **pp = &ws->pings;
    while (*pp)
        pp = &(*pp)->next;
    *pp = k;
    ws->keepalive_out = 1;
    cio__ws_queue_control(ws, WSLAY_PING, k->data, k->len, 1);
    keepalive_arm(ws, ws->o.ping_timeout);
}

int cio__ws_start(cio_ws *ws)
{
    cio_task_opts to = {.name = ws->server ? "ws-reader(server)" : "ws-reader(client)"};
    int err = cio_spawn_opts(&ws->reader, reader_main, ws, &to);
    if (err)
        return err;
    keepalive_arm(ws, ws->o.ping_interval);
    return 0;
}

/* ---- receiving ---- */

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

static int get_part(cio_ws *ws, ws_part **p)
{
    if (ws->released)
        return cio_fail(-EPIPE, "WebSocket: closed");
    int err = cio_queue_get(&ws->rxq, (void **)p);
    if (err == -ESHUTDOWN)
        return cio__ws_closed_error(ws);
    return err;
}

static void give(cio_ws_msg *msg, ws_part *p)
{
    msg->type = (cio_ws_type)p->type;
    msg->data = p->data;
    msg->len = p->len;
    msg->priv = p;
}

int cio_ws_recv(cio_ws *ws, cio_ws_msg *msg)
{
    if (!ws || !msg)
        return -EINVAL;
    if (ws->receiving || ws->rx_streaming)
        return -EBUSY;
    cio__ws_enter(ws);
    ws->receiving = 1;
    int err = 0;
    for (;;) {
        ws_part *p;
        err = get_part(ws, &p);
        if (err)
            break;
        ws_part *a = ws->rx_asm;
        if (!a) {
            a = p;
        } else {
            if (a->len + p->len > a->cap) {
                /* Doubling: a message of k parts costs O(size) copying. */
                size_t cap = a->cap * 2 > a->len + p->len ? a->cap * 2 : a->len + p->len;
                ws_part *b = cio__realloc(a, sizeof(*b) + cap + 1);
                if (!b) {
                    free(p);
                    err = -ENOMEM;
                    break;
                }
                a = b;
                a->cap = cap;
            }
            memcpy(a->data + a->len, p->data, p->len);
            a->len += p->len;
            a->data[a->len] = 0;
            a->fin = p->fin;
            free(p);
        }
        ws->rx_asm = a;
        if (a->fin) {
            ws->rx_asm = NULL;
            give(msg, a);
            break;
        }
    }
    ws->receiving = 0;
    return cio__ws_leave(ws, err);
}

int cio_ws_recv_part(cio_ws *ws, cio_ws_msg *part, int *fin)
{
    if (!ws || !part || !fin)
        return -EINVAL;
    if (ws->receiving || ws->rx_asm)
        return -EBUSY;
    cio__ws_enter(ws);
    ws->receiving = 1;
    ws_part *p;
    int err = get_part(ws, &p);
    if (!err) {
        give(part, p);
        *fin = p->fin;
        ws->rx_streaming = !p->fin;
    }
    ws->receiving = 0;
    return cio__ws_leave(ws, err);
}

void cio_ws_msg_free(cio_ws_msg *msg)
{
    if (!msg)
        return;
    free(msg->priv);
    memset(msg, 0, sizeof(*msg));
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
    ws_ping p = {.len = len, .sent = cio_now()};
    if (len)
        memcpy(p.data, data, len);
    cio_event_init(&p.ev);
    err = cio__ws_queue_control(ws, WSLAY_PING, p.data, len, 1);
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
        cio__ws_queue_control(ws, WSLAY_CONNECTION_CLOSE, b, 2 + rl, 0);
        ws->close_queued = 1;
    }
    cio_queue_shutdown(&ws->rxq, 0); /* the reader drops what comes now */
    drain_rxq(ws);
    wake_all(ws);
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
    if (!close_code_valid(code) || rl > 123 || (rl && !cio__ws_utf8_valid(reason, rl))) {
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
    stop_task(&ws->reader);
    stop_task(&ws->writer);
    if (!ws->err)
        ws->err = -EPIPE;
    cio_queue_shutdown(&ws->rxq, 0);
    drain_rxq(ws);
    wake_all(ws);
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
