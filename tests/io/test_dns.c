/* Tests of cio_getaddrinfo: numeric and named lookups on the resolver's own
 * threads, errors with messages, and cancellation that returns at once
 * whatever state the lookup is in. */
#define _GNU_SOURCE
#include <netdb.h>
#include <sched.h>
#include <sys/mount.h>

#include "net_test.h"

static int main_numeric(void *arg)
{
    (void)arg;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    CIO_ASSERT_OK(cio_getaddrinfo("127.0.0.1", "8080", &hints, &res));
    CIO_ASSERT_EQ(res->ai_family, AF_INET);
    CIO_ASSERT_EQ(ntohs(((struct sockaddr_in *)res->ai_addr)->sin_port), 8080);
    freeaddrinfo(res);
    CIO_ASSERT_OK(cio_getaddrinfo("::1", "http", &hints, &res));
    CIO_ASSERT_EQ(res->ai_family, AF_INET6);
    CIO_ASSERT_EQ(ntohs(((struct sockaddr_in6 *)res->ai_addr)->sin6_port), 80);
    freeaddrinfo(res);
    /* A passive lookup without a host. */
    hints.ai_flags = AI_PASSIVE;
    CIO_ASSERT_OK(cio_getaddrinfo(NULL, "0", &hints, &res));
    freeaddrinfo(res);
    return 0;
}

static void test_numeric(void)
{
    CIO_ASSERT_OK(net_run(main_numeric, NULL));
}

static int main_named(void *arg)
{
    (void)arg;
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
    CIO_ASSERT_OK(cio_getaddrinfo("localhost", "443", &hints, &res));
    CIO_ASSERT_EQ(((struct sockaddr_in *)res->ai_addr)->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    freeaddrinfo(res);
    CIO_ASSERT_OK(cio_getaddrinfo("localhost", NULL, NULL, &res));
    freeaddrinfo(res);
    return 0;
}

static void test_named(void)
{
    CIO_ASSERT_OK(net_run(main_named, NULL));
}

static int lookup_localhost(void *arg)
{
    (void)arg;
    struct addrinfo *res;
    int err = cio_getaddrinfo("localhost", "80", NULL, &res);
    if (!err)
        freeaddrinfo(res);
    return err;
}

static int main_many(void *arg)
{
    (void)arg;
    cio_task *t[64];
    for (int i = 0; i < 64; i++)
        t[i] = cio_spawn(lookup_localhost, NULL);
    CIO_ASSERT_OK(cio_gather(t, 64, 0));
    for (int i = 0; i < 64; i++)
        cio_join(t[i]);
    return 0;
}

static void test_many_concurrent(void)
{
    CIO_ASSERT_OK(net_run(main_many, NULL));
}

static int main_errors(void *arg)
{
    (void)arg;
    struct addrinfo *res = (struct addrinfo *)1;
    CIO_ASSERT_ERR(cio_getaddrinfo("nothing-here.invalid", "80", NULL, &res), -ENOENT);
    CIO_ASSERT(res == NULL);
    NET_ASSERT_MESSAGE_HAS("nothing-here.invalid");
    NET_ASSERT_MESSAGE_HAS("80");
    CIO_ASSERT_ERR(cio_getaddrinfo("localhost", "no-such-service", NULL, &res), -EINVAL);
    NET_ASSERT_MESSAGE_HAS("no-such-service");
    CIO_ASSERT_ERR(cio_getaddrinfo("localhost", "70000", NULL, &res), -EINVAL);
    CIO_ASSERT_ERR(cio_getaddrinfo("localhost", "", NULL, &res), -EINVAL);
    CIO_ASSERT_ERR(cio_getaddrinfo("bad host", "80", NULL, &res), -EINVAL);
    NET_ASSERT_MESSAGE_HAS("bad host");
    CIO_ASSERT_ERR(cio_getaddrinfo("", "80", NULL, &res), -EINVAL);
    CIO_ASSERT_ERR(cio_getaddrinfo("a\nb", "80", NULL, &res), -EINVAL);
    CIO_ASSERT_ERR(cio_getaddrinfo(NULL, NULL, NULL, &res), -EINVAL);
    CIO_ASSERT_ERR(cio_getaddrinfo("localhost", "80", NULL, NULL), -EINVAL);
    struct addrinfo numeric = {.ai_flags = AI_NUMERICHOST};
    CIO_ASSERT_ERR(cio_getaddrinfo("localhost", "80", &numeric, &res), -ENOENT);
    return 0;
}

static void test_errors(void)
{
    CIO_ASSERT_OK(net_run(main_errors, NULL));
    struct addrinfo *res;
    CIO_ASSERT_ERR(cio_getaddrinfo("localhost", "80", NULL, &res), -EPERM); /* outside a task */
}

/* Cancelled lookups return at once, whether queued behind others or running
 * on a thread; their late results are freed by the resolver (ASan checks). */
static int lookup_task(void *arg)
{
    struct addrinfo *res;
    int err = cio_getaddrinfo(arg, "80", NULL, &res);
    if (!err)
        freeaddrinfo(res);
    return err;
}

static int main_cancel(void *arg)
{
    (void)arg;
    for (int round = 0; round < 20; round++) {
        cio_task *t[12];
        for (int i = 0; i < 12; i++)
            t[i] = cio_spawn(lookup_task, i % 2 ? "localhost" : "cancelled.invalid");
        for (int k = 0; k < round % 4; k++)
            cio_yield();
        for (int i = 0; i < 12; i++)
            cio_cancel(t[i]);
        for (int i = 0; i < 12; i++) {
            int err = cio_join(t[i]);
            CIO_ASSERT(err == -ECANCELED || err == 0 || err == -ENOENT);
        }
    }
    return 0;
}

static void test_cancel_returns_at_once(void)
{
    CIO_ASSERT_OK(net_run(main_cancel, NULL));
}

/* With a name server that never answers, the lookup takes 5 s or more (the
 * resolver's own timeout); a timeout of 0.1 s ends the wait long before
 * that, and the loop is not a deadlock while the lookup runs. The resolver configuration is our
 * own, bind-mounted in a private mount namespace. */
static int main_slow(void *arg)
{
    (void)arg;
    struct addrinfo *res;
    cio_scope sc;
    double t0 = cio_now();
    CIO_ASSERT_OK(cio_timeout_enter(&sc, 0.1));
    int err = cio_getaddrinfo("slow-lookup.example", "80", NULL, &res);
    cio_timeout_exit(&sc);
    double took = cio_now() - t0;
    CIO_ASSERT_ERR(err, -ETIMEDOUT);
    CIO_ASSERT_CMP(took, >=, 0.099);
    CIO_ASSERT_CMP(took, <, 5); /* before the lookup itself could have ended */
    /* Waiting for a slow lookup alone is not a deadlock: it just takes long. */
    CIO_ASSERT_OK(cio_timeout_enter(&sc, 0.3));
    err = cio_getaddrinfo("slow-lookup-2.example", "80", NULL, &res);
    cio_timeout_exit(&sc);
    CIO_ASSERT_ERR(err, -ETIMEDOUT);
    return 0;
}

static void slow_lookup_child(void)
{
    char path[] = "/tmp/cio-resolv-XXXXXX";
    int fd = mkstemp(path);
    CIO_ASSERT(fd >= 0);
    /* A name server that takes queries and never answers. */
    int ns = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons(53),
                            .sin_addr.s_addr = htonl(0x7f00004d)}; /* 127.0.0.77 */
    if (bind(ns, (struct sockaddr *)&a, sizeof(a)) < 0)
        CIO_SKIP("cannot bind a silent name server on 127.0.0.77:53");
    const char *conf = "nameserver 127.0.0.77\noptions timeout:5 attempts:1\n";
    CIO_ASSERT_EQ(write(fd, conf, strlen(conf)), (ssize_t)strlen(conf));
    close(fd);
    int ok = unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
             mount(path, "/etc/resolv.conf", NULL, MS_BIND, NULL) == 0;
    unlink(path);
    if (!ok)
        CIO_SKIP("cannot mount a private /etc/resolv.conf (needs root and mount namespaces)");
    CIO_ASSERT_OK(net_run(main_slow, NULL));
    /* The given-up lookups still wait for the silent server on their
     * threads; the process exits with them in flight, which the resolver
     * allows (its busy threads are let go at exit). */
    close(ns);
}

static void test_cancel_slow_lookup(void)
{
    net_in_child(slow_lookup_child);
}

/* A child forked after lookups and to_thread calls (threads running in the
 * parent) resolves and runs blocking calls too: the resolver's pool and the
 * shared executors start afresh in the child. */
static int nothing(void *arg)
{
    (void)arg;
    return 0;
}

static int lookup_and_thread(void *arg)
{
    (void)arg;
    struct addrinfo *res;
    int err = cio_getaddrinfo("localhost", "80", NULL, &res);
    if (err)
        return err;
    freeaddrinfo(res);
    return cio_to_thread(nothing, NULL);
}

static void test_after_fork(void)
{
    CIO_ASSERT_OK(net_run(lookup_and_thread, NULL));
    pid_t pid = fork();
    CIO_ASSERT(pid >= 0);
    if (pid == 0) {
        alarm(5);
        /* _exit: the parent's threads, copied but absent, would confuse
         * LeakSanitizer's check at exit. */
        _exit(cio_test_run(lookup_and_thread, NULL) == 0 ? 0 : 1);
    }
    int status;
    CIO_ASSERT_EQ(waitpid(pid, &status, 0), pid);
    CIO_ASSERT(WIFEXITED(status));
    CIO_ASSERT_EQ(WEXITSTATUS(status), 0);
}

CIO_TEST_MAIN(((cio_test_case[]){
    CIO_TEST(test_numeric, "numeric hosts and service names resolve in line"),
    CIO_TEST(test_named, "localhost resolves on the resolver threads"),
    CIO_TEST(test_many_concurrent, "64 lookups at once share the small pool"),
    CIO_TEST(test_errors, "unknown host -ENOENT, bad port/host -EINVAL, with messages"),
    CIO_TEST(test_cancel_returns_at_once, "cancelled lookups return at once and leak nothing"),
    CIO_TEST(test_cancel_slow_lookup, "a lookup stuck on a dead name server is cut by a timeout"),
    CIO_TEST(test_after_fork, "lookups and to_thread work in a child forked after using them"),
}))
