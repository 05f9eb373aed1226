/* Helpers shared by the networking tests: echo handlers, servers on
 * loopback, failure messages, file-descriptor limits. */
#ifndef CIO_NET_TEST_H
#define CIO_NET_TEST_H

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cio_test.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

/* Checks for leaks now: the runner's forked children end with _exit, which
 * skips LeakSanitizer's check at exit. */
static inline void net_leak_check(void)
{
#if defined(__SANITIZE_ADDRESS__)
    if (__lsan_do_recoverable_leak_check())
        CIO_FAIL_AT("memory leaked (LeakSanitizer's report is above)");
#endif
}

/* How many descriptors the process has open. */
static inline int net_open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    CIO_ASSERT(d != NULL);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* 127.0.0.1:port. */
static inline struct sockaddr_in net_loopback(int port)
{
    return (struct sockaddr_in){.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
}

/* A TCP socket bound to a free port of 127.0.0.1 (stored in *port) and,
 * with backlog >= 0, listening; nothing accepts from it. */
static inline int net_loopback_socket(int backlog, int *port)
{
    struct sockaddr_in sin = net_loopback(0);
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CIO_ASSERT(fd >= 0);
    CIO_ASSERT_EQ(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    if (backlog >= 0)
        CIO_ASSERT_EQ(listen(fd, backlog), 0);
    CIO_ASSERT_EQ(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    *port = ntohs(sin.sin_port);
    return fd;
}

/* A port of 127.0.0.1 where nothing listens (it was free a moment ago). */
static inline int net_free_port(void)
{
    int port;
    close(net_loopback_socket(-1, &port));
    return port;
}

/* Waits until cond(arg) holds, looking again every millisecond, and fails
 * the test if it does not within `limit` seconds: a test waits for the state
 * it needs, never a fixed time hoping the state has come (which fails on a
 * busy machine). */
#define NET_WAIT_UNTIL(cond, limit)                                                                \
    do {                                                                                           \
        double until_ = cio_now() + (limit);                                                       \
        while (!(cond)) {                                                                          \
            if (cio_now() > until_)                                                                \
                CIO_FAIL_AT("waited %.0f s for %s", (double)(limit), #cond);                       \
            CIO_ASSERT_OK(cio_sleep(0.001));                                                       \
        }                                                                                          \
    } while (0)

/* cio_test_run, then a leak check once the loop is gone. */
static inline int net_run(cio_fn main, void *arg)
{
    int err = cio_test_run(main, arg);
    if (!err)
        net_leak_check();
    return err;
}

/* Echoes until EOF; returns 0 then, or the error. */
static inline int net_echo_handler(cio_stream *s, void *arg)
{
    (void)arg;
    char buf[16384];
    for (;;) {
        ssize_t n = cio_stream_read(s, buf, sizeof(buf));
        if (n <= 0)
            return (int)n;
        int err = cio_stream_write(s, buf, (size_t)n);
        if (err)
            return err;
    }
}

/* A server on 127.0.0.1 with a free port. */
static inline cio_server *net_server(cio_conn_fn fn, void *arg, const cio_stream_opts *opts)
{
    cio_server *srv = NULL;
    CIO_ASSERT_OK(cio_start_server(&srv, "127.0.0.1", 0, fn, arg, opts));
    CIO_ASSERT(cio_server_port(srv) > 0);
    return srv;
}

/* The current task's cio_fail message ("" if none). */
static inline const char *net_message(void)
{
    const char *m = cio_task_message(cio_current());
    return m ? m : "";
}

#define NET_ASSERT_MESSAGE_HAS(needle)                                                             \
    do {                                                                                           \
        const char *m_ = net_message();                                                            \
        if (!strstr(m_, (needle)))                                                                 \
            CIO_FAIL_AT("message \"%s\" lacks \"%s\"", m_, (needle));                              \
    } while (0)

/* Writes a string; asserts it went. */
#define NET_WRITE(s, str) CIO_ASSERT_OK(cio_stream_write((s), (str), strlen(str)))

/* Sets the soft limit on open files to `want` (capped by the hard limit).
 * Returns the limit in force. */
static inline rlim_t net_set_nofile(rlim_t want)
{
    struct rlimit rl;
    CIO_ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
    CIO_ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
    return rl.rlim_cur;
}

/* Runs fn in a child process (single-threaded, so it may unshare its mount
 * namespace) that exits normally (so LeakSanitizer checks it). A skip or a
 * failure in the child is the test's. */
static inline void net_in_child(void (*fn)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    CIO_ASSERT(pid >= 0);
    if (pid == 0) {
        fn();
        exit(0);
    }
    int status;
    CIO_ASSERT_EQ(waitpid(pid, &status, 0), pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
        exit(77);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        CIO_FAIL_AT("the child failed (status 0x%x)", status);
}

#endif
