/* W8 tail: a fixed-rate HTTP/1.1 load client, wrk2's method in one small program.
 *
 * C keep-alive connections to 127.0.0.1:PORT share a request rate R: connection j's k-th
 * GET / is *intended* at t0 + (j + k*C)/R, so requests are spread evenly in time. A
 * connection has one request in flight; when its answer comes back after its next
 * request was due, that request goes out at once. Every latency is measured from the
 * request's intended time, not from when it was sent: a server that stalls for 10 ms
 * delays every request due meanwhile, and each of them counts the wait (the
 * "coordinated omission" a closed-loop client such as wrk -t1 hides). Requests intended
 * in the first --warmup seconds are not recorded; then --secs seconds are. One thread and
 * one epoll set drive every connection; the wait between requests is epoll_pwait2's
 * nanosecond timeout, so the client sleeps rather than spins (it still needs a core of
 * its own for honest figures: bench/run.sh pins it).
 *
 * Each answer must be 200 with a Content-Length body (chunked answers are refused); a
 * wrong status, a closed connection or a run past --timeout exits non-zero. Prints one
 * key=value line: the achieved rate, p50, p90, p99, p99.9 and max latency in
 * microseconds, and how many requests went out late (their intended time had passed).
 *
 *   http_rate --port=PORT [--rate=20000] [--conns=50] [--secs=5] [--warmup=1]
 *             [--timeout=120] [--impl=LABEL] [--workload=w8-tail]
 */
#define _GNU_SOURCE
#include <signal.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <unistd.h>

#define LOAD_NAME "http_rate"
#include "load.h"

#define BUF_SIZE 4096

static const char REQUEST[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

struct conn {
    int fd;
    long j;           /* index: its requests are intended at t0 + (j + k*C) * interval */
    long k;           /* requests sent so far */
    int busy;         /* a request is in flight */
    int64_t intended; /* intended time of the request in flight */
    size_t got;       /* bytes of the answer buffered */
    char buf[BUF_SIZE];
};

/* The length of a complete answer at the start of c->buf, 0 if more bytes are needed, or
 * -1 for an answer this client refuses (not 200, no Content-Length, chunked). */
static long answer_length(struct conn *c)
{
    c->buf[c->got] = 0;
    char *end = memmem(c->buf, c->got, "\r\n\r\n", 4);
    if (!end)
        return c->got >= BUF_SIZE - 1 ? -1 : 0;
    size_t head = (size_t)(end - c->buf) + 4;
    if (strncmp(c->buf, "HTTP/1.1 200 ", 13) != 0)
        return -1;
    long body = -1;
    for (char *line = strstr(c->buf, "\r\n") + 2; line < end; line = strstr(line, "\r\n") + 2) {
        if (strncasecmp(line, "Content-Length:", 15) == 0)
            body = strtol(line + 15, NULL, 10);
        else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0)
            return -1;
    }
    if (body < 0 || head + (size_t)body >= BUF_SIZE)
        return -1;
    return c->got >= head + (size_t)body ? (long)(head + (size_t)body) : 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double pct_us(const int64_t *v, long n, double p)
{
    if (n == 0)
        return 0;
    long i = (long)(p / 100.0 * (double)n + 0.5) - 1; /* nearest rank */
    if (i < 0)
        i = 0;
    if (i >= n)
        i = n - 1;
    return (double)v[i] / 1000.0;
}

int main(int argc, char **argv)
{
    int port = atoi(load_arg(argc, argv, "port", "0"));
    double rate = atof(load_arg(argc, argv, "rate", "20000"));
    long nconns = atol(load_arg(argc, argv, "conns", "50"));
    double secs = atof(load_arg(argc, argv, "secs", "5"));
    double warmup = atof(load_arg(argc, argv, "warmup", "1"));
    double timeout = atof(load_arg(argc, argv, "timeout", "120"));
    const char *impl = load_arg(argc, argv, "impl", "unknown");
    const char *workload = load_arg(argc, argv, "workload", "w8-tail");
    if (port <= 0 || rate <= 0 || nconns < 1 || secs <= 0 || warmup < 0) {
        fprintf(stderr, "usage: http_rate --port=PORT [--rate=R] [--conns=C] [--secs=S] "
                        "[--warmup=W] [--timeout=T] [--impl=LABEL]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_TIMERSLACK, 1UL); /* wake at the due time, not up to 50 us after it */

    struct conn *conns = calloc((size_t)nconns, sizeof(*conns));
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (!conns || ep < 0)
        load_die("setup");
    for (long j = 0; j < nconns; j++) {
        conns[j].fd = load_connect(port, 0);
        conns[j].j = j;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[j]};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, conns[j].fd, &ev) < 0)
            load_die("epoll_ctl");
    }

    const double interval = 1e9 / rate;          /* ns between consecutive intended requests */
    const int64_t t0 = load_now_ns() + 10000000; /* 10 ms to settle */
    const int64_t rec_from = t0 + (int64_t)(warmup * 1e9);
    const int64_t rec_to = rec_from + (int64_t)(secs * 1e9);
    const int64_t give_up = t0 + (int64_t)((warmup + secs + timeout) * 1e9);
    long cap = (long)(rate * secs) + nconns + 16, n = 0, late = 0;
    int64_t *lat = malloc((size_t)cap * sizeof(*lat));
    if (!lat)
        load_die("malloc");

#define INTENDED(c) (t0 + (int64_t)((double)((c)->j + (c)->k * nconns) * interval))
    long active = nconns; /* connections that still have requests to make */
    int64_t first_sent = 0, last_done = 0;
    long done_in_window = 0;
    struct epoll_event evs[64];
    while (active > 0) {
        int64_t now = load_now_ns();
        if (now > give_up) {
            fprintf(stderr, "http_rate: %s: no end after %.0f s\n", impl, timeout);
            return 1;
        }
        /* Send every request that is due on an idle connection; find the next due. */
        int64_t next_due = INT64_MAX;
        for (long j = 0; j < nconns; j++) {
            struct conn *c = &conns[j];
            if (c->busy || c->fd < 0)
                continue;
            int64_t due = INTENDED(c);
            if (due >= rec_to) { /* its share of the window is done */
                close(c->fd);
                c->fd = -1;
                active--;
                continue;
            }
            if (due > now) {
                if (due < next_due)
                    next_due = due;
                continue;
            }
            ssize_t w = send(c->fd, REQUEST, sizeof(REQUEST) - 1, MSG_NOSIGNAL);
            if (w != (ssize_t)sizeof(REQUEST) - 1)
                load_die("send");
            if (now - due > 1000000 && due >= rec_from) /* more than 1 ms behind */
                late++;
            c->busy = 1;
            c->intended = due;
            c->k++;
            if (!first_sent && due >= rec_from)
                first_sent = now;
        }
        if (active == 0)
            break;
        struct timespec ts = {0, 0}, *tp = NULL;
        now = load_now_ns();
        if (next_due != INT64_MAX) {
            int64_t d = next_due > now ? next_due - now : 0;
            ts.tv_sec = d / 1000000000;
            ts.tv_nsec = d % 1000000000;
            tp = &ts;
        }
        int ne = epoll_pwait2(ep, evs, 64, tp, NULL);
        if (ne < 0) {
            if (errno == EINTR)
                continue;
            load_die("epoll_pwait2");
        }
        now = load_now_ns();
        for (int i = 0; i < ne; i++) {
            struct conn *c = evs[i].data.ptr;
            ssize_t r = recv(c->fd, c->buf + c->got, BUF_SIZE - 1 - c->got, 0);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN)
                    continue;
                fprintf(stderr, "http_rate: %s: connection %ld closed by the server\n", impl, c->j);
                return 1;
            }
            c->got += (size_t)r;
            long len = answer_length(c);
            if (len < 0) {
                fprintf(stderr, "http_rate: %s: unexpected answer: %.80s\n", impl, c->buf);
                return 1;
            }
            if (len == 0)
                continue;
            if (!c->busy || (size_t)len != c->got) {
                fprintf(stderr, "http_rate: %s: an answer nobody asked for\n", impl);
                return 1;
            }
            c->got = 0;
            c->busy = 0;
            if (c->intended >= rec_from && c->intended < rec_to) {
                if (n < cap)
                    lat[n++] = now - c->intended;
                done_in_window++;
                last_done = now;
            }
        }
    }
    qsort(lat, (size_t)n, sizeof(*lat), cmp_i64);
    double span = (double)(last_done - first_sent) / 1e9;
    printf("impl=%s workload=%s n=%ld secs=%.3f rate=%.0f conns=%ld rps=%.0f p50_us=%.1f "
           "p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f late=%ld\n",
           impl, workload, n, span, rate, nconns, span > 0 ? (double)done_in_window / span : 0,
           pct_us(lat, n, 50), pct_us(lat, n, 90), pct_us(lat, n, 99), pct_us(lat, n, 99.9),
           n ? (double)lat[n - 1] / 1000.0 : 0, late);
    free(lat);
    free(conns);
    close(ep);
    return 0;
}
