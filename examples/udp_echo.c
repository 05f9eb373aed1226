/* udp_echo — a UDP echo server and a client in one program
 * (asyncio.create_datagram_endpoint).
 *
 *     class EchoServer(asyncio.DatagramProtocol):
 *         def datagram_received(self, data, addr):
 *             self.transport.sendto(data, addr)
 *
 *     transport, _ = await loop.create_datagram_endpoint(
 *         EchoServer, local_addr=("127.0.0.1", 9999))
 *
 * cio's endpoint is a socket a task calls, not a protocol with callbacks: the
 * server is a loop of recv_from and send_to, and the client, connected to the
 * server, sends a datagram and waits for its echo under a timeout — UDP may
 * drop datagrams, so a reply that does not come is retried, not waited for
 * forever.
 *
 *   udp_echo [--scale S] */
#include <arpa/inet.h>

#include "example.h"

static int server(void *arg)
{
    cio_udp *u = arg;
    char buf[2048];
    for (;;) {
        struct sockaddr_storage from;
        socklen_t flen = sizeof(from);
        ssize_t n = cio_udp_recv_from(u, buf, sizeof(buf), &from, &flen);
        if (n < 0)
            return n == -ECANCELED ? 0 : (int)n;
        if ((size_t)n > sizeof(buf))
            continue; /* too long for us: dropped, as the network may */
        cio_udp_send_to(u, buf, (size_t)n, (struct sockaddr *)&from, flen);
    }
}

/* Sends text and waits up to `timeout` for its echo, trying 3 times. */
static int ping(cio_udp *c, const char *text, double timeout)
{
    char back[64];
    for (int attempt = 1; attempt <= 3; attempt++) {
        double t0 = cio_now();
        ssize_t n = cio_udp_send(c, text, strlen(text));
        if (n < 0)
            return (int)n;
        cio_scope sc;
        cio_timeout_enter(&sc, timeout);
        n = cio_udp_recv(c, back, sizeof(back) - 1);
        if (cio_timeout_exit(&sc) == -ETIMEDOUT) {
            printf("  %s: no echo within %.0f ms (attempt %d)\n", text, timeout * 1e3, attempt);
            continue;
        }
        if (n < 0)
            return (int)n;
        back[n] = 0;
        printf("  %s -> %s in %.0f us\n", text, back, (cio_now() - t0) * 1e6);
        return 0;
    }
    return -ETIMEDOUT;
}

static int run(void *arg)
{
    (void)arg;
    cio_udp *srv, *cli;
    int err = cio_udp_open(&srv, "127.0.0.1", 0, NULL, 0, NULL);
    if (err)
        return err;
    printf("server bound to 127.0.0.1:%d\n", cio_udp_port(srv));
    cio_task *st = cio_spawn(server, srv);
    err = cio_udp_open(&cli, NULL, 0, "127.0.0.1", cio_udp_port(srv), NULL);
    if (!err) {
        printf("client on port %d, connected to the server\n", cio_udp_port(cli));
        const char *words[] = {"alpha", "beta", "gamma", "delta", "epsilon"};
        for (size_t i = 0; i < 5 && !err; i++) {
            err = ping(cli, words[i], S(1.0));
            cio_sleep(S(0.1));
        }
        cio_udp_close(cli);
    }
    cio_cancel(st);
    cio_join(st);
    cio_udp_close(srv);
    printf("%s\n", err ? cio_strerror(err) : "done");
    return err;
}

int main(int argc, char **argv)
{
    example_init(argc, argv);
    return cio_run(run, NULL) == 0 ? 0 : 1;
}
