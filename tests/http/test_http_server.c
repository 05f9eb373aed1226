/* Tests of libcio-http's server: routing, keep-alive, pipelining, uploads,
 * streaming and files, bad input, shutdown; curl (the command) and
 * libcio-http's own client as clients, raw sockets for malformed input. */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>

#include "cio/http.h"
#include "cio/http_server.h"
#include "cio_test.h"

static int port;

/* ---- handlers ---- */

static int h_hello(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)req;
    (void)arg;
    cio_http_resp_header(resp, "Content-Type", "text/plain");
    return cio_http_resp_body(resp, "Hello, World!", 13);
}

static int h_post(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)arg;
    char text[128];
    const char *q = cio_http_req_query_param(req, "q");
    int n =
        snprintf(text, sizeof(text), "post %s q=%s", cio_http_req_param(req, "id"), q ? q : "-");
    return cio_http_resp_body(resp, text, (size_t)n);
}

static int h_echo(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)arg;
    const char *body;
    size_t len;
    int err = cio_http_req_body(req, &body, &len);
    if (err)
        return err;
    char head[64];
    snprintf(head, sizeof(head), "%s %zu", cio_http_req_method(req), len);
    cio_http_resp_header(resp, "X-Echo", head);
    const char *ct = cio_http_req_header(req, "content-type");
    if (ct)
        cio_http_resp_header(resp, "Content-Type", ct);
    return cio_http_resp_body(resp, body, len);
}

static int h_count(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)arg;
    char buf[4096];
    size_t total = 0;
    ssize_t n;
    while ((n = cio_http_req_read(req, buf, sizeof(buf))) > 0)
        total += (size_t)n;
    if (n < 0)
        return (int)n;
    char text[32];
    int len = snprintf(text, sizeof(text), "%zu", total);
    return cio_http_resp_body(resp, text, (size_t)len);
}

static int h_stream(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)req;
    (void)arg;
    for (int i = 0; i < 5; i++) {
        char line[32];
        int n = snprintf(line, sizeof(line), "chunk %d\n", i);
        int err = cio_http_resp_write(resp, line, (size_t)n);
        if (err)
            return err;
        cio_yield(); /* each chunk goes out on its own */
    }
    return 0;
}

static int h_fail(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)req;
    (void)resp;
    (void)arg;
    return cio_fail(-EIO, "the handler failed on purpose");
}

static cio_event slow_started; /* set when /slow's handler runs */
static cio_event slow_go;      /* set when /slow's handler may answer */

static int h_slow(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)req;
    (void)arg;
    cio_event_set(&slow_started);
    int err = cio_event_wait(&slow_go);
    if (err)
        return err;
    return cio_http_resp_body(resp, "slow done", 9);
}

static int h_file(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)req;
    return cio_http_resp_file(resp, arg, "text/plain");
}

/* 40 long headers (a head past the 2 KiB it starts with) and a 100 KiB body
 * (past the size that goes out with the head); with ?chunked, the same bytes
 * as a 60 KiB chunk and a small one. The body is 'a'..'z' repeated. */
static int h_big(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)arg;
    char name[16], value[80];
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof(name), "X-H%d", i);
        memset(value, 'v', 70);
        snprintf(value + 70, sizeof(value) - 70, "%d", i);
        CIO_ASSERT_OK(cio_http_resp_header(resp, name, value));
    }
    static char body[100 * 1024];
    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (char)('a' + i % 26);
    if (!cio_http_req_query_param(req, "chunked"))
        return cio_http_resp_body(resp, body, sizeof(body));
    int err = cio_http_resp_write(resp, body, 60 * 1024);
    return err ? err : cio_http_resp_write(resp, body + 60 * 1024, sizeof(body) - 60 * 1024);
}

/* Takes the connection over: its own 101, then the bytes that came with the
 * head ("early"), then what the client sends next ("then"). */
static int h_hijack(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)arg;
    cio_stream *s;
    const void *early;
    size_t nearly;
    CIO_ASSERT_ERR(cio_http_req_hijack(req, resp, NULL, &early, &nearly), -EINVAL);
    CIO_ASSERT_OK(cio_http_req_hijack(req, resp, &s, &early, &nearly));
    CIO_ASSERT_ERR(cio_http_req_hijack(req, resp, &s, &early, &nearly), -EALREADY);
    const char *head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\n"
                       "Connection: Upgrade\r\n\r\n";
    char text[256];
    int n =
        snprintf(text, sizeof(text), "%searly=[%.*s]\n", head, (int)nearly, (const char *)early);
    CIO_ASSERT_OK(cio_stream_write(s, text, (size_t)n));
    char buf[64];
    ssize_t got = cio_stream_read(s, buf, sizeof(buf));
    CIO_ASSERT_CMP(got, >, 0);
    n = snprintf(text, sizeof(text), "then=[%.*s]\n", (int)got, buf);
    CIO_ASSERT_OK(cio_stream_write(s, text, (size_t)n));
    cio_http_resp_status(resp, 500); /* ignored: the connection is the handler's */
    return 0;
}

/* ---- harness ---- */

typedef int (*server_test_fn)(cio_http_server **srv);

typedef struct harness {
    server_test_fn fn;
    cio_http_server_opts opts;
    const char *file;
} harness;

static int harness_main(void *arg)
{
    harness *h = arg;
    cio_http_app *app;
    CIO_ASSERT_OK(cio_http_app_new(&app, &h->opts));
    CIO_ASSERT_OK(cio_http_app_route(app, "GET", "/", h_hello, NULL));
    CIO_ASSERT_OK(cio_http_app_route(app, "GET", "/posts/{id}", h_post, NULL));
    CIO_ASSERT_OK(cio_http_app_route(app, "*", "/echo", h_echo, NULL));
    CIO_ASSERT_OK(cio_http_app_route(app, "POST", "/count", h_count, NULL));
    CIO_ASSERT_OK(cio_http_app_route(app, "GET", "/stream", h_stream, NULL));
    CIO_ASSERT_OK(cio_http_app_route(app, "GET", "/fail", h_fail, NULL));
    CIO_ASSERT_OK(cio_http_app_route(app, "GET", "/slow", h_slow, NULL));
    CIO_ASSERT_OK(cio_http_app_route(app, "GET", "/file", h_file, (void *)h->file));
    CIO_ASSERT_OK(cio_http_app_route(app, "GET", "/big", h_big, NULL));
    CIO_ASSERT_OK(cio_http_app_route(app, "GET", "/hijack", h_hijack, NULL));
    CIO_ASSERT_ERR(cio_http_app_route(app, "GET", "no-slash", h_hello, NULL), -EINVAL);
    cio_http_server *srv;
    CIO_ASSERT_OK(cio_http_serve(&srv, app, "127.0.0.1", 0));
    port = cio_http_server_port(srv);
    CIO_ASSERT(port > 0);
    int err = h->fn(&srv);
    if (srv)
        cio_http_server_close(srv);
    cio_http_app_free(app);
    return err;
}

static void run_harness(server_test_fn fn, const cio_http_server_opts *opts)
{
    harness h = {.fn = fn, .file = "/etc/hostname"};
    if (opts)
        h.opts = *opts;
    CIO_ASSERT_OK(cio_test_run(harness_main, &h));
}

/* Runs a shell command on a thread (the loop keeps serving) and captures its
 * standard output (and standard error with 2>&1 in the command). */
typedef struct command {
    char cmd[1024];
    char out[16384];
    int status;
} command;

static int run_command(void *arg)
{
    command *c = arg;
    FILE *p = popen(c->cmd, "r");
    if (!p)
        return -errno;
    size_t n = fread(c->out, 1, sizeof(c->out) - 1, p);
    c->out[n] = 0;
    c->status = pclose(p);
    return 0;
}

static command *curl(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static command *curl(const char *fmt, ...)
{
    static command c;
    memset(&c, 0, sizeof(c));
    char args[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(c.cmd, sizeof(c.cmd), "curl -sS --max-time 10 %s 2>&1", args);
    CIO_ASSERT_OK(cio_to_thread(run_command, &c));
    return &c;
}

/* Sends raw bytes on a new connection and reads until the server closes it
 * (or `secs` pass). Returns what was read. */
static int raw_closed_by_server; /* the last raw_exchange ended at the server's close */

static char *raw_exchange(const char *data, size_t len, double secs)
{
    static char buf[65536];
    int fd = cio_socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CIO_ASSERT_OK(cio_connect(fd, (struct sockaddr *)&a, sizeof(a)));
    CIO_ASSERT_EQ(cio_write_all(fd, data, len, NULL), (ssize_t)len);
    size_t got = 0;
    cio_scope s;
    CIO_ASSERT_OK(cio_timeout_enter(&s, secs));
    ssize_t n = -1;
    while (got < sizeof(buf) - 1 && (n = cio_recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0)
        got += (size_t)n;
    raw_closed_by_server = n == 0 || n == -ECONNRESET;
    cio_timeout_exit(&s);
    buf[got] = 0;
    cio_close(fd);
    return buf;
}

/* ---- tests ---- */

/* A request with "Connection: close" gets its response and then the end of
 * the connection, at once: the client reads to EOF well before any server
 * timeout, and a request pipelined behind it is not answered. */
static void expect_close(const char *reqs)
{
    static char buf[65536];
    int fd = cio_socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CIO_ASSERT_OK(cio_connect(fd, (struct sockaddr *)&a, sizeof(a)));
    CIO_ASSERT_EQ(cio_write_all(fd, reqs, strlen(reqs), NULL), (ssize_t)strlen(reqs));
    size_t got = 0;
    ssize_t n = 0;
    cio_scope s;
    CIO_ASSERT_OK(cio_timeout_enter(&s, 5)); /* the server's idle timeout is 60 s */
    while (got < sizeof(buf) - 1 && (n = cio_recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0)
        got += (size_t)n;
    CIO_ASSERT_OK(cio_timeout_exit(&s)); /* EOF came, not the timeout */
    CIO_ASSERT_EQ(n, 0);
    buf[got] = 0;
    cio_close(fd);
    CIO_ASSERT(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CIO_ASSERT(strstr(buf, "\r\nConnection: close\r\n"));
    CIO_ASSERT(strstr(buf, "Hello, World!"));
    CIO_ASSERT(!strstr(buf, "post 1")); /* a pipelined one is not served */
}

static int t_connection_close(cio_http_server **srv)
{
    (void)srv;
    expect_close("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect_close("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                 "GET /posts/1 HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_close("GET / HTTP/1.0\r\nHost: x\r\n\r\n"); /* 1.0: close unless keep-alive */
    return 0;
}

static void test_connection_close(void)
{
    run_harness(t_connection_close, NULL);
}

static int t_routes(cio_http_server **srv)
{
    (void)srv;
    command *c = curl("-i http://127.0.0.1:%d/", port);
    CIO_ASSERT(strstr(c->out, "HTTP/1.1 200 OK"));
    CIO_ASSERT(strstr(c->out, "Content-Length: 13"));
    CIO_ASSERT(strstr(c->out, "\r\n\r\nHello, World!"));
    c = curl("http://127.0.0.1:%d/posts/42?q=a%%20b", port);
    CIO_ASSERT_STR_EQ(c->out, "post 42 q=a b");
    c = curl("-i http://127.0.0.1:%d/nowhere", port);
    CIO_ASSERT(strstr(c->out, "HTTP/1.1 404 Not Found"));
    c = curl("-i -X DELETE http://127.0.0.1:%d/posts/1", port);
    CIO_ASSERT(strstr(c->out, "HTTP/1.1 405 Method Not Allowed"));
    CIO_ASSERT(strstr(c->out, "Allow: GET"));
    c = curl("-I http://127.0.0.1:%d/", port); /* HEAD: headers only */
    CIO_ASSERT(strstr(c->out, "Content-Length: 13"));
    CIO_ASSERT(!strstr(c->out, "Hello"));
    return 0;
}

static void test_routes_params_404_405(void)
{
    run_harness(t_routes, NULL);
}

static int t_keepalive(cio_http_server **srv)
{
    (void)srv;
    command *c = curl("-v http://127.0.0.1:%d/ http://127.0.0.1:%d/posts/1", port, port);
    CIO_ASSERT(strstr(c->out, "Re-using existing connection") ||
               strstr(c->out, "Reusing existing connection"));
    CIO_ASSERT(strstr(c->out, "Hello, World!") && strstr(c->out, "post 1 q=-"));
    return 0;
}

static void test_keepalive_reuse(void)
{
    run_harness(t_keepalive, NULL);
}

static int t_upload(cio_http_server **srv)
{
    (void)srv;
    command *c = curl("-H 'Transfer-Encoding: chunked' --data-binary @/etc/services "
                      "http://127.0.0.1:%d/count",
                      port);
    char want[32];
    struct stat st;
    stat("/etc/services", &st);
    snprintf(want, sizeof(want), "%lld", (long long)st.st_size);
    CIO_ASSERT_STR_EQ(c->out, want);
    c = curl("-i -H 'Expect: 100-continue' --data-binary hello http://127.0.0.1:%d/echo", port);
    CIO_ASSERT(strstr(c->out, "HTTP/1.1 100 Continue"));
    CIO_ASSERT(strstr(c->out, "X-Echo: POST 5"));
    CIO_ASSERT(strstr(c->out, "\r\n\r\nhello"));
    return 0;
}

static void test_chunked_upload_and_continue(void)
{
    run_harness(t_upload, NULL);
}

static int t_pipeline(cio_http_server **srv)
{
    (void)srv;
    const char *reqs = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                       "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                       "GET /posts/9 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    char *out = raw_exchange(reqs, strlen(reqs), 5);
    char *a = strstr(out, "Hello, World!"), *b = strstr(out, "X-Echo: POST 3"),
         *c = strstr(out, "post 9");
    CIO_ASSERT(a && b && c && a < b && b < c); /* three answers, in order */
    return 0;
}

static void test_pipelined_requests(void)
{
    run_harness(t_pipeline, NULL);
}

static int t_big(cio_http_server **srv)
{
    (void)srv;
    for (int chunked = 0; chunked < 2; chunked++) {
        command *c = curl("-s -D - -o /tmp/cio-big-%d.%d http://127.0.0.1:%d/big%s", port, chunked,
                          port, chunked ? "?chunked=1" : "");
        CIO_ASSERT(strstr(c->out, "HTTP/1.1 200"));
        CIO_ASSERT(
            strstr(c->out, chunked ? "Transfer-Encoding: chunked" : "Content-Length: 102400"));
        for (int i = 0; i < 40; i++) {
            char want[96];
            snprintf(want, sizeof(want), "X-H%d: vvvvvvvvvv", i);
            CIO_ASSERT(strstr(c->out, want));
        }
        char path[64];
        snprintf(path, sizeof(path), "/tmp/cio-big-%d.%d", port, chunked);
        char *body;
        size_t len;
        CIO_ASSERT_OK(cio_read_file(path, &body, &len, 0));
        unlink(path);
        CIO_ASSERT_CMP(len, ==, (size_t)100 * 1024);
        for (size_t i = 0; i < len; i++)
            if (body[i] != (char)('a' + i % 26))
                CIO_FAIL_AT("byte %zu of the %s body is wrong", i, chunked ? "chunked" : "plain");
        free(body);
    }
    return 0;
}

static void test_large_responses(void)
{
    run_harness(t_big, NULL);
}

static int t_stream_file(cio_http_server **srv)
{
    (void)srv;
    command *c = curl("-i http://127.0.0.1:%d/stream", port);
    CIO_ASSERT(strstr(c->out, "Transfer-Encoding: chunked"));
    CIO_ASSERT(strstr(c->out, "chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n"));
    c = curl("http://127.0.0.1:%d/file", port);
    char *text;
    size_t len;
    CIO_ASSERT_OK(cio_read_file("/etc/hostname", &text, &len, 0));
    CIO_ASSERT_STR_EQ(c->out, text);
    free(text);
    return 0;
}

static void test_streaming_and_sendfile(void)
{
    run_harness(t_stream_file, NULL);
}

static int t_bad_input(cio_http_server **srv)
{
    (void)srv;
    const char *bad = "GARBAGE\r\n\r\n";
    CIO_ASSERT(strncmp(raw_exchange(bad, strlen(bad), 5), "HTTP/1.1 400", 12) == 0);
    const char *smuggle = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    CIO_ASSERT(strncmp(raw_exchange(smuggle, strlen(smuggle), 5), "HTTP/1.1 400", 12) == 0);
    const char *two_cl = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                         "Content-Length: 4\r\n\r\nabcd";
    CIO_ASSERT(strncmp(raw_exchange(two_cl, strlen(two_cl), 5), "HTTP/1.1 400", 12) == 0);
    static char big[20000];
    int n = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX-Big: ");
    memset(big + n, 'a', 17000);
    memcpy(big + n + 17000, "\r\n\r\n", 5);
    CIO_ASSERT(strncmp(raw_exchange(big, strlen(big), 5), "HTTP/1.1 431", 12) == 0);
    command *c = curl("-i --data-binary @/etc/services http://127.0.0.1:%d/echo", port);
    CIO_ASSERT(strstr(c->out, "HTTP/1.1 413")); /* the limit is 1 KiB in this test */
    c = curl("-i -H 'Transfer-Encoding: chunked' --data-binary @/etc/services "
             "http://127.0.0.1:%d/count",
             port);
    CIO_ASSERT(strstr(c->out, "HTTP/1.1 413")); /* a streamed body has the limit too */
    c = curl("-i http://127.0.0.1:%d/fail", port);
    CIO_ASSERT(strstr(c->out, "HTTP/1.1 500"));
    c = curl("http://127.0.0.1:%d/", port); /* and the server goes on */
    CIO_ASSERT_STR_EQ(c->out, "Hello, World!");
    return 0;
}

static void test_bad_input(void)
{
    cio_http_server_opts o = {.max_body_bytes = 1024};
    cio_test_capture_stderr_begin(); /* the 500's report */
    run_harness(t_bad_input, &o);
    char *err = cio_test_capture_stderr_end();
    CIO_ASSERT(strstr(err, "GET /fail failed") && strstr(err, "on purpose"));
    free(err);
}

/* The server's own replies in JSON: opts.error_content_type alone gives the
 * default JSON body; opts.error_body writes its own. */
static int error_body_calls;

static long json_error_body(void *arg, int status, const char *reason, char *buf, size_t cap)
{
    error_body_calls++;
    int n = snprintf(buf, cap, "{\"code\":%d,\"message\":\"%s\",\"app\":\"%s\"}", status, reason,
                     (const char *)arg);
    return n;
}

/* Checks one reply: status line, JSON type, the body exactly. */
static void expect_json_reply(const char *out, const char *status_line, const char *body)
{
    CIO_ASSERT(strncmp(out, status_line, strlen(status_line)) == 0);
    CIO_ASSERT(strstr(out, "\r\nContent-Type: application/json\r\n"));
    const char *b = strstr(out, "\r\n\r\n");
    CIO_ASSERT(b);
    CIO_ASSERT_STR_EQ(b + 4, body);
    char cl[64];
    snprintf(cl, sizeof(cl), "\r\nContent-Length: %zu\r\n", strlen(body));
    CIO_ASSERT(strstr(out, cl));
}

static int t_json_errors(cio_http_server **srv)
{
    (void)srv;
    const char *get404 = "GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    expect_json_reply(raw_exchange(get404, strlen(get404), 5), "HTTP/1.1 404 ",
                      "{\"status\":404,\"error\":\"Not Found\"}\n");
    const char *del = "DELETE /posts/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    const char *out = raw_exchange(del, strlen(del), 5);
    expect_json_reply(out, "HTTP/1.1 405 ", "{\"status\":405,\"error\":\"Method Not Allowed\"}\n");
    CIO_ASSERT(strstr(out, "\r\nAllow: GET\r\n"));
    const char *big = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n";
    expect_json_reply(raw_exchange(big, strlen(big), 5), "HTTP/1.1 413 ",
                      "{\"status\":413,\"error\":\"Payload Too Large\"}\n");
    const char *bad = "GET / HTTP/1.1\r\nHost : x\r\n\r\n"; /* whitespace before the colon */
    expect_json_reply(raw_exchange(bad, strlen(bad), 5), "HTTP/1.1 400 ",
                      "{\"status\":400,\"error\":\"Bad Request\"}\n");
    const char *fail = "GET /fail HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    expect_json_reply(raw_exchange(fail, strlen(fail), 5), "HTTP/1.1 500 ",
                      "{\"status\":500,\"error\":\"Internal Server Error\"}\n");
    const char *ok = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    CIO_ASSERT(strstr(raw_exchange(ok, strlen(ok), 5), "\r\n\r\nHello, World!"));
    return 0;
}

static int t_error_body_fn(cio_http_server **srv)
{
    (void)srv;
    const char *get404 = "GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    expect_json_reply(raw_exchange(get404, strlen(get404), 5), "HTTP/1.1 404 ",
                      "{\"code\":404,\"message\":\"Not Found\",\"app\":\"demo\"}");
    const char *del = "DELETE /posts/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    const char *out = raw_exchange(del, strlen(del), 5);
    expect_json_reply(out, "HTTP/1.1 405 ",
                      "{\"code\":405,\"message\":\"Method Not Allowed\",\"app\":\"demo\"}");
    CIO_ASSERT(strstr(out, "\r\nAllow: GET\r\n"));
    const char *big = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n";
    expect_json_reply(raw_exchange(big, strlen(big), 5), "HTTP/1.1 413 ",
                      "{\"code\":413,\"message\":\"Payload Too Large\",\"app\":\"demo\"}");
    const char *bad = "GARBAGE\r\n\r\n";
    expect_json_reply(raw_exchange(bad, strlen(bad), 5), "HTTP/1.1 400 ",
                      "{\"code\":400,\"message\":\"Bad Request\",\"app\":\"demo\"}");
    CIO_ASSERT_EQ(error_body_calls, 4);
    return 0;
}

static void test_json_error_replies(void)
{
    cio_http_server_opts o = {
        .max_body_bytes = 1024, .quiet = 1, .error_content_type = "application/json"};
    run_harness(t_json_errors, &o);
    o.error_body = json_error_body;
    o.error_body_arg = "demo";
    run_harness(t_error_body_fn, &o);
}

static int t_timeouts(cio_http_server **srv)
{
    (void)srv;
    /* Slowloris: half a request head, then nothing: cut off by the header timeout. */
    /* Each ends at the server's close, not at our own 30 s bound: a check
     * of who closed, not of how long a busy machine took. */
    const char *partial = "GET / HTTP/1.1\r\nHost: x\r\n";
    char *out = raw_exchange(partial, strlen(partial), 30);
    CIO_ASSERT(strstr(out, "408") != NULL);
    CIO_ASSERT(raw_closed_by_server);
    /* A connection that never sends a byte is closed after the header timeout. */
    out = raw_exchange("", 0, 30);
    CIO_ASSERT_STR_EQ(out, "");
    CIO_ASSERT(raw_closed_by_server);
    /* An idle keep-alive connection is closed after the idle timeout. */
    const char *one = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    out = raw_exchange(one, strlen(one), 30);
    CIO_ASSERT(strstr(out, "Hello, World!"));
    CIO_ASSERT(raw_closed_by_server);
    return 0;
}

static void test_slowloris_and_idle_timeouts(void)
{
    cio_http_server_opts o = {.header_timeout = 0.3, .idle_timeout = 0.3};
    run_harness(t_timeouts, &o);
}

/* A libcio-http session whose base URL is the test server. */
static cio_http_session *own_session(void)
{
    cio_http_session *s;
    char base[64];
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
    cio_http_session_opts so = {.base_url = base};
    CIO_ASSERT_OK(cio_http_session_new(&s, &so));
    return s;
}

static int client_json(cio_http_server **srv)
{
    (void)srv;
    cio_http_session *s = own_session();
    json_t *in = json_pack("{s:s, s:i}", "title", "new", "userId", 3), *out;
    int status;
    const char *methods[] = {"POST", "PUT", "PATCH"};
    for (int i = 0; i < 3; i++) {
        CIO_ASSERT_OK(cio_http_send_json(s, methods[i], "/echo", in, &status, &out));
        CIO_ASSERT_EQ(status, 200);
        CIO_ASSERT(json_equal(in, out));
        json_decref(out);
    }
    json_decref(in);
    cio_http_response *r;
    cio_http_request del = {.method = "DELETE", .url = "/echo"};
    CIO_ASSERT_OK(cio_http_request_send(s, &del, &r));
    CIO_ASSERT_STR_EQ(cio_http_response_header(r, "x-echo"), "DELETE 0");
    cio_http_response_free(r);
    cio_http_session_close(s);
    return 0;
}

static void test_own_client_json_methods(void)
{
    run_harness(client_json, NULL);
}

/* The client cut short anywhere: a session GETs /posts/7 (and, every other
 * run, the 100 KiB /big) under a timeout growing from 0 to 1.5 times a whole
 * request. Each call returns the body or -ETIMEDOUT, nothing else, and the
 * session stays usable: a connection cut mid-response is not reused. */
static int client_cut(cio_http_server **srv)
{
    (void)srv;
    cio_http_session *s = own_session();
    enum { RUNS = 200 };
    cio_http_response *r;
    double t0 = cio_now();
    for (int i = 0; i < 4; i++) { /* warm up, and time a whole request */
        CIO_ASSERT_OK(cio_http_get(s, i % 2 ? "/big" : "/posts/7", &r));
        cio_http_response_free(r);
    }
    const double step = 1.5 * (cio_now() - t0) / 4 / RUNS;
    int done = 0, cut = 0;
    for (int k = 0; k < RUNS; k++) {
        const char *path = k % 2 ? "/big" : "/posts/7";
        cio_scope sc;
        CIO_ASSERT_OK(cio_timeout_enter(&sc, k * step));
        r = NULL;
        int err = cio_http_get(s, path, &r);
        cio_timeout_exit(&sc);
        if (err == -ETIMEDOUT) {
            CIO_ASSERT(r == NULL);
            cut++;
            continue;
        }
        if (err)
            CIO_FAIL_AT("run %d (%s): %s: %s", k, path, cio_strerror(err),
                        cio_task_message(cio_current()));
        size_t len;
        const char *body = cio_http_response_body(r, &len);
        CIO_ASSERT_EQ(cio_http_response_status(r), 200);
        if (k % 2)
            CIO_ASSERT_EQ(len, (size_t)100 * 1024);
        else
            CIO_ASSERT(strncmp(body, "post 7", 6) == 0);
        cio_http_response_free(r);
        done++;
    }
    CIO_ASSERT_CMP(cut, >, 0);
    CIO_ASSERT_CMP(done, >, 0);
    CIO_ASSERT_OK(cio_http_get(s, "/big", &r)); /* and the session still works */
    size_t len;
    cio_http_response_body(r, &len);
    CIO_ASSERT_EQ(len, (size_t)100 * 1024);
    cio_http_response_free(r);
    cio_http_session_close(s);
    return 0;
}

static void test_client_cut_anywhere(void)
{
    run_harness(client_cut, NULL);
}

static int slow_get(void *arg)
{
    return cio_to_thread(run_command, arg);
}

static int t_shutdown(cio_http_server **srv)
{
    static command c;
    snprintf(c.cmd, sizeof(c.cmd), "curl -sS --max-time 10 http://127.0.0.1:%d/slow 2>&1", port);
    cio_event_init(&slow_started);
    cio_event_init(&slow_go);
    cio_task *g = cio_spawn(slow_get, &c);
    CIO_ASSERT(g);
    cio_scope sc; /* bounded: under the torture runner the request may fail */
    CIO_ASSERT_OK(cio_timeout_enter(&sc, 20));
    CIO_ASSERT_OK(cio_event_wait(&slow_started)); /* the request is in flight */
    CIO_ASSERT_OK(cio_timeout_exit(&sc));
    cio_event_destroy(&slow_started);
    cio_event_set(&slow_go); /* it answers while the close waits for it */
    CIO_ASSERT_OK(cio_http_server_close(*srv));
    *srv = NULL;
    CIO_ASSERT_OK(cio_join(g));
    CIO_ASSERT_STR_EQ(c.out, "slow done"); /* it finished, it was not cut off */
    cio_event_destroy(&slow_go);
    return 0;
}

static void test_graceful_shutdown(void)
{
    run_harness(t_shutdown, NULL);
}

/* Reads from fd until `want` is in buf (or EOF, or 5 s pass). */
static size_t read_until_has(int fd, char *buf, size_t cap, size_t got, const char *want)
{
    cio_scope sc;
    CIO_ASSERT_OK(cio_timeout_enter(&sc, 5));
    while (!strstr(buf, want) && got < cap - 1) {
        ssize_t n = cio_recv(fd, buf + got, cap - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
        buf[got] = 0;
    }
    cio_timeout_exit(&sc);
    return got;
}

static int t_hijack(cio_http_server **srv)
{
    (void)srv;
    for (int with_early = 0; with_early < 2; with_early++) {
        int fd = cio_socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        CIO_ASSERT_OK(cio_connect(fd, (struct sockaddr *)&a, sizeof(a)));
        /* The head and the first bytes of the new protocol in one write. */
        char req[256];
        int n = snprintf(req, sizeof(req),
                         "GET /hijack HTTP/1.1\r\nHost: x\r\nUpgrade: test\r\n"
                         "Connection: Upgrade\r\n\r\n%s",
                         with_early ? "EARLY\r\n\r\nGET / HTTP/1.1\r\n" : "");
        CIO_ASSERT_EQ(cio_write_all(fd, req, (size_t)n, NULL), n);
        char buf[1024] = "";
        size_t got = read_until_has(fd, buf, sizeof(buf), 0, "]\n");
        CIO_ASSERT(strncmp(buf, "HTTP/1.1 101 Switching Protocols\r\n", 34) == 0);
        const char *want =
            with_early ? "\r\n\r\nearly=[EARLY\r\n\r\nGET / HTTP/1.1\r\n]\n" : "\r\n\r\nearly=[]\n";
        if (!strstr(buf, want))
            CIO_FAIL_AT("early bytes wrong: %s", buf);
        CIO_ASSERT_EQ(cio_write_all(fd, "LATER", 5, NULL), 5);
        got = read_until_has(fd, buf, sizeof(buf), got, "then=");
        got = read_until_has(fd, buf, sizeof(buf), got, "\x01"); /* until the server closes */
        CIO_ASSERT(strstr(buf, "then=[LATER]\n"));
        CIO_ASSERT(!strstr(buf, "Hello")); /* the bytes after the head were never served */
        CIO_ASSERT(!strstr(buf, "500"));
        cio_close(fd);
    }
    return 0;
}

static void test_hijack_hands_over_early_bytes(void)
{
    run_harness(t_hijack, NULL);
}

CIO_TEST_MAIN(((cio_test_case[]){
    CIO_TEST(test_routes_params_404_405, "routes, path and query parameters, 404, 405, HEAD"),
    CIO_TEST(test_keepalive_reuse, "curl reuses one keep-alive connection for two requests"),
    CIO_TEST(test_chunked_upload_and_continue, "chunked uploads and Expect: 100-continue"),
    CIO_TEST(test_pipelined_requests, "three pipelined requests get three answers in order"),
    CIO_TEST(test_streaming_and_sendfile, "chunked streaming responses and sendfile bodies"),
    CIO_TEST(test_large_responses,
             "a 3 KiB head and a 100 KiB body, plain and chunked, arrive whole and in order"),
    CIO_TEST(test_bad_input,
             "malformed, smuggling, 431, 413 and a failing handler; the server goes on"),
    CIO_TEST(test_json_error_replies,
             "the server's own 404, 405 (Allow kept), 413, 400 and 500 in JSON: the default "
             "JSON body and an app's error_body"),
    CIO_TEST(test_slowloris_and_idle_timeouts, "slow headers get 408; idle connections close"),
    CIO_TEST(test_own_client_json_methods, "libcio-http's client: JSON with POST/PUT/PATCH/DELETE"),
    CIO_TEST(test_client_cut_anywhere,
             "client requests cut short at 200 points: only the timeout, and the session goes on"),
    CIO_TEST(test_connection_close,
             "Connection: close: the response, then EOF at once; nothing pipelined after it"),
    CIO_TEST(test_graceful_shutdown, "closing the server lets an in-flight request finish"),
    CIO_TEST(test_hijack_hands_over_early_bytes,
             "an Upgrade handler takes the connection: its own 101, the bytes after the head "
             "exactly, then the stream; nothing after the head is served as HTTP"),
}))
