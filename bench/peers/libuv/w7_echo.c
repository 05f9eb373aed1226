/* W7 echo with libuv: a TCP echo server on 127.0.0.1. Each read is echoed with uv_try_write;
 * a remainder the socket would not take is copied into a uv_write request. Runs until
 * SIGTERM or SIGINT, then exits 0. */
#include <uv.h>

#include "args.h"

#define BUF_SIZE 65536

struct conn {
    uv_tcp_t tcp;
    char buf[BUF_SIZE];
};

struct pending_write {
    uv_write_t req;
    char data[];
};

static void on_close(uv_handle_t *h)
{
    free(h->data);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct conn *c = h->data;
    (void)suggested;
    *buf = uv_buf_init(c->buf, BUF_SIZE);
}

static void on_written(uv_write_t *req, int status)
{
    (void)status;
    free(req);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    if (nread < 0) {
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    if (nread == 0)
        return;
    uv_buf_t out = uv_buf_init(buf->base, (unsigned)nread);
    int sent = uv_try_write(s, &out, 1);
    if (sent == UV_EAGAIN)
        sent = 0;
    if (sent < 0) {
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    if (sent < nread) {
        size_t rest = (size_t)nread - (size_t)sent;
        struct pending_write *w = malloc(sizeof(*w) + rest);
        if (w == NULL) {
            uv_close((uv_handle_t *)s, on_close);
            return;
        }
        memcpy(w->data, buf->base + sent, rest);
        out = uv_buf_init(w->data, (unsigned)rest);
        uv_write(&w->req, s, &out, 1, on_written);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    struct conn *c = malloc(sizeof(*c));
    if (c == NULL)
        return;
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, on_close);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
}

static void on_signal(uv_signal_t *sig, int signum)
{
    (void)signum;
    uv_stop(sig->loop);
}

int main(int argc, char **argv)
{
    static const char *const keys[] = {"port", NULL};
    args_check(argc, argv, keys);
    long port = arg_long(argc, argv, "port", 0);

    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t server;
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", (int)port, &addr);
    uv_tcp_init(loop, &server);
    int rc = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&server, 1024, on_connection);
    if (rc != 0) {
        fprintf(stderr, "w7-echo: libuv: listen on port %ld: %s\n", port, uv_strerror(rc));
        return 1;
    }
    uv_signal_t sigterm, sigint;
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}
