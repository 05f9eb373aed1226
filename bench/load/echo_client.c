/* Shared load client for W7 echo: opens C connections to 127.0.0.1:PORT; each sends M
 * messages of 64 bytes and reads each echo back, checking every byte, before sending the
 * next. One thread and one epoll set drive every connection, so the client costs one
 * read and one write per round trip and stays off the server's core (bench/run.sh pins
 * it). Prints one key=value line with round trips per second; a wrong or missing echo,
 * or a run longer than --timeout seconds, exits non-zero.
 *
 *   echo_client --port=PORT [--conns=100] [--msgs=10000] [--timeout=300] [--impl=LABEL]
 */
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <unistd.h>

#define LOAD_NAME "echo_client"
#include "load.h"

#define MSG_SIZE 64

struct conn {
    int fd;
    long id;
    long sent;  /* messages sent so far; the one in flight is number sent - 1 */
    size_t got; /* bytes of the current echo received */
    unsigned char out[MSG_SIZE];
    unsigned char in[MSG_SIZE];
};

/* Each message differs from the one before, so a stale or misrouted echo fails the check. */
static void fill(struct conn *c)
{
    for (int j = 0; j < MSG_SIZE; j++)
        c->out[j] = (unsigned char)(c->id * 131 + c->sent * 31 + j);
}

/* Send the next message; a 64-byte write into an empty send buffer is never short. */
static void send_next(struct conn *c)
{
    fill(c);
    c->sent++;
    c->got = 0;
    ssize_t n = write(c->fd, c->out, MSG_SIZE);
    if (n != MSG_SIZE) {
        if (n >= 0)
            errno = EIO;
        load_die("write");
    }
}

int main(int argc, char **argv)
{
    long port = atol(load_arg(argc, argv, "port", "0"));
    long nconns = atol(load_arg(argc, argv, "conns", "100"));
    long msgs = atol(load_arg(argc, argv, "msgs", "10000"));
    double timeout = atof(load_arg(argc, argv, "timeout", "300"));
    const char *impl = load_arg(argc, argv, "impl", "unknown");
    if (port <= 0 || nconns <= 0 || msgs <= 0) {
        fprintf(stderr, "usage: echo_client --port=PORT [--conns=100] [--msgs=10000] "
                        "[--timeout=300] [--impl=LABEL]\n");
        return 2;
    }

    struct conn *conns = calloc((size_t)nconns, sizeof(*conns));
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (conns == NULL || ep < 0)
        load_die("setup");
    for (long i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        c->id = i;
        c->fd = load_connect(port, 0);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
            load_die("epoll_ctl");
    }

    double t0 = load_now(), deadline = t0 + timeout;
    for (long i = 0; i < nconns; i++)
        send_next(&conns[i]);
    long active = nconns, round_trips = 0;
    struct epoll_event events[256];
    while (active > 0) {
        int n = load_wait(ep, events, 256, deadline);
        if (n < 0) {
            fprintf(stderr, "echo_client: FAILED: timed out after %.0f s with %ld round trips\n",
                    timeout, round_trips);
            return 1;
        }
        for (int e = 0; e < n; e++) {
            struct conn *c = events[e].data.ptr;
            ssize_t r = read(c->fd, c->in + c->got, MSG_SIZE - c->got);
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (r <= 0) {
                fprintf(stderr, "echo_client: FAILED: connection %ld closed after %ld messages\n",
                        c->id, c->sent - 1);
                return 1;
            }
            c->got += (size_t)r;
            if (c->got < MSG_SIZE)
                continue;
            if (memcmp(c->in, c->out, MSG_SIZE) != 0) {
                fprintf(stderr, "echo_client: FAILED: wrong echo on connection %ld, message %ld\n",
                        c->id, c->sent - 1);
                return 1;
            }
            round_trips++;
            if (c->sent < msgs) {
                send_next(c);
            } else {
                close(c->fd);
                active--;
            }
        }
    }
    double secs = load_now() - t0;
    if (round_trips != nconns * msgs) {
        fprintf(stderr, "echo_client: FAILED: %ld round trips, expected %ld\n", round_trips,
                nconns * msgs);
        return 1;
    }
    printf("impl=%s workload=w7-echo n=%ld conns=%ld msgs=%ld secs=%.6f rps=%.1f\n", impl,
           round_trips, nconns, msgs, secs, (double)round_trips / secs);
    return 0;
}
