/* Tests of connecting to several addresses (src/io/connect.c): one after
 * another, raced (Happy Eyeballs), and reordered by family (interleave).
 *
 * An address that never answers is a loopback listener whose accept queue is
 * full: the kernel drops further SYNs, so a connect to it hangs for the SYN
 * retry (a second, then three more). Every test bounds its waits with a
 * timeout scope well under that. */
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <unistd.h>

#include "net_test.h"

/* connect.c's internals, tested directly: name resolution cannot give a test
 * two loopback addresses of its choosing. */
struct addrinfo *cio__interleave_addrinfo(struct addrinfo *list, int first);
int cio__connect_addrs(const char *host, int port, struct addrinfo *list,
                       const cio_stream_opts *opts);

/* A listener on 127.0.0.1 with a full accept queue, and what fills it. */
typedef struct black_hole {
    int listen_fd, fill[2], port;
} black_hole;

static black_hole black_hole_open(void)
{
    black_hole h;
    h.listen_fd = net_loopback_socket(0, &h.port);
    struct sockaddr_in sin = net_loopback(h.port);
    for (int i = 0; i < 2; i++) { /* never accepted: they fill the queue */
        h.fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        CIO_ASSERT(h.fill[i] >= 0);
        connect(h.fill[i], (struct sockaddr *)&sin, sizeof(sin)); /* EINPROGRESS */
    }
    /* Wait (by the kernel's word, not a clock) until a handshake completed:
     * then the queue of a backlog-0 listener is full. */
    struct pollfd pf[2] = {{.fd = h.fill[0], .events = POLLOUT},
                           {.fd = h.fill[1], .events = POLLOUT}};
    CIO_ASSERT(poll(pf, 2, 30000) > 0);
    return h;
}

static void black_hole_close(black_hole *h)
{
    close(h->fill[0]);
    close(h->fill[1]);
    close(h->listen_fd);
}

/* A list of IPv4 loopback addresses with the given ports (n <= 4). */
typedef struct addr_list {
    struct addrinfo ai[4];
    struct sockaddr_in sin[4];
} addr_list;

static struct addrinfo *loopback_list(addr_list *l, const int *ports, int n)
{
    memset(l, 0, sizeof(*l));
    for (int i = 0; i < n; i++) {
        l->sin[i] = net_loopback(ports[i]);
        l->ai[i] = (struct addrinfo){.ai_family = AF_INET,
                                     .ai_socktype = SOCK_STREAM,
                                     .ai_protocol = IPPROTO_TCP,
                                     .ai_addr = (struct sockaddr *)&l->sin[i],
                                     .ai_addrlen = sizeof(l->sin[i]),
                                     .ai_next = i + 1 < n ? &l->ai[i + 1] : NULL};
    }
    return &l->ai[0];
}

/* Connects within `limit` seconds; returns the fd or the error. */
static int connect_within(struct addrinfo *list, double delay, double limit)
{
    cio_stream_opts o = {.happy_eyeballs_delay = delay};
    cio_scope sc;
    CIO_ASSERT_OK(cio_timeout_enter(&sc, limit));
    int fd = cio__connect_addrs("test", 1, list, &o);
    cio_timeout_exit(&sc);
    return fd;
}

static int peer_port(int fd)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    CIO_ASSERT(getpeername(fd, (struct sockaddr *)&sin, &len) == 0);
    return ntohs(sin.sin_port);
}

static int main_race(void *arg)
{
    (void)arg;
    int good; /* never accepted from: connects to it make no fd here */
    int good_fd = net_loopback_socket(64, &good);
    black_hole h = black_hole_open();
    int before = net_open_fds();
    addr_list l;
    int hang_then_good[] = {h.port, good};

    /* One after another: the first address hangs, so the second never gets
     * its turn within 0.3 s (this is what makes the black hole a test). */
    int fd = connect_within(loopback_list(&l, hang_then_good, 2), 0, 0.3);
    CIO_ASSERT_ERR(fd, -ETIMEDOUT);
    CIO_ASSERT_EQ(net_open_fds(), before);

    /* Raced: the second starts 50 ms in and wins; the first is cancelled
     * and closed (the one descriptor left is the winner). */
    double t0 = cio_now();
    fd = connect_within(loopback_list(&l, hang_then_good, 2), 0.05, 2.0);
    double took = cio_now() - t0;
    CIO_ASSERT(fd >= 0);
    CIO_ASSERT_CMP(took, >=, 0.05);
    CIO_ASSERT_CMP(took, <, 0.9); /* not the first's SYN retry (1 s) */
    CIO_ASSERT_EQ(peer_port(fd), good);
    CIO_ASSERT_EQ(net_open_fds(), before + 1);
    close(fd);

    /* A refusal starts the next attempt at once, not after the delay. */
    int refused_then_good[] = {net_free_port(), good};
    t0 = cio_now();
    fd = connect_within(loopback_list(&l, refused_then_good, 2), 10.0, 5.0);
    CIO_ASSERT(fd >= 0);
    CIO_ASSERT_CMP(cio_now() - t0, <, 2.0);
    CIO_ASSERT_EQ(peer_port(fd), good);
    close(fd);
    CIO_ASSERT_EQ(net_open_fds(), before);

    /* All refused: the error names every address. */
    int all_refused[] = {net_free_port(), net_free_port()};
    fd = connect_within(loopback_list(&l, all_refused, 2), 0.05, 5.0);
    CIO_ASSERT_ERR(fd, -ECONNREFUSED);
    NET_ASSERT_MESSAGE_HAS("every address failed");

    /* Cancelled mid-race (an outer timeout): every attempt is cancelled and
     * closed, and the outer reason comes back. */
    black_hole h2 = black_hole_open();
    int hangs[] = {h.port, h2.port};
    before = net_open_fds();
    t0 = cio_now();
    fd = connect_within(loopback_list(&l, hangs, 2), 0.05, 0.2);
    CIO_ASSERT_ERR(fd, -ETIMEDOUT);
    CIO_ASSERT_CMP(cio_now() - t0, <, 0.9);
    CIO_ASSERT_EQ(net_open_fds(), before);

    black_hole_close(&h2);
    black_hole_close(&h);
    close(good_fd);
    return 0;
}

static void test_happy_eyeballs(void)
{
    CIO_ASSERT_OK(net_run(main_race, NULL));
}

/* ---- interleave ---- */

static void families(struct addrinfo *list, char *out)
{
    for (; list; list = list->ai_next)
        *out++ = list->ai_family == AF_INET6 ? '6' : '4';
    *out = 0;
}

static struct addrinfo *family_list(struct addrinfo *ai, const char *fams)
{
    size_t n = strlen(fams);
    for (size_t i = 0; i < n; i++)
        ai[i] = (struct addrinfo){.ai_family = fams[i] == '6' ? AF_INET6 : AF_INET,
                                  .ai_next = i + 1 < n ? &ai[i + 1] : NULL};
    return &ai[0];
}

static void test_interleave(void)
{
    struct addrinfo ai[8];
    char got[9];
    families(cio__interleave_addrinfo(family_list(ai, "6644"), 1), got);
    CIO_ASSERT_STR_EQ(got, "6464");
    families(cio__interleave_addrinfo(family_list(ai, "6644"), 2), got);
    CIO_ASSERT_STR_EQ(got, "6644");
    families(cio__interleave_addrinfo(family_list(ai, "466"), 1), got);
    CIO_ASSERT_STR_EQ(got, "466");
    families(cio__interleave_addrinfo(family_list(ai, "4446"), 1), got);
    CIO_ASSERT_STR_EQ(got, "4644");
    families(cio__interleave_addrinfo(family_list(ai, "66"), 1), got);
    CIO_ASSERT_STR_EQ(got, "66");
}

/* ---- options ---- */

static int main_bad_options(void *arg)
{
    (void)arg;
    cio_stream *s;
    cio_stream_opts o = {.happy_eyeballs_delay = -1};
    CIO_ASSERT_ERR(cio_open_connection(&s, "127.0.0.1", 9, &o), -EINVAL);
    NET_ASSERT_MESSAGE_HAS("happy_eyeballs_delay");
    o.happy_eyeballs_delay = 0.0 / 0.0;
    CIO_ASSERT_ERR(cio_open_connection(&s, "127.0.0.1", 9, &o), -EINVAL);
    o = (cio_stream_opts){.interleave = -2};
    CIO_ASSERT_ERR(cio_open_connection(&s, "127.0.0.1", 9, &o), -EINVAL);
    NET_ASSERT_MESSAGE_HAS("interleave");
    return 0;
}

static void test_bad_options(void)
{
    CIO_ASSERT_OK(net_run(main_bad_options, NULL));
}

/* ---- through open_connection ---- */

static int main_open_raced(void *arg)
{
    (void)arg;
    cio_server *srv = net_server(net_echo_handler, NULL, NULL);
    cio_stream *s;
    cio_stream_opts o = {.happy_eyeballs_delay = 0.25};
    CIO_ASSERT_OK(cio_open_connection(&s, "localhost", cio_server_port(srv), &o));
    NET_WRITE(s, "hello\n");
    char line[16];
    CIO_ASSERT_EQ(cio_stream_read_line(s, line, sizeof(line)), 6);
    cio_stream_close(s);
    CIO_ASSERT_OK(cio_server_close(srv, 1.0));
    return 0;
}

static void test_open_connection_raced(void)
{
    CIO_ASSERT_OK(net_run(main_open_raced, NULL));
}

static const cio_test_case tests[] = {
    CIO_TEST(test_happy_eyeballs, "racing addresses: a hanging one loses to the next after the "
                                  "delay; refusals move on at once; cancels close everything"),
    CIO_TEST(test_interleave, "addresses reordered to alternate families, as asyncio's interleave"),
    CIO_TEST(test_bad_options, "a negative or NaN delay and a negative interleave are -EINVAL"),
    CIO_TEST(test_open_connection_raced,
             "open_connection with happy_eyeballs_delay to localhost (both families)"),
};

CIO_TEST_MAIN(tests)
