/* Tests of UDP endpoints: bound and connected, send_to / recv_from with the
 * sender's address, truncation, cancellation, closing from another task, and
 * bad input. */
#include "net_test.h"

static int main_echo(void *arg)
{
    (void)arg;
    cio_udp *srv, *cli;
    CIO_ASSERT_OK(cio_udp_open(&srv, "127.0.0.1", 0, NULL, 0, NULL));
    int port = cio_udp_port(srv);
    CIO_ASSERT(port > 0);
    CIO_ASSERT_OK(cio_udp_open(&cli, NULL, 0, "127.0.0.1", port, NULL));
    CIO_ASSERT_EQ(cio_udp_send(cli, "ping", 4), 4);
    char buf[64];
    struct sockaddr_storage from;
    socklen_t flen = sizeof(from);
    CIO_ASSERT_EQ(cio_udp_recv_from(srv, buf, sizeof(buf), &from, &flen), 4);
    CIO_ASSERT(memcmp(buf, "ping", 4) == 0);
    CIO_ASSERT_EQ(flen, sizeof(struct sockaddr_in));
    CIO_ASSERT_EQ(ntohs(((struct sockaddr_in *)&from)->sin_port), cio_udp_port(cli));
    CIO_ASSERT_EQ(cio_udp_send_to(srv, "pong", 4, (struct sockaddr *)&from, flen), 4);
    CIO_ASSERT_EQ(cio_udp_recv(cli, buf, sizeof(buf)), 4);
    CIO_ASSERT(memcmp(buf, "pong", 4) == 0);
    /* A datagram longer than the buffer: its full length comes back. */
    char big[1000];
    memset(big, 'b', sizeof(big));
    CIO_ASSERT_EQ(cio_udp_send(cli, big, sizeof(big)), (ssize_t)sizeof(big));
    CIO_ASSERT_EQ(cio_udp_recv(srv, buf, 10), (ssize_t)sizeof(big));
    CIO_ASSERT_OK(cio_udp_close(cli));
    CIO_ASSERT_OK(cio_udp_close(srv));
    return 0;
}

static void test_udp_echo(void)
{
    CIO_ASSERT_OK(net_run(main_echo, NULL));
}

static int main_ipv6(void *arg)
{
    (void)arg;
    cio_udp *a, *b;
    if (cio_udp_open(&a, "::1", 0, NULL, 0, NULL) == -EADDRNOTAVAIL)
        return 1;
    CIO_ASSERT_OK(cio_udp_open(&b, NULL, 0, "::1", cio_udp_port(a), NULL));
    CIO_ASSERT_EQ(cio_udp_send(b, "six", 3), 3);
    char buf[8];
    CIO_ASSERT_EQ(cio_udp_recv(a, buf, sizeof(buf)), 3);
    cio_udp_close(a);
    cio_udp_close(b);
    return 0;
}

static void test_udp_ipv6(void)
{
    int r = net_run(main_ipv6, NULL);
    if (r == 1)
        CIO_SKIP("no IPv6 loopback");
    CIO_ASSERT_OK(r);
}

static int udp_reader(void *arg)
{
    char buf[16];
    return (int)cio_udp_recv(arg, buf, sizeof(buf));
}

static int main_cancel(void *arg)
{
    (void)arg;
    cio_udp *u;
    CIO_ASSERT_OK(cio_udp_open(&u, "127.0.0.1", 0, NULL, 0, NULL));
    char buf[8];
    cio_scope sc;
    CIO_ASSERT_OK(cio_timeout_enter(&sc, 0.05));
    CIO_ASSERT_ERR(cio_udp_recv(u, buf, sizeof(buf)), -ETIMEDOUT);
    cio_timeout_exit(&sc);
    /* A receiver in another task when the endpoint closes: -ECONNABORTED. */
    cio_task *t = cio_spawn(udp_reader, u);
    CIO_ASSERT_OK(cio_yield()); /* it runs first (FIFO) and parks in its recv */
    CIO_ASSERT_ERR(cio_udp_recv(u, buf, sizeof(buf)), -EBUSY); /* one receiver at a time */
    CIO_ASSERT_OK(cio_udp_close(u));
    CIO_ASSERT_ERR(cio_join(t), -ECONNABORTED);
    return 0;
}

static void test_udp_cancel_and_close(void)
{
    CIO_ASSERT_OK(net_run(main_cancel, NULL));
}

static int main_bad(void *arg)
{
    (void)arg;
    cio_udp *u;
    CIO_ASSERT_ERR(cio_udp_open(NULL, "127.0.0.1", 0, NULL, 0, NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_udp_open(&u, NULL, 0, NULL, 0, NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_udp_open(&u, "127.0.0.1", 70000, NULL, 0, NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_udp_open(&u, NULL, 0, "127.0.0.1", 0, NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_udp_open(&u, NULL, 0, "no-such.invalid", 53, NULL), -ENOENT);
    NET_ASSERT_MESSAGE_HAS("no-such.invalid");
    CIO_ASSERT_ERR(cio_udp_open(&u, "bad host", 1, NULL, 0, NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_udp_open(&u, "192.0.2.1", 0, NULL, 0, NULL), -EADDRNOTAVAIL);
    NET_ASSERT_MESSAGE_HAS("192.0.2.1");
    CIO_ASSERT_OK(cio_udp_open(&u, "127.0.0.1", 0, NULL, 0, NULL));
    CIO_ASSERT_ERR(cio_udp_send(u, "x", 1), -EDESTADDRREQ); /* not connected */
    CIO_ASSERT_ERR(cio_udp_send(NULL, "x", 1), -EINVAL);
    CIO_ASSERT_ERR(cio_udp_recv(NULL, NULL, 1), -EINVAL);
    CIO_ASSERT_EQ(cio_udp_fd(NULL), -1);
    CIO_ASSERT_OK(cio_udp_close(NULL));
    cio_udp_close(u);
    return 0;
}

static void test_udp_bad_input(void)
{
    CIO_ASSERT_OK(net_run(main_bad, NULL));
}

CIO_TEST_MAIN(((cio_test_case[]){
    CIO_TEST(test_udp_echo, "bound and connected endpoints, sender address, truncation"),
    CIO_TEST(test_udp_ipv6, "datagrams over IPv6 loopback"),
    CIO_TEST(test_udp_cancel_and_close, "a cancelled receive; close under another receiver"),
    CIO_TEST(test_udp_bad_input, "NULLs, bad ports and hosts, unconnected send"),
}))
