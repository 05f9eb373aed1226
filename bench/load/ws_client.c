/* Load client for W20-W22 (WebSocket echo, idle, broadcast), in the style of
 * echo_client.c: one thread, one epoll set, hand-built masked frames, every
 * echo checked byte for byte. Handshakes are made one by one (blocking) before
 * the clock starts; the RFC 6455 example key is used, so the accept hash is a
 * constant the client checks.
 *
 *   ws_client --port=PORT --workload=echo [--conns=100] [--msgs=10000] [--size=64]
 *   ws_client --port=PORT --workload=idle --pid=SERVER_PID [--conns=10000]
 *   ws_client --port=PORT --workload=broadcast [--conns=10000] [--rounds=100] [--slow-pct=1]
 *   idle: [--hold=S] keeps them open S more seconds after measuring;
 *         [--deflate=1] offers permessage-deflate with no context takeover
 *         both ways and sends each message compressed (a stored block:
 *         no zlib here), so the server inflates and compresses its echo
 *   common: [--timeout=300] [--impl=LABEL] [--path=/echo]
 *
 * echo: C connections each send M binary messages of S bytes, reading each
 *   echo before the next; prints rps (round trips per second).
 * idle: reads the server's VmRSS, opens C connections with one echo each,
 *   waits a second, reads VmRSS again; prints kib_per_conn.
 * broadcast: C connections join /room, slow-pct % of them with a tiny
 *   receive buffer never read; a control connection asks for K fan-outs; the
 *   readers check they got all K in order; prints the server's fan-out times
 *   and how many stopped readers it closed. */
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#define LOAD_NAME "ws_client"
#include "load.h"

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
#define MAXMSG 65536

static int deflate_offer; /* --deflate=1 */

struct conn {
    int fd;
    long id;
    long sent, got_msgs;
    size_t got;  /* bytes of the current frame received */
    size_t want; /* bytes of a whole echo frame */
    int slow;
    unsigned char *in;
};

static void fail(const char *what, long id)
{
    fprintf(stderr, "ws_client: FAILED: %s (connection %ld)\n", what, id);
    exit(1);
}

static void write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            load_die("write");
        c += w;
        n -= (size_t)w;
    }
}

/* A masked client frame (the mask is fixed: the server unmasks all the same).
 * opcode may carry RSV1 (0x40): a compressed message. */
static size_t frame(unsigned char *out, int opcode, const unsigned char *data, size_t len)
{
    static const unsigned char key[4] = {0x11, 0x22, 0x33, 0x44};
    size_t n = 0;
    out[n++] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        out[n++] = (unsigned char)(0x80 | len);
    } else {
        out[n++] = 0x80 | 126;
        out[n++] = (unsigned char)(len >> 8);
        out[n++] = (unsigned char)len;
    }
    memcpy(out + n, key, 4);
    n += 4;
    for (size_t i = 0; i < len; i++)
        out[n + i] = data[i] ^ key[i % 4];
    return n + len;
}

static size_t server_frame_len(size_t len)
{
    return (len < 126 ? 2 : 4) + len;
}

static int open_ws(long port, const char *path, int rcvbuf)
{
    int fd = load_connect(port, rcvbuf);
    char req[512];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%ld\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"
                     "Sec-WebSocket-Version: 13\r\n%s\r\n",
                     path, port,
                     deflate_offer ? "Sec-WebSocket-Extensions: permessage-deflate; "
                                     "client_no_context_takeover; server_no_context_takeover\r\n"
                                   : "");
    write_all(fd, req, (size_t)n);
    /* Read the head byte by byte: nothing after it is consumed. */
    char head[2048];
    size_t h = 0;
    while (h < sizeof(head) - 1) {
        ssize_t r = read(fd, head + h, 1);
        if (r <= 0)
            load_die("handshake read");
        h++;
        if (h >= 4 && memcmp(head + h - 4, "\r\n\r\n", 4) == 0)
            break;
    }
    head[h] = 0;
    if (strncmp(head, "HTTP/1.1 101", 12) != 0 || !strstr(head, ACCEPT) ||
        (deflate_offer && !strstr(head, "permessage-deflate"))) {
        fprintf(stderr, "ws_client: FAILED: handshake answer:\n%s\n", head);
        exit(1);
    }
    return fd;
}

static void nonblock_add(int ep, struct conn *c)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        load_die("epoll_ctl");
}

static void fill(unsigned char *p, size_t n, long id, long seq)
{
    for (size_t j = 0; j < n; j++)
        p[j] = (unsigned char)(id * 131 + seq * 31 + (long)j);
}

static void send_msg(struct conn *c, size_t size, unsigned char *scratch, unsigned char *payload)
{
    fill(payload, size, c->id, c->sent);
    size_t n;
    if (deflate_offer) {
        /* Compressed as one stored (uncompressed) deflate block, RFC 1951
         * 3.2.4: BFINAL 0, BTYPE 00, LEN, NLEN; the receiver adds the
         * 00 00 ff ff of the sync flush (RFC 7692 7.2.2). */
        static unsigned char block[MAXMSG + 5];
        block[0] = 0;
        block[1] = (unsigned char)size;
        block[2] = (unsigned char)(size >> 8);
        block[3] = (unsigned char)~size;
        block[4] = (unsigned char)(~size >> 8);
        memcpy(block + 5, payload, size);
        n = frame(scratch, 0x40 | 2, block, size + 5);
    } else {
        n = frame(scratch, 2, payload, size);
    }
    c->sent++;
    c->got = 0;
    write_all(c->fd, scratch, n);
}

/* Reads what is there; returns 1 once a whole echo frame is in c->in. */
static int read_echo(struct conn *c)
{
    ssize_t r = read(c->fd, c->in + c->got, c->want - c->got);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (r <= 0)
        fail("the server closed the connection", c->id);
    c->got += (size_t)r;
    return c->got == c->want;
}

static int check_echo(struct conn *c, size_t size, unsigned char *expect)
{
    size_t hl = c->want - size;
    fill(expect, size, c->id, c->sent - 1);
    return c->in[0] == 0x82 && memcmp(c->in + hl, expect, size) == 0;
}

static long rss_kib(long pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        load_die("open /proc/PID/status");
    long kib = -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

static void raise_nofile(long want)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if ((long)rl.rlim_cur < want + 64) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Runs the echo exchange on every connection until each did msgs round trips. */
static long run_echo(struct conn *conns, long nconns, long msgs, size_t size, double deadline)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    unsigned char *scratch = malloc(size + 32), *payload = malloc(size), *expect = malloc(size);
    for (long i = 0; i < nconns; i++) {
        nonblock_add(ep, &conns[i]);
        send_msg(&conns[i], size, scratch, payload);
    }
    long active = nconns, round_trips = 0;
    struct epoll_event events[256];
    while (active > 0) {
        int n = load_wait(ep, events, 256, deadline);
        if (n < 0)
            fail("timed out", -1);
        for (int e = 0; e < n; e++) {
            struct conn *c = events[e].data.ptr;
            if (!read_echo(c))
                continue;
            if (!check_echo(c, size, expect))
                fail("wrong echo", c->id);
            round_trips++;
            if (c->sent < msgs) {
                send_msg(c, size, scratch, payload);
            } else {
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                active--;
            }
        }
    }
    close(ep);
    free(scratch);
    free(payload);
    free(expect);
    return round_trips;
}

static struct conn *open_all(long port, const char *path, long nconns, size_t size, int slow_pct)
{
    struct conn *conns = calloc((size_t)nconns, sizeof(*conns));
    for (long i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        c->id = i;
        c->slow = slow_pct && i % (100 / slow_pct) == 0;
        c->fd = open_ws(port, path, c->slow ? 1024 : 0);
        c->want = server_frame_len(size);
        c->in = malloc(c->want);
    }
    return conns;
}

static void close_all(struct conn *conns, long nconns)
{
    for (long i = 0; i < nconns; i++) {
        close(conns[i].fd);
        free(conns[i].in);
    }
    free(conns);
}

static int broadcast(long port, long nconns, long rounds, int slow_pct, double deadline,
                     const char *impl)
{
    size_t size = 64;
    struct conn *conns = open_all(port, "/room", nconns, size, slow_pct);
    int ctl = open_ws(port, "/control", 0);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    long readers = 0;
    for (long i = 0; i < nconns; i++)
        if (!conns[i].slow) {
            nonblock_add(ep, &conns[i]);
            readers++;
        }
    /* Every member has joined the room once its handshake is done. */
    unsigned char req[64], out[96];
    int rn = snprintf((char *)req, sizeof(req), "go %ld", rounds);
    size_t n = frame(out, 1, req, (size_t)rn);
    out[0] = 0x81;
    write_all(ctl, out, n);
    long done = 0;
    struct epoll_event events[256];
    while (done < readers) {
        int k = load_wait(ep, events, 256, deadline);
        if (k < 0)
            fail("timed out waiting for the fan-outs", -1);
        for (int e = 0; e < k; e++) {
            struct conn *c = events[e].data.ptr;
            while (read_echo(c)) {
                char seq[9];
                memcpy(seq, c->in + 2, 8);
                seq[8] = 0;
                if (c->in[0] != 0x82 || atol(seq) != c->got_msgs) {
                    fprintf(stderr,
                            "ws_client: connection %ld, message %ld: opcode byte 0x%02x, "
                            "bytes 2-9 \"%.8s\"\n",
                            c->id, c->got_msgs, c->in[0], (const char *)c->in + 2);
                    fail("a fan-out message is missing or out of order", c->id);
                }
                c->got_msgs++;
                c->got = 0;
                if (c->got_msgs == rounds) {
                    done++;
                    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                    break;
                }
            }
        }
    }
    char answer[512];
    size_t a = 0;
    while (a < 2 || a < 2 + (size_t)(answer[1] & 0x7f)) {
        ssize_t r = read(ctl, answer + a, sizeof(answer) - 1 - a);
        if (r <= 0)
            load_die("control read");
        a += (size_t)r;
    }
    answer[a] = 0;
    printf("impl=%s workload=w22-ws-broadcast conns=%ld readers=%ld rounds=%ld %s\n", impl, nconns,
           readers, rounds, answer + 2);
    close(ctl);
    close(ep);
    close_all(conns, nconns);
    return 0;
}

int main(int argc, char **argv)
{
    long port = atol(load_arg(argc, argv, "port", "0"));
    const char *workload = load_arg(argc, argv, "workload", "echo");
    long nconns = atol(load_arg(argc, argv, "conns", "100"));
    long msgs = atol(load_arg(argc, argv, "msgs", "10000"));
    size_t size = (size_t)atol(load_arg(argc, argv, "size", "64"));
    double timeout = atof(load_arg(argc, argv, "timeout", "300"));
    const char *impl = load_arg(argc, argv, "impl", "unknown");
    const char *path = load_arg(argc, argv, "path", "/echo");
    long pid = atol(load_arg(argc, argv, "pid", "0"));
    deflate_offer = atoi(load_arg(argc, argv, "deflate", "0"));
    if (port <= 0 || nconns <= 0 || msgs <= 0 || size == 0 || size > MAXMSG) {
        fprintf(stderr, "usage: see the top of bench/load/ws_client.c\n");
        return 2;
    }
    raise_nofile(nconns + 16);
    double deadline = load_now() + timeout;
    if (!strcmp(workload, "echo")) {
        struct conn *conns = open_all(port, path, nconns, size, 0);
        double t0 = load_now();
        long rt = run_echo(conns, nconns, msgs, size, deadline);
        double secs = load_now() - t0;
        close_all(conns, nconns);
        printf(
            "impl=%s workload=w20-ws-echo n=%ld conns=%ld msgs=%ld size=%zu secs=%.6f rps=%.1f\n",
            impl, rt, nconns, msgs, size, secs, (double)rt / secs);
        return 0;
    }
    if (!strcmp(workload, "idle")) {
        if (pid <= 0) {
            fprintf(stderr, "ws_client: idle needs --pid=SERVER_PID\n");
            return 2;
        }
        /* A first connection warms the server's pools and stack caches up. */
        struct conn *warm = open_all(port, path, 1, size, 0);
        run_echo(warm, 1, 1, size, deadline);
        long before = rss_kib(pid);
        struct conn *conns = open_all(port, path, nconns, size, 0);
        run_echo(conns, nconns, 1, size, deadline);
        sleep(1);
        long after = rss_kib(pid);
        /* --hold=S keeps the connections open S more seconds (to inspect the
         * server, e.g. /proc/PID/smaps). */
        long hold = atol(load_arg(argc, argv, "hold", "0"));
        if (hold > 0) {
            fprintf(stderr, "ws_client: holding %ld connections for %ld s\n", nconns, hold);
            sleep((unsigned)hold);
        }
        printf("impl=%s workload=w21-ws-idle deflate=%d conns=%ld rss_before_kib=%ld "
               "rss_after_kib=%ld kib_per_conn=%.2f\n",
               impl, deflate_offer, nconns, before, after,
               (double)(after - before) / (double)nconns);
        close_all(conns, nconns);
        close_all(warm, 1);
        return 0;
    }
    if (!strcmp(workload, "broadcast"))
        return broadcast(port, nconns, atol(load_arg(argc, argv, "rounds", "100")),
                         atoi(load_arg(argc, argv, "slow-pct", "1")), deadline, impl);
    fprintf(stderr, "ws_client: unknown workload %s\n", workload);
    return 2;
}
