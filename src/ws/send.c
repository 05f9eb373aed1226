/* Sending: the send queue (bounded in bytes, with water marks and a cap),
 * the writer task that empties it (frames built here), a direct path
 * that skips the queue when the socket takes a frame at once, fragmented
 * messages, and broadcast. */
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "../core/alloc.h"
#include "ws_internal.h"

static size_t cost(size_t len)
{
    return len + WS_FRAME_OVERHEAD;
}

void cio__ws_frame_free(ws_frame *f)
{
    if (f->shared && --f->shared->refs == 0)
        free(f->shared);
    free(f);
}

void cio__ws_free_queue(cio_ws *ws)
{
    while (ws->q_head) {
        ws_frame *f = ws->q_head;
        ws->q_head = f->next;
        cio__ws_frame_free(f);
    }
    ws->q_tail = NULL;
    ws->queued = 0;
}

static void update_marks(cio_ws *ws)
{
    if (ws->queued > ws->o.write_high) {
        ws->above_high = 1;
    } else if (ws->above_high && ws->queued <= ws->o.write_low) {
        ws->above_high = 0;
        cio_event_set(&ws->room_ev);
    }
}

/* Drops the data frames still queued (a failing connection sends its close
 * frame and nothing more), keeping control frames. */
void cio__ws_drop_data(cio_ws *ws)
{
    ws_frame **pp = &ws->q_head;
    ws->q_tail = NULL;
    while (*pp) {
        ws_frame *f = *pp;
        if (!ws_is_control(f->opcode)) {
            *pp = f->next;
            ws->queued -= cost(f->len);
            cio__ws_frame_free(f);
        } else {
            ws->q_tail = f;
            pp = &f->next;
        }
    }
    update_marks(ws);
    cio_event_set(&ws->room_ev);
}

static void ensure_writer(cio_ws *ws);

static void enqueue(cio_ws *ws, ws_frame *f, int front)
{
    if (front) {
        f->next = ws->q_head;
        ws->q_head = f;
        if (!ws->q_tail)
            ws->q_tail = f;
    } else {
        f->next = NULL;
        if (ws->q_tail)
            ws->q_tail->next = f;
        else
            ws->q_head = f;
        ws->q_tail = f;
    }
    ws->queued += cost(f->len);
    update_marks(ws);
    ensure_writer(ws);
}

static ws_frame *frame_new(uint8_t opcode, uint8_t fin, uint8_t rsv, const void *data, size_t len,
                           ws_payload *shared)
{
    ws_frame *f = cio__malloc(sizeof(*f) + (shared ? 0 : len));
    if (!f)
        return NULL;
    f->next = NULL;
    f->opcode = opcode;
    f->fin = fin;
    f->rsv = rsv;
    f->len = len;
    f->shared = shared;
    if (shared) {
        shared->refs++;
        f->data = shared->data;
    } else {
        if (len)
            memcpy(f->bytes, data, len);
        f->data = f->bytes;
    }
    return f;
}

/* A frame's header (RFC 6455 5.2) into h; returns its length. */
static size_t frame_header(uint8_t h[WS_FRAME_OVERHEAD], uint8_t opcode, uint8_t fin, uint8_t rsv,
                           size_t len, const uint8_t *key)
{
    size_t n = 2;
    h[0] = (uint8_t)((fin ? 0x80 : 0) | (rsv & 7) << 4 | (opcode & 0xf));
    if (len < 126) {
        h[1] = (uint8_t)len;
    } else if (len <= 0xffff) {
        h[1] = 126;
        h[2] = (uint8_t)(len >> 8);
        h[3] = (uint8_t)len;
        n = 4;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
        n = 10;
    }
    if (key) {
        h[1] |= 0x80;
        memcpy(h + n, key, 4);
        n += 4;
    }
    return n;
}

#define JOIN_MAX 4096 /* a frame up to this size goes to the stream in one write */

/* One frame to the stream. cio builds its frames itself rather than through
 * wslay_frame_send: wslay's function keeps a 4 KiB masking buffer in its
 * stack frame, so every task that sent a frame kept one or two more pages of
 * stack resident for ever (W21), and it masks a byte at a time. A frame goes
 * out in one write, header and payload joined in a buffer per thread, when
 * the write cannot suspend (it stays under the stream's low-water mark, so
 * the bytes are copied or sent before cio_stream_write returns and no other
 * task can use the buffer meanwhile); otherwise the header and the payload
 * are written in turn (a client masks its payload through a buffer of its
 * own, in pieces). */
static int write_frame(cio_ws *ws, uint8_t opcode, uint8_t fin, uint8_t rsv, const uint8_t *data,
                       size_t len)
{
    static __thread uint8_t joined[WS_FRAME_OVERHEAD + JOIN_MAX];
    uint8_t key[4], h[WS_FRAME_OVERHEAD];
    int masked = !ws->server;
    if (masked && RAND_bytes(key, 4) != 1)
        return -EIO;
    size_t hl = frame_header(h, opcode, fin, rsv, len, masked ? key : NULL);
    int err;
    ws->writing = 1;
    if (len <= JOIN_MAX && cio_stream_write_buffered(ws->s) + hl + len <= ws->direct_max) {
        memcpy(joined, h, hl);
        if (masked)
            cio__ws_mask(joined + hl, data, len, key, 0);
        else if (len)
            memcpy(joined + hl, data, len);
        err = cio_stream_write(ws->s, joined, hl + len);
    } else {
        err = cio_stream_write(ws->s, h, hl);
        if (!err && !masked) {
            err = cio_stream_write(ws->s, data, len);
        } else if (!err) {
            size_t piece = len < 16384 ? len : 16384;
            uint8_t *buf = cio__malloc(piece);
            err = buf ? 0 : -ENOMEM;
            for (size_t off = 0; !err && off < len; off += piece) {
                size_t k = len - off < piece ? len - off : piece;
                cio__ws_mask(buf, data + off, k, key, off);
                err = cio_stream_write(ws->s, buf, k);
            }
            free(buf);
        }
    }
    ws->writing = 0;
    return err;
}

static void written(cio_ws *ws, uint8_t opcode)
{
    if (opcode == WS_OP_CLOSE) {
        ws->close_written = 1;
        cio_event_set(&ws->written_ev);
    }
}

static void write_failed(cio_ws *ws, int err)
{
    ws->lost = 1;
    cio__ws_fail(ws, 0, err == -EPIPE ? -ECONNRESET : err, "writing to the peer failed: %s",
                 cio_strerror(err));
    cio__ws_free_queue(ws);
    cio_event_set(&ws->written_ev);
    cio_event_set(&ws->room_ev);
}

/* The direct path: with nothing queued and room in the stream's buffer, the
 * frame goes to the stream now, without a copy into the queue. The stream
 * does not suspend below its low-water mark, so this never waits. */
static int try_direct(cio_ws *ws, uint8_t opcode, uint8_t fin, uint8_t rsv, const uint8_t *data,
                      size_t len)
{
    if (ws->q_head || ws->writing || ws->close_written || !cio_current() || cio_cancelled() ||
        !ws->s)
        return 1;
    if (cio_stream_write_buffered(ws->s) + cost(len) > ws->direct_max)
        return 1;
    int err = write_frame(ws, opcode, fin, rsv, data, len);
    if (err) {
        write_failed(ws, err);
        return err;
    }
    written(ws, opcode);
    return 0;
}

/* The writer runs while the queue holds frames and ends when it is empty,
 * so an idle connection has no writer (and no stack for it). */
int cio__ws_writer_main(void *arg)
{
    cio_ws *ws = arg;
    while (ws->q_head) {
        ws_frame *f = ws->q_head;
        ws->q_head = f->next;
        if (!ws->q_head)
            ws->q_tail = NULL;
        ws->queued -= cost(f->len);
        update_marks(ws);
        if (ws->close_written || ws->lost) { /* nothing follows a close frame */
            cio__ws_frame_free(f);
            continue;
        }
        int err = write_frame(ws, f->opcode, f->fin, f->rsv, f->data, f->len);
        uint8_t opcode = f->opcode;
        cio__ws_frame_free(f);
        if (err) {
            if (cio_cancelled())
                break;
            write_failed(ws, err);
            continue;
        }
        written(ws, opcode);
    }
    ws->writer_exited = 1;
    cio_event_set(&ws->room_ev);
    return 0;
}

/* Starts a writer unless one runs. Works from loop callbacks too (the
 * keepalive's): a finished writer's handle is released without waiting. */
static void ensure_writer(cio_ws *ws)
{
    if (ws->writer && ws->writer_exited) {
        cio_detach(ws->writer);
        ws->writer = NULL;
    }
    if (ws->writer || ws->state == WS_CLOSED)
        return;
    ws->writer_exited = 0;
    cio_task_opts to = {.name = "ws-writer"};
    if (cio_spawn_opts(&ws->writer, cio__ws_writer_main, ws, &to) != 0) {
        ws->writer = NULL;
        ws->lost = 1;
        cio__ws_fail(ws, 0, -ENOMEM, "no memory for the connection's writer task");
        cio__ws_free_queue(ws);
    }
}

/* Queues a control frame (pong and ping first, close last) without waiting.
 * Past the cap the connection fails: a peer that pings and never reads does
 * not grow our memory. */
int cio__ws_queue_control(cio_ws *ws, uint8_t opcode, const void *data, size_t len, int front)
{
    if (ws->close_written || ws->lost)
        return 0;
    if (opcode != WS_OP_CLOSE && ws->queued + cost(len) > ws->o.write_cap) {
        cio__ws_fail(ws, CIO_WS_POLICY, -ENOBUFS, "the peer does not read: %zu bytes queued",
                     ws->queued);
        return -ENOBUFS;
    }
    if (!ws->q_head && try_direct(ws, opcode, 1, 0, data, len) <= 0)
        return 0;
    ws_frame *f = frame_new(opcode, 1, 0, data, len, NULL);
    if (!f)
        return -ENOMEM;
    enqueue(ws, f, front);
    return 0;
}

/* Queues one data frame: direct when possible, compressed when asked. */
static int queue_data(cio_ws *ws, uint8_t opcode, uint8_t fin, const void *data, size_t len,
                      ws_payload *shared, int compress)
{
    uint8_t *z = NULL;
    size_t zlen = 0;
    uint8_t rsv = 0;
    if (compress && ws->dfl && ws->dfl->p.enabled && ws->dfl->p.our_window_bits >= 9 &&
        len >= ws->o.deflate_min_size) {
        int r = cio__ws_deflate_message(ws->dfl, data, len, &z, &zlen);
        if (r < 0)
            return r;
        if (r == 0) {
            data = z;
            len = zlen;
            rsv = WS_RSV1;
            shared = NULL;
        }
    }
    /* A broadcast (shared payload) only queues: the writers deliver, so the
     * broadcasting task is not held up by N socket writes (10,000 members:
     * ~2 ms instead of ~200 ms here, the same CPU in all). */
    int err = shared ? 1 : try_direct(ws, opcode, fin, rsv, data, len);
    if (err <= 0) {
        free(z);
        return err;
    }
    ws_frame *f = frame_new(opcode, fin, rsv, data, len, shared);
    free(z);
    if (!f)
        return -ENOMEM;
    enqueue(ws, f, 0);
    return 0;
}

/* Waits until this task may queue: no other task streaming, the queue not
 * above its high-water mark. */
static int wait_room(cio_ws *ws, int wait)
{
    for (;;) {
        if (ws->state != WS_OPEN || ws->released)
            return cio__ws_closed_error(ws);
        cio_task *me = cio_current();
        if (!(ws->streamer && ws->streamer != me) && !ws->above_high)
            return 0;
        if (!wait)
            return -EAGAIN;
        int err = cio__ws_wait(&ws->room_ev);
        if (err)
            return err;
    }
}

static int send_msg(cio_ws *ws, cio_ws_type type, const void *data, size_t len, int wait)
{
    if (!ws || (!data && len) || (type != CIO_WS_TEXT && type != CIO_WS_BINARY))
        return -EINVAL;
    if (type == CIO_WS_TEXT && !cio__ws_utf8_valid(data, len))
        return cio_fail(-EILSEQ, "WebSocket send: text that is not UTF-8");
    cio__ws_enter(ws);
    int err = wait_room(ws, wait);
    if (!err && ws->streamer == cio_current() && ws->streamer)
        err = -EBUSY; /* the caller is streaming a message: finish it first */
    if (!err)
        err = queue_data(ws, (uint8_t)type, 1, data, len, NULL, 1);
    return cio__ws_leave(ws, err);
}

int cio_ws_send(cio_ws *ws, cio_ws_type type, const void *data, size_t len)
{
    return send_msg(ws, type, data, len, 1);
}

int cio_ws_send_text(cio_ws *ws, const char *text)
{
    if (!text)
        return -EINVAL;
    return send_msg(ws, CIO_WS_TEXT, text, strlen(text), 1);
}

int cio_ws_send_nowait(cio_ws *ws, cio_ws_type type, const void *data, size_t len)
{
    return send_msg(ws, type, data, len, 0);
}

int cio_ws_send_part(cio_ws *ws, cio_ws_type type, const void *data, size_t len, int fin)
{
    if (!ws || (!data && len))
        return -EINVAL;
    cio_task *me = cio_current();
    if (!me)
        return -EPERM;
    int first = ws->streamer != me;
    if (first && type != CIO_WS_TEXT && type != CIO_WS_BINARY)
        return -EINVAL;
    cio__ws_enter(ws);
    int err = wait_room(ws, 1);
    if (err) {
        if (!first && (err == -ECANCELED || err == -ETIMEDOUT)) {
            /* The message cannot be finished now: the peer would wait for
             * the rest forever, and other senders with it. */
            ws->streamer = NULL;
            cio__ws_fail(ws, CIO_WS_INTERNAL_ERROR, err,
                         "a fragmented message was abandoned (send cancelled)");
        }
        return cio__ws_leave(ws, err);
    }
    if (first) {
        ws->streamer = me;
        ws->s_type = (uint8_t)type;
        memset(&ws->s_utf8, 0, sizeof(ws->s_utf8));
    }
    if (ws->s_type == CIO_WS_TEXT && (cio__ws_utf8_feed(&ws->s_utf8, data, len) ||
                                      (fin && !cio__ws_utf8_complete(&ws->s_utf8)))) {
        ws->streamer = NULL;
        cio__ws_fail(ws, CIO_WS_INTERNAL_ERROR, -EILSEQ, "a streamed text message is not UTF-8");
        return cio__ws_leave(ws, cio_fail(-EILSEQ, "WebSocket send: text that is not UTF-8"));
    }
    err = queue_data(ws, first ? ws->s_type : WS_OP_CONT, (uint8_t)(fin != 0), data, len, NULL, 0);
    if (fin || err) {
        ws->streamer = NULL;
        cio_event_set(&ws->room_ev);
    }
    return cio__ws_leave(ws, err);
}

ssize_t cio_ws_broadcast(cio_ws *const *conns, size_t n, cio_ws_type type, const void *data,
                         size_t len)
{
    if ((!conns && n) || (!data && len) || (type != CIO_WS_TEXT && type != CIO_WS_BINARY))
        return -EINVAL;
    if (type == CIO_WS_TEXT && !cio__ws_utf8_valid(data, len))
        return -EILSEQ;
    ws_payload *pl = cio__malloc(sizeof(*pl) + len);
    if (!pl)
        return -ENOMEM;
    pl->refs = 1;
    pl->len = len;
    if (len)
        memcpy(pl->data, data, len);
    ssize_t queued = 0;
    for (size_t i = 0; i < n; i++) {
        cio_ws *ws = conns[i];
        if (!ws || ws->state != WS_OPEN || ws->released || ws->streamer)
            continue;
        if (ws->queued + cost(len) > ws->o.write_cap) {
            cio__ws_fail(ws, CIO_WS_POLICY, -ENOBUFS,
                         "slow consumer: %zu bytes queued, over the %zu-byte cap", ws->queued,
                         ws->o.write_cap);
            continue;
        }
        if (queue_data(ws, (uint8_t)type, 1, pl->data, len, pl, 1) == 0)
            queued++;
    }
    if (--pl->refs == 0)
        free(pl);
    return queued;
}

size_t cio_ws_send_buffered(const cio_ws *ws)
{
    return ws ? ws->queued : 0;
}
