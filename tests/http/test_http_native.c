/* Tests of what libcio-http's native HTTP/1.1 client path adds: its pool
 * against a server that closes kept-alive connections, chunked bodies,
 * malformed and oversized responses, and cancellation mid-body. The server is
 * a scripted cio server on a free loopback port in the same loop, so every
 * byte it sends is chosen by the test. */
#include "cio/http.h"
#include "cio_test.h"

enum mode { HELLO, CLOSE_AFTER_ONE, CHUNKED, MALFORMED, BAD_CHUNK, BIG, STALL };

static struct {
    enum mode mode;
    int connections, requests;
    char last_head[2048];
    cio_event stalled; /* set once a STALL response is half sent */
} srv;

static int send_str(cio_stream *s, const char *str)
{
    return cio_stream_write(s, str, strlen(str));
}

/* One connection: answers requests by the current mode until the client
 * closes or the mode says to close. */
static int handler(cio_stream *s, void *arg)
{
    (void)arg;
    srv.connections++;
    for (;;) {
        char head[2048];
        ssize_t n = cio_stream_read_until(s, "\r\n\r\n", 4, head, sizeof(head) - 1);
        if (n <= 0)
            return 0;
        head[n] = 0;
        srv.requests++;
        memcpy(srv.last_head, head, (size_t)n + 1);
        const char *cl = strstr(head, "Content-Length: ");
        if (cl) { /* the request body: read and drop it */
            char body[256];
            size_t len = (size_t)atol(cl + 16);
            if (len > sizeof(body) || cio_stream_read_exactly(s, body, len, NULL) < 0)
                return 0;
        }
        switch (srv.mode) {
        case HELLO:
            send_str(s, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
            break;
        case CLOSE_AFTER_ONE: /* keep-alive promised, then closed */
            send_str(s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            cio_stream_drain(s);
            return 0;
        case CHUNKED:
            send_str(s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n"
                        "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
            break;
        case MALFORMED:
            send_str(s, "HTTP/1.1 abc OK\r\n\r\n");
            cio_stream_drain(s);
            return 0;
        case BAD_CHUNK:
            send_str(s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
            cio_stream_drain(s);
            return 0;
        case BIG: {
            static char body[2000];
            memset(body, 'b', sizeof(body));
            send_str(s, "HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n");
            cio_stream_write(s, body, sizeof(body));
            break;
        }
        case STALL: { /* part of the body, then nothing until the client closes */
            send_str(s, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n0123456789");
            cio_stream_drain(s);
            cio_event_set(&srv.stalled);
            char b[64];
            while (cio_stream_read(s, b, sizeof(b)) > 0) {
            }
            return 0;
        }
        }
        if (cio_stream_drain(s))
            return 0;
    }
}

static cio_server *server;
static char base[64];

static void start(enum mode m)
{
    memset(&srv, 0, sizeof(srv));
    srv.mode = m;
    cio_event_init(&srv.stalled);
    CIO_ASSERT_OK(cio_start_server(&server, "127.0.0.1", 0, handler, NULL, NULL));
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", cio_server_port(server));
}

static void stop(void)
{
    cio_server_close(server, 0);
    cio_event_destroy(&srv.stalled);
}

static cio_http_session *session(long max_redirects, size_t max_body)
{
    cio_http_session *s;
    cio_http_session_opts o = {
        .base_url = base, .max_redirects = max_redirects, .max_body = max_body};
    CIO_ASSERT_OK(cio_http_session_new(&s, &o));
    return s;
}

static int main_retry(void *arg)
{
    (void)arg;
    start(CLOSE_AFTER_ONE);
    cio_http_session *s = session(0, 0);
    cio_http_response *r;
    for (int i = 1; i <= 3; i++) {
        /* From the second on, the pooled connection is dead: one retry. */
        CIO_ASSERT_OK(cio_http_get(s, "/x", &r));
        CIO_ASSERT_EQ(cio_http_response_status(r), 200);
        CIO_ASSERT_STR_EQ(cio_http_response_body(r, NULL), "ok");
        cio_http_response_free(r);
        CIO_ASSERT_EQ(srv.connections, i);
        CIO_ASSERT_EQ(srv.requests, i);
    }
    /* This path, not libcurl's, sent them. */
    CIO_ASSERT(strstr(srv.last_head, "GET /x HTTP/1.1\r\n") == srv.last_head);
    CIO_ASSERT(strstr(srv.last_head, "\r\nAccept-Encoding: gzip, deflate\r\n") != NULL);
    cio_http_session_close(s);
    /* A POST is not repeated: the stale connection's failure is the result. */
    s = session(-1, 0);
    CIO_ASSERT_OK(cio_http_post(s, "/p", "a=1", 3, NULL, &r));
    CIO_ASSERT_EQ(cio_http_response_status(r), 200);
    cio_http_response_free(r);
    int before = srv.requests;
    CIO_ASSERT_ERR(cio_http_post(s, "/p", "a=2", 3, NULL, &r), -ECONNRESET);
    CIO_ASSERT(strstr(cio_task_message(cio_current()), "/p") != NULL);
    CIO_ASSERT_EQ(srv.requests, before);
    cio_http_session_close(s);
    stop();
    return 0;
}

static void test_stale_connection_retried_once(void)
{
    CIO_ASSERT_OK(cio_test_run(main_retry, NULL));
}

static int main_chunked(void *arg)
{
    (void)arg;
    start(CHUNKED);
    cio_http_session *s = session(0, 0);
    cio_http_response *r;
    for (int i = 0; i < 3; i++) {
        CIO_ASSERT_OK(cio_http_get(s, "/c", &r));
        size_t len;
        CIO_ASSERT_STR_EQ(cio_http_response_body(r, &len), "hello world");
        CIO_ASSERT_EQ(len, 11);
        CIO_ASSERT_STR_EQ(cio_http_response_header(r, "x-a"), "1");
        cio_http_response_free(r);
    }
    CIO_ASSERT_EQ(srv.connections, 1); /* kept alive */
    srv.mode = HELLO;
    CIO_ASSERT_OK(cio_http_get(s, "/h", &r));
    CIO_ASSERT_STR_EQ(cio_http_response_body(r, NULL), "hello");
    cio_http_response_free(r);
    CIO_ASSERT_EQ(srv.connections, 1);
    cio_http_session_close(s);
    stop();
    return 0;
}

static void test_chunked_and_kept_alive(void)
{
    CIO_ASSERT_OK(cio_test_run(main_chunked, NULL));
}

static int main_malformed(void *arg)
{
    (void)arg;
    start(MALFORMED);
    cio_http_session *s = session(0, 0);
    cio_http_response *r = NULL;
    CIO_ASSERT_ERR(cio_http_get(s, "/m", &r), -EPROTO);
    CIO_ASSERT(r == NULL);
    const char *msg = cio_task_message(cio_current());
    CIO_ASSERT(strstr(msg, "/m: malformed response") != NULL);
    srv.mode = BAD_CHUNK;
    CIO_ASSERT_ERR(cio_http_get(s, "/bad-chunk", &r), -EPROTO);
    CIO_ASSERT(strstr(cio_task_message(cio_current()), "/bad-chunk: malformed response"));
    srv.mode = HELLO; /* the broken connections were not pooled */
    int before = srv.connections;
    CIO_ASSERT_OK(cio_http_get(s, "/h", &r));
    cio_http_response_free(r);
    CIO_ASSERT_EQ(srv.connections, before + 1);
    cio_http_session_close(s);
    stop();
    return 0;
}

static void test_malformed_response_is_eproto(void)
{
    CIO_ASSERT_OK(cio_test_run(main_malformed, NULL));
}

static int main_big(void *arg)
{
    (void)arg;
    start(BIG);
    cio_http_session *s = session(0, 1000);
    cio_http_response *r = NULL;
    CIO_ASSERT_ERR(cio_http_get(s, "/big", &r), -EMSGSIZE);
    CIO_ASSERT(strstr(cio_task_message(cio_current()), "over the 1000-byte limit") != NULL);
    srv.mode = HELLO;
    CIO_ASSERT_OK(cio_http_get(s, "/h", &r));
    CIO_ASSERT_STR_EQ(cio_http_response_body(r, NULL), "hello");
    cio_http_response_free(r);
    CIO_ASSERT_EQ(srv.connections, 2); /* the half-read one was closed */
    cio_http_session_close(s);
    stop();
    return 0;
}

static void test_body_over_the_limit(void)
{
    CIO_ASSERT_OK(cio_test_run(main_big, NULL));
}

static int main_cancel(void *arg)
{
    (void)arg;
    start(STALL);
    cio_http_session *s = session(0, 0);
    cio_http_response *r = NULL;
    cio_scope sc;
    CIO_ASSERT_OK(cio_timeout_enter(&sc, 0.2));
    int err = cio_http_get(s, "/stall", &r);
    CIO_ASSERT_ERR(cio_timeout_exit(&sc), -ETIMEDOUT);
    CIO_ASSERT_ERR(err, -ETIMEDOUT);
    CIO_ASSERT(r == NULL);
    CIO_ASSERT(cio_event_is_set(&srv.stalled)); /* it was mid-body */
    srv.mode = HELLO;
    CIO_ASSERT_OK(cio_http_get(s, "/h", &r));
    CIO_ASSERT_STR_EQ(cio_http_response_body(r, NULL), "hello");
    cio_http_response_free(r);
    CIO_ASSERT_EQ(srv.connections, 2); /* not the half-read connection */
    /* A request's own timeout works the same way. */
    srv.mode = STALL;
    cio_http_request req = {.method = "GET", .url = "/stall", .timeout = 0.2};
    CIO_ASSERT_ERR(cio_http_request_send(s, &req, &r), -ETIMEDOUT);
    CIO_ASSERT(strstr(cio_task_message(cio_current()), "/stall") != NULL);
    cio_http_session_close(s);
    stop();
    return 0;
}

static void test_cancel_mid_body_leaves_pool_clean(void)
{
    CIO_ASSERT_OK(cio_test_run(main_cancel, NULL));
}

typedef struct getter {
    cio_http_session *s;
    int err;
} getter;

static int get_stall(void *arg)
{
    getter *g = arg;
    cio_http_response *r = NULL;
    g->err = cio_http_get(g->s, "/stall", &r);
    cio_http_response_free(r);
    return 0;
}

/* Closing the session under a request mid-body, and under one waiting for a
 * connection (max_connections 1), fails both with -ESHUTDOWN. */
static int main_close(void *arg)
{
    (void)arg;
    start(STALL);
    cio_http_session *s;
    cio_http_session_opts o = {.base_url = base, .max_connections = 1};
    CIO_ASSERT_OK(cio_http_session_new(&s, &o));
    getter a = {s, 1}, b = {s, 1};
    cio_task *ta = cio_spawn(get_stall, &a);
    CIO_ASSERT_OK(cio_event_wait(&srv.stalled));
    cio_task *tb = cio_spawn(get_stall, &b);
    CIO_ASSERT_OK(cio_yield()); /* b is now waiting for the one connection */
    CIO_ASSERT_EQ(b.err, 1);
    cio_http_session_close(s);
    CIO_ASSERT_OK(cio_join(ta));
    CIO_ASSERT_OK(cio_join(tb));
    CIO_ASSERT_EQ(a.err, -ESHUTDOWN);
    CIO_ASSERT_EQ(b.err, -ESHUTDOWN);
    CIO_ASSERT_EQ(srv.connections, 1);
    stop();
    return 0;
}

static void test_session_closed_under_requests(void)
{
    CIO_ASSERT_OK(cio_test_run(main_close, NULL));
}

CIO_TEST_MAIN(((cio_test_case[]){
    CIO_TEST(test_stale_connection_retried_once,
             "a kept-alive connection the server closed: GET retried once, POST not"),
    CIO_TEST(test_chunked_and_kept_alive, "chunked bodies; one connection serves every request"),
    CIO_TEST(test_malformed_response_is_eproto, "bad status line, bad chunk: -EPROTO, named"),
    CIO_TEST(test_body_over_the_limit, "a body over max_body: -EMSGSIZE; connection not pooled"),
    CIO_TEST(test_session_closed_under_requests,
             "closing the session ends a request mid-body and one waiting: -ESHUTDOWN"),
    CIO_TEST(test_cancel_mid_body_leaves_pool_clean,
             "a timeout mid-body: -ETIMEDOUT; the next request gets a new connection"),
}))
