/* Tests of streams and servers on the backend CTest picks (CIO_BACKEND):
 * connecting by address, name and Unix path; asyncio's reading rules and
 * limits; writing with backpressure; half-close; cancellation, resets and
 * closes in the middle of calls; servers (grace, EMFILE, clients that vanish)
 * and 10,000 connections on one loop. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "net_test.h"

/* ---- connecting ---- */

static int main_echo(void *arg)
{
    (void)arg;
    cio_server *srv = net_server(net_echo_handler, NULL, NULL);
    cio_stream *s;
    CIO_ASSERT_OK(cio_open_connection(&s, "127.0.0.1", cio_server_port(srv), NULL));
    NET_WRITE(s, "hello\nworld\n");
    char line[64];
    CIO_ASSERT_EQ(cio_stream_read_line(s, line, sizeof(line)), 6);
    CIO_ASSERT_STR_EQ(line, "hello\n");
    CIO_ASSERT_EQ(cio_stream_read_line(s, line, sizeof(line)), 6);
    CIO_ASSERT_STR_EQ(line, "world\n");
    /* Addresses: the peer is the server's port, the local side loopback. */
    struct sockaddr_storage ss;
    socklen_t len;
    CIO_ASSERT_OK(cio_stream_peer_addr(s, &ss, &len));
    CIO_ASSERT_EQ(ntohs(((struct sockaddr_in *)&ss)->sin_port), cio_server_port(srv));
    CIO_ASSERT_OK(cio_stream_local_addr(s, &ss, &len));
    CIO_ASSERT_EQ(((struct sockaddr_in *)&ss)->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    /* TCP_NODELAY by default. */
    int nodelay = 0;
    socklen_t olen = sizeof(nodelay);
    CIO_ASSERT_EQ(getsockopt(cio_stream_fd(s), IPPROTO_TCP, TCP_NODELAY, &nodelay, &olen), 0);
    CIO_ASSERT(nodelay);
    CIO_ASSERT_OK(cio_stream_close(s));
    CIO_ASSERT_OK(cio_server_close(srv, 1.0));
    return 0;
}

static void test_echo(void)
{
    CIO_ASSERT_OK(net_run(main_echo, NULL));
}

static int main_by_name(void *arg)
{
    (void)arg;
    cio_server *srv;
    CIO_ASSERT_OK(cio_start_server(&srv, "localhost", 0, net_echo_handler, NULL, NULL));
    cio_stream *s;
    CIO_ASSERT_OK(cio_open_connection(&s, "localhost", cio_server_port(srv), NULL));
    NET_WRITE(s, "ping\n");
    char line[16];
    CIO_ASSERT_EQ(cio_stream_read_line(s, line, sizeof(line)), 5);
    CIO_ASSERT_OK(cio_stream_close(s));
    CIO_ASSERT_OK(cio_server_close(srv, 1.0));
    return 0;
}

static void test_connect_by_name(void)
{
    CIO_ASSERT_OK(net_run(main_by_name, NULL));
}

/* host NULL: every address, IPv4 and IPv6, on one port. */
static int main_any_address(void *arg)
{
    (void)arg;
    cio_server *srv;
    CIO_ASSERT_OK(cio_start_server(&srv, NULL, 0, net_echo_handler, NULL, NULL));
    const char *hosts[] = {"127.0.0.1", "::1"};
    for (int i = 0; i < 2; i++) {
        cio_stream *s;
        CIO_ASSERT_OK(cio_open_connection(&s, hosts[i], cio_server_port(srv), NULL));
        struct sockaddr_storage ss;
        socklen_t len;
        CIO_ASSERT_OK(cio_stream_peer_addr(s, &ss, &len));
        CIO_ASSERT_EQ(ss.ss_family, i ? AF_INET6 : AF_INET);
        NET_WRITE(s, "both\n");
        char line[8];
        CIO_ASSERT_EQ(cio_stream_read_line(s, line, sizeof(line)), 5);
        CIO_ASSERT_OK(cio_stream_close(s));
    }
    CIO_ASSERT_OK(cio_server_close(srv, 1.0));
    return 0;
}

static void test_server_any_address(void)
{
    CIO_ASSERT_OK(net_run(main_any_address, NULL));
}

static int main_refused(void *arg)
{
    (void)arg;
    int port = net_free_port();
    cio_stream *s = (cio_stream *)1;
    CIO_ASSERT_ERR(cio_open_connection(&s, "127.0.0.1", port, NULL), -ECONNREFUSED);
    CIO_ASSERT(s == NULL);
    char want[64];
    snprintf(want, sizeof(want), "127.0.0.1:%d", port);
    NET_ASSERT_MESSAGE_HAS(want);
    NET_ASSERT_MESSAGE_HAS("refused");
    return 0;
}

static void test_connection_refused(void)
{
    CIO_ASSERT_OK(net_run(main_refused, NULL));
}

static int main_unknown(void *arg)
{
    (void)arg;
    cio_stream *s;
    CIO_ASSERT_ERR(cio_open_connection(&s, "no-such-host.invalid", 8080, NULL), -ENOENT);
    NET_ASSERT_MESSAGE_HAS("no-such-host.invalid");
    NET_ASSERT_MESSAGE_HAS("8080");
    return 0;
}

static void test_unknown_host(void)
{
    CIO_ASSERT_OK(net_run(main_unknown, NULL));
}

static int main_bad_input(void *arg)
{
    (void)arg;
    cio_stream *s;
    CIO_ASSERT_ERR(cio_open_connection(NULL, "127.0.0.1", 80, NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_open_connection(&s, NULL, 80, NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_open_connection(&s, "127.0.0.1", 0, NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_open_connection(&s, "127.0.0.1", -1, NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_open_connection(&s, "127.0.0.1", 70000, NULL), -EINVAL);
    NET_ASSERT_MESSAGE_HAS("70000");
    CIO_ASSERT_ERR(cio_open_connection(&s, "", 80, NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_open_connection(&s, "exa mple.com", 80, NULL), -EINVAL);
    NET_ASSERT_MESSAGE_HAS("exa mple.com");
    CIO_ASSERT_ERR(cio_open_connection(&s, "a/b", 80, NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_open_connection(&s, "[::1]", 80, NULL), -EINVAL);
    cio_stream_opts bad = {.high_water = 100, .low_water = 200};
    CIO_ASSERT_ERR(cio_open_connection(&s, "127.0.0.1", net_free_port(), &bad), -EINVAL);
    NET_ASSERT_MESSAGE_HAS("low-water mark");
    cio_server *bad_srv;
    CIO_ASSERT_ERR(cio_start_server(&bad_srv, "127.0.0.1", 0, net_echo_handler, NULL, &bad),
                   -EINVAL);
    CIO_ASSERT_ERR(cio_open_unix_connection(&s, NULL, NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_open_unix_connection(&s, "", NULL), -EINVAL);
    char longpath[200];
    memset(longpath, 'x', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = 0;
    CIO_ASSERT_ERR(cio_open_unix_connection(&s, longpath, NULL), -ENAMETOOLONG);
    CIO_ASSERT_ERR(cio_open_unix_connection(&s, "/nonexistent/cio.sock", NULL), -ENOENT);
    NET_ASSERT_MESSAGE_HAS("/nonexistent/cio.sock");
    CIO_ASSERT_ERR(cio_stream_from_fd(&s, -1, NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_stream_from_fd(NULL, dup(0), NULL), -EINVAL);
    int sv[2];
    CIO_ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    CIO_ASSERT_ERR(cio_stream_from_fd(&s, sv[0], &bad), -EINVAL); /* low above high */
    CIO_ASSERT_EQ(fcntl(sv[0], F_GETFD), -1);                     /* and fd was closed */
    CIO_ASSERT_OK(cio_stream_from_fd(&s, sv[1], NULL));
    char buf[8];
    CIO_ASSERT_ERR(cio_stream_read(NULL, buf, 1), -EINVAL);
    CIO_ASSERT_ERR(cio_stream_read(s, NULL, 1), -EINVAL);
    CIO_ASSERT_ERR(cio_stream_read_until(s, "", 0, buf, sizeof(buf)), -EINVAL);
    CIO_ASSERT_ERR(cio_stream_read_until(s, NULL, 1, buf, sizeof(buf)), -EINVAL);
    CIO_ASSERT_ERR(cio_stream_read_line(s, buf, 0), -EINVAL);
    CIO_ASSERT_ERR(cio_stream_write(NULL, "x", 1), -EINVAL);
    CIO_ASSERT_ERR(cio_stream_write(s, NULL, 1), -EINVAL);
    CIO_ASSERT_ERR(cio_stream_consume(s, 1), -EINVAL);
    CIO_ASSERT_ERR(cio_stream_drain(NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_stream_fd(NULL), -1);
    CIO_ASSERT_OK(cio_stream_close(NULL));
    CIO_ASSERT_OK(cio_stream_close(s));
    cio_server *srv;
    CIO_ASSERT_ERR(cio_start_server(NULL, NULL, 0, net_echo_handler, NULL, NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_start_server(&srv, NULL, 0, NULL, NULL, NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_start_server(&srv, "127.0.0.1", 65536, net_echo_handler, NULL, NULL),
                   -EINVAL);
    CIO_ASSERT_ERR(cio_start_server(&srv, "bad host", 0, net_echo_handler, NULL, NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_start_server(&srv, "no-such-host.invalid", 0, net_echo_handler, NULL, NULL),
                   -ENOENT);
    CIO_ASSERT_ERR(cio_start_server(&srv, "192.0.2.1", 0, net_echo_handler, NULL, NULL),
                   -EADDRNOTAVAIL);
    NET_ASSERT_MESSAGE_HAS("192.0.2.1");
    CIO_ASSERT_ERR(cio_start_unix_server(&srv, longpath, net_echo_handler, NULL, NULL),
                   -ENAMETOOLONG);
    CIO_ASSERT_ERR(cio_start_unix_server(&srv, "/etc/passwd", net_echo_handler, NULL, NULL),
                   -EADDRINUSE);
    CIO_ASSERT_EQ(cio_server_port(NULL), -EINVAL);
    CIO_ASSERT_OK(cio_server_close(NULL, 0));
    /* A port in use. */
    srv = net_server(net_echo_handler, NULL, NULL);
    cio_server *again;
    CIO_ASSERT_ERR(
        cio_start_server(&again, "127.0.0.1", cio_server_port(srv), net_echo_handler, NULL, NULL),
        -EADDRINUSE);
    CIO_ASSERT_ERR(cio_server_close(srv, -1), -EINVAL);
    CIO_ASSERT_OK(cio_server_close(srv, 0));
    return 0;
}

static void test_bad_input(void)
{
    CIO_ASSERT_OK(net_run(main_bad_input, NULL));
    /* Outside a task: suspending calls say so. */
    cio_stream *s;
    CIO_ASSERT_ERR(cio_open_connection(&s, "127.0.0.1", 80, NULL), -EPERM);
}

/* The names resolve through a hosts file of our own, bind-mounted over
 * /etc/hosts in a private mount namespace: "cio-multi.test" has an IPv6 and
 * an IPv4 address, and a server listens on only one of them. */
static int hosts_ready;

static void private_hosts(void)
{
    char path[] = "/tmp/cio-hosts-XXXXXX";
    int fd = mkstemp(path);
    CIO_ASSERT(fd >= 0);
    const char *text = "127.0.0.1 localhost\n::1 cio-multi.test\n127.0.0.1 cio-multi.test\n";
    CIO_ASSERT_EQ(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    if (unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
        mount(path, "/etc/hosts", NULL, MS_BIND, NULL) == 0)
        hosts_ready = 1;
    unlink(path);
}

static int main_every_address(void *arg)
{
    (void)arg;
    /* Find which family the resolver lists first: the server goes on the other. */
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    CIO_ASSERT_OK(cio_getaddrinfo("cio-multi.test", "80", &hints, &res));
    CIO_ASSERT(res && res->ai_next);
    int first = res->ai_family;
    freeaddrinfo(res);
    const char *other = first == AF_INET6 ? "127.0.0.1" : "::1";
    cio_server *srv;
    CIO_ASSERT_OK(cio_start_server(&srv, other, 0, net_echo_handler, NULL, NULL));
    cio_stream *s;
    CIO_ASSERT_OK(cio_open_connection(&s, "cio-multi.test", cio_server_port(srv), NULL));
    struct sockaddr_storage ss;
    socklen_t len;
    CIO_ASSERT_OK(cio_stream_peer_addr(s, &ss, &len));
    CIO_ASSERT(ss.ss_family != first); /* the first address refused; the second took it */
    NET_WRITE(s, "x\n");
    char line[8];
    CIO_ASSERT_EQ(cio_stream_read_line(s, line, sizeof(line)), 2);
    cio_stream_close(s);
    int port = cio_server_port(srv);
    CIO_ASSERT_OK(cio_server_close(srv, 0));
    /* Nobody on either: the message names both addresses. */
    CIO_ASSERT_ERR(cio_open_connection(&s, "cio-multi.test", port, NULL), -ECONNREFUSED);
    NET_ASSERT_MESSAGE_HAS("every address failed");
    NET_ASSERT_MESSAGE_HAS("[::1]");
    NET_ASSERT_MESSAGE_HAS("127.0.0.1");
    return 0;
}

static void every_address_child(void)
{
    private_hosts();
    if (!hosts_ready)
        CIO_SKIP("cannot mount a private /etc/hosts (needs root and mount namespaces)");
    CIO_ASSERT_OK(net_run(main_every_address, NULL));
}

static void test_every_address_tried(void)
{
    net_in_child(every_address_child);
}

static int main_unix(void *arg)
{
    (void)arg;
    char path[64];
    snprintf(path, sizeof(path), "/tmp/cio-test-%d.sock", (int)getpid());
    /* A stale socket file is replaced. */
    int stale = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    strcpy(sun.sun_path, path);
    CIO_ASSERT_EQ(bind(stale, (struct sockaddr *)&sun, sizeof(sun)), 0);
    close(stale);
    cio_server *srv;
    CIO_ASSERT_OK(cio_start_unix_server(&srv, path, net_echo_handler, NULL, NULL));
    CIO_ASSERT_EQ(cio_server_port(srv), 0);
    cio_stream *s;
    CIO_ASSERT_OK(cio_open_unix_connection(&s, path, NULL));
    NET_WRITE(s, "unix\n");
    char line[16];
    CIO_ASSERT_EQ(cio_stream_read_line(s, line, sizeof(line)), 5);
    CIO_ASSERT_STR_EQ(line, "unix\n");
    CIO_ASSERT_OK(cio_stream_close(s));
    CIO_ASSERT_OK(cio_server_close(srv, 1.0));
    struct stat st;
    CIO_ASSERT(stat(path, &st) < 0); /* removed at close */
    return 0;
}

static void test_unix_socket(void)
{
    CIO_ASSERT_OK(net_run(main_unix, NULL));
}

static int main_pipe(void *arg)
{
    (void)arg;
    int p[2];
    CIO_ASSERT_EQ(pipe(p), 0);
    cio_stream *r, *w;
    CIO_ASSERT_OK(cio_stream_from_fd(&r, p[0], NULL));
    CIO_ASSERT_OK(cio_stream_from_fd(&w, p[1], NULL));
    CIO_ASSERT(fcntl(p[0], F_GETFL) & O_NONBLOCK);
    NET_WRITE(w, "through a pipe\nlast");
    CIO_ASSERT_OK(cio_stream_write_eof(w)); /* closes the write end */
    char line[32];
    CIO_ASSERT_EQ(cio_stream_read_line(r, line, sizeof(line)), 15);
    CIO_ASSERT_EQ(cio_stream_read_line(r, line, sizeof(line)), 4);
    CIO_ASSERT_STR_EQ(line, "last");
    CIO_ASSERT_EQ(cio_stream_read_line(r, line, sizeof(line)), 0);
    CIO_ASSERT(cio_stream_at_eof(r));
    CIO_ASSERT_ERR(cio_stream_write(w, "x", 1), -EPIPE);
    cio_stream_close(w);
    cio_stream_close(r);
    /* A pipe whose reader has gone: -EPIPE, never SIGPIPE (on both backends). */
    CIO_ASSERT_EQ(pipe(p), 0);
    CIO_ASSERT_OK(cio_stream_from_fd(&w, p[1], NULL));
    close(p[0]);
    CIO_ASSERT_ERR(cio_stream_write(w, "lost", 4), -EPIPE);
    CIO_ASSERT_ERR(cio_stream_drain(w), -EPIPE);
    cio_stream_close(w);
    return 0;
}

static void test_pipe_stream(void)
{
    signal(SIGPIPE, SIG_DFL); /* a SIGPIPE would kill the test */
    CIO_ASSERT_OK(net_run(main_pipe, NULL));
}

/* ---- reading rules ---- */

/* A socket pair: the test writes raw bytes into one end of a stream. */
typedef struct pair {
    cio_stream *s;
    int peer;
} pair;

static pair make_pair(const cio_stream_opts *opts)
{
    int sv[2];
    CIO_ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    pair p = {NULL, sv[1]};
    CIO_ASSERT_OK(cio_stream_from_fd(&p.s, sv[0], opts));
    return p;
}

static void raw(int fd, const char *text)
{
    CIO_ASSERT_EQ(write(fd, text, strlen(text)), (ssize_t)strlen(text));
}

/* Many connections give their read buffers back at once (as 100 echo
 * connections do, each waiting between messages), then read again: the
 * loop's cache must hand every buffer back instead of malloc, which with 16
 * kept cost glibc a brk churn in the W20 echo server. */
#define GIVEN_BACK 100
static int main_read_buffers_given_back(void *arg)
{
    (void)arg;
    static pair p[GIVEN_BACK];
    const void *data;
    if (getenv("CIO_FAULT"))
        return 0; /* the torture runner's rules own the seam */
    /* The last round counts: the earlier ones have grown the backend's
     * tables for these fds. */
    for (int round = 0; round < 3; round++) {
        if (round == 2)
            CIO_ASSERT_OK(cio_fault_set("count"));
        for (int i = 0; i < GIVEN_BACK; i++) {
            if (round == 0)
                p[i] = make_pair(NULL);
            raw(p[i].peer, "x");
            CIO_ASSERT_EQ(cio_stream_peek(p[i].s, &data, 1), 1);
            CIO_ASSERT_OK(cio_stream_consume(p[i].s, 1));
        }
        uint64_t allocs = cio_fault_points(CIO_FAULT_ALLOC);
        CIO_ASSERT_OK(cio_fault_set(NULL));
        if (round == 2)
            CIO_ASSERT_EQ(allocs, 0); /* every buffer came from the cache */
        for (int i = 0; i < GIVEN_BACK; i++)
            cio_stream_release_read_buffer(p[i].s);
    }
    for (int i = 0; i < GIVEN_BACK; i++) {
        cio_stream_close(p[i].s);
        close(p[i].peer);
    }
    return 0;
}

static void test_read_buffers_given_back(void)
{
    CIO_ASSERT_OK(cio_test_run(main_read_buffers_given_back, NULL));
}

/* wait_readable: wakes when bytes arrive without taking a read buffer,
 * returns at once when bytes are buffered or the input ended, counts as a
 * reader (-EBUSY for a second one), is cancellable, and ends with
 * -ECONNABORTED when the stream closes under it. A stream on a descriptor
 * number that another stream waited on before is watched afresh (epoll's
 * registration of the old file went with it). */
static int wait_readable_task(void *arg)
{
    return cio_stream_wait_readable(arg);
}

static int main_wait_readable(void *arg)
{
    (void)arg;
    char buf[8];
    pair p = make_pair(NULL);
    for (int round = 0; round < 3; round++) { /* later rounds reuse the registration */
        cio_task *t = cio_spawn(wait_readable_task, p.s);
        CIO_ASSERT_OK(cio_yield()); /* it runs first (FIFO) and parks */
        CIO_ASSERT_ERR(cio_stream_read(p.s, buf, sizeof(buf)), -EBUSY);
        raw(p.peer, "hi");
        CIO_ASSERT_OK(cio_join(t));
        CIO_ASSERT_EQ(cio_stream_read_buffered(p.s), 0); /* waited, took no buffer */
        CIO_ASSERT_EQ(cio_stream_read(p.s, buf, sizeof(buf)), 2);
        CIO_ASSERT_EQ(memcmp(buf, "hi", 2), 0);
    }
    /* Buffered bytes: at once, and they stay. */
    raw(p.peer, "abc");
    CIO_ASSERT_EQ(cio_stream_read(p.s, buf, 1), 1);
    CIO_ASSERT_OK(cio_stream_wait_readable(p.s));
    CIO_ASSERT_EQ(cio_stream_read_buffered(p.s), 2);
    CIO_ASSERT_EQ(cio_stream_read(p.s, buf, sizeof(buf)), 2);
    /* Cancelled: the reason, and the stream reads on. */
    cio_task *t = cio_spawn(wait_readable_task, p.s);
    CIO_ASSERT_OK(cio_yield());
    cio_cancel(t);
    CIO_ASSERT_ERR(cio_join(t), -ECANCELED);
    raw(p.peer, "z");
    CIO_ASSERT_EQ(cio_stream_read(p.s, buf, sizeof(buf)), 1);
    /* Closed under it. */
    t = cio_spawn(wait_readable_task, p.s);
    CIO_ASSERT_OK(cio_yield());
    int fd = cio_stream_fd(p.s);
    CIO_ASSERT_OK(cio_stream_close(p.s));
    CIO_ASSERT_ERR(cio_join(t), -ECONNABORTED);
    close(p.peer);
    /* The same descriptor number, another file: still woken. */
    p = make_pair(NULL);
    CIO_ASSERT_EQ(cio_stream_fd(p.s), fd);
    t = cio_spawn(wait_readable_task, p.s);
    CIO_ASSERT_OK(cio_yield());
    raw(p.peer, "n");
    CIO_ASSERT_OK(cio_join(t));
    /* The end of the input: at once, and the read says 0. */
    close(p.peer);
    CIO_ASSERT_EQ(cio_stream_read(p.s, buf, sizeof(buf)), 1);
    CIO_ASSERT_OK(cio_stream_wait_readable(p.s));
    CIO_ASSERT_EQ(cio_stream_read(p.s, buf, sizeof(buf)), 0);
    CIO_ASSERT_OK(cio_stream_wait_readable(p.s));
    cio_stream_close(p.s);
    return 0;
}

static void test_wait_readable(void)
{
    CIO_ASSERT_OK(cio_test_run(main_wait_readable, NULL));
}

/* Many small writes in one loop turn (a broadcast): on io_uring the ones
 * after the first 64 direct sends of the turn wait in their streams' buffers
 * and go out together with the loop's next io_uring_enter. Every peer gets
 * its bytes, in order, and a peer that is gone is reported by that stream's
 * drain. */
#define TURN_WRITES 100
static int main_many_writes_one_turn(void *arg)
{
    (void)arg;
    static pair p[TURN_WRITES];
    for (int i = 0; i < TURN_WRITES; i++)
        p[i] = make_pair(NULL);
    close(p[90].peer);          /* this one's write fails in the background */
    CIO_ASSERT_OK(cio_yield()); /* a fresh turn */
    size_t held = 0;
    for (int i = 0; i < TURN_WRITES; i++) {
        char msg[16];
        int n = snprintf(msg, sizeof(msg), "m%03d", i);
        if (i == 90) { /* sent at once (epoll): the error now; batched: at the drain */
            int err = cio_stream_write(p[i].s, msg, (size_t)n);
            CIO_ASSERT(err == 0 || err == -EPIPE);
            continue;
        }
        CIO_ASSERT_OK(cio_stream_write(p[i].s, msg, (size_t)n));
        CIO_ASSERT_OK(cio_stream_write(p[i].s, "!", 1)); /* in order behind it */
        held += cio_stream_write_buffered(p[i].s) > 0;
    }
    if (strcmp(cio_backend_name(), "uring") == 0)
        CIO_ASSERT_CMP(held, >=, (size_t)(TURN_WRITES - 64 - 2));
    else
        CIO_ASSERT_EQ(held, 0); /* epoll: every write went out at once */
    for (int i = 0; i < TURN_WRITES; i++) {
        if (i == 90) {
            int err = cio_stream_drain(p[i].s);
            CIO_ASSERT(err == -EPIPE || err == -ECONNRESET);
            continue;
        }
        CIO_ASSERT_OK(cio_stream_drain(p[i].s));
        char got[16] = {0}, want[16];
        snprintf(want, sizeof(want), "m%03d!", i);
        CIO_ASSERT_EQ(read(p[i].peer, got, sizeof(got)), 5);
        CIO_ASSERT_STR_EQ(got, want);
    }
    for (int i = 0; i < TURN_WRITES; i++) {
        cio_stream_close(p[i].s);
        if (i != 90)
            close(p[i].peer);
    }
    return 0;
}

static void test_many_writes_one_turn(void)
{
    CIO_ASSERT_OK(cio_test_run(main_many_writes_one_turn, NULL));
}

static int main_read_exactly(void *arg)
{
    (void)arg;
    pair p = make_pair(NULL);
    raw(p.peer, "abcdefgh");
    char buf[16];
    size_t got = 99;
    CIO_ASSERT_EQ(cio_stream_read_exactly(p.s, buf, 3, &got), 3);
    CIO_ASSERT(memcmp(buf, "abc", 3) == 0);
    CIO_ASSERT_EQ(got, 0);
    /* A large read_exactly goes around the buffer and still gets every byte. */
    static char big[200000], back[200000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)(i * 7);
    CIO_ASSERT_EQ(cio_stream_read_exactly(p.s, buf, 5, NULL), 5);
    cio_stream *w;
    CIO_ASSERT_OK(cio_stream_from_fd(&w, dup(p.peer), NULL));
    CIO_ASSERT_OK(cio_stream_write(w, big, sizeof(big)));
    CIO_ASSERT_EQ(cio_stream_read_exactly(p.s, back, sizeof(back), NULL), (ssize_t)sizeof(back));
    CIO_ASSERT(memcmp(big, back, sizeof(big)) == 0);
    cio_stream_close(w);
    /* EOF first: -EPIPE and what came. */
    raw(p.peer, "xy");
    close(p.peer);
    CIO_ASSERT_ERR(cio_stream_read_exactly(p.s, buf, 5, &got), -EPIPE);
    CIO_ASSERT_EQ(got, 2);
    CIO_ASSERT(memcmp(buf, "xy", 2) == 0);
    CIO_ASSERT_EQ(cio_stream_read(p.s, buf, sizeof(buf)), 0);
    CIO_ASSERT_EQ(cio_stream_read_exactly(p.s, buf, 0, NULL), 0);
    cio_stream_close(p.s);
    return 0;
}

static void test_read_exactly(void)
{
    CIO_ASSERT_OK(net_run(main_read_exactly, NULL));
}

static int main_read_until(void *arg)
{
    (void)arg;
    cio_stream_opts o = {.limit = 16};
    pair p = make_pair(&o);
    char buf[64];
    /* A separator of several bytes, split across writes. */
    raw(p.peer, "key: value\r");
    raw(p.peer, "\nrest");
    CIO_ASSERT_EQ(cio_stream_read_until(p.s, "\r\n", 2, buf, sizeof(buf)), 12);
    CIO_ASSERT(memcmp(buf, "key: value\r\n", 12) == 0);
    /* Does not fit in buf: -ENOBUFS, nothing consumed. */
    raw(p.peer, "\r\n");
    CIO_ASSERT_ERR(cio_stream_read_until(p.s, "\r\n", 2, buf, 3), -ENOBUFS);
    CIO_ASSERT_EQ(cio_stream_read_until(p.s, "\r\n", 2, buf, sizeof(buf)), 6);
    CIO_ASSERT(memcmp(buf, "rest\r\n", 6) == 0);
    /* Past the limit without a separator: -ENOBUFS (LimitOverrunError), data kept. */
    raw(p.peer, "0123456789abcdefghij");
    CIO_ASSERT_ERR(cio_stream_read_until(p.s, "\n", 1, buf, sizeof(buf)), -ENOBUFS);
    CIO_ASSERT_EQ(cio_stream_read_buffered(p.s), 20);
    CIO_ASSERT_EQ(cio_stream_read(p.s, buf, 20), 20);
    CIO_ASSERT(memcmp(buf, "0123456789abcdefghij", 20) == 0);
    /* The separator found but beyond the limit: -ENOBUFS too. */
    raw(p.peer, "0123456789abcdefgh\n");
    CIO_ASSERT_ERR(cio_stream_read_until(p.s, "\n", 1, buf, sizeof(buf)), -ENOBUFS);
    CIO_ASSERT_EQ(cio_stream_read(p.s, buf, sizeof(buf)), 19);
    /* Exactly at the limit is fine (asyncio counts the separator's start). */
    raw(p.peer, "0123456789abcdef\n");
    CIO_ASSERT_EQ(cio_stream_read_until(p.s, "\n", 1, buf, sizeof(buf)), 17);
    /* EOF before the separator: -EPIPE, the partial data stays readable. */
    raw(p.peer, "tail");
    shutdown(p.peer, SHUT_WR);
    CIO_ASSERT_ERR(cio_stream_read_until(p.s, "\n", 1, buf, sizeof(buf)), -EPIPE);
    CIO_ASSERT_EQ(cio_stream_read(p.s, buf, sizeof(buf)), 4);
    CIO_ASSERT(cio_stream_at_eof(p.s));
    close(p.peer);
    cio_stream_close(p.s);
    return 0;
}

static void test_read_until_and_limit(void)
{
    CIO_ASSERT_OK(net_run(main_read_until, NULL));
}

static int main_read_line(void *arg)
{
    (void)arg;
    pair p = make_pair(NULL);
    char line[8];
    raw(p.peer, "a\nbb\n\nabcdefghij\nend");
    CIO_ASSERT_EQ(cio_stream_read_line(p.s, line, sizeof(line)), 2);
    CIO_ASSERT_STR_EQ(line, "a\n");
    CIO_ASSERT_EQ(cio_stream_read_line(p.s, line, sizeof(line)), 3);
    CIO_ASSERT_STR_EQ(line, "bb\n");
    CIO_ASSERT_EQ(cio_stream_read_line(p.s, line, sizeof(line)), 1);
    CIO_ASSERT_STR_EQ(line, "\n");
    /* Too long for the caller's buffer (with its NUL): nothing consumed. */
    CIO_ASSERT_ERR(cio_stream_read_line(p.s, line, sizeof(line)), -ENOBUFS);
    char big[32];
    CIO_ASSERT_EQ(cio_stream_read_line(p.s, big, sizeof(big)), 11);
    close(p.peer);
    CIO_ASSERT_EQ(cio_stream_read_line(p.s, line, sizeof(line)), 3); /* partial last line */
    CIO_ASSERT_STR_EQ(line, "end");
    CIO_ASSERT_EQ(cio_stream_read_line(p.s, line, sizeof(line)), 0);
    CIO_ASSERT_STR_EQ(line, "");
    cio_stream_close(p.s);
    return 0;
}

static void test_read_line(void)
{
    CIO_ASSERT_OK(net_run(main_read_line, NULL));
}

/* A line longer than the first buffer grows it, and many short reads come
 * out of one buffer fill. */
static int main_growth(void *arg)
{
    (void)arg;
    pair p = make_pair(NULL);
    static char text[50001];
    memset(text, 'q', sizeof(text) - 2);
    text[sizeof(text) - 2] = '\n';
    cio_stream *w;
    CIO_ASSERT_OK(cio_stream_from_fd(&w, dup(p.peer), NULL));
    CIO_ASSERT_OK(cio_stream_write(w, text, strlen(text)));
    static char line[60000];
    CIO_ASSERT_EQ(cio_stream_read_line(p.s, line, sizeof(line)), 50000);
    CIO_ASSERT_OK(cio_stream_write(w, "0123456789", 10));
    CIO_ASSERT_OK(cio_stream_drain(w));
    char c;
    for (int i = 0; i < 10; i++) {
        CIO_ASSERT_EQ(cio_stream_read(p.s, &c, 1), 1);
        CIO_ASSERT_EQ(c, '0' + i);
    }
    cio_stream_close(w);
    close(p.peer);
    cio_stream_close(p.s);
    return 0;
}

static void test_buffer_growth(void)
{
    CIO_ASSERT_OK(net_run(main_growth, NULL));
}

static int main_peek(void *arg)
{
    (void)arg;
    pair p = make_pair(NULL);
    raw(p.peer, "GET / HTTP/1.1\r\n");
    const void *data;
    ssize_t n = cio_stream_peek(p.s, &data, 4);
    CIO_ASSERT_CMP(n, >=, 4);
    CIO_ASSERT(memcmp(data, "GET ", 4) == 0);
    CIO_ASSERT_OK(cio_stream_consume(p.s, 4));
    char buf[32];
    CIO_ASSERT_EQ(cio_stream_read_line(p.s, buf, sizeof(buf)), 12);
    CIO_ASSERT_STR_EQ(buf, "/ HTTP/1.1\r\n");
    CIO_ASSERT_ERR(cio_stream_peek(p.s, &data, 1 << 20), -EINVAL); /* beyond the limit */
    close(p.peer);
    CIO_ASSERT_EQ(cio_stream_peek(p.s, &data, 1), 0);
    cio_stream_close(p.s);
    return 0;
}

static void test_peek_consume(void)
{
    CIO_ASSERT_OK(net_run(main_peek, NULL));
}

/* ---- writing ---- */

/* The peer never reads: the writer blocks once past the high-water mark and
 * its buffer stays bounded, however much it tries to write. */
static int main_backpressure(void *arg)
{
    (void)arg;
    cio_stream_opts o = {.high_water = 32 * 1024, .low_water = 8 * 1024};
    pair p = make_pair(&o);
    int small = 16 * 1024;
    setsockopt(cio_stream_fd(p.s), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    static char chunk[100000];
    memset(chunk, 'w', sizeof(chunk));
    size_t calls = 0, max_buffered = 0;
    cio_scope sc;
    CIO_ASSERT_OK(cio_timeout_enter(&sc, 0.3));
    int err = 0;
    while (!err) {
        err = cio_stream_write(p.s, chunk, sizeof(chunk));
        size_t b = cio_stream_write_buffered(p.s);
        max_buffered = b > max_buffered ? b : max_buffered;
        calls += !err;
    }
    CIO_ASSERT_ERR(cio_timeout_exit(&sc), -ETIMEDOUT);
    CIO_ASSERT_ERR(err, -ETIMEDOUT);
    CIO_ASSERT_CMP(max_buffered, <=, 32 * 1024);
    CIO_ASSERT_CMP(calls, <=, 10); /* the kernel's buffers plus the mark, not more */
    /* Blocked past the mark, it goes on once the reader drains. */
    int fl = fcntl(p.peer, F_GETFL);
    fcntl(p.peer, F_SETFL, fl | O_NONBLOCK);
    cio_stream *r;
    CIO_ASSERT_OK(cio_stream_from_fd(&r, p.peer, NULL));
    static char sink[65536];
    size_t drained = 0;
    /* Bounded: a flush that never came would fail here, not at the alarm. */
    CIO_ASSERT_OK(cio_timeout_enter(&sc, 30));
    while (cio_stream_write_buffered(p.s) > 0) {
        ssize_t n = cio_stream_read(r, sink, sizeof(sink));
        CIO_ASSERT_CMP(n, >, 0);
        drained += (size_t)n;
    }
    CIO_ASSERT(drained > 0);
    CIO_ASSERT_OK(cio_stream_close(p.s));
    ssize_t n;
    while ((n = cio_stream_read(r, sink, sizeof(sink))) > 0) {
    }
    CIO_ASSERT_EQ(n, 0);
    CIO_ASSERT_OK(cio_timeout_exit(&sc));
    cio_stream_close(r);
    return 0;
}

static void test_backpressure_slow_reader(void)
{
    CIO_ASSERT_OK(net_run(main_backpressure, NULL));
}

/* write_eof half-closes: the peer sees EOF and can still answer. */
static int upper_after_eof(cio_stream *s, void *arg)
{
    (void)arg;
    char buf[256];
    size_t n = 0;
    ssize_t r;
    while ((r = cio_stream_read(s, buf + n, sizeof(buf) - n)) > 0)
        n += (size_t)r;
    if (r < 0)
        return (int)r;
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)(buf[i] >= 'a' && buf[i] <= 'z' ? buf[i] - 32 : buf[i]);
    return cio_stream_write(s, buf, n);
}

static int main_half_close(void *arg)
{
    (void)arg;
    cio_server *srv = net_server(upper_after_eof, NULL, NULL);
    cio_stream *s;
    CIO_ASSERT_OK(cio_open_connection(&s, "127.0.0.1", cio_server_port(srv), NULL));
    NET_WRITE(s, "shout this");
    CIO_ASSERT_OK(cio_stream_write_eof(s));
    CIO_ASSERT_OK(cio_stream_write_eof(s)); /* again: nothing to do */
    CIO_ASSERT_ERR(cio_stream_write(s, "x", 1), -EPIPE);
    char buf[32];
    size_t got = 0;
    CIO_ASSERT_ERR(cio_stream_read_exactly(s, buf, 20, &got), -EPIPE);
    CIO_ASSERT_EQ(got, 10);
    CIO_ASSERT(memcmp(buf, "SHOUT THIS", 10) == 0);
    CIO_ASSERT_OK(cio_stream_close(s));
    CIO_ASSERT_OK(cio_server_close(srv, 1.0));
    return 0;
}

static void test_write_eof_half_close(void)
{
    CIO_ASSERT_OK(net_run(main_half_close, NULL));
}

/* Close flushes what is buffered; drain waits for it all. */
typedef struct sink_job {
    cio_stream *r;
    char *back;
    size_t n;
} sink_job;

static int sink_all(void *arg)
{
    sink_job *j = arg;
    size_t got = 0;
    return (int)cio_stream_read_exactly(j->r, j->back, j->n, &got) < 0 ? -EIO : 0;
}

static int main_flush_on_close(void *arg)
{
    (void)arg;
    pair p = make_pair(NULL);
    static char big[300000], back[300000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)(i % 251);
    int fl = fcntl(p.peer, F_GETFL);
    fcntl(p.peer, F_SETFL, fl | O_NONBLOCK);
    cio_stream *r;
    CIO_ASSERT_OK(cio_stream_from_fd(&r, p.peer, NULL));
    sink_job j = {r, back, sizeof(back)};
    cio_task *t = cio_spawn(sink_all, &j);
    CIO_ASSERT_OK(cio_stream_write(p.s, big, sizeof(big)));
    CIO_ASSERT_OK(cio_stream_drain(p.s));
    CIO_ASSERT_EQ(cio_stream_write_buffered(p.s), 0);
    CIO_ASSERT_OK(cio_stream_write(p.s, "tail", 4));
    CIO_ASSERT_OK(cio_stream_close(p.s)); /* flushes "tail" too */
    CIO_ASSERT_OK(cio_join(t));
    CIO_ASSERT(memcmp(big, back, sizeof(big)) == 0);
    char tail[8];
    CIO_ASSERT_EQ(cio_stream_read_exactly(r, tail, 4, NULL), 4);
    CIO_ASSERT(memcmp(tail, "tail", 4) == 0);
    CIO_ASSERT_EQ(cio_stream_read(r, tail, sizeof(tail)), 0);
    cio_stream_close(r);
    return 0;
}

static void test_drain_and_flush_on_close(void)
{
    CIO_ASSERT_OK(net_run(main_flush_on_close, NULL));
}

/* ---- cancellation, resets and closes mid-call ---- */

static int main_cancel_read(void *arg)
{
    (void)arg;
    pair p = make_pair(NULL);
    raw(p.peer, "part");
    char buf[16];
    cio_scope sc;
    CIO_ASSERT_OK(cio_timeout_enter(&sc, 0.05));
    ssize_t r = cio_stream_read_exactly(p.s, buf, 10, NULL);
    CIO_ASSERT_ERR(cio_timeout_exit(&sc), -ETIMEDOUT);
    CIO_ASSERT_ERR(r, -ETIMEDOUT);
    /* Nothing lost: the 4 bytes are still there, then the rest. */
    raw(p.peer, "-rest!");
    CIO_ASSERT_EQ(cio_stream_read_exactly(p.s, buf, 10, NULL), 10);
    CIO_ASSERT(memcmp(buf, "part-rest!", 10) == 0);
    /* read_line and read cancelled while waiting consume nothing. */
    raw(p.peer, "no newline yet");
    CIO_ASSERT_OK(cio_timeout_enter(&sc, 0.05));
    r = cio_stream_read_line(p.s, buf, sizeof(buf));
    cio_timeout_exit(&sc);
    CIO_ASSERT_ERR(r, -ETIMEDOUT);
    CIO_ASSERT_EQ(cio_stream_read_buffered(p.s), 14);
    /* Level-triggered: a cancelled scope fails even a read with data at hand. */
    CIO_ASSERT_OK(cio_scope_enter(&sc));
    cio_scope_cancel(&sc);
    CIO_ASSERT_ERR(cio_stream_read(p.s, buf, 1), -ECANCELED);
    cio_scope_exit(&sc);
    CIO_ASSERT_EQ(cio_stream_read_buffered(p.s), 14);
    close(p.peer);
    cio_stream_close(p.s);
    return 0;
}

static void test_cancel_mid_read(void)
{
    CIO_ASSERT_OK(net_run(main_cancel_read, NULL));
}

static int blocked_writer(void *arg)
{
    cio_stream *s = arg;
    static char chunk[1 << 20];
    for (;;) {
        int err = cio_stream_write(s, chunk, sizeof(chunk));
        if (err)
            return err;
    }
}

static int main_cancel_write(void *arg)
{
    (void)arg;
    pair p = make_pair(NULL);
    cio_task *t = cio_spawn(blocked_writer, p.s);
    NET_WAIT_UNTIL(cio_stream_write_buffered(p.s) > 0, 30);
    cio_cancel(t);
    CIO_ASSERT_ERR(cio_join(t), -ECANCELED);
    /* A close while cancelled discards what is buffered, and frees it all. */
    cio_scope sc;
    CIO_ASSERT_OK(cio_scope_enter(&sc));
    cio_scope_cancel(&sc);
    CIO_ASSERT_ERR(cio_stream_close(p.s), -ECANCELED);
    cio_scope_exit(&sc);
    close(p.peer);
    return 0;
}

static void test_cancel_mid_write(void)
{
    CIO_ASSERT_OK(net_run(main_cancel_write, NULL));
}

/* Resets the connection once the client's first bytes are here, and with
 * *client set, once that client is parked in a write the socket cannot take
 * (its buffer holds bytes): the reset comes mid-read or mid-write by
 * construction, not after a sleep hoping the client got there. */
static int reset_after(cio_stream *s, void *arg)
{
    cio_stream **client = arg;
    if (cio_wait_readable(cio_stream_fd(s)))
        return -1;
    if (*client)
        NET_WAIT_UNTIL(cio_stream_write_buffered(*client) > 0, 30);
    struct linger lg = {1, 0}; /* close sends RST */
    setsockopt(cio_stream_fd(s), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    cio_stream_close(s);
    return 0;
}

static int main_reset_read(void *arg)
{
    (void)arg;
    cio_stream *none = NULL;
    cio_server *srv = net_server(reset_after, &none, NULL);
    cio_stream *s;
    CIO_ASSERT_OK(cio_open_connection(&s, "127.0.0.1", cio_server_port(srv), NULL));
    NET_WRITE(s, "unread by the server"); /* unread data makes the close a reset */
    char buf[16];
    CIO_ASSERT_ERR(cio_stream_read(s, buf, sizeof(buf)), -ECONNRESET);
    cio_stream_close(s);
    CIO_ASSERT_OK(cio_server_close(srv, 1.0));
    return 0;
}

static void test_peer_reset_mid_read(void)
{
    CIO_ASSERT_OK(net_run(main_reset_read, NULL));
}

static int main_reset_write(void *arg)
{
    (void)arg;
    static cio_stream *s;
    cio_server *srv = net_server(reset_after, &s, NULL);
    CIO_ASSERT_OK(cio_open_connection(&s, "127.0.0.1", cio_server_port(srv), NULL));
    static char chunk[1 << 16];
    int err = 0;
    cio_scope sc;
    CIO_ASSERT_OK(cio_timeout_enter(&sc, 30.0));
    while (!err)
        err = cio_stream_write(s, chunk, sizeof(chunk));
    CIO_ASSERT_OK(cio_timeout_exit(&sc));
    CIO_ASSERT(err == -ECONNRESET || err == -EPIPE);
    CIO_ASSERT_ERR(cio_stream_write(s, "x", 1), err); /* the error stays */
    CIO_ASSERT_ERR(cio_stream_drain(s), err);
    CIO_ASSERT_ERR(cio_stream_close(s), 0);
    CIO_ASSERT_OK(cio_server_close(srv, 1.0));
    return 0;
}

static void test_peer_reset_mid_write(void)
{
    CIO_ASSERT_OK(net_run(main_reset_write, NULL));
}

static int reader_task(void *arg)
{
    char buf[16];
    return (int)cio_stream_read(arg, buf, sizeof(buf));
}

static int line_reader_task(void *arg)
{
    char buf[16];
    return (int)cio_stream_read_line(arg, buf, sizeof(buf));
}

static int main_close_other(void *arg)
{
    (void)arg;
    /* A reader blocked in another task ends with -ECONNABORTED. */
    pair p = make_pair(NULL);
    cio_task *t = cio_spawn(reader_task, p.s);
    CIO_ASSERT_OK(cio_yield()); /* it runs first (FIFO) and parks in its read */
    /* A second reader at the same time is refused. */
    char buf[4];
    CIO_ASSERT_ERR(cio_stream_read(p.s, buf, sizeof(buf)), -EBUSY);
    CIO_ASSERT_OK(cio_stream_close(p.s));
    CIO_ASSERT_ERR(cio_join(t), -ECONNABORTED);
    close(p.peer);
    /* Same for a read_line in progress with data buffered, and a blocked writer. */
    p = make_pair(NULL);
    raw(p.peer, "partial");
    t = cio_spawn(line_reader_task, p.s);
    cio_task *w = cio_spawn(blocked_writer, p.s);
    CIO_ASSERT_OK(cio_yield()); /* both run and park */
    NET_WAIT_UNTIL(cio_stream_write_buffered(p.s) > 0, 30);
    cio_scope sc; /* close without waiting for the flush */
    CIO_ASSERT_OK(cio_timeout_enter(&sc, 0.01));
    CIO_ASSERT_ERR(cio_stream_close(p.s), -ETIMEDOUT);
    cio_timeout_exit(&sc);
    CIO_ASSERT_ERR(cio_join(t), -ECONNABORTED);
    CIO_ASSERT_ERR(cio_join(w), -ECONNABORTED);
    close(p.peer);
    return 0;
}

static void test_close_from_another_task(void)
{
    CIO_ASSERT_OK(net_run(main_close_other, NULL));
}

/* ---- servers ---- */

/* Handlers that wait for `go` (set as the server's close begins, or never):
 * they are still running when the close starts, by construction. */
typedef struct slow_job {
    cio_event go;
    int done;
    int cancelled;
} slow_job;

static int slow_handler(cio_stream *s, void *arg)
{
    slow_job *j = arg;
    int err = cio_event_wait(&j->go);
    if (err) {
        j->cancelled++;
        return err;
    }
    j->done++;
    return cio_stream_write(s, "bye\n", 4);
}

static int main_grace(void *arg)
{
    (void)arg;
    /* Handlers that finish within the grace period are let finish. */
    slow_job quick = {0};
    CIO_ASSERT_OK(cio_event_init(&quick.go));
    cio_server *srv = net_server(slow_handler, &quick, NULL);
    cio_stream *c1, *c2;
    CIO_ASSERT_OK(cio_open_connection(&c1, "127.0.0.1", cio_server_port(srv), NULL));
    CIO_ASSERT_OK(cio_open_connection(&c2, "127.0.0.1", cio_server_port(srv), NULL));
    NET_WAIT_UNTIL(cio_server_connections(srv) == 2, 30);
    int port = cio_server_port(srv);
    CIO_ASSERT_OK(cio_event_set(&quick.go)); /* they finish during the close's grace */
    CIO_ASSERT_OK(cio_server_close(srv, 30.0));
    CIO_ASSERT_EQ(quick.done, 2);
    char line[8];
    CIO_ASSERT_EQ(cio_stream_read_line(c1, line, sizeof(line)), 4);
    CIO_ASSERT_EQ(cio_stream_read_line(c2, line, sizeof(line)), 4);
    cio_stream_close(c1);
    cio_stream_close(c2);
    /* No longer listening. */
    CIO_ASSERT_ERR(cio_open_connection(&c1, "127.0.0.1", port, NULL), -ECONNREFUSED);

    /* Handlers past the grace period are cancelled, and close waits for them. */
    slow_job slow = {0}; /* go is never set */
    CIO_ASSERT_OK(cio_event_init(&slow.go));
    srv = net_server(slow_handler, &slow, NULL);
    CIO_ASSERT_OK(cio_open_connection(&c1, "127.0.0.1", cio_server_port(srv), NULL));
    NET_WAIT_UNTIL(cio_server_connections(srv) == 1, 30);
    double t0 = cio_now();
    cio_scope bound; /* a close that waited for the handler would hang: fail instead */
    CIO_ASSERT_OK(cio_timeout_enter(&bound, 30));
    CIO_ASSERT_OK(cio_server_close(srv, 0.1));
    CIO_ASSERT_OK(cio_timeout_exit(&bound));
    CIO_ASSERT_CMP(cio_now() - t0, >=, 0.09); /* the grace was given */
    CIO_ASSERT_EQ(slow.cancelled, 1);
    CIO_ASSERT_EQ(cio_stream_read(c1, line, sizeof(line)), 0); /* closed by the server */
    cio_stream_close(c1);
    cio_event_destroy(&quick.go);
    cio_event_destroy(&slow.go);
    return 0;
}

static void test_server_close_grace(void)
{
    CIO_ASSERT_OK(net_run(main_grace, NULL));
}

static cio_server *forever_srv;

static int closing_handler(cio_stream *s, void *arg)
{
    (void)arg;
    char line[32];
    ssize_t n = cio_stream_read_line(s, line, sizeof(line));
    if (n > 0 && strcmp(line, "shutdown\n") == 0) {
        NET_WRITE(s, "ok\n");
        return cio_server_close(forever_srv, 1.0); /* from inside: returns at once */
    }
    return 0;
}

static int main_forever(void *arg)
{
    (void)arg;
    forever_srv = net_server(closing_handler, NULL, NULL);
    cio_stream *c;
    CIO_ASSERT_OK(cio_open_connection(&c, "127.0.0.1", cio_server_port(forever_srv), NULL));
    NET_WRITE(c, "shutdown\n");
    /* serve_forever returns once a handler closed the server (bounded, so that
     * a failure is a failure and not the runner's alarm). */
    cio_scope bound;
    CIO_ASSERT_OK(cio_timeout_enter(&bound, 60));
    CIO_ASSERT_OK(cio_server_serve_forever(forever_srv));
    CIO_ASSERT_OK(cio_timeout_exit(&bound));
    char line[8];
    CIO_ASSERT_EQ(cio_stream_read_line(c, line, sizeof(line)), 3);
    cio_stream_close(c);
    /* A cancelled serve_forever returns the reason; the server stays. */
    cio_server *srv = net_server(net_echo_handler, NULL, NULL);
    cio_scope sc;
    CIO_ASSERT_OK(cio_timeout_enter(&sc, 0.02));
    CIO_ASSERT_ERR(cio_server_serve_forever(srv), -ETIMEDOUT);
    cio_timeout_exit(&sc);
    CIO_ASSERT_OK(cio_open_connection(&c, "127.0.0.1", cio_server_port(srv), NULL));
    cio_stream_close(c);
    CIO_ASSERT_OK(cio_server_close(srv, 1.0));
    return 0;
}

static void test_serve_forever_and_close_from_handler(void)
{
    CIO_ASSERT_OK(net_run(main_forever, NULL));
}

/* A client that goes away while its handler writes: the handler gets an
 * error, the process gets no SIGPIPE, the server goes on. */
static int firehose(cio_stream *s, void *arg)
{
    int *result = arg;
    static char chunk[65536];
    int err = 0;
    while (!err)
        err = cio_stream_write(s, chunk, sizeof(chunk));
    *result = err;
    return err;
}

static int main_vanish(void *arg)
{
    (void)arg;
    int result = 0;
    cio_server *srv = net_server(firehose, &result, NULL);
    for (int i = 0; i < 3; i++) {
        result = 0;
        cio_stream *c;
        CIO_ASSERT_OK(cio_open_connection(&c, "127.0.0.1", cio_server_port(srv), NULL));
        char buf[1024];
        CIO_ASSERT(cio_stream_read(c, buf, sizeof(buf)) > 0);
        struct linger lg = {1, 0};
        setsockopt(cio_stream_fd(c), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        cio_stream_close(c);
        NET_WAIT_UNTIL(result != 0, 30);
        CIO_ASSERT(result == -ECONNRESET || result == -EPIPE);
    }
    CIO_ASSERT_OK(cio_server_close(srv, 1.0));
    return 0;
}

static void test_client_vanishes_while_handler_writes(void)
{
    signal(SIGPIPE, SIG_DFL); /* a SIGPIPE would kill the test */
    CIO_ASSERT_OK(net_run(main_vanish, NULL));
}

/* Accept fails with EMFILE: the server says so, pauses, keeps serving the
 * connection it has, and accepts again once descriptors are free. */
static int main_emfile(void *arg)
{
    (void)arg;
    /* A low limit first: io_uring's accept takes the limit in force when it
     * is submitted, so the server's accepts must all come after it. */
    cio_test_capture_stderr_begin(); /* it takes descriptors too */
    struct rlimit saved;
    getrlimit(RLIMIT_NOFILE, &saved);
    int probe = dup(0);
    net_set_nofile((rlim_t)probe + 16);
    close(probe);
    cio_server *srv = net_server(net_echo_handler, NULL, NULL);
    int port = cio_server_port(srv);
    cio_stream *a;
    CIO_ASSERT_OK(cio_open_connection(&a, "127.0.0.1", port, NULL));
    NET_WRITE(a, "one\n");
    char line[16];
    CIO_ASSERT_EQ(cio_stream_read_line(a, line, sizeof(line)), 4);

    /* Fill the descriptor table, keeping one for the next client. */
    int fill[64], nfill = 0;
    while (nfill < 64) {
        int fd = dup(0);
        if (fd < 0)
            break;
        fill[nfill++] = fd;
    }
    CIO_ASSERT(nfill > 2 && nfill < 64);
    close(fill[--nfill]);
    cio_stream *b;
    CIO_ASSERT_OK(cio_open_connection(&b, "127.0.0.1", port, NULL)); /* queued, not accepted */
    NET_WRITE(b, "two\n");
    /* Not served while the table is full... */
    cio_scope sc;
    CIO_ASSERT_OK(cio_timeout_enter(&sc, 0.3));
    ssize_t r = cio_stream_read_line(b, line, sizeof(line));
    cio_timeout_exit(&sc);
    CIO_ASSERT_ERR(r, -ETIMEDOUT);
    /* ...while the existing connection still is. */
    NET_WRITE(a, "three\n");
    CIO_ASSERT_EQ(cio_stream_read_line(a, line, sizeof(line)), 6);
    /* Free descriptors: the pending client is accepted and served. */
    while (nfill)
        close(fill[--nfill]);
    CIO_ASSERT_OK(cio_timeout_enter(&sc, 2.0));
    r = cio_stream_read_line(b, line, sizeof(line));
    CIO_ASSERT_OK(cio_timeout_exit(&sc));
    char *out = cio_test_capture_stderr_end();
    CIO_ASSERT_EQ(r, 4);
    CIO_ASSERT_STR_EQ(line, "two\n");
    if (!strstr(out, "Too many open files") || !strstr(out, "pausing"))
        CIO_FAIL_AT("no EMFILE message on stderr: \"%s\"", out);
    free(out);
    cio_stream_close(a);
    cio_stream_close(b);
    CIO_ASSERT_OK(cio_server_close(srv, 1.0));
    setrlimit(RLIMIT_NOFILE, &saved);
    return 0;
}

static void test_server_emfile_backoff(void)
{
    CIO_ASSERT_OK(net_run(main_emfile, NULL));
}

/* A handler's failure is reported, and the server goes on. */
static int failing_handler(cio_stream *s, void *arg)
{
    (void)s, (void)arg;
    return cio_fail(-EPROTO, "bad greeting from client");
}

static int main_handler_fails(void *arg)
{
    (void)arg;
    cio_server *srv = net_server(failing_handler, NULL, NULL);
    cio_test_capture_stderr_begin();
    for (int i = 0; i < 2; i++) {
        cio_stream *c;
        CIO_ASSERT_OK(cio_open_connection(&c, "127.0.0.1", cio_server_port(srv), NULL));
        char buf[4];
        CIO_ASSERT_EQ(cio_stream_read(c, buf, sizeof(buf)), 0);
        cio_stream_close(c);
    }
    CIO_ASSERT_OK(cio_server_close(srv, 1.0));
    char *out = cio_test_capture_stderr_end();
    if (!strstr(out, "bad greeting from client") || !strstr(out, "127.0.0.1"))
        CIO_FAIL_AT("handler failure not reported: \"%s\"", out);
    free(out);
    return 0;
}

static void test_handler_failure_reported(void)
{
    CIO_ASSERT_OK(net_run(main_handler_fails, NULL));
}

/* ---- 10,000 connections on one loop ---- */

#define MANY 10000

static int live, max_live;

static int hold_handler(cio_stream *s, void *arg)
{
    (void)arg;
    live++;
    max_live = live > max_live ? live : max_live;
    char line[32];
    ssize_t n = cio_stream_read_line(s, line, sizeof(line));
    int err = n > 0 ? cio_stream_write(s, line, (size_t)n) : (int)n;
    if (!err)
        n = cio_stream_read(s, line, sizeof(line)); /* until the client closes */
    live--;
    return err;
}

typedef struct many_state {
    int port;
    int connected, ok;
    cio_event all_in, all_echoed;
    cio_sem connecting;
} many_state;

static int many_client(void *arg)
{
    many_state *m = arg;
    cio_stream *s;
    cio_sem_acquire(&m->connecting); /* stay within the listen backlog */
    int err = cio_open_connection(&s, "127.0.0.1", m->port, NULL);
    cio_sem_release(&m->connecting);
    if (err) {
        /* Nobody may wait for a client that will never come. */
        cio_event_set(&m->all_in);
        cio_event_set(&m->all_echoed);
        return err;
    }
    if (++m->connected == MANY)
        cio_event_set(&m->all_in);
    err = cio_event_wait(&m->all_in);
    char line[32];
    if (!err)
        err = cio_stream_write(s, "hello\n", 6);
    ssize_t n = err ? err : cio_stream_read_line(s, line, sizeof(line));
    if (n == 6 && strcmp(line, "hello\n") == 0 && ++m->ok == MANY)
        cio_event_set(&m->all_echoed);
    if (n != 6)
        cio_event_set(&m->all_echoed); /* a failure ends the wait of all */
    /* Every server handler is alive until its client closes: hold on until
     * all 10,000 have answered, so they all are at once. */
    if (n == 6)
        cio_event_wait(&m->all_echoed);
    cio_stream_close(s);
    return n == 6 ? 0 : -EIO;
}

static int many_clients_main(void *arg)
{
    many_state *m = arg;
    cio_event_init(&m->all_in);
    cio_event_init(&m->all_echoed);
    cio_sem_init(&m->connecting, 1000);
    cio_task **t = calloc(MANY, sizeof(*t));
    for (int i = 0; i < MANY; i++)
        CIO_ASSERT((t[i] = cio_spawn(many_client, m)) != NULL);
    int err = cio_gather(t, MANY, CIO_RETURN_EXCEPTIONS);
    for (int i = 0; i < MANY; i++)
        cio_join(t[i]);
    free(t);
    if (m->ok != MANY)
        fprintf(stderr, "clients: %d connected, %d echoed (%s)\n", m->connected, m->ok,
                cio_strerror(err));
    return m->ok == MANY ? 0 : -EIO;
}

static int wait_child(void *arg)
{
    int *status = arg;
    pid_t pid = (pid_t)status[0];
    return waitpid(pid, &status[1], 0) == pid ? 0 : -errno;
}

static int ctl[2];

static int many_server_main(void *arg)
{
    (void)arg;
    cio_server *srv = net_server(hold_handler, NULL, NULL);
    int port = cio_server_port(srv);
    CIO_ASSERT_EQ(write(ctl[1], &port, sizeof(port)), (ssize_t)sizeof(port));
    int status[2] = {ctl[0], 0}; /* ctl[0] holds the child's pid here */
    CIO_ASSERT_OK(cio_to_thread(wait_child, status));
    CIO_ASSERT(WIFEXITED(status[1]));
    CIO_ASSERT_EQ(WEXITSTATUS(status[1]), 0);
    CIO_ASSERT_EQ(max_live, MANY);
    CIO_ASSERT_OK(cio_server_close(srv, 1.0));
    return 0;
}

/* Closing a server while clients are still arriving: every descriptor it
 * accepted (handled, or still waiting for its acceptor, which on io_uring
 * holds what the multishot accept delivered) is closed. */
static int main_close_while_arriving(void *arg)
{
    (void)arg;
    int before = net_open_fds();
    cio_server *srv = net_server(net_echo_handler, NULL, NULL);
    struct sockaddr_in sin = net_loopback(cio_server_port(srv));
    enum { N = 200 };
    int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        CIO_ASSERT(fds[i] >= 0);
        connect(fds[i], (struct sockaddr *)&sin, sizeof(sin)); /* EINPROGRESS */
        if (i % 50 == 49)
            cio_yield(); /* let the acceptor take some */
    }
    CIO_ASSERT_OK(cio_server_close(srv, 0.0));
    for (int i = 0; i < N; i++)
        close(fds[i]);
    CIO_ASSERT_EQ(net_open_fds(), before);
    return 0;
}

static void test_close_while_arriving(void)
{
    CIO_ASSERT_OK(net_run(main_close_while_arriving, NULL));
}

static void test_ten_thousand_connections(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < MANY + 200)
        CIO_SKIP("RLIMIT_NOFILE's hard limit is below 10,200 descriptors");
    net_set_nofile(MANY + 200);
    /* The clients run in a child process with a loop of their own (each side
     * needs 10,000 descriptors); it forks before this process starts a loop. */
    int p[2];
    CIO_ASSERT_EQ(pipe(p), 0);
    pid_t pid = fork();
    CIO_ASSERT(pid >= 0);
    if (pid == 0) {
        close(p[1]);
        many_state m = {0};
        if (read(p[0], &m.port, sizeof(m.port)) != sizeof(m.port))
            _exit(3);
        cio_opts o = {.no_sigint = 1};
        int err = cio_run_opts(many_clients_main, &m, &o);
        _exit(err ? 1 : 0);
    }
    close(p[0]);
    ctl[0] = pid;
    ctl[1] = p[1];
    CIO_ASSERT_OK(net_run(many_server_main, NULL));
}

/* ---- issue 14: at_eof, several separators, file streams ---- */

/* at_eof stayed 0 after the peer's FIN had arrived and the buffer drained,
 * until a read returned 0; asyncio knows as soon as the FIN arrives. */
static int main_at_eof_known(void *arg)
{
    (void)arg;
    pair p = make_pair(NULL);
    raw(p.peer, "abc");
    shutdown(p.peer, SHUT_WR);
    char buf[8];
    CIO_ASSERT_EQ(cio_stream_read_exactly(p.s, buf, 2, NULL), 2);
    CIO_ASSERT_EQ(cio_stream_at_eof(p.s), 0); /* a byte is still buffered */
    CIO_ASSERT_EQ(cio_stream_read_exactly(p.s, buf, 1, NULL), 1);
    CIO_ASSERT_EQ(cio_stream_at_eof(p.s), 1); /* no read returned 0 yet */
    CIO_ASSERT_EQ(cio_stream_read(p.s, buf, sizeof(buf)), 0);
    close(p.peer);
    cio_stream_close(p.s);
    /* Not at EOF while the peer is there, data or not. */
    p = make_pair(NULL);
    CIO_ASSERT_EQ(cio_stream_at_eof(p.s), 0);
    /* A pipe whose writer is gone. */
    int fds[2];
    CIO_ASSERT_EQ(pipe(fds), 0);
    cio_stream *r;
    CIO_ASSERT_OK(cio_stream_from_fd(&r, fds[0], NULL));
    raw(fds[1], "x\n");
    close(fds[1]);
    CIO_ASSERT_EQ(cio_stream_read_line(r, buf, sizeof(buf)), 2);
    CIO_ASSERT_EQ(cio_stream_at_eof(r), 1);
    cio_stream_close(r);
    close(p.peer);
    cio_stream_close(p.s);
    return 0;
}

static void test_at_eof_as_soon_as_known(void)
{
    CIO_ASSERT_OK(net_run(main_at_eof_known, NULL));
}

static int main_read_until_any(void *arg)
{
    (void)arg;
    pair p = make_pair(NULL);
    static const char *const seps[] = {"\n", "\r\n", ";"};
    char buf[64];
    size_t which = 99;
    raw(p.peer, "a=1;b=2\r");
    raw(p.peer, "\nc=3\nd");
    CIO_ASSERT_EQ(cio_stream_read_until_any(p.s, seps, 3, buf, sizeof(buf), &which), 4);
    CIO_ASSERT(memcmp(buf, "a=1;", 4) == 0);
    CIO_ASSERT_EQ(which, 2);
    CIO_ASSERT_EQ(cio_stream_read_until_any(p.s, seps, 3, buf, sizeof(buf), &which), 5);
    CIO_ASSERT(memcmp(buf, "b=2\r\n", 5) == 0);
    CIO_ASSERT_EQ(which, 1);
    CIO_ASSERT_EQ(cio_stream_read_until_any(p.s, seps, 3, buf, sizeof(buf), NULL), 4);
    CIO_ASSERT(memcmp(buf, "c=3\n", 4) == 0);
    shutdown(p.peer, SHUT_WR);
    CIO_ASSERT_ERR(cio_stream_read_until_any(p.s, seps, 3, buf, sizeof(buf), &which), -EPIPE);
    CIO_ASSERT_EQ(cio_stream_read(p.s, buf, sizeof(buf)), 1); /* "d" stayed */
    static const char *const empty[] = {""};
    CIO_ASSERT_ERR(cio_stream_read_until_any(p.s, empty, 1, buf, sizeof(buf), NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_stream_read_until_any(p.s, seps, 0, buf, sizeof(buf), NULL), -EINVAL);
    close(p.peer);
    cio_stream_close(p.s);
    return 0;
}

static void test_read_until_any(void)
{
    CIO_ASSERT_OK(net_run(main_read_until_any, NULL));
}

/* cio_stream_from_fd on a regular file failed with -EPERM on epoll (it worked
 * on io_uring): a file stream reads lines the same way on both. */
static int main_file_stream(void *arg)
{
    (void)arg;
    char path[] = "/tmp/cio-file-stream-XXXXXX";
    int fd = mkstemp(path);
    CIO_ASSERT(fd >= 0);
    static char big[100000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\n';
    CIO_ASSERT_EQ(write(fd, "first\nsecond;", 13), 13);
    CIO_ASSERT_EQ(write(fd, big, sizeof(big)), (ssize_t)sizeof(big));
    CIO_ASSERT_EQ(write(fd, "last", 4), 4);
    CIO_ASSERT_EQ(lseek(fd, 0, SEEK_SET), 0);
    cio_stream *s;
    CIO_ASSERT_OK(cio_stream_from_fd(&s, fd, NULL));
    char line[64];
    CIO_ASSERT_EQ(cio_stream_read_line(s, line, sizeof(line)), 6);
    CIO_ASSERT_STR_EQ(line, "first\n");
    CIO_ASSERT_EQ(cio_stream_read_until(s, ";", 1, line, sizeof(line)), 7);
    static char back[sizeof(big)];
    CIO_ASSERT_EQ(cio_stream_read_exactly(s, back, sizeof(back), NULL), (ssize_t)sizeof(back));
    CIO_ASSERT(memcmp(back, big, sizeof(big)) == 0);
    CIO_ASSERT_EQ(cio_stream_at_eof(s), 0);
    CIO_ASSERT_EQ(cio_stream_read_line(s, line, sizeof(line)), 4); /* the partial last line */
    CIO_ASSERT_STR_EQ(line, "last");
    CIO_ASSERT_EQ(cio_stream_at_eof(s), 1);
    CIO_ASSERT_EQ(cio_stream_read_line(s, line, sizeof(line)), 0);
    CIO_ASSERT_OK(cio_stream_close(s));
    /* Writing through a file stream, then reading it back line by line. */
    CIO_ASSERT_OK(cio_stream_open_file(&s, path, O_WRONLY | O_TRUNC, 0, NULL));
    for (int i = 0; i < 3; i++) {
        char l[16];
        int n = snprintf(l, sizeof(l), "line %d\n", i);
        CIO_ASSERT_OK(cio_stream_write(s, l, (size_t)n));
    }
    CIO_ASSERT_OK(cio_stream_drain(s));
    CIO_ASSERT_OK(cio_stream_close(s));
    CIO_ASSERT_OK(cio_stream_open_file(&s, path, O_RDONLY, 0, NULL));
    int n = 0;
    ssize_t r;
    while ((r = cio_stream_read_line(s, line, sizeof(line))) > 0)
        CIO_ASSERT_EQ(line[5] - '0', n++);
    CIO_ASSERT_EQ(r, 0);
    CIO_ASSERT_EQ(n, 3);
    CIO_ASSERT_OK(cio_stream_close(s));
    unlink(path);
    CIO_ASSERT_ERR(cio_stream_open_file(&s, path, O_RDONLY, 0, NULL), -ENOENT);
    CIO_ASSERT(strstr(cio_task_message(NULL), path) != NULL);
    CIO_ASSERT(s == NULL);
    return 0;
}

static void test_file_stream(void)
{
    CIO_ASSERT_OK(net_run(main_file_stream, NULL));
}

/* Kept difference from asyncio (docs/guide.md, "No silent traps"): bytes that
 * arrived before a reset are read first, the error comes where they end. */
typedef struct reset_order {
    cio_event go, done;
} reset_order;

static int write_then_reset(cio_stream *s, void *arg)
{
    reset_order *o = arg;
    int err = cio_stream_write(s, "helloworld", 10);
    if (!err)
        err = cio_stream_drain(s);
    cio_event_wait(&o->go);
    struct linger lg = {1, 0}; /* close sends RST */
    setsockopt(cio_stream_fd(s), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    cio_stream_close(s);
    cio_event_set(&o->done);
    return err;
}

static int main_reset_after_data(void *arg)
{
    (void)arg;
    reset_order o;
    cio_event_init(&o.go);
    cio_event_init(&o.done);
    cio_server *srv = net_server(write_then_reset, &o, NULL);
    cio_stream *s;
    CIO_ASSERT_OK(cio_open_connection(&s, "127.0.0.1", cio_server_port(srv), NULL));
    char buf[16];
    CIO_ASSERT_EQ(cio_stream_read_exactly(s, buf, 5, NULL), 5);
    NET_WAIT_UNTIL(cio_stream_read_buffered(s) == 5, 30); /* "world" is in our buffer */
    cio_event_set(&o.go);
    CIO_ASSERT_OK(cio_event_wait(&o.done)); /* the reset has been sent */
    CIO_ASSERT_EQ(cio_stream_read(s, buf, sizeof(buf)), 5);
    CIO_ASSERT(memcmp(buf, "world", 5) == 0);
    CIO_ASSERT_ERR(cio_stream_read(s, buf, sizeof(buf)), -ECONNRESET);
    cio_stream_close(s);
    CIO_ASSERT_OK(cio_server_close(srv, 1.0));
    return 0;
}

static void test_reset_after_buffered_data(void)
{
    CIO_ASSERT_OK(net_run(main_reset_after_data, NULL));
}

CIO_TEST_MAIN(((cio_test_case[]){
    CIO_TEST(test_reset_after_buffered_data,
             "bytes buffered before a reset are read first; the reset comes after them"),
    CIO_TEST(test_at_eof_as_soon_as_known,
             "at_eof is 1 once the buffer is empty and the FIN or a pipe's hangup is there"),
    CIO_TEST(test_read_until_any, "read_until_any: the earliest of several separators"),
    CIO_TEST(test_file_stream,
             "a file stream: read_line, read_until, large reads, writes, on both backends"),
    CIO_TEST(test_echo, "open_connection by address, echo lines, addresses, TCP_NODELAY on"),
    CIO_TEST(test_connect_by_name, "a server and a client by host name (resolved on the pool)"),
    CIO_TEST(test_server_any_address, "a server on every address: IPv4 and IPv6 clients"),
    CIO_TEST(test_connection_refused, "a closed port: -ECONNREFUSED naming host:port"),
    CIO_TEST(test_unknown_host, "a name under .invalid: -ENOENT naming host and port"),
    CIO_TEST(test_bad_input, "NULLs, bad ports, bad host strings, long paths, ports in use"),
    CIO_TEST(test_every_address_tried, "each address of a name is tried: IPv6 then IPv4"),
    CIO_TEST(test_unix_socket, "Unix-domain server and connection; stale file replaced, removed"),
    CIO_TEST(test_pipe_stream, "pipes: write_eof closes; partial last line; -EPIPE, no SIGPIPE"),
    CIO_TEST(test_read_exactly, "read_exactly: from the buffer, around it, -EPIPE with got"),
    CIO_TEST(test_read_until_and_limit, "read_until: split separators, limit overruns, EOF"),
    CIO_TEST(test_read_line, "read_line: NUL-terminated lines, too long, partial at EOF"),
    CIO_TEST(test_buffer_growth, "a 50,000-byte line grows the buffer; byte reads from it"),
    CIO_TEST(test_peek_consume, "peek and consume for parsers"),
    CIO_TEST(test_backpressure_slow_reader,
             "a reader that never reads: the writer blocks, its buffer stays bounded"),
    CIO_TEST(test_write_eof_half_close, "write_eof half-closes; the peer answers after EOF"),
    CIO_TEST(test_drain_and_flush_on_close, "drain waits for all; close flushes the rest"),
    CIO_TEST(test_cancel_mid_read, "cancelled reads lose nothing and consume nothing"),
    CIO_TEST(test_cancel_mid_write, "a writer cancelled while blocked; close while cancelled"),
    CIO_TEST(test_peer_reset_mid_read, "a reset while reading gives -ECONNRESET"),
    CIO_TEST(test_peer_reset_mid_write, "a reset while writing: -ECONNRESET/-EPIPE, sticky"),
    CIO_TEST(test_close_from_another_task,
             "close under a blocked reader and writer: -ECONNABORTED; two readers: -EBUSY"),
    CIO_TEST(test_server_close_grace, "close lets handlers finish in the grace, then cancels"),
    CIO_TEST(test_serve_forever_and_close_from_handler,
             "serve_forever ends when a handler closes the server"),
    CIO_TEST(test_client_vanishes_while_handler_writes,
             "a client resets while its handler writes: no SIGPIPE, server goes on"),
    CIO_TEST(test_server_emfile_backoff,
             "EMFILE on accept: message, pause, existing connections served, then recovers"),
    CIO_TEST(test_handler_failure_reported, "a failing handler is reported with its message"),
    CIO_TEST(test_ten_thousand_connections, "10,000 concurrent connections on one loop"),
    CIO_TEST(test_many_writes_one_turn,
             "100 writes in one turn: batched on io_uring, all delivered in order, EPIPE kept"),
    CIO_TEST(test_wait_readable,
             "wait_readable: no buffer taken, -EBUSY, cancel, close, a reused fd number, EOF"),
    CIO_TEST(test_read_buffers_given_back,
             "100 read buffers given back at once are all reused, none from malloc"),
    CIO_TEST(test_close_while_arriving,
             "a server closed while 200 clients arrive leaves no descriptor open"),
}))
