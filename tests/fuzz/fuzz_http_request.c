/* libFuzzer target: feeds arbitrary bytes to the HTTP server's request path
 * (llhttp and the server's own checks, routing, whole and streamed bodies,
 * trailers, pipelining, an Upgrade handler that takes the connection over)
 * over a socket pair, and reads whatever it answers. Build: cmake
 * -DCIO_FUZZ=ON -DCMAKE_C_COMPILER=clang; run: ./dev.sh fuzz [seconds]. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "../../src/http/http_internal.h"
#include "cio.h"
#include "cio/http_server.h"

static int echo(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)arg;
    const char *body;
    size_t len;
    int err = cio_http_req_body(req, &body, &len);
    if (err)
        return err;
    cio_http_req_query_param(req, "q");
    cio_http_req_trailer(req, "x-t");
    return cio_http_resp_body(resp, body, len);
}

/* Takes the connection over and echoes the early bytes and one read. */
static int upgrade(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)arg;
    cio_stream *s;
    const void *early;
    size_t n;
    int err = cio_http_req_hijack(req, resp, &s, &early, &n);
    if (err)
        return err;
    cio_stream_write(s, early, n);
    char buf[64];
    ssize_t got = cio_stream_read(s, buf, sizeof(buf));
    if (got > 0)
        cio_stream_write(s, buf, (size_t)got);
    return 0;
}

static int stream_body(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)arg;
    char buf[64];
    ssize_t n;
    while ((n = cio_http_req_read(req, buf, sizeof(buf))) > 0)
        cio_http_resp_write(resp, buf, (size_t)n);
    return n < 0 ? (int)n : 0;
}

typedef struct input {
    const uint8_t *data;
    size_t size;
    cio_http_app *app;
    int fds[2];
} input;

static int serve(void *arg)
{
    input *in = arg;
    cio_stream *s;
    if (cio_stream_from_fd(&s, in->fds[0], NULL) < 0)
        return 0;
    cio__http_serve_stream(in->app, s);
    cio_stream_close(s);
    return 0;
}

static int drive(void *arg)
{
    input *in = arg;
    cio_task *t = cio_spawn(serve, in);
    cio_write_all(in->fds[1], in->data, in->size, NULL);
    shutdown(in->fds[1], SHUT_WR);
    char buf[4096];
    cio_scope sc;
    cio_timeout_enter(&sc, 5);
    while (cio_read(in->fds[1], buf, sizeof(buf)) > 0) {
    }
    cio_timeout_exit(&sc);
    cio_cancel(t);
    cio_join(t);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cio_http_app *app;
    if (!app) {
        cio_http_server_opts o = {.max_body_bytes = 4096,
                                  .max_header_bytes = 4096,
                                  .max_headers = 32,
                                  .header_timeout = 1,
                                  .body_timeout = 1,
                                  .send_timeout = 1,
                                  .idle_timeout = 1,
                                  .linger_timeout = 0.1,
                                  .quiet = 1};
        cio_http_app_new(&app, &o);
        cio_http_app_route(app, "*", "/echo/{id}", echo, NULL);
        cio_http_app_route(app, "POST", "/stream", stream_body, NULL);
        cio_http_app_route(app, "GET", "/ws", upgrade, NULL);
    }
    input in = {data, size, app, {-1, -1}};
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, in.fds) < 0)
        return 0;
    cio_opts o = {.no_sigint = 1, .backend = CIO_BACKEND_EPOLL};
    cio_run_opts(drive, &in, &o);
    close(in.fds[1]);
    return 0;
}
