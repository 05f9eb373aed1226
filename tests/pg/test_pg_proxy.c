/* libcio-pg behind a TCP proxy that drops or stalls the connection: a query
 * caught in a drop fails at once with -ECONNRESET; one caught in a stall
 * returns at its timeout, and the connection (whose cancel cannot get
 * through either) is closed after the grace period; nothing hangs. */
#include <netinet/in.h>

#include "pg_fixture.h"

typedef struct proxy {
    int lfd, port;
    int stalled;
    cio_event resume;
    int fds[64];
    int nfds;
    cio_group *g;
} proxy;

typedef struct pump {
    proxy *px;
    int from, to;
} pump;

static int pump_fn(void *arg)
{
    pump *p = arg;
    char buf[16384];
    for (;;) {
        ssize_t n = cio_read(p->from, buf, sizeof buf);
        if (n <= 0)
            break;
        while (p->px->stalled) /* hold the bytes: the peer hears nothing */
            if (cio_event_wait(&p->px->resume))
                return 0;
        if (cio_write_all(p->to, buf, (size_t)n, NULL) < 0)
            break;
    }
    shutdown(p->to, SHUT_WR);
    return 0;
}

static int accept_fn(void *arg)
{
    proxy *px = arg;
    static pump pumps[64];
    for (;;) {
        int cfd = cio_accept(px->lfd, NULL, NULL);
        if (cfd < 0)
            return 0;
        int sfd = cio_socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)pgfx.port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if (sfd < 0 || cio_connect(sfd, (struct sockaddr *)&a, sizeof a) < 0 || px->nfds > 60) {
            close(cfd);
            if (sfd >= 0)
                close(sfd);
            continue;
        }
        px->fds[px->nfds++] = cfd;
        px->fds[px->nfds++] = sfd;
        pump *p1 = &pumps[px->nfds - 2], *p2 = &pumps[px->nfds - 1];
        *p1 = (pump){px, cfd, sfd};
        *p2 = (pump){px, sfd, cfd};
        cio_group_spawn(px->g, pump_fn, p1);
        cio_group_spawn(px->g, pump_fn, p2);
    }
}

static void proxy_start(proxy *px)
{
    memset(px, 0, sizeof *px);
    cio_event_init(&px->resume);
    px->lfd = cio_socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    CIO_ASSERT(bind(px->lfd, (struct sockaddr *)&a, sizeof a) == 0 && listen(px->lfd, 16) == 0);
    getsockname(px->lfd, (struct sockaddr *)&a, &len);
    px->port = ntohs(a.sin_port);
    CIO_ASSERT_OK(cio_group_new(&px->g));
    cio_group_spawn(px->g, accept_fn, px);
}

/* Drops every connection at once (RST, as a crashed middlebox would). */
static void proxy_drop(proxy *px)
{
    for (int i = 0; i < px->nfds; i++) {
        struct linger l = {1, 0};
        setsockopt(px->fds[i], SOL_SOCKET, SO_LINGER, &l, sizeof l);
        shutdown(px->fds[i], SHUT_RDWR);
    }
}

static void proxy_stop(proxy *px)
{
    cio_group_cancel(px->g);
    cio_group_wait(px->g);
    cio_group_free(px->g);
    for (int i = 0; i < px->nfds; i++)
        close(px->fds[i]);
    close(px->lfd);
    cio_event_destroy(&px->resume);
}

static int t_drop_main(void *arg)
{
    (void)arg;
    proxy px;
    proxy_start(&px);
    char dsn[256];
    snprintf(dsn, sizeof dsn, "host=127.0.0.1 port=%d user=postgres dbname=postgres", px.port);
    cio_pg_conn *c;
    CIO_ASSERT_OK(cio_pg_connect(&c, dsn, NULL));
    CIO_ASSERT_EQ(pg_int(c, "SELECT 1"), 1);
    proxy_drop(&px);
    double t0 = cio_now();
    int64_t v;
    CIO_ASSERT_ERR(cio_pg_fetchval_int(c, &v, "SELECT 2", NULL, 0), -ECONNRESET);
    CIO_ASSERT_CMP(cio_now() - t0, <, 1.0);
    CIO_ASSERT_EQ(cio_pg_is_broken(c), 1);
    cio_pg_close(c);
    proxy_stop(&px);
    return 0;
}

static void test_drop(void)
{
    CIO_ASSERT_OK(cio_test_run(t_drop_main, NULL));
}

static int t_stall_main(void *arg)
{
    (void)arg;
    proxy px;
    proxy_start(&px);
    char dsn[256];
    snprintf(dsn, sizeof dsn, "host=127.0.0.1 port=%d user=postgres dbname=postgres", px.port);
    cio_pg_opts o = {.cancel_grace = 0.5};
    cio_pg_conn *c;
    CIO_ASSERT_OK(cio_pg_connect(&c, dsn, &o));
    CIO_ASSERT_EQ(pg_int(c, "SELECT 1"), 1);
    px.stalled = 1;
    cio_scope s;
    int64_t v;
    double t0 = cio_now();
    cio_timeout_enter(&s, 0.2);
    CIO_ASSERT_ERR(cio_pg_fetchval_int(c, &v, "SELECT 2", NULL, 0), -ETIMEDOUT);
    cio_timeout_exit(&s);
    CIO_ASSERT_CMP(cio_now() - t0, <, 0.6);
    /* The next query waits for the drain, which the grace period ends. */
    CIO_ASSERT_ERR(cio_pg_fetchval_int(c, &v, "SELECT 3", NULL, 0), -ECONNRESET);
    CIO_ASSERT_CMP(cio_now() - t0, <, 2.0);
    CIO_ASSERT_EQ(cio_pg_is_broken(c), 1);
    cio_pg_close(c);
    /* A connect through the stalled proxy hits its timeout. */
    o.connect_timeout = 0.3;
    t0 = cio_now();
    CIO_ASSERT_ERR(cio_pg_connect(&c, dsn, &o), -ETIMEDOUT);
    CIO_ASSERT_CMP(cio_now() - t0, <, 1.0);
    /* Closing the proxy frees the CancelRequest still stuck in its thread. */
    proxy_stop(&px);
    return 0;
}

static void test_stall(void)
{
    CIO_ASSERT_OK(cio_test_run(t_stall_main, NULL));
}

static const cio_test_case tests[] = {
    CIO_TEST(test_drop, "a proxy that resets the connection: the next query fails at once with "
                        "-ECONNRESET and the connection is marked broken"),
    CIO_TEST(test_stall, "a proxy that stalls: the query returns at its timeout, the connection "
                         "is closed after the grace period, a connect times out"),
};

PG_TEST_MAIN(tests)
