/* cio's side for the interop and conformance drivers (interop.py,
 * conformance.py):
 *
 *   ws_peer server [--deflate] [--max N]
 *       an echo server on 127.0.0.1; prints "PORT n" and, per connection
 *       that ends, "CLOSE code error reason"; runs until stdin closes.
 *       Routes: /echo (the options given), /small (max_message 1 KiB),
 *       /close/{code} (closes with that code after the first message),
 *       /count/{n} (for libwebsockets-test-client: ws_peer_lws.c).
 *   ws_peer client URL [--deflate]
 *       the interop scenario against an echo server: text, binary,
 *       fragmented, 1 MiB, ping, close 4000; exit 0 when all came back.
 *   ws_peer echo-client URL [--deflate]
 *       echoes what a server sends until it closes; prints
 *       "RESULT error code" (the error recv returned, the peer's code).
 *   ws_peer lws-client URL [--deflate]
 *       the scenario against libwebsockets-test-server (ws_peer_lws.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ws_peer.h"

static cio_ws_opts server_opts;

static int echo(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    cio_ws_opts o = server_opts;
    int close_after = 0;
    if (arg == (void *)1)
        o.max_message = 1024;
    if (arg == (void *)2)
        close_after = atoi(cio_http_req_param(req, "code"));
    cio_ws *ws;
    if (cio_ws_accept(req, resp, &ws, &o))
        return 0;
    cio_ws_msg m;
    int err;
    while ((err = cio_ws_recv(ws, &m)) == 0) {
        int serr = close_after ? 0 : cio_ws_send(ws, m.type, m.data, m.len);
        cio_ws_msg_free(&m);
        if (serr || close_after)
            break;
    }
    int code = cio_ws_close_code(ws);
    char reason[124];
    snprintf(reason, sizeof(reason), "%s", cio_ws_close_reason(ws));
    cio_ws_close(ws, close_after ? close_after : CIO_WS_NORMAL, NULL);
    printf("CLOSE %d %d %s\n", code, err, reason);
    fflush(stdout);
    return 0;
}

static int serve(void *arg)
{
    (void)arg;
    cio_http_app *app;
    cio_http_server_opts ho = {.quiet = 1};
    if (cio_http_app_new(&app, &ho))
        return 1;
    cio_http_app_route(app, "GET", "/echo", echo, NULL);
    cio_http_app_route(app, "GET", "/small", echo, (void *)1);
    cio_http_app_route(app, "GET", "/close/{code}", echo, (void *)2);
    cio_http_app_route(app, "GET", "/count/{n}", ws_peer_lws_route, &server_opts);
    cio_http_server *srv;
    int err = cio_http_serve(&srv, app, "127.0.0.1", 0);
    if (err)
        return err;
    printf("PORT %d\n", cio_http_server_port(srv));
    fflush(stdout);
    /* Until stdin closes (the driver ends us that way). */
    cio_stream *in;
    err = cio_stream_from_fd(&in, dup(0), NULL);
    char buf[64];
    while (!err && cio_stream_read(in, buf, sizeof(buf)) > 0)
        ;
    cio_stream_close(in);
    cio_http_server_close(srv);
    cio_http_app_free(app);
    return 0;
}

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "ws_peer client: " __VA_ARGS__);                                       \
            fprintf(stderr, " (%s)\n", cio_task_message(cio_current()) ?: "");                     \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

static const char *url;
static cio_ws_opts client_opts;

static int expect(cio_ws *ws, cio_ws_type type, const void *data, size_t len, const char *what)
{
    cio_ws_msg m;
    int err = cio_ws_recv(ws, &m);
    CHECK(err == 0, "%s: recv %s", what, cio_strerror(err));
    int ok = m.type == type && m.len == len && memcmp(m.data, data, len) == 0;
    cio_ws_msg_free(&m);
    CHECK(ok, "%s: the echo differs", what);
    return 0;
}

static int scenario(void *arg)
{
    (void)arg;
    cio_ws *ws;
    int err = cio_ws_connect(&ws, url, &client_opts);
    CHECK(err == 0, "connect %s: %s", url, cio_strerror(err));
    CHECK(!client_opts.deflate || cio_ws_deflate(ws), "deflate was not negotiated");
    CHECK(cio_ws_send_text(ws, "hello, wörld") == 0, "send text");
    if (expect(ws, CIO_WS_TEXT, "hello, wörld", strlen("hello, wörld"), "text"))
        return 1;
    unsigned char bin[256];
    for (int i = 0; i < 256; i++)
        bin[i] = (unsigned char)i;
    CHECK(cio_ws_send(ws, CIO_WS_BINARY, bin, sizeof(bin)) == 0, "send binary");
    if (expect(ws, CIO_WS_BINARY, bin, sizeof(bin), "binary"))
        return 1;
    CHECK(cio_ws_send_part(ws, CIO_WS_TEXT, "frag", 4, 0) == 0, "send part");
    CHECK(cio_ws_send_part(ws, CIO_WS_TEXT, "men", 3, 0) == 0, "send part");
    CHECK(cio_ws_send_part(ws, CIO_WS_TEXT, "ted", 3, 1) == 0, "send part");
    if (expect(ws, CIO_WS_TEXT, "fragmented", 10, "fragmented"))
        return 1;
    size_t n = 1024 * 1024 - 64;
    unsigned char *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (unsigned char)(i * 7);
    CHECK(cio_ws_send(ws, CIO_WS_BINARY, big, n) == 0, "send 1 MiB");
    int r = expect(ws, CIO_WS_BINARY, big, n, "1 MiB");
    free(big);
    if (r)
        return 1;
    double rtt;
    CHECK(cio_ws_ping(ws, "ping!", 5, &rtt) == 0, "ping");
    err = cio_ws_close(ws, 4000, "bye");
    CHECK(err == 0, "close: %s", cio_strerror(err));
    printf("OK rtt=%.6f\n", rtt);
    return 0;
}

static int echo_client(void *arg)
{
    (void)arg;
    cio_ws *ws;
    int err = cio_ws_connect(&ws, url, &client_opts);
    if (err) {
        printf("RESULT %d 0 connect\n", err);
        return 0;
    }
    cio_ws_msg m;
    while ((err = cio_ws_recv(ws, &m)) == 0) {
        cio_ws_send(ws, m.type, m.data, m.len);
        cio_ws_msg_free(&m);
    }
    int code = cio_ws_close_code(ws);
    cio_ws_close(ws, 0, NULL);
    printf("RESULT %d %d\n", err, code);
    return 0;
}

static int lws_scenario(void *arg)
{
    (void)arg;
    return ws_peer_lws_client(url, &client_opts);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--deflate"))
            server_opts.deflate = client_opts.deflate = 1;
        else if (!strcmp(argv[i], "--max") && i + 1 < argc)
            server_opts.max_message = client_opts.max_message = strtoull(argv[++i], NULL, 10);
        else if (argv[i][0] != '-')
            url = argv[i];
    }
    server_opts.close_timeout = client_opts.close_timeout = 2;
    cio_opts o = {.no_sigint = 0};
    if (!strcmp(argv[1], "server"))
        return cio_run_opts(serve, NULL, &o) ? 1 : 0;
    if (!url)
        return 2;
    if (!strcmp(argv[1], "client"))
        return cio_run_opts(scenario, NULL, &o) ? 1 : 0;
    if (!strcmp(argv[1], "lws-client"))
        return cio_run_opts(lws_scenario, NULL, &o) ? 1 : 0;
    if (!strcmp(argv[1], "echo-client"))
        return cio_run_opts(echo_client, NULL, &o) ? 1 : 0;
    return 2;
}
