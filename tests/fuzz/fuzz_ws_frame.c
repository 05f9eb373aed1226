/* libFuzzer target: feeds arbitrary bytes to libcio-ws's receive path (the
 * frame parser of frame.c, recv.c's message assembly, permessage-deflate's
 * inflating, UTF-8 checks, control frames) as a server (frames must come
 * masked) or a client, and checks what comes out of cio_ws_recv /
 * cio_ws_recv_part. Build: cmake -DCIO_FUZZ=ON -DCMAKE_C_COMPILER=clang;
 * run: ./dev.sh fuzz [seconds] ws. test_fuzz_ws_corpus replays the corpus
 * (tests/fuzz/corpus/ws) in the normal suite.
 *
 * The input: byte 0 and 1 choose the setting, the rest is what the peer
 * sends. Byte 0: bit 0 server, bit 1 permessage-deflate, bit 2 the peer
 * resets its compressor after each message, bits 3-4 the message limit
 * (16, 200, 4096 or 1 MiB), bit 5 streamed receive (cio_ws_recv_part), bit 6
 * a receive queue of one part. Byte 1: bits 0-2 the peer's window bits (8 +
 * n), bits 3-7 how many bytes (x 4) arrive with the handshake (the early
 * bytes, read straight from an exactly sized buffer: reading past the input
 * is an ASan report), the rest over a socket.
 *
 * Checked: no crash, no leak, no read past the input (ASan); a whole message
 * is at most the limit, a streamed message too, part by part; a text message
 * is valid UTF-8 (a streamed one across its parts); a message's type is text
 * or binary and stays the same over its parts; the receive queue never
 * holds more than its bound; the parser never takes more than it was given;
 * the close code read back is one a peer may send, or 1005/1006. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../src/ws/ws_internal.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

typedef struct input {
    const uint8_t *data;
    size_t size;
    int fds[2];
} input;

static const size_t limits[4] = {16, 200, 4096, 1024 * 1024};

/* The frame parser alone, on the exact input: whatever it returns stays
 * within what it was given, and an accepted frame respects the limit. */
static void parse_headers(const uint8_t *p, size_t n, const ws_rx_rules *r)
{
    ws_rx rx;
    memset(&rx, 0, sizeof(rx));
    while (n) {
        int err;
        char why[120];
        int size = cio__ws_rx_header(&rx, r, p, n, &err, why, sizeof(why));
        if (size <= 0)
            return;
        CHECK((size_t)size <= n && size >= 2 && size <= WS_FRAME_OVERHEAD);
        if (!err && !ws_is_control(rx.f_op))
            CHECK(rx.f_len <= r->max_message + r->max_message / 64 + 1024);
        if (!err && ws_is_control(rx.f_op))
            CHECK(rx.f_len <= 125);
        p += size;
        n -= (size_t)size;
        uint64_t skip = rx.f_len < n ? rx.f_len : n;
        p += skip;
        n -= (size_t)skip;
        rx.in_frame = 0;
    }
}

/* The peer: writes the socket's share of the input, then ends its side, and
 * reads whatever cio answers (pongs, the close frame). */
static int peer_write(void *arg)
{
    input *in = arg;
    cio_write_all(in->fds[1], in->data, in->size, NULL);
    shutdown(in->fds[1], SHUT_WR);
    return 0;
}

static int peer_read(void *arg)
{
    input *in = arg;
    char buf[4096];
    while (cio_read(in->fds[1], buf, sizeof(buf)) > 0) {
    }
    return 0;
}

static void check_message(cio_ws *ws, const cio_ws_msg *m, size_t max)
{
    CHECK(m->type == CIO_WS_TEXT || m->type == CIO_WS_BINARY);
    CHECK(m->len <= max);
    CHECK(m->data[m->len] == 0);
    CHECK(ws->rxq_len <= ws->o.max_queue);
    if (m->type == CIO_WS_TEXT)
        CHECK(cio__ws_utf8_valid(m->data, m->len));
}

static void receive_whole(cio_ws *ws, size_t max)
{
    cio_ws_msg m;
    while (cio_ws_recv(ws, &m) == 0) {
        check_message(ws, &m, max);
        cio_ws_msg_free(&m);
    }
}

static void receive_parts(cio_ws *ws, size_t max)
{
    cio_ws_msg m;
    int fin, type = -1;
    size_t total = 0;
    ws_utf8 u;
    memset(&u, 0, sizeof(u));
    while (cio_ws_recv_part(ws, &m, &fin) == 0) {
        CHECK(m.type == CIO_WS_TEXT || m.type == CIO_WS_BINARY);
        CHECK(type < 0 || (int)m.type == type);
        CHECK(m.len <= WS_PART_MAX && m.data[m.len] == 0);
        CHECK(ws->rxq_len <= ws->o.max_queue);
        total += m.len;
        CHECK(total <= max);
        if (m.type == CIO_WS_TEXT)
            CHECK(cio__ws_utf8_feed(&u, (const uint8_t *)m.data, m.len) == 0);
        type = m.type;
        if (fin) {
            CHECK(m.type != CIO_WS_TEXT || cio__ws_utf8_complete(&u));
            type = -1;
            total = 0;
            memset(&u, 0, sizeof(u));
        }
        cio_ws_msg_free(&m);
    }
}

static int drive(void *arg)
{
    input *in = arg;
    uint8_t c0 = in->data[0], c1 = in->data[1];
    int server = c0 & 1, deflate = (c0 >> 1) & 1, parts = (c0 >> 5) & 1;
    size_t max = limits[(c0 >> 3) & 3];
    size_t nearly = (size_t)(c1 >> 3) * 4;
    const uint8_t *body = in->data + 2;
    size_t n = in->size - 2;
    if (nearly > n)
        nearly = n;
    ws_rx_rules rules = {server, deflate, max};
    parse_headers(body, n, &rules);

    cio_stream *s;
    if (cio_stream_from_fd(&s, in->fds[0], NULL) < 0)
        return 0;
    in->fds[0] = -1;
    cio_ws_opts o = {.max_message = max,
                     .max_queue = (c0 >> 6) & 1 ? 1 : 0,
                     .close_timeout = 0.5,
                     .ping_interval = CIO_FOREVER};
    cio_ws *ws;
    if (cio__ws_new(&ws, server, s, &o, body, nearly) != 0) {
        cio_stream_close(s);
        return 0;
    }
    ws->own_stream = 1;
    if (deflate) {
        ws_deflate_params dp = {.enabled = 1,
                                .peer_no_context_takeover = (c0 >> 2) & 1,
                                .our_window_bits = 15,
                                .peer_window_bits = 8 + (c1 & 7)};
        if (dp.peer_window_bits > 15)
            dp.peer_window_bits = 15;
        if (cio__ws_deflate_new(&ws->dfl, &dp) != 0) {
            cio_ws_close(ws, 0, NULL);
            return 0;
        }
    }
    if (cio__ws_start(ws) != 0) {
        cio_ws_close(ws, 0, NULL);
        return 0;
    }
    input wire = {body + nearly, n - nearly, {in->fds[0], in->fds[1]}};
    cio_task *w = cio_spawn(peer_write, &wire);
    cio_task *r = cio_spawn(peer_read, &wire);
    if (parts)
        receive_parts(ws, max);
    else
        receive_whole(ws, max);
    int code = cio_ws_close_code(ws);
    CHECK(cio__ws_close_code_valid(code) || code == CIO_WS_NO_STATUS || code == CIO_WS_ABNORMAL);
    cio_ws_close(ws, 0, NULL);
    if (w) {
        cio_cancel(w);
        cio_join(w);
    }
    if (r) {
        cio_cancel(r);
        cio_join(r);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    input in = {data, size, {-1, -1}};
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, in.fds) < 0)
        return 0;
    /* epoll while fuzzing (fast to set up); the corpus replay runs on both
     * backends (CIO_BACKEND set: AUTO follows it). */
    cio_opts o = {.no_sigint = 1,
                  .backend = getenv("CIO_BACKEND") ? CIO_BACKEND_AUTO : CIO_BACKEND_EPOLL};
    cio_run_opts(drive, &in, &o);
    if (in.fds[0] >= 0)
        close(in.fds[0]);
    close(in.fds[1]);
    return 0;
}
