/* What the load clients (echo_client.c, http_rate.c, ws_client.c) share: the clock,
 * --key=value arguments, dying with errno's message, waiting on epoll with a deadline, and
 * a loopback TCP connection. Each client is one C file built on its own (cc -O2 FILE.c:
 * bench/run.sh), so all of it is static inline. Define LOAD_NAME, the program's name for
 * messages, before including. */
#ifndef CIO_BENCH_LOAD_H
#define CIO_BENCH_LOAD_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>

/* CLOCK_MONOTONIC in nanoseconds, and in seconds. */
static inline int64_t load_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline double load_now(void)
{
    return (double)load_now_ns() / 1e9;
}

/* The value of --key=value, or def. */
static inline const char *load_arg(int argc, char **argv, const char *key, const char *def)
{
    size_t len = strlen(key);
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], "--", 2) == 0 && strncmp(argv[i] + 2, key, len) == 0 &&
            argv[i][2 + len] == '=')
            return argv[i] + 3 + len;
    return def;
}

static inline void load_die(const char *what)
{
    fprintf(stderr, LOAD_NAME ": %s: %s\n", what, strerror(errno));
    exit(1);
}

/* epoll_wait for at most a second (EINTR counts as no events); dies on another error.
 * Returns the number of events, or -1 once load_now() is past deadline. */
static inline int load_wait(int ep, struct epoll_event *events, int max, double deadline)
{
    int n = epoll_wait(ep, events, max, 1000);
    if (n < 0 && errno != EINTR)
        load_die("epoll_wait");
    return load_now() > deadline ? -1 : n < 0 ? 0 : n;
}

/* A blocking TCP connection to 127.0.0.1:port with TCP_NODELAY. rcvbuf > 0 sets
 * SO_RCVBUF before connecting, so the window announced is that small. Dies on failure. */
static inline int load_connect(long port, int rcvbuf)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        load_die("socket");
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0)
        load_die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

#endif
