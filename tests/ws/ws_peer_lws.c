/* ws_peer's side for libwebsockets' test programs (Debian's
 * libwebsockets-test-server), which are not echo peers:
 *
 *   the test server speaks "lws-mirror-protocol" (each message a client sends
 *   goes back, as text, to every client of the same ?mirror= instance, in
 *   pieces of at most 128 bytes) and "dumb-increment-protocol" (a text number
 *   every 50 ms, counting up; "reset\n" starts again at 0; "closeme\n" makes it
 *   close with 1001 "seeya");
 *   the test client opens a mirror connection that sends "c #RRGGBB x y r;"
 *   circles as text, and a dumb-increment connection that only listens.
 *
 * ws_peer_lws_client runs cio's client against the server; ws_peer_lws_route
 * is the server route the test client talks to. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ws_peer.h"

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "ws_peer lws: " __VA_ARGS__);                                              \
        fprintf(stderr, " (%s)\n", cio_task_message(cio_current()) ?: "");                         \
        return 1;                                                                                  \
    } while (0)

/* Reads mirrored pieces until len bytes came back; they must equal data. The
 * mirror answers in text whatever the sent message's type was. */
static int mirrored(cio_ws *ws, const char *data, size_t len, const char *what)
{
    size_t got = 0;
    while (got < len) {
        cio_ws_msg m;
        int err = cio_ws_recv(ws, &m);
        if (err)
            FAIL("%s: recv after %zu of %zu bytes: %s", what, got, len, cio_strerror(err));
        int ok = m.type == CIO_WS_TEXT && m.len <= len - got && !memcmp(m.data, data + got, m.len);
        got += m.len;
        cio_ws_msg_free(&m);
        if (!ok)
            FAIL("%s: the mirrored bytes differ before byte %zu", what, got);
    }
    return 0;
}

static int mirror(const char *url, const cio_ws_opts *base)
{
    static const char *const protos[] = {"lws-mirror-protocol", NULL};
    cio_ws_opts o = *base;
    o.subprotocols = protos;
    char u[256];
    /* Our own mirror instance: nobody else's circles reach us. */
    snprintf(u, sizeof(u), "%s?mirror=cio%ld", url, (long)getpid());
    cio_ws *ws;
    int err = cio_ws_connect(&ws, u, &o);
    if (err)
        FAIL("connect %s: %s", u, cio_strerror(err));
    const char *proto = cio_ws_subprotocol(ws);
    if (!proto || strcmp(proto, protos[0]))
        FAIL("subprotocol %s, not lws-mirror-protocol", proto ? proto : "(none)");
    int deflate = cio_ws_deflate(ws); /* the driver knows whether lws takes it */
    const char *text = "hello, wörld";
    if (cio_ws_send_text(ws, text) || mirrored(ws, text, strlen(text), "text"))
        return 1;
    char bin[100];
    for (size_t i = 0; i < sizeof(bin); i++)
        bin[i] = (char)(' ' + i % 95); /* printable: it comes back as text */
    if (cio_ws_send(ws, CIO_WS_BINARY, bin, sizeof(bin)) ||
        mirrored(ws, bin, sizeof(bin), "binary"))
        return 1;
    if (cio_ws_send_part(ws, CIO_WS_TEXT, "frag", 4, 0) ||
        cio_ws_send_part(ws, CIO_WS_TEXT, "men", 3, 0) ||
        cio_ws_send_part(ws, CIO_WS_TEXT, "ted", 3, 1) ||
        mirrored(ws, "fragmented", 10, "fragmented"))
        return 1;
    size_t n = 1024 * 1024;
    char *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + (i * 7) % 26);
    int r = cio_ws_send(ws, CIO_WS_TEXT, big, n) || mirrored(ws, big, n, "1 MiB");
    free(big);
    if (r)
        return 1;
    double rtt;
    if ((err = cio_ws_ping(ws, "ping!", 5, &rtt)))
        FAIL("ping: %s", cio_strerror(err));
    /* 0: lws answered the close frame and ended TCP within the deadline. */
    if ((err = cio_ws_close(ws, 4000, "bye")))
        FAIL("close 4000: %s", cio_strerror(err));
    printf("mirror OK deflate=%d rtt=%.6f\n", deflate, rtt);
    return 0;
}

/* The next number the dumb-increment protocol sends. */
static int number(cio_ws *ws, long *out)
{
    cio_ws_msg m;
    int err = cio_ws_recv(ws, &m);
    if (err)
        FAIL("dumb-increment: recv: %s", cio_strerror(err));
    char *end;
    *out = strtol(m.data, &end, 10);
    int ok = m.type == CIO_WS_TEXT && m.len > 0 && *end == 0;
    cio_ws_msg_free(&m);
    if (!ok)
        FAIL("dumb-increment: a message that is not a number");
    return 0;
}

static int dumb_increment(const char *url, const cio_ws_opts *base)
{
    static const char *const protos[] = {"dumb-increment-protocol", NULL};
    cio_ws_opts o = *base;
    o.subprotocols = protos;
    cio_ws *ws;
    int err = cio_ws_connect(&ws, url, &o);
    if (err)
        FAIL("connect %s: %s", url, cio_strerror(err));
    long first, next;
    if (number(ws, &first))
        return 1;
    for (long i = 1; i <= 3; i++)
        if (number(ws, &next) || next != first + i)
            FAIL("dumb-increment: %ld after %ld, not counting up", next, first + i - 1);
    if (cio_ws_send_text(ws, "reset\n"))
        FAIL("send reset");
    /* A number or two may have been under way; then it starts again at 0. */
    do {
        if (number(ws, &next))
            return 1;
    } while (next != 0 && next > first);
    if (next != 0)
        FAIL("dumb-increment: %ld after reset, not 0", next);
    if (cio_ws_send_text(ws, "closeme\n"))
        FAIL("send closeme");
    cio_ws_msg m;
    while ((err = cio_ws_recv(ws, &m)) == 0)
        cio_ws_msg_free(&m);
    int code = cio_ws_close_code(ws);
    char reason[124];
    snprintf(reason, sizeof(reason), "%s", cio_ws_close_reason(ws));
    cio_ws_close(ws, 0, NULL);
    if (code != 1001 || strcmp(reason, "seeya"))
        FAIL("dumb-increment: closed with %d \"%s\", not 1001 \"seeya\"", code, reason);
    printf("dumb-increment OK close=%d %s\n", code, reason);
    return 0;
}

int ws_peer_lws_client(const char *url, const cio_ws_opts *opts)
{
    return mirror(url, opts) || dumb_increment(url, opts);
}

/* Takes and drops messages until cancelled or the connection ends. */
static int drain(void *arg)
{
    cio_ws_msg m;
    while (cio_ws_recv(arg, &m) == 0)
        cio_ws_msg_free(&m);
    return 0;
}

/* /count/{n}: echoes n messages, pings, and closes with 4001; prints
 * "COUNT proto=P deflate=D echoed=E ping=ERR close=ERR peer=CODE" (ERR: 0 or
 * -errno; CODE: the peer's close code when it closed first, else 0). */
int ws_peer_lws_route(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    static const char *const protos[] = {"lws-mirror-protocol", "dumb-increment-protocol", NULL};
    static const char *const any[] = {"*", NULL}; /* lws sends "Origin: 127.0.0.1" */
    cio_ws_opts o = *(const cio_ws_opts *)arg;
    o.subprotocols = protos;
    o.origins = any;
    long n = atol(cio_http_req_param(req, "n"));
    cio_ws *ws;
    if (cio_ws_accept(req, resp, &ws, &o))
        return 0;
    const char *proto = cio_ws_subprotocol(ws);
    int deflate = cio_ws_deflate(ws);
    char name[32];
    snprintf(name, sizeof(name), "%s", proto ? proto : "none");
    long echoed = 0;
    int err = 0;
    cio_ws_msg m;
    while (echoed < n && (err = cio_ws_recv(ws, &m)) == 0) {
        err = cio_ws_send(ws, m.type, m.data, m.len);
        cio_ws_msg_free(&m);
        if (err)
            break;
        echoed++;
    }
    int peer = err ? cio_ws_close_code(ws) : 0;
    /* lws's client keeps sending circles: the pong comes behind them, and a
     * receive queue left full (max_queue messages nobody takes) stops the
     * reading, pong included -- the ping would wait for ever (backpressure,
     * as it should be). So a task takes the messages while the ping waits. */
    cio_task *drainer = err ? NULL : cio_spawn(drain, ws);
    int ping = err ? err : drainer ? cio_ws_ping(ws, "ping!", 5, NULL) : -ENOMEM;
    if (drainer) {
        cio_cancel(drainer);
        cio_join(drainer);
    }
    int close = cio_ws_close(ws, 4001, "enough");
    printf("COUNT proto=%s deflate=%d echoed=%ld ping=%d close=%d peer=%d\n", name, deflate, echoed,
           ping, close, peer);
    fflush(stdout);
    return 0;
}
