/* Heap per HTTP server connection (libcio-http), two cases:
 *   idle:    N clients connect and send nothing;
 *   stalled: N/5 clients (4 KiB receive buffers) ask for a body of B KiB
 *            (1 MiB by default) and read nothing of it.
 * The figure is glibc's in-use heap (mallinfo2().uordblks) after the server
 * settles, minus before, divided by N. Not counted: task stacks (mmap'd and
 * pooled: an idle task touches one page) and kernel socket buffers.
 * Usage: cio-http-memory [--conns=N] [--body-kib=B] (defaults 100, 1024). */
#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"
#include "cio.h"
#include "cio/http_server.h"

static long nconns, body_kib;
static int port;

static int big(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)req;
    (void)arg;
    static char *body;
    size_t len = (size_t)body_kib * 1024;
    if (!body && !(body = calloc(1, len)))
        return -ENOMEM;
    return cio_http_resp_body(resp, body, len);
}

static size_t heap(void)
{
    return mallinfo2().uordblks;
}

/* Waits until the heap stops changing (the server has done what it will). */
static size_t settle(void)
{
    size_t last = heap(), same = 0;
    for (int i = 0; i < 200 && same < 5; i++) {
        cio_sleep(0.02);
        size_t now = heap();
        same = now == last ? same + 1 : 0;
        last = now;
    }
    return last;
}

static int dial(int rcvbuf)
{
    int fd = cio_socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return fd;
    if (rcvbuf)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int err = cio_connect(fd, (struct sockaddr *)&a, sizeof(a));
    if (err) {
        cio_close(fd);
        return err;
    }
    return fd;
}

static int run(void *arg)
{
    (void)arg;
    cio_http_app *app;
    cio_http_server *srv;
    int err = cio_http_app_new(&app, NULL);
    if (!err)
        err = cio_http_app_route(app, "GET", "/big", big, NULL);
    if (!err)
        err = cio_http_serve(&srv, app, "127.0.0.1", 0);
    if (err) {
        fprintf(stderr, "http-memory: %s\n", cio_strerror(err));
        return err;
    }
    port = cio_http_server_port(srv);
    long nstalled = nconns / 5 ? nconns / 5 : 1;
    int *fds = calloc((size_t)(nconns + nstalled), sizeof(int));
    /* A first connection and request warm up what is made once. */
    int fd = dial(0);
    const char *req = "GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    cio_write_all(fd, req, strlen(req), NULL);
    static char buf[65536];
    while (cio_read(fd, buf, sizeof(buf)) > 0) {
    }
    cio_close(fd);

    size_t h0 = settle(); /* the warm-up's body stays: the handler keeps it */
    for (long i = 0; i < nconns; i++)
        fds[i] = dial(0);
    size_t h1 = settle();
    printf("idle: %ld connections, %.0f bytes of heap each\n", nconns,
           ((double)h1 - (double)h0) / (double)nconns);
    const char *get = "GET /big HTTP/1.1\r\nHost: x\r\n\r\n";
    for (long i = 0; i < nstalled; i++) {
        fds[nconns + i] = dial(4096);
        cio_write_all(fds[nconns + i], get, strlen(get), NULL);
    }
    size_t h2 = settle();
    printf("stalled: %ld connections that read none of a %ld KiB body, %.0f KiB of heap each\n",
           nstalled, body_kib, ((double)h2 - (double)h1) / (double)nstalled / 1024);
    for (long i = 0; i < nconns + nstalled; i++)
        if (fds[i] >= 0)
            cio_close(fds[i]);
    free(fds);
    cio_scope sc;
    cio_shield_enter(&sc);
    cio_http_server_close(srv);
    cio_shield_exit(&sc);
    cio_http_app_free(app);
    return 0;
}

int main(int argc, char **argv)
{
    static const char *const keys[] = {"conns", "body-kib", NULL};
    args_check(argc, argv, keys);
    nconns = arg_long(argc, argv, "conns", 100);
    body_kib = arg_long(argc, argv, "body-kib", 1024);
    cio_opts o = {.no_sigint = 1};
    return cio_run_opts(run, NULL, &o) ? 1 : 0;
}
