/* libcio-pg with several hosts: attempts race with a staggered start, so a
 * host that never answers costs the stagger delay, not its timeout; the
 * session kind target_session_attrs asks for is respected; a cancelled or
 * finished race leaves no attempt's connection open.
 *
 * The "read-only replica" is the fixture's server behind a proxy that adds
 * `-c default_transaction_read_only=on` to each session's startup packet:
 * libpq then sees a read-only session, as on a hot standby. */
#include <netinet/in.h>
#include <fcntl.h>

#include "pg_fixture.h"

/* ---- a proxy that makes every session read-only ---- */

typedef struct ro_proxy {
    int lfd, port;
    cio_group *g;
} ro_proxy;

typedef struct pipe_arg {
    int from, to;
} pipe_arg;

static int pipe_fn(void *arg)
{
    pipe_arg *p = arg;
    char buf[16384];
    ssize_t n;
    while ((n = cio_read(p->from, buf, sizeof buf)) > 0)
        if (cio_write_all(p->to, buf, (size_t)n, NULL) < 0)
            break;
    shutdown(p->to, SHUT_WR);
    return 0;
}

static int read_full(int fd, void *buf, size_t len)
{
    for (size_t got = 0; got < len;) {
        ssize_t n = cio_read(fd, (char *)buf + got, len - got);
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}

typedef struct session {
    int cfd, sfd;
    pipe_arg up, down;
} session;

/* One client: its StartupMessage (the DSN disables TLS and GSS, so it comes
 * first) gains the option, then bytes flow both ways. */
static int session_fn(void *arg)
{
    session *s = arg;
    static const char extra[] = "options\0-c default_transaction_read_only=on";
    unsigned char hdr[4], body[4096];
    if (read_full(s->cfd, hdr, 4) < 0)
        return 0;
    uint32_t len = (uint32_t)hdr[0] << 24 | hdr[1] << 16 | hdr[2] << 8 | hdr[3];
    if (len < 9 || len - 4 + sizeof extra > sizeof body || read_full(s->cfd, body, len - 4) < 0)
        return 0;
    size_t blen = len - 4 - 1; /* without the list's final NUL */
    memcpy(body + blen, extra, sizeof extra);
    blen += sizeof extra;
    body[blen++] = 0;
    uint32_t nlen = (uint32_t)blen + 4;
    unsigned char nhdr[4] = {nlen >> 24, nlen >> 16, nlen >> 8, nlen};
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)pgfx.port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    s->sfd = cio_socket(AF_INET, SOCK_STREAM, 0);
    if (s->sfd < 0 || cio_connect(s->sfd, (struct sockaddr *)&a, sizeof a) < 0 ||
        cio_write_all(s->sfd, nhdr, 4, NULL) < 0 || cio_write_all(s->sfd, body, blen, NULL) < 0)
        return 0;
    s->up = (pipe_arg){s->cfd, s->sfd};
    s->down = (pipe_arg){s->sfd, s->cfd};
    cio_task *t[2] = {cio_spawn(pipe_fn, &s->up), cio_spawn(pipe_fn, &s->down)};
    cio_gather(t, 2, CIO_RETURN_EXCEPTIONS);
    for (int i = 0; i < 2; i++)
        cio_join(t[i]);
    return 0;
}

static int proxy_accept(void *arg)
{
    ro_proxy *px = arg;
    static session sessions[32];
    for (int i = 0; i < 32; i++) {
        sessions[i] = (session){.sfd = -1};
        if ((sessions[i].cfd = cio_accept(px->lfd, NULL, NULL)) < 0)
            return 0;
        cio_group_spawn(px->g, session_fn, &sessions[i]);
    }
    return 0;
}

static void ro_proxy_start(ro_proxy *px)
{
    px->lfd = pg_silent_listener(&px->port);
    CIO_ASSERT_OK(fcntl(px->lfd, F_SETFL, fcntl(px->lfd, F_GETFL) | O_NONBLOCK)); /* epoll */
    CIO_ASSERT_OK(cio_group_new(&px->g));
    cio_group_spawn(px->g, proxy_accept, px);
}

static void ro_proxy_stop(ro_proxy *px)
{
    cio_group_cancel(px->g);
    cio_group_wait(px->g);
    cio_group_free(px->g);
    close(px->lfd);
}

static char *show_read_only(cio_pg_conn *c)
{
    char *s = NULL;
    CIO_ASSERT_OK(cio_pg_fetchval_text(c, &s, "SHOW default_transaction_read_only", NULL, 0));
    return s;
}

/* Takes the next connection an attempt made to the silent listener. */
static int accept_attempt(int listener)
{
    cio_scope sc;
    CIO_ASSERT_OK(cio_timeout_enter(&sc, 2.0));
    int fd = cio_accept(listener, NULL, NULL);
    cio_timeout_exit(&sc);
    CIO_ASSERT(fd >= 0);
    return fd;
}

/* The attempt's end of fd was closed: it reads to EOF (after libpq's
 * startup bytes), within 2 s. */
static void expect_closed(int fd)
{
    char buf[512];
    ssize_t n;
    cio_scope sc;
    CIO_ASSERT_OK(cio_timeout_enter(&sc, 2.0));
    while ((n = cio_read(fd, buf, sizeof buf)) > 0)
        ;
    CIO_ASSERT_OK(cio_timeout_exit(&sc));
    CIO_ASSERT_EQ(n, 0);
    close(fd);
}

static void expect_closed_attempt(int listener)
{
    expect_closed(accept_attempt(listener));
}

/* A silent listener cio can accept from (non-blocking). */
static int silent_listener(int *port)
{
    int fd = pg_silent_listener(port);
    CIO_ASSERT_OK(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK));
    return fd;
}

static int t_blackhole_main(void *arg)
{
    (void)arg;
    int silent_port = 0, silent = silent_listener(&silent_port);
    char dsn[512];
    cio_pg_conn *c = NULL;
    /* The first host accepts and never answers; its connect_timeout (10 s,
     * per host) would hold an in-order connect for 10 s. */
    snprintf(dsn, sizeof dsn,
             "host=127.0.0.1,127.0.0.1 port=%d,%d user=postgres dbname=postgres "
             "connect_timeout=10",
             silent_port, pgfx.port);
    double t0 = cio_now();
    CIO_ASSERT_OK(cio_pg_connect(&c, dsn, NULL));
    double took = cio_now() - t0;
    CIO_ASSERT_CMP(took, >=, 0.25); /* the second started after the stagger delay */
    CIO_ASSERT_CMP(took, <, 3.0);
    CIO_ASSERT_EQ(pg_int(c, "SELECT 21"), 21);
    cio_pg_close(c);
    expect_closed_attempt(silent); /* the losing attempt was closed */

    /* A shorter delay, from the options. */
    cio_pg_opts o = {.host_race_delay = 0.05};
    t0 = cio_now();
    CIO_ASSERT_OK(cio_pg_connect(&c, dsn, &o));
    CIO_ASSERT_CMP(cio_now() - t0, <, 2.0);
    cio_pg_close(c);
    expect_closed_attempt(silent);

    /* One at a time (negative delay): the silent host's own connect_timeout
     * ends its attempt, then the next host answers. */
    snprintf(dsn, sizeof dsn,
             "host=127.0.0.1,127.0.0.1 port=%d,%d user=postgres dbname=postgres "
             "connect_timeout=0.3",
             silent_port, pgfx.port);
    cio_pg_opts seq = {.host_race_delay = -1};
    t0 = cio_now();
    CIO_ASSERT_OK(cio_pg_connect(&c, dsn, &seq));
    CIO_ASSERT_CMP(cio_now() - t0, >=, 0.3);
    cio_pg_close(c);
    expect_closed_attempt(silent);

    /* Every host silent: each attempt ends at its connect_timeout; the
     * error says so for each. */
    snprintf(dsn, sizeof dsn,
             "host=127.0.0.1,127.0.0.1 port=%d,%d user=postgres dbname=postgres "
             "connect_timeout=0.3",
             silent_port, silent_port);
    t0 = cio_now();
    CIO_ASSERT_ERR(cio_pg_connect(&c, dsn, NULL), -ETIMEDOUT);
    CIO_ASSERT_CMP(cio_now() - t0, <, 2.0);
    CIO_ASSERT(strstr(cio_task_message(cio_current()), "connect_timeout") != NULL);
    CIO_ASSERT(c == NULL);
    expect_closed_attempt(silent);
    expect_closed_attempt(silent);

    /* A refused host and a silent one, then the good one: the refusal
     * starts the next attempt at once. */
    int closed = pgfx_free_port();
    snprintf(dsn, sizeof dsn,
             "host=127.0.0.1,127.0.0.1,127.0.0.1 port=%d,%d,%d user=postgres "
             "dbname=postgres",
             closed, silent_port, pgfx.port);
    t0 = cio_now();
    CIO_ASSERT_OK(cio_pg_connect(&c, dsn, NULL));
    CIO_ASSERT_CMP(cio_now() - t0, <, 3.0);
    cio_pg_close(c);
    expect_closed_attempt(silent);
    close(silent);
    return 0;
}

static void test_blackhole(void)
{
    CIO_ASSERT_OK(cio_test_run(t_blackhole_main, NULL));
}

typedef struct connect_arg {
    const char *dsn;
    int err;
} connect_arg;

static int connecter(void *arg)
{
    connect_arg *a = arg;
    cio_pg_conn *c = NULL;
    a->err = cio_pg_connect(&c, a->dsn, NULL);
    cio_pg_close(c);
    return 0;
}

/* Cancelled while both attempts run (two silent hosts): the connect returns
 * the reason at once, and both attempts' sockets are closed. */
static int t_cancel_main(void *arg)
{
    (void)arg;
    int port = 0, silent = silent_listener(&port);
    char dsn[512];
    snprintf(dsn, sizeof dsn,
             "host=127.0.0.1,127.0.0.1 port=%d,%d user=postgres dbname=postgres "
             "connect_timeout=30",
             port, port);
    connect_arg a = {dsn, 1};
    cio_task *t = cio_spawn(connecter, &a);
    /* Both attempts are running once both connections arrived (the second
     * after the stagger). */
    int fd1 = accept_attempt(silent), fd2 = accept_attempt(silent);
    double t0 = cio_now();
    cio_cancel(t);
    CIO_ASSERT_OK(cio_join(t));
    CIO_ASSERT_ERR(a.err, -ECANCELED);
    CIO_ASSERT_CMP(cio_now() - t0, <, 0.5);
    expect_closed(fd1);
    expect_closed(fd2);
    close(silent);
    return 0;
}

static void test_cancel(void)
{
    CIO_ASSERT_OK(cio_test_run(t_cancel_main, NULL));
}

static int t_session_attrs_main(void *arg)
{
    (void)arg;
    ro_proxy px;
    ro_proxy_start(&px);
    char dsn[512];
    cio_pg_conn *c = NULL;
    const char *base = "user=postgres dbname=postgres sslmode=disable gssencmode=disable";
    /* read-write: the replica (first) is refused, the primary wins. */
    snprintf(dsn, sizeof dsn,
             "host=127.0.0.1,127.0.0.1 port=%d,%d %s target_session_attrs=read-write", px.port,
             pgfx.port, base);
    CIO_ASSERT_OK(cio_pg_connect(&c, dsn, NULL));
    char *s = show_read_only(c);
    CIO_ASSERT_STR_EQ(s, "off");
    free(s);
    cio_pg_close(c);
    /* any: the replica, first and answering within the (long) stagger,
     * wins. */
    snprintf(dsn, sizeof dsn, "host=127.0.0.1,127.0.0.1 port=%d,%d %s", px.port, pgfx.port, base);
    cio_pg_opts slow = {.host_race_delay = 10};
    CIO_ASSERT_OK(cio_pg_connect(&c, dsn, &slow));
    s = show_read_only(c);
    CIO_ASSERT_STR_EQ(s, "on");
    free(s);
    cio_pg_close(c);
    /* read-only: the primary (first) is refused, the replica wins. */
    snprintf(dsn, sizeof dsn,
             "host=127.0.0.1,127.0.0.1 port=%d,%d %s target_session_attrs=read-only", pgfx.port,
             px.port, base);
    CIO_ASSERT_OK(cio_pg_connect(&c, dsn, NULL));
    s = show_read_only(c);
    CIO_ASSERT_STR_EQ(s, "on");
    free(s);
    cio_pg_close(c);
    /* read-write with only replicas: -EROFS, every host named. */
    snprintf(dsn, sizeof dsn,
             "host=127.0.0.1,localhost port=%d,%d %s target_session_attrs=read-write", px.port,
             px.port, base);
    CIO_ASSERT_ERR(cio_pg_connect(&c, dsn, NULL), -EROFS);
    const char *m = cio_task_message(cio_current());
    CIO_ASSERT(strstr(m, "127.0.0.1") != NULL && strstr(m, "localhost (127.0.0.1)") != NULL);
    CIO_ASSERT(strstr(m, "read-only") != NULL);
    /* prefer-standby with no standby: standbys first, then any host. */
    snprintf(dsn, sizeof dsn,
             "host=127.0.0.1,127.0.0.1 port=%d,%d %s target_session_attrs=prefer-standby",
             pgfx.port, px.port, base);
    CIO_ASSERT_OK(cio_pg_connect(&c, dsn, NULL));
    CIO_ASSERT_EQ(pg_int(c, "SELECT 22"), 22);
    cio_pg_close(c);
    ro_proxy_stop(&px);
    return 0;
}

static void test_session_attrs(void)
{
    CIO_ASSERT_OK(cio_test_run(t_session_attrs_main, NULL));
}

/* A host name with several addresses: each is a target. Where localhost
 * resolves to more than 127.0.0.1 (::1 first, as most /etc/hosts have it),
 * a silent listener on the first address at the server's port number must
 * not hold the connect; elsewhere the name's one address connects. */
static int t_name_addresses_main(void *arg)
{
    (void)arg;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    CIO_ASSERT_OK(cio_getaddrinfo("localhost", NULL, &hints, &res));
    int silent = -1;
    if (res->ai_next && res->ai_family == AF_INET6) {
        struct sockaddr_in6 a = *(struct sockaddr_in6 *)res->ai_addr;
        a.sin6_port = htons((uint16_t)pgfx.port);
        silent = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        setsockopt(silent, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        if (bind(silent, (struct sockaddr *)&a, sizeof a) != 0 || listen(silent, 8) != 0) {
            close(silent);
            silent = -1;
        }
    }
    freeaddrinfo(res);
    if (silent < 0)
        printf("  localhost has one address here: the race between its addresses is not "
               "exercised\n");
    char dsn[256];
    snprintf(dsn, sizeof dsn,
             "host=localhost port=%d user=postgres dbname=postgres connect_timeout=10", pgfx.port);
    cio_pg_conn *c = NULL;
    double t0 = cio_now();
    CIO_ASSERT_OK(cio_pg_connect(&c, dsn, NULL));
    CIO_ASSERT_CMP(cio_now() - t0, <, 3.0);
    CIO_ASSERT_EQ(pg_int(c, "SELECT 23"), 23);
    cio_pg_close(c);
    if (silent >= 0) {
        expect_closed_attempt(silent);
        close(silent);
    }
    return 0;
}

static void test_name_addresses(void)
{
    CIO_ASSERT_OK(cio_test_run(t_name_addresses_main, NULL));
}

static const cio_test_case tests[] = {
    CIO_TEST(test_blackhole, "a first host that accepts and never answers (connect_timeout 10) "
                             "costs the 0.25 s stagger, not its timeout; host_race_delay sets "
                             "the stagger, negative goes one host at a time; all silent: "
                             "-ETIMEDOUT per host; a refusing host moves on at once; every "
                             "losing attempt's socket is closed"),
    CIO_TEST(test_cancel, "a connect cancelled while two attempts run returns at once and "
                          "closes both"),
    CIO_TEST(test_session_attrs, "target_session_attrs in a race: read-write skips a read-only "
                                 "session, any takes the first, read-only skips the primary, "
                                 "no match gives -EROFS naming every host, prefer-standby "
                                 "falls back to any"),
    CIO_TEST(test_name_addresses, "a host name stands for each of its addresses; a silent first "
                                  "address does not hold the connect (where localhost has two)"),
};

PG_TEST_MAIN(tests)
