/* Helpers shared by libcio-ws's tests: a cio HTTP server on loopback with
 * WebSocket routes, and raw-socket peers for what a well-behaved client
 * would never send. */
#ifndef CIO_WS_TEST_H
#define CIO_WS_TEST_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "cio/http_server.h"
#include "cio/ws.h"
#include "cio_test.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

static inline void ws_leak_check(void)
{
#if defined(__SANITIZE_ADDRESS__)
    if (__lsan_do_recoverable_leak_check())
        CIO_FAIL_AT("memory leaked (LeakSanitizer's report is above)");
#endif
}

/* An echo handler: every message comes back as it came; the close code the
 * server saw is kept in the record given as arg (may be NULL). */
typedef struct ws_echo_rec {
    cio_ws_opts opts;
    int accepted, recv_err, close_code, close_err, closed;
    double rtt; /* cio_ws_rtt when the connection ended */
    char close_reason[124];
    char subprotocol[64];
    char header_seen[128]; /* the X-Test header of the request */
    cio_event done;
} ws_echo_rec;

static inline int ws_echo_handler(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    ws_echo_rec *rec = arg;
    const char *xt = cio_http_req_header(req, "X-Test");
    if (rec && xt)
        snprintf(rec->header_seen, sizeof(rec->header_seen), "%s", xt);
    cio_ws *ws;
    int err = cio_ws_accept(req, resp, &ws, rec ? &rec->opts : NULL);
    if (err)
        return 0;
    if (rec) {
        rec->accepted++;
        if (cio_ws_subprotocol(ws))
            snprintf(rec->subprotocol, sizeof(rec->subprotocol), "%s", cio_ws_subprotocol(ws));
    }
    cio_ws_msg m;
    while ((err = cio_ws_recv(ws, &m)) == 0) {
        int serr = cio_ws_send(ws, m.type, m.data, m.len);
        cio_ws_msg_free(&m);
        if (serr)
            break;
    }
    if (rec) {
        rec->recv_err = err;
        rec->close_code = cio_ws_close_code(ws);
        rec->rtt = cio_ws_rtt(ws);
        snprintf(rec->close_reason, sizeof(rec->close_reason), "%s", cio_ws_close_reason(ws));
    }
    int cerr = cio_ws_close(ws, CIO_WS_NORMAL, NULL);
    if (rec) {
        rec->close_err = cerr;
        rec->closed++;
        cio_event_set(&rec->done);
    }
    return 0;
}

/* A server on 127.0.0.1 with the routes given; returns its port. */
typedef struct ws_server {
    cio_http_app *app;
    cio_http_server *srv;
    int port;
} ws_server;

static inline void ws_server_start(ws_server *s)
{
    CIO_ASSERT_OK(cio_http_serve(&s->srv, s->app, "127.0.0.1", 0));
    s->port = cio_http_server_port(s->srv);
}

static inline void ws_server_stop(ws_server *s)
{
    CIO_ASSERT_OK(cio_http_server_close(s->srv));
    cio_http_app_free(s->app);
}

static inline char *ws_url(char *buf, size_t cap, const char *scheme, int port, const char *path)
{
    snprintf(buf, cap, "%s://127.0.0.1:%d%s", scheme, port, path);
    return buf;
}

/* ---- raw peers (blocking sockets are fine in a forked helper thread? no:
 * they run inside the loop through cio streams) ---- */

/* Builds a frame into out (max 14 + len bytes): masked when mask is set. */
static inline size_t ws_raw_frame(uint8_t *out, int fin, int rsv, int opcode, const void *data,
                                  size_t len, int mask)
{
    size_t n = 0;
    out[n++] = (uint8_t)((fin ? 0x80 : 0) | (rsv << 4) | opcode);
    uint8_t m = mask ? 0x80 : 0;
    if (len < 126) {
        out[n++] = (uint8_t)(m | len);
    } else if (len < 65536) {
        out[n++] = m | 126;
        out[n++] = (uint8_t)(len >> 8);
        out[n++] = (uint8_t)len;
    } else {
        out[n++] = m | 127;
        for (int i = 7; i >= 0; i--)
            out[n++] = (uint8_t)((uint64_t)len >> (8 * i));
    }
    uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
    if (mask) {
        memcpy(out + n, key, 4);
        n += 4;
    }
    for (size_t i = 0; i < len; i++)
        out[n + i] = (uint8_t)(((const uint8_t *)data)[i] ^ (mask ? key[i % 4] : 0));
    return n + len;
}

#define WS_RAW_REQUEST                                                                             \
    "GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"       \
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

/* Opens a raw connection and sends the upgrade request followed by `extra`
 * bytes in the same write; reads the 101 head. */
static inline cio_stream *ws_raw_open(int port, const void *extra, size_t n)
{
    cio_stream *s;
    CIO_ASSERT_OK(cio_open_connection(&s, "127.0.0.1", port, NULL));
    size_t rl = strlen(WS_RAW_REQUEST);
    char *buf = malloc(rl + n);
    memcpy(buf, WS_RAW_REQUEST, rl);
    if (n)
        memcpy(buf + rl, extra, n);
    CIO_ASSERT_OK(cio_stream_write(s, buf, rl + n));
    free(buf);
    char head[1024];
    ssize_t hn = cio_stream_read_until(s, "\r\n\r\n", 4, head, sizeof(head) - 1);
    CIO_ASSERT(hn > 0);
    head[hn] = 0;
    CIO_ASSERT(strstr(head, "101 Switching Protocols") != NULL);
    CIO_ASSERT(strstr(head, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != NULL); /* RFC 6455's example */
    return s;
}

/* Reads one unmasked frame from the server: opcode, payload into buf. */
static inline int ws_raw_read_frame(cio_stream *s, uint8_t *buf, size_t cap, size_t *len)
{
    uint8_t h[2];
    if (cio_stream_read_exactly(s, h, 2, NULL) != 2)
        return -1;
    uint64_t n = h[1] & 0x7f;
    if (n == 126) {
        uint8_t e[2];
        cio_stream_read_exactly(s, e, 2, NULL);
        n = (uint64_t)e[0] << 8 | e[1];
    } else if (n == 127) {
        uint8_t e[8];
        cio_stream_read_exactly(s, e, 8, NULL);
        n = 0;
        for (int i = 0; i < 8; i++)
            n = n << 8 | e[i];
    }
    CIO_ASSERT(n <= cap);
    if (n && cio_stream_read_exactly(s, buf, n, NULL) != (ssize_t)n)
        return -1;
    *len = n;
    return h[0] & 0x0f;
}

#endif
