/* Receiving: reading frames from the stream (frame.c checks their headers),
 * pongs, close frames, the receive queue, and cio_ws_recv.
 *
 * Who reads: the task in cio_ws_recv reads inline, on its own stack; while no
 * task is in it, a reader task does (pongs must go out while the application
 * is not reading), started a loop turn after the last cio_ws_recv left, and
 * cancelled by the next cio_ws_recv that finds nothing queued. An idle
 * connection whose handler waits in cio_ws_recv therefore has one task, and
 * the wait itself holds no buffer: on a plain stream it is a readiness wait
 * with the stream's read buffer released (W21). */
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "ws_internal.h"

/* ---- the receive queue ---- */

void cio__ws_drain_rxq(cio_ws *ws)
{
    while (ws->rxq) {
        ws_part *p = ws->rxq;
        ws->rxq = p->next;
        free(p);
    }
    ws->rxq_tail = NULL;
    ws->rxq_len = 0;
    cio_event_set(&ws->rx_room_ev);
}

static void rxq_put(cio_ws *ws, ws_part *p)
{
    p->next = NULL;
    if (ws->rxq_tail)
        ws->rxq_tail->next = p;
    else
        ws->rxq = p;
    ws->rxq_tail = p;
    ws->rxq_len++;
    ws->rx_pushed++;
}

static ws_part *rxq_get(cio_ws *ws)
{
    ws_part *p = ws->rxq;
    if (!p)
        return NULL;
    ws->rxq = p->next;
    if (!ws->rxq)
        ws->rxq_tail = NULL;
    ws->rxq_len--;
    cio_event_set(&ws->rx_room_ev);
    return p;
}

/* ---- messages ---- */

/* Queues the part being built. A part for a connection that is closing is
 * dropped. */
static int push_part(cio_ws *ws, int fin)
{
    ws_part *p = ws->cur;
    if (!p) {
        if (!fin)
            return 0;
        p = cio__malloc(sizeof(*p) + 1);
        if (!p)
            return -ENOMEM;
        p->type = ws->rx.m_type;
        p->len = p->cap = 0;
    }
    ws->cur = NULL;
    p->fin = (uint8_t)fin;
    p->data[p->len] = 0;
    if (ws->state != WS_OPEN || ws->rx_shut) {
        free(p);
        return 0;
    }
    rxq_put(ws, p);
    return 0;
}

/* Appends message bytes (inflated) to the part being built. */
static int sink(cio_ws *ws, const uint8_t *data, size_t n)
{
    if (ws->m_len + n > ws->o.max_message)
        return -EMSGSIZE;
    if (ws->rx.m_type == CIO_WS_TEXT && cio__ws_utf8_feed(&ws->m_utf8, data, n))
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
            uint64_t left = ws->rx.f_len - ws->rx.f_got;
            size_t want = left > n ? (left > WS_PART_MAX ? WS_PART_MAX : (size_t)left) : n;
            size_t cap = want < 64 ? 64 : want > WS_PART_MAX ? WS_PART_MAX : want;
            p = cio__malloc(sizeof(*p) + cap + 1);
            if (!p)
                return -ENOMEM;
            p->type = ws->rx.m_type;
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

/* ---- control frames ---- */

static void got_pong(cio_ws *ws, const uint8_t *data, size_t n)
{
    ws_ping *match = NULL;
    for (ws_ping *p = ws->pings; p; p = p->next)
        if (p->len == n && (n == 0 || memcmp(p->data, data, n) == 0))
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
            cio__ws_keepalive_answered(ws);
        cio_event_set(&p->ev);
        if (p == match) {
            ws->rtt = now - p->sent;
            break;
        }
    }
}

static void got_close(cio_ws *ws, const uint8_t *data, size_t n)
{
    if (n == 1) {
        cio__ws_fail(ws, CIO_WS_PROTOCOL_ERROR, -EPROTO, "a close frame of 1 byte");
        return;
    }
    int code = n >= 2 ? data[0] << 8 | data[1] : CIO_WS_NO_STATUS;
    if (n >= 2 && !cio__ws_close_code_valid(code)) {
        cio__ws_fail(ws, CIO_WS_PROTOCOL_ERROR, -EPROTO, "close code %d may not be sent", code);
        return;
    }
    if (n > 2 && !cio__ws_utf8_valid(data + 2, n - 2)) {
        cio__ws_fail(ws, CIO_WS_INVALID_DATA, -EILSEQ, "invalid UTF-8 in a close reason");
        return;
    }
    ws->close_rcvd = 1;
    ws->peer_code = code;
    if (n > 2)
        memcpy(ws->peer_reason, data + 2, n - 2);
    ws->peer_reason[n > 2 ? n - 2 : 0] = 0;
    if (!ws->err) {
        ws->err = -EPIPE;
        snprintf(ws->errmsg, sizeof(ws->errmsg), "closed by the peer: %d%s%s", code,
                 n > 2 ? " " : "", ws->peer_reason);
    }
    if (!ws->close_queued) {
        /* Echo the code (RFC 6455 5.5.1), after the data already queued. */
        uint8_t b[2] = {(uint8_t)(code >> 8), (uint8_t)code};
        cio__ws_queue_control(ws, WS_OP_CLOSE, b, code == CIO_WS_NO_STATUS ? 0 : 2, 0);
        ws->close_queued = 1;
    }
    if (ws->state == WS_OPEN)
        ws->state = WS_CLOSING;
    ws->rx_shut = 1;
    cio__ws_wake_all(ws);
}

static void control_frame(cio_ws *ws)
{
    size_t n = (size_t)ws->rx.f_len;
    switch (ws->rx.f_op) {
    case WS_OP_PING:
        if (ws->state == WS_OPEN)
            cio__ws_queue_control(ws, WS_OP_PONG, ws->ctl, n, 1);
        break;
    case WS_OP_PONG:
        got_pong(ws, ws->ctl, n);
        break;
    case WS_OP_CLOSE:
        if (!ws->close_rcvd)
            got_close(ws, ws->ctl, n);
        break;
    default: /* an unknown control opcode, refused by its header */
        break;
    }
}

/* ---- frames ---- */

/* A frame's payload bytes (unmasked), p may be empty at the frame's end. */
static void payload(cio_ws *ws, uint8_t *p, size_t n)
{
    ws_rx *rx = &ws->rx;
    int end = rx->f_got + n == rx->f_len;
    int ctl = ws_is_control(rx->f_op);
    if (ctl) {
        if (rx->f_len <= sizeof(ws->ctl)) /* else refused by its header: skipped */
            memcpy(ws->ctl + rx->f_got, p, n);
    } else if (ws->state == WS_OPEN && !ws->rx_shut && (n || (end && rx->f_fin))) {
        int err =
            rx->m_compressed ? cio__ws_inflate(ws, p, n, end && rx->f_fin, sink) : sink(ws, p, n);
        if (err)
            sink_error(ws, err);
    } /* else closing: data is read and dropped, so the close frame is seen */
    rx->f_got += n;
    if (!end)
        return;
    rx->in_frame = 0;
    if (ctl) {
        if (rx->f_len <= sizeof(ws->ctl))
            control_frame(ws);
        return;
    }
    if (ws->state != WS_OPEN || ws->rx_shut)
        return;
    if (rx->f_fin && rx->m_type == CIO_WS_TEXT && !cio__ws_utf8_complete(&ws->m_utf8)) {
        sink_error(ws, -EILSEQ);
        return;
    }
    int err = push_part(ws, rx->f_fin);
    if (err)
        sink_error(ws, err);
}

/* Takes a header from p[0, n), gathering it in rx.hbuf when it is split
 * across reads. Returns the bytes used, or -EPROTO when the input cannot be
 * framed any more. */
static ssize_t header(cio_ws *ws, const uint8_t *p, size_t n)
{
    ws_rx *rx = &ws->rx;
    const uint8_t *h = p;
    size_t hn = n, used = 0;
    if (rx->hlen || n < 2 || n < ws_header_size(p)) {
        for (;;) { /* never past the header: the payload stays in place */
            size_t need = rx->hlen < 2 ? 2 : ws_header_size(rx->hbuf);
            if (rx->hlen == need || used == n)
                break;
            size_t k = need - rx->hlen < n - used ? need - rx->hlen : n - used;
            memcpy(rx->hbuf + rx->hlen, p + used, k);
            rx->hlen = (uint8_t)(rx->hlen + k);
            used += k;
        }
        if (rx->hlen < 2 || rx->hlen < ws_header_size(rx->hbuf))
            return (ssize_t)used;
        h = rx->hbuf;
        hn = rx->hlen;
        rx->hlen = 0;
    }
    ws_rx_rules r = {ws->server, ws->dfl && ws->dfl->p.enabled, ws->o.max_message};
    int err;
    char why[120];
    int size = cio__ws_rx_header(rx, &r, h, hn, &err, why, sizeof(why));
    if (size <= 0) {
        cio__ws_fail(ws, CIO_WS_PROTOCOL_ERROR, -EPROTO,
                     "a malformed frame header (its length is not encoded as RFC 6455 asks)");
        return -EPROTO;
    }
    if (h == p)
        used = (size_t)size;
    if (err) {
        cio__ws_fail(ws, err == -EMSGSIZE ? CIO_WS_TOO_BIG : CIO_WS_PROTOCOL_ERROR, err, "%s", why);
    } else if (!ws_is_control(rx->f_op) && rx->f_op != WS_OP_CONT) {
        ws->m_len = 0; /* a new message */
        memset(&ws->m_utf8, 0, sizeof(ws->m_utf8));
    }
    return (ssize_t)used;
}

/* Handles the bytes p[0, n) (unmasked in place): headers, payloads, control
 * frames. Stops after a part was queued, so a reader does not run far ahead
 * of its receiver. Returns the bytes used, or -EPROTO (stop reading). */
static ssize_t feed(cio_ws *ws, uint8_t *p, size_t n)
{
    ws_rx *rx = &ws->rx;
    unsigned pushed = ws->rx_pushed;
    size_t used = 0;
    while (ws->rx_pushed == pushed) {
        if (!rx->in_frame) {
            if (used == n)
                break;
            ssize_t k = header(ws, p + used, n - used);
            if (k < 0)
                return k;
            used += (size_t)k;
            if (!rx->in_frame)
                continue; /* the header is not whole yet */
        }
        uint64_t left = rx->f_len - rx->f_got;
        size_t k = left < n - used ? (size_t)left : n - used;
        if (!k && left)
            break;
        cio__ws_mask(p + used, p + used, k, rx->key, rx->f_got);
        payload(ws, p + used, k);
        used += k;
    }
    return (ssize_t)used;
}

/* ---- reading from the stream ---- */

/* Points *p at bytes to parse: the bytes that came with the handshake first,
 * then the stream's buffer, waiting for some when there are none. A wait on
 * a plain stream is for readiness first, with the stream's read buffer
 * released: an idle connection keeps no buffer. Returns the count, 0 at EOF,
 * or -errno. */
static ssize_t source(cio_ws *ws, uint8_t **p)
{
    if (ws->early) {
        if (ws->early_off < ws->nearly) {
            *p = ws->early + ws->early_off;
            return (ssize_t)(ws->nearly - ws->early_off);
        }
        free(ws->early);
        ws->early = NULL;
    }
    if (ws->plain && !cio_stream_read_buffered(ws->s)) {
        cio_stream_release_read_buffer(ws->s);
        int err = cio_stream_wait_readable(ws->s);
        if (err)
            return err;
    }
    const void *d;
    ssize_t n = cio_stream_peek(ws->s, &d, 1);
    /* The stream's buffer is ours until consumed: payloads are unmasked in
     * place there. */
    *p = (uint8_t *)(uintptr_t)d;
    return n;
}

static void consumed(cio_ws *ws, size_t n)
{
    if (ws->early)
        ws->early_off += n;
    else if (n)
        cio_stream_consume(ws->s, n);
}

/* The input ended (EOF or a read error) or cannot be framed any more. */
static void input_ended(cio_ws *ws, ssize_t r)
{
    if (r != -EPROTO && !ws->close_rcvd) {
        ws->lost = 1;
        int e = r == 0 || r == -EPIPE ? -ECONNRESET : (int)r;
        cio__ws_fail(ws, 0, -ECONNRESET, "the peer vanished without a close frame (1006)%s%s",
                     e != -ECONNRESET ? ": " : "", e != -ECONNRESET ? cio_strerror(e) : "");
    }
    ws->rd_done = 1;
    ws->rx_shut = 1;
    cio_event_set(&ws->eof_ev);
    cio__ws_wake_all(ws);
}

/* Reads and handles frames until a part was queued, nothing more will come
 * for a receiver (a close, a failure), or the input ended. Returns 0, or the
 * reason a wait was cancelled (the state is kept: the next call goes on). */
static int pump(cio_ws *ws, int inline_recv)
{
    unsigned pushed = ws->rx_pushed;
    while (ws->rx_pushed == pushed && !ws->rd_done && !(inline_recv && ws->rx_shut)) {
        uint8_t *p = NULL;
        cio_scope sc;
        if (inline_recv) {
            /* cio_ws_close from another task cancels this wait. */
            if (cio_scope_enter(&sc) != 0)
                return -EPERM;
            ws->rd_scope = &sc;
        }
        ssize_t n = source(ws, &p);
        if (inline_recv) {
            ws->rd_scope = NULL;
            if (cio_scope_exit(&sc) == -ECANCELED)
                return 0; /* woken: the connection failed or closes (the loop ends) */
        }
        if (n <= 0) {
            int c = cio_cancelled();
            if (c)
                return c;
            input_ended(ws, n);
            break;
        }
        ssize_t k = feed(ws, p, (size_t)n);
        if (k < 0) {
            input_ended(ws, k);
            break;
        }
        consumed(ws, (size_t)k);
    }
    return 0;
}

/* ---- the reader task: reads while nobody is in cio_ws_recv ---- */

static int reader_main(void *arg)
{
    cio_ws *ws = arg;
    while (!ws->rd_done && !cio_cancelled()) {
        /* A full queue stops the reading: TCP pushes back on the peer. */
        while (ws->rxq_len >= ws->o.max_queue && !ws->rx_shut && !cio_cancelled())
            cio__ws_wait(&ws->rx_room_ev);
        if (cio_cancelled() || pump(ws, 0))
            break;
    }
    return 0;
}

static void reader_start(void *arg)
{
    cio_ws *ws = arg;
    ws->reader_cb = NULL;
    if (ws->reader || ws->rd_task || ws->rd_done || ws->state == WS_CLOSED)
        return;
    cio_task_opts to = {.name = ws->server ? "ws-reader(server)" : "ws-reader(client)"};
    if (cio_spawn_opts(&ws->reader, reader_main, ws, &to) != 0) {
        ws->reader = NULL;
        cio__ws_fail(ws, CIO_WS_INTERNAL_ERROR, -ENOMEM, "no memory for the connection's reader");
    }
}

void cio__ws_want_reader(cio_ws *ws)
{
    if (ws->reader || ws->reader_cb || ws->rd_done || ws->state == WS_CLOSED)
        return;
    ws->reader_cb = cio_call_soon(reader_start, ws);
    if (!ws->reader_cb)
        cio__ws_fail(ws, CIO_WS_INTERNAL_ERROR, -ENOMEM, "no memory for the connection's reader");
}

/* Ends the reader task (a receiver takes over, or the connection closes). */
static int stop_reader(cio_ws *ws)
{
    if (!ws->reader)
        return 0;
    cio_cancel(ws->reader);
    int err = cio_join(ws->reader);
    ws->reader = NULL;
    return err == -ECANCELED ? 0 : err;
}

void cio__ws_stop_reading(cio_ws *ws)
{
    if (ws->reader_cb) {
        cio_handle_cancel(ws->reader_cb);
        ws->reader_cb = NULL;
    }
    stop_reader(ws);
    /* A task inside cio_ws_recv reading inline: its wait is cancelled, and it
     * leaves before the stream goes. */
    while (ws->rd_task && ws->rd_task != cio_current()) {
        if (ws->rd_scope)
            cio_scope_cancel(ws->rd_scope);
        cio__ws_wait(&ws->eof_ev);
    }
}

/* ---- cio_ws_recv ---- */

/* The next part: queued, or read inline (the reader task, if any, is
 * stopped first: one task reads at a time). */
static int get_part(cio_ws *ws, ws_part **out)
{
    for (;;) {
        if (ws->released)
            return cio_fail(-EPIPE, "WebSocket: closed");
        if ((*out = rxq_get(ws)))
            return 0;
        if (ws->rx_shut || ws->rd_done)
            return cio__ws_closed_error(ws);
        if (ws->reader) {
            int err = stop_reader(ws);
            if (err)
                return err;
            continue;
        }
        ws->rd_task = cio_current();
        int err = pump(ws, 1);
        ws->rd_task = NULL;
        if (ws->released)
            cio_event_set(&ws->eof_ev); /* cio_ws_close waits for this task to leave */
        else if (err)
            return err;
    }
}

static void give(cio_ws_msg *msg, ws_part *p)
{
    msg->type = (cio_ws_type)p->type;
    msg->data = p->data;
    msg->len = p->len;
    msg->priv = p;
}

/* Leaving cio_ws_recv: someone must read until the next call. */
static int recv_leave(cio_ws *ws, int err)
{
    ws->receiving = 0;
    if (!ws->released)
        cio__ws_want_reader(ws);
    return cio__ws_leave(ws, err);
}

/* A receive refused: one task receives at a time, and a message read in
 * parts is read in parts to its end (and a cancelled cio_ws_recv's part
 * waits for the next cio_ws_recv). */
static int busy(const cio_ws *ws, const char *call, const char *why)
{
    return cio_fail(-EBUSY, "%s: %s", call,
                    ws->receiving ? "another task is receiving on this WebSocket" : why);
}

int cio_ws_recv(cio_ws *ws, cio_ws_msg *msg)
{
    if (!ws || !msg)
        return -EINVAL;
    if (ws->receiving || ws->rx_streaming)
        return busy(ws, "cio_ws_recv",
                    "a message is being read in parts: cio_ws_recv_part reads it to its end");
    if (!cio_current())
        return -EPERM;
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
    return recv_leave(ws, err);
}

int cio_ws_recv_part(cio_ws *ws, cio_ws_msg *part, int *fin)
{
    if (!ws || !part || !fin)
        return -EINVAL;
    if (ws->receiving || ws->rx_asm)
        return busy(ws, "cio_ws_recv_part",
                    "a cancelled cio_ws_recv left a message half read: cio_ws_recv finishes it");
    if (!cio_current())
        return -EPERM;
    cio__ws_enter(ws);
    ws->receiving = 1;
    ws_part *p;
    int err = get_part(ws, &p);
    if (!err) {
        give(part, p);
        *fin = p->fin;
        ws->rx_streaming = !p->fin;
    }
    return recv_leave(ws, err);
}

void cio_ws_msg_free(cio_ws_msg *msg)
{
    if (!msg)
        return;
    free(msg->priv);
    memset(msg, 0, sizeof(*msg));
}
