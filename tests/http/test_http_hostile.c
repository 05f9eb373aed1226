/* The HTTP server against a hostile peer: raw bytes over loopback, the way an
 * attacker sends them. Every case checks the status, that the response says
 * "Connection: close", that the server closes the connection, and that the
 * request pipelined behind the bad one is never served (the handlers count
 * their calls). Groups: smuggling, malformed head, limits, slow peers,
 * graceful close and logging. The timeouts run on the real clock (a loop
 * waiting on sockets never lets the virtual clock jump): they are short, and
 * each bound is loose enough for a busy machine. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>

#include "cio/http_server.h"
#include "cio_test.h"

static int port;
static int calls;   /* handler calls */
static int nlogged; /* log callback calls */
static char lastlog[512];
static cio_event logged; /* set by the log callback */

/* The request sent behind each bad one: served, it would count a call. */
#define FOLLOW "GET /count HTTP/1.1\r\nHost: x\r\n\r\n"

/* ---- handlers ---- */

/* Counts, reads the whole body, answers its length and what it saw of a
 * header or trailer named X-Trailer. */
static int h_count(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)arg;
    calls++;
    const char *body;
    size_t len;
    int err = cio_http_req_body(req, &body, &len);
    if (err)
        return err;
    const char *h = cio_http_req_header(req, "X-Trailer"),
               *t = cio_http_req_trailer(req, "X-Trailer");
    char text[128];
    int n = snprintf(text, sizeof(text), "ok %zu header=%s trailer=%s path=%s", len, h ? h : "-",
                     t ? t : "-", cio_http_req_path(req));
    return cio_http_resp_body(resp, text, (size_t)n);
}

/* Streams the body with cio_http_req_read. */
static int h_stream(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)arg;
    calls++;
    char buf[512];
    ssize_t n;
    size_t total = 0;
    while ((n = cio_http_req_read(req, buf, sizeof(buf))) > 0)
        total += (size_t)n;
    if (n < 0)
        return (int)n;
    char text[32];
    int len = snprintf(text, sizeof(text), "streamed %zu", total);
    return cio_http_resp_body(resp, text, (size_t)len);
}

/* A 64 MiB response, streamed: more than the kernel's socket buffers hold. */
static int h_big(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)req;
    (void)arg;
    calls++;
    static char piece[64 * 1024];
    memset(piece, 'b', sizeof(piece));
    for (int i = 0; i < 1024; i++) {
        int err = cio_http_resp_write(resp, piece, sizeof(piece));
        if (err)
            return err;
    }
    return 0;
}

static int h_param(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)arg;
    calls++;
    char text[64];
    const char *q = cio_http_req_query_param(req, "q");
    int n = snprintf(text, sizeof(text), "x=%s q=%s", cio_http_req_param(req, "x"), q ? q : "-");
    return cio_http_resp_body(resp, text, (size_t)n);
}

static int h_fail(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)req;
    (void)resp;
    (void)arg;
    return cio_fail(-EIO, "failing on purpose");
}

static int saw_500; /* the log got the failing handler */

static void on_log(void *arg, int status, int err, const char *what)
{
    (void)arg;
    nlogged++;
    snprintf(lastlog, sizeof(lastlog), "%d %d %s", status, err, what);
    if (status == 500 && strstr(what, "/fail failed") && strstr(what, "on purpose"))
        saw_500 = 1;
    cio_event_set(&logged);
}

/* ---- harness ---- */

typedef struct harness {
    int (*fn)(void);
    cio_http_server_opts opts;
} harness;

static int harness_main(void *arg)
{
    harness *h = arg;
    calls = nlogged = 0;
    lastlog[0] = 0;
    cio_event_init(&logged);
    cio_http_app *app;
    CIO_ASSERT_OK(cio_http_app_new(&app, &h->opts));
    CIO_ASSERT_OK(cio_http_app_route(app, "*", "/count", h_count, NULL));
    CIO_ASSERT_OK(cio_http_app_route(app, "POST", "/stream", h_stream, NULL));
    CIO_ASSERT_OK(cio_http_app_route(app, "GET", "/big", h_big, NULL));
    CIO_ASSERT_OK(cio_http_app_route(app, "GET", "/path/{x}", h_param, NULL));
    CIO_ASSERT_OK(cio_http_app_route(app, "GET", "/fail", h_fail, NULL));
    cio_http_server *srv;
    CIO_ASSERT_OK(cio_http_serve(&srv, app, "127.0.0.1", 0));
    port = cio_http_server_port(srv);
    int err = h->fn();
    cio_http_server_close(srv);
    cio_http_app_free(app);
    cio_event_destroy(&logged);
    return err;
}

/* Small limits so that every limit is easy to cross; the log collects. */
static void run(int (*fn)(void), const cio_http_server_opts *opts)
{
    harness h = {
        .fn = fn,
        .opts = {
            .max_body_bytes = 1024, .max_header_bytes = 2048, .max_headers = 20, .log = on_log}};
    if (opts)
        h.opts = *opts;
    CIO_ASSERT_OK(cio_test_run(harness_main, &h));
    if (CIO_TEST_LEAK_CHECK())
        CIO_FAIL_AT("memory leaked (LeakSanitizer's report is above)");
}

static int dial(void)
{
    int fd = cio_socket(AF_INET, SOCK_STREAM, 0);
    CIO_ASSERT(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CIO_ASSERT_OK(cio_connect(fd, (struct sockaddr *)&a, sizeof(a)));
    return fd;
}

typedef struct reply {
    char text[65536];
    size_t len;
    int closed; /* the server closed (EOF or reset) before our timeout */
    int reset;  /* ECONNRESET */
} reply;

/* Reads what the server sends until it closes or `secs` pass. */
static void read_reply(int fd, reply *out, double secs)
{
    out->len = 0;
    out->closed = out->reset = 0;
    cio_scope sc;
    CIO_ASSERT_OK(cio_timeout_enter(&sc, secs));
    for (;;) {
        ssize_t n = cio_recv(fd, out->text + out->len, sizeof(out->text) - 1 - out->len, 0);
        if (n > 0 && out->len + (size_t)n < sizeof(out->text) - 1) {
            out->len += (size_t)n;
            continue;
        }
        out->closed = n == 0 || n == -ECONNRESET;
        out->reset = n == -ECONNRESET;
        break;
    }
    cio_timeout_exit(&sc);
    out->text[out->len] = 0;
}

/* Sends the bytes on a new connection and reads until the server closes. */
static reply *exchange(const char *data, size_t len)
{
    static reply r;
    int fd = dial();
    cio_write_all(fd, data, len, NULL); /* the server may close before the end */
    read_reply(fd, &r, 5);
    cio_close(fd);
    return &r;
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* The checks of every case: the status, one response only (the pipelined
 * follower was never served), Connection: close, the connection closed,
 * and how many handler calls there were (0: rejected before the handler). */
static void check(const reply *r, const char *what, int status, int want_calls)
{
    char line[32];
    snprintf(line, sizeof(line), "HTTP/1.1 %d ", status);
    if (strncmp(r->text, line, strlen(line)) != 0)
        CIO_FAIL_AT("%s: expected %d, got \"%.80s\"", what, status, r->text);
    if (count_of(r->text, "HTTP/1.1 ") != 1)
        CIO_FAIL_AT("%s: more than one response: %s", what, r->text);
    if (!strstr(r->text, "\r\nConnection: close\r\n"))
        CIO_FAIL_AT("%s: no Connection: close in %s", what, r->text);
    if (!r->closed)
        CIO_FAIL_AT("%s: the server did not close the connection", what);
    if (calls != want_calls)
        CIO_FAIL_AT("%s: %d handler calls, expected %d", what, calls, want_calls);
}

/* Sends `req` FOLLOW and checks. status_alt: another acceptable status. */
static void expect(const char *what, const char *req, size_t len, int status, int status_alt,
                   int want_calls)
{
    char buf[8192];
    CIO_ASSERT(len + sizeof(FOLLOW) < sizeof(buf));
    memcpy(buf, req, len);
    memcpy(buf + len, FOLLOW, sizeof(FOLLOW) - 1);
    calls = 0;
    reply *r = exchange(buf, len + sizeof(FOLLOW) - 1);
    if (status_alt && strncmp(r->text + 9, "400", 3) != 0 && strncmp(r->text + 9, "501", 3) != 0)
        CIO_FAIL_AT("%s: expected 400 or 501, got \"%.60s\"", what, r->text);
    check(r, what, status_alt && strncmp(r->text + 9, "501", 3) == 0 ? 501 : status, want_calls);
}

#define EXPECT(what, req, status, want_calls)                                                      \
    expect(what, req, sizeof(req) - 1, status, 0, want_calls)
#define EXPECT_400_OR_501(what, req) expect(what, req, sizeof(req) - 1, 400, 1, 0)

/* ---- smuggling ---- */

#define CHUNKED_POST "POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"

static int t_chunk_framing(void)
{
    EXPECT("data not followed by CRLF", CHUNKED_POST "3\r\nabcX\r\n0\r\n\r\n", 400, 1);
    EXPECT("bare LF after the chunk size", CHUNKED_POST "3\nabc\r\n0\r\n\r\n", 400, 1);
    EXPECT("bare LF after the data", CHUNKED_POST "3\r\nabc\n0\r\n\r\n", 400, 1);
    EXPECT("bare CR after the chunk size", CHUNKED_POST "3\rabc\r\n0\r\n\r\n", 400, 1);
    EXPECT("space in the chunk size", CHUNKED_POST "3 \r\nabc\r\n0\r\n\r\n", 400, 1);
    EXPECT("chunk size not hex", CHUNKED_POST "zz\r\nabc\r\n0\r\n\r\n", 400, 1);
    EXPECT("chunk size overflow", CHUNKED_POST "fffffffffffffffffff\r\n", 400, 1);
    EXPECT("CR without LF in the head", "GET /count HTTP/1.1\r\nHost: x\rX: y\r\n\r\n", 400, 0);
    EXPECT("CR without LF after the request line", "GET /count HTTP/1.1\rHost: x\r\n\r\n", 400, 0);
    /* the same through the streaming reader */
    EXPECT("streamed: data not followed by CRLF",
           "POST /stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0"
           "\r\n\r\n",
           400, 1);
    return 0;
}

static void test_smuggling_chunk_framing(void)
{
    run(t_chunk_framing, NULL);
}

static int t_transfer_encoding(void)
{
    EXPECT_400_OR_501("xchunked",
                      "POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n");
    EXPECT_400_OR_501("chunked, identity", "POST /count HTTP/1.1\r\nHost: x\r\n"
                                           "Transfer-Encoding: chunked, identity\r\n\r\n");
    EXPECT_400_OR_501("identity, chunked", "POST /count HTTP/1.1\r\nHost: x\r\n"
                                           "Transfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n");
    EXPECT_400_OR_501("identity",
                      "POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n");
    EXPECT_400_OR_501("gzip", "POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n");
    EXPECT_400_OR_501("repeated",
                      "POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    EXPECT_400_OR_501("folded", "POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                                " , identity\r\n\r\n0\r\n\r\n");
    EXPECT("on HTTP/1.0", "POST /count HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
           400, 0);
    return 0;
}

static void test_smuggling_transfer_encoding(void)
{
    run(t_transfer_encoding, NULL);
}

static int t_content_length(void)
{
    EXPECT("Content-Length with Transfer-Encoding",
           "POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
           "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
           400, 0);
    EXPECT("Transfer-Encoding with Content-Length",
           "POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
           "Content-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
           400, 0);
    EXPECT("two Content-Lengths",
           "POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
           400, 0);
    EXPECT("Content-Length +5",
           "POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nabcde", 400, 0);
    EXPECT("Content-Length -1", "POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
           400, 0);
    EXPECT("Content-Length 5, 6",
           "POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\nabcdef", 400, 0);
    EXPECT("Content-Length 0x5", "POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 0x5\r\n\r\n",
           400, 0);
    return 0;
}

static void test_smuggling_content_length(void)
{
    run(t_content_length, NULL);
}

/* ---- malformed head ---- */

static int t_malformed(void)
{
    EXPECT("space before the colon", "GET /count HTTP/1.1\r\nHost : x\r\n\r\n", 400, 0);
    EXPECT("tab before the colon", "GET /count HTTP/1.1\r\nHost: x\r\nX\t: y\r\n\r\n", 400, 0);
    EXPECT("control byte in a value", "GET /count HTTP/1.1\r\nHost: x\r\nX: a\x01z\r\n\r\n", 400,
           0);
    EXPECT("DEL in a value", "GET /count HTTP/1.1\r\nHost: x\r\nX: a\x7fz\r\n\r\n", 400, 0);
    static const char nul[] = "GET /count HTTP/1.1\r\nHost: x\r\nX: a\0z\r\n\r\n";
    expect("NUL in a value", nul, sizeof(nul) - 1, 400, 0, 0);
    EXPECT("a line without a colon", "GET /count HTTP/1.1\r\nHost: x\r\nnocolon\r\n\r\n", 400, 0);
    EXPECT("obs-fold", "GET /count HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 400, 0);
    EXPECT("obs-fold with a tab", "GET /count HTTP/1.1\r\nHost: x\r\nX: a\r\n\tb\r\n\r\n", 400, 0);
    EXPECT("obs-fold of an empty value", "GET /count HTTP/1.1\r\nHost: x\r\nX:\r\n b\r\n\r\n", 400,
           0);
    EXPECT("whitespace before the first header", "GET /count HTTP/1.1\r\n Host: x\r\n\r\n", 400, 0);
    EXPECT("no Host on HTTP/1.1", "GET /count HTTP/1.1\r\nX: y\r\n\r\n", 400, 0);
    EXPECT("two Hosts", "GET /count HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400, 0);
    EXPECT("HTTP/2.0", "GET /count HTTP/2.0\r\nHost: x\r\n\r\n", 505, 0);
    EXPECT("HTTP/0.9", "GET /count HTTP/0.9\r\nHost: x\r\n\r\n", 505, 0);
    EXPECT("HTTP/1.2", "GET /count HTTP/1.2\r\nHost: x\r\n\r\n", 505, 0);
    EXPECT("HTTP/3.0", "GET /count HTTP/3.0\r\nHost: x\r\n\r\n", 505, 0);
    EXPECT("garbage", "GARBAGE\r\n\r\n", 400, 0);
    EXPECT("control byte in the target", "GET /co\x01unt HTTP/1.1\r\nHost: x\r\n\r\n", 400, 0);
    return 0;
}

static void test_malformed_head(void)
{
    run(t_malformed, NULL);
}

static int t_absolute_form(void)
{
    const char *req = "GET http://example.com/path/7?q=a%20b HTTP/1.1\r\nHost: example.com\r\n\r\n"
                      "GET https://example.com HTTP/1.1\r\nHost: example.com\r\n"
                      "Connection: close\r\n\r\n";
    reply *r = exchange(req, strlen(req));
    CIO_ASSERT(strstr(r->text, "HTTP/1.1 200 OK"));
    CIO_ASSERT(strstr(r->text, "x=7 q=a b"));
    CIO_ASSERT(strstr(r->text, "HTTP/1.1 404")); /* "https://example.com" is "/": no route */
    CIO_ASSERT(r->closed);
    return 0;
}

static void test_absolute_form_routed_by_path(void)
{
    run(t_absolute_form, NULL);
}

/* ---- limits ---- */

static int t_body_limits(void)
{
    EXPECT("Expect: 100-continue over the limit",
           "POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
           "Expect: 100-continue\r\n\r\n",
           413, 0);
    /* Content-Length over the limit: 413 with none of the body sent. */
    calls = 0;
    const char *head = "POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
                       "Expect: 100-continue\r\n\r\n" FOLLOW;
    reply *r = exchange(head, strlen(head));
    CIO_ASSERT(!strstr(r->text, "100 Continue"));
    check(r, "Content-Length over the limit, Expect: 100-continue", 413, 0);
    head = "POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n";
    r = exchange(head, strlen(head)); /* no body at all: the 413 comes anyway */
    check(r, "Content-Length over the limit, no body", 413, 0);
    /* A chunk over the limit: 413 from its size line, before its data. */
    calls = 0;
    head = CHUNKED_POST "10000\r\n";
    r = exchange(head, strlen(head));
    check(r, "a chunk over the limit", 413, 1);
    calls = 0;
    head = CHUNKED_POST "300\r\n";
    int fd = dial();
    CIO_ASSERT_EQ(cio_write_all(fd, head, strlen(head), NULL), (ssize_t)strlen(head));
    static char part[0x300];
    memset(part, 'p', sizeof(part));
    for (int i = 0; i < 2; i++) { /* 768 bytes, then a chunk of 768 more: over 1024 */
        cio_write_all(fd, part, sizeof(part), NULL);
        cio_write_all(fd, i ? "" : "\r\n300\r\n", i ? 0 : 7, NULL);
    }
    read_reply(fd, r, 5);
    cio_close(fd);
    check(r, "chunks adding up over the limit", 413, 1);
    /* Streamed: the same limit. */
    calls = 0;
    head = "POST /stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10000\r\n";
    check(exchange(head, strlen(head)), "a streamed chunk over the limit", 413, 1);
    return 0;
}

static void test_limits_body(void)
{
    run(t_body_limits, NULL);
}

static int t_header_limits(void)
{
    char req[8192];
    /* 21 headers: one over max_headers (20), far under max_header_bytes. */
    int n = snprintf(req, sizeof(req), "GET /count HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 20; i++)
        n += snprintf(req + n, sizeof(req) - (size_t)n, "H%d: v\r\n", i);
    n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n");
    expect("one header over max_headers", req, (size_t)n, 431, 0, 0);
    /* 19 small headers: each costs its bytes plus CIO_HTTP_HEADER_COST, so
     * 19 * (~20 + 64) bytes is under 2048 but 30 of 40 bytes each is not. */
    n = snprintf(req, sizeof(req), "GET /count HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 19; i++)
        n += snprintf(req + n, sizeof(req) - (size_t)n, "Header-%02d: %040d\r\n", i, i);
    n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n");
    CIO_ASSERT(n < 2048); /* the bytes alone are under the limit */
    expect("headers whose stored cost is over max_header_bytes", req, (size_t)n, 431, 0, 0);
    /* A long header. */
    n = snprintf(req, sizeof(req), "GET /count HTTP/1.1\r\nHost: x\r\nX: ");
    memset(req + n, 'a', 3000);
    n += 3000;
    n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n\r\n");
    expect("one long header", req, (size_t)n, 431, 0, 0);
    /* A long target. */
    n = snprintf(req, sizeof(req), "GET /count?");
    memset(req + n, 'a', 3000);
    n += 3000;
    n += snprintf(req + n, sizeof(req) - (size_t)n, " HTTP/1.1\r\nHost: x\r\n\r\n");
    expect("a long target", req, (size_t)n, 431, 0, 0);
    return 0;
}

static void test_limits_headers(void)
{
    run(t_header_limits, NULL);
}

static int t_trailers(void)
{
    /* Trailers are never merged into the headers. */
    const char *req = CHUNKED_POST "3\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n"
                                   "GET /count HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    calls = 0;
    reply *r = exchange(req, strlen(req));
    CIO_ASSERT(strstr(r->text, "ok 3 header=- trailer=t"));
    CIO_ASSERT(strstr(r->text, "ok 0 header=- trailer=-")); /* and not carried over */
    CIO_ASSERT_EQ(calls, 2);
    /* Trailers over max_header_bytes: 431. */
    static char big[8192];
    int n = snprintf(big, sizeof(big), CHUNKED_POST "3\r\nabc\r\n0\r\n");
    for (int i = 0; i < 40; i++)
        n += snprintf(big + n, sizeof(big) - (size_t)n, "T%d: %080d\r\n", i, i);
    n += snprintf(big + n, sizeof(big) - (size_t)n, "\r\n");
    expect("trailers over max_header_bytes", big, (size_t)n, 431, 0, 1);
    /* Malformed trailers: 400. */
    EXPECT("a trailer without a colon", CHUNKED_POST "3\r\nabc\r\n0\r\nnocolon\r\n\r\n", 400, 1);
    return 0;
}

static void test_limits_trailers_apart(void)
{
    run(t_trailers, NULL);
}

/* ---- slow peers ---- */

static int t_header_timeout(void)
{
    /* The first byte comes late; the header timeout still counts from the
     * accept: the 408 comes at ~1 s, not 1 s after the first byte. */
    double t0 = cio_now();
    int fd = dial();
    cio_sleep(0.7); /* the late first byte under test */
    double first = cio_now() - t0;
    cio_write_all(fd, "GET /count HTTP/1.1\r\n", 21, NULL);
    static reply r;
    read_reply(fd, &r, 5);
    cio_close(fd);
    double took = cio_now() - t0;
    check(&r, "a head that began late and never ended", 408, 0);
    CIO_ASSERT_CMP(took, >=, 0.95);
    /* A timer restarted at the first byte could not answer before first +
     * 1 s; measured from when that byte really went, however late. */
    CIO_ASSERT_CMP(took, <, first + 1.0);
    CIO_ASSERT(strstr(lastlog, "408"));
    /* A connection that sends nothing is closed by the server (not by our
     * 5 s bound: r.closed), without a response. */
    fd = dial();
    read_reply(fd, &r, 5);
    cio_close(fd);
    CIO_ASSERT(r.closed && r.len == 0);
    return 0;
}

static void test_slow_header_timeout_from_accept(void)
{
    cio_http_server_opts o = {.header_timeout = 1, .log = on_log};
    run(t_header_timeout, &o);
}

/* Sends `head` (and `part` of a body), then stalls; the body timeout must
 * answer 408 and close. */
static void stall(const char *what, const char *head, const char *part, int want_continue)
{
    calls = 0;
    double t0 = cio_now();
    int fd = dial();
    CIO_ASSERT_EQ(cio_write_all(fd, head, strlen(head), NULL), (ssize_t)strlen(head));
    static reply r;
    if (want_continue) { /* wait for the 100 Continue, then send a part and stall */
        char buf[64] = "";
        ssize_t n = cio_recv(fd, buf, sizeof(buf) - 1, 0);
        CIO_ASSERT(n > 0 && strncmp(buf, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0);
    }
    cio_write_all(fd, part, strlen(part), NULL);
    read_reply(fd, &r, 5);
    cio_close(fd);
    check(&r, what, 408, 1);
    CIO_ASSERT_CMP(cio_now() - t0, <, 3);
}

static int t_body_timeout(void)
{
    stall("Content-Length body stalled",
          "POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n", "abc", 0);
    stall("chunked body stalled", CHUNKED_POST, "5\r\nab", 0);
    stall("body stalled after 100 Continue",
          "POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"
          "Expect: 100-continue\r\n\r\n",
          "", 1);
    stall("streamed body stalled", "POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n",
          "abc", 0);
    CIO_ASSERT(strstr(lastlog, "408"));
    return 0;
}

static void test_slow_body_timeout(void)
{
    cio_http_server_opts o = {.body_timeout = 0.3, .log = on_log};
    run(t_body_timeout, &o);
}

static int t_send_timeout(void)
{
    /* The client asks for 64 MiB and reads nothing (a small receive buffer). */
    int fd = cio_socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CIO_ASSERT_OK(cio_connect(fd, (struct sockaddr *)&a, sizeof(a)));
    const char *req = "GET /big HTTP/1.1\r\nHost: x\r\n\r\n" FOLLOW;
    CIO_ASSERT_EQ(cio_write_all(fd, req, strlen(req), NULL), (ssize_t)strlen(req));
    cio_scope sc;
    CIO_ASSERT_OK(cio_timeout_enter(&sc, 10));
    CIO_ASSERT_OK(cio_event_wait(&logged)); /* the server gave up on us */
    CIO_ASSERT(cio_timeout_exit(&sc) == 0);
    CIO_ASSERT(strstr(lastlog, "send timeout"));
    /* It closed: what we read ends (short of the 64 MiB) in EOF or a reset. */
    size_t total = 0;
    static char buf[65536];
    CIO_ASSERT_OK(cio_timeout_enter(&sc, 5));
    ssize_t n;
    while ((n = cio_recv(fd, buf, sizeof(buf), 0)) > 0)
        total += (size_t)n;
    cio_timeout_exit(&sc);
    CIO_ASSERT(n == 0 || n == -ECONNRESET);
    CIO_ASSERT_CMP(total, <, 64 * 1024 * 1024);
    CIO_ASSERT_EQ(calls, 1); /* the follower was never served */
    cio_close(fd);
    return 0;
}

static void test_slow_send_timeout(void)
{
    cio_http_server_opts o = {.send_timeout = 0.3, .log = on_log};
    run(t_send_timeout, &o);
}

/* ---- graceful close and logging ---- */

static int t_lingering(void)
{
    /* A bad head followed by 256 KiB the server will never parse: without a
     * lingering close the unread bytes make the kernel reset the
     * connection, and the client may never see the 400. */
    static char junk[256 * 1024];
    memset(junk, 'j', sizeof(junk));
    for (int round = 0; round < 3; round++) {
        int fd = dial();
        const char *bad = "GET /count HTTP/1.1\r\nHost : x\r\n\r\n";
        CIO_ASSERT_EQ(cio_write_all(fd, bad, strlen(bad), NULL), (ssize_t)strlen(bad));
        cio_write_all(fd, junk, sizeof(junk), NULL);
        static reply r;
        read_reply(fd, &r, 5);
        cio_close(fd);
        CIO_ASSERT(strncmp(r.text, "HTTP/1.1 400 ", 13) == 0);
        CIO_ASSERT(strstr(r.text, "\r\n\r\n400 Bad Request\n"));
        CIO_ASSERT(r.closed && !r.reset);
    }
    return 0;
}

static void test_graceful_close_lingers(void)
{
    run(t_lingering, NULL);
}

static int t_quiet(void)
{
    EXPECT("space before the colon", "GET /count HTTP/1.1\r\nHost : x\r\n\r\n", 400, 0);
    EXPECT("HTTP/2.0", "GET /count HTTP/2.0\r\nHost: x\r\n\r\n", 505, 0);
    EXPECT("Content-Length over the limit",
           "POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n", 413, 0);
    int fd = dial(); /* a reset in the middle of a head */
    cio_write_all(fd, "GET /count HT", 13, NULL);
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    cio_close(fd);
    /* A failing handler is not the client's doing: 500, and reported. */
    const char *fail = "GET /fail HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    CIO_ASSERT(strncmp(exchange(fail, strlen(fail))->text, "HTTP/1.1 500 ", 13) == 0);
    return 0;
}

static void test_client_failures_go_to_the_log_not_stderr(void)
{
    /* Without a log: only the failing handler's line, nothing of the
     * client's failures. */
    cio_test_capture_stderr_begin();
    cio_http_server_opts o = {.max_body_bytes = 1024};
    run(t_quiet, &o);
    char *err = cio_test_capture_stderr_end();
    if (!strstr(err, "cio http: GET /fail failed") || count_of(err, "\n") != 1)
        CIO_FAIL_AT("stderr: \"%s\"", err);
    free(err);
    /* With one: everything goes to it, nothing to stderr. */
    saw_500 = 0;
    cio_test_capture_stderr_begin();
    cio_http_server_opts with_log = {.max_body_bytes = 1024, .log = on_log};
    run(t_quiet, &with_log);
    err = cio_test_capture_stderr_end();
    CIO_ASSERT_STR_EQ(err, "");
    free(err);
    CIO_ASSERT_CMP(nlogged, >=, 4);
    CIO_ASSERT(saw_500);
}

CIO_TEST_MAIN(((cio_test_case[]){
    CIO_TEST(test_smuggling_chunk_framing,
             "chunk lines and data must end in CRLF (bare LF, bare CR, junk): 400, close, the "
             "pipelined request is never served"),
    CIO_TEST(test_smuggling_transfer_encoding,
             "Transfer-Encoding not exactly chunked (xchunked, lists, identity, repeated, "
             "folded): 400/501 before the handler; on HTTP/1.0: 400"),
    CIO_TEST(test_smuggling_content_length,
             "CL with TE, two CLs, +5, -1, '5, 6', 0x5: 400 before the handler"),
    CIO_TEST(test_malformed_head,
             "space before colon, control bytes and NUL, no colon, obs-fold, Host missing or "
             "doubled: 400; versions other than 1.0/1.1: 505"),
    CIO_TEST(test_absolute_form_routed_by_path,
             "GET http://host/path is routed by its path, with its query"),
    CIO_TEST(test_limits_body,
             "CL over the limit: 413 at once (no 100 Continue, no body read); a chunk over it: "
             "413 from its size line"),
    CIO_TEST(test_limits_headers,
             "max_headers, the stored cost of headers, a long header and a long target: 431"),
    CIO_TEST(test_limits_trailers_apart,
             "trailers kept apart from headers (and from the next request); over the limit: "
             "431; malformed: 400"),
    CIO_TEST(test_slow_header_timeout_from_accept,
             "the header timeout counts once, from the accept: a late first byte gains no time"),
    CIO_TEST(test_slow_body_timeout,
             "a body stalled (Content-Length, chunked, after 100 Continue, streamed): 408, close"),
    CIO_TEST(test_slow_send_timeout,
             "a client that reads nothing of a 64 MiB response is cut off after send_timeout"),
    CIO_TEST(test_graceful_close_lingers,
             "a 400 followed by 256 KiB of unread input: the client reads the 400 and an EOF, "
             "not a reset"),
    CIO_TEST(test_client_failures_go_to_the_log_not_stderr,
             "bad requests and resets print nothing on stderr; the log callback gets them, and a "
             "failing handler's 500"),
}))
