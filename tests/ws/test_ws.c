/* libcio-ws: cio's client against cio's server on loopback, and raw-socket
 * peers for the cases a good client never produces: the handshake and its
 * refusals, messages (text, binary, fragmented, 1 MiB), limits, pings and
 * keepalive, the close handshake and its deadline, backpressure, broadcast,
 * cancellation, permessage-deflate and wss://. */
#include "ws_test.h"

/* ---- fixtures ---- */

typedef struct fixture {
    ws_server srv;
    ws_echo_rec rec;
    char url[128];
} fixture;

static void fixture_start(fixture *f, const cio_ws_opts *server_opts)
{
    memset(f, 0, sizeof(*f));
    if (server_opts)
        f->rec.opts = *server_opts;
    cio_event_init(&f->rec.done);
    CIO_ASSERT_OK(cio_http_app_new(&f->srv.app, NULL));
    CIO_ASSERT_OK(cio_http_app_route(f->srv.app, "GET", "/echo", ws_echo_handler, &f->rec));
    ws_server_start(&f->srv);
    ws_url(f->url, sizeof(f->url), "ws", f->srv.port, "/echo");
}

static void fixture_stop(fixture *f)
{
    ws_server_stop(&f->srv);
}

static int run(cio_fn fn)
{
    int err = cio_test_run(fn, NULL);
    if (!err)
        ws_leak_check();
    return err;
}

/* ---- messages ---- */

static int t_echo_main(void *arg)
{
    (void)arg;
    fixture f;
    fixture_start(&f, NULL);
    cio_ws *ws;
    CIO_ASSERT_OK(cio_ws_connect(&ws, f.url, NULL));
    CIO_ASSERT(cio_ws_is_open(ws));
    CIO_ASSERT_OK(cio_ws_send_text(ws, "héllo"));
    cio_ws_msg m;
    CIO_ASSERT_OK(cio_ws_recv(ws, &m));
    CIO_ASSERT_EQ(m.type, CIO_WS_TEXT);
    CIO_ASSERT_STR_EQ(m.data, "héllo");
    cio_ws_msg_free(&m);
    uint8_t bin[300];
    for (size_t i = 0; i < sizeof(bin); i++)
        bin[i] = (uint8_t)i;
    CIO_ASSERT_OK(cio_ws_send(ws, CIO_WS_BINARY, bin, sizeof(bin)));
    CIO_ASSERT_OK(cio_ws_send(ws, CIO_WS_BINARY, "", 0));
    CIO_ASSERT_OK(cio_ws_recv(ws, &m));
    CIO_ASSERT_EQ(m.type, CIO_WS_BINARY);
    CIO_ASSERT_EQ(m.len, sizeof(bin));
    CIO_ASSERT(memcmp(m.data, bin, sizeof(bin)) == 0);
    cio_ws_msg_free(&m);
    CIO_ASSERT_OK(cio_ws_recv(ws, &m));
    CIO_ASSERT_EQ(m.len, 0);
    cio_ws_msg_free(&m);
    CIO_ASSERT_OK(cio_ws_close(ws, 4001, "bye now"));
    CIO_ASSERT_OK(cio_event_wait(&f.rec.done));
    CIO_ASSERT_EQ(f.rec.close_code, 4001);
    CIO_ASSERT_STR_EQ(f.rec.close_reason, "bye now");
    CIO_ASSERT_EQ(f.rec.recv_err, -EPIPE);
    CIO_ASSERT_OK(f.rec.close_err);
    fixture_stop(&f);
    return 0;
}

static void test_echo(void)
{
    CIO_ASSERT_OK(run(t_echo_main));
}

static int t_big_main(void *arg)
{
    (void)arg;
    fixture f;
    fixture_start(&f, NULL);
    cio_ws *ws;
    CIO_ASSERT_OK(cio_ws_connect(&ws, f.url, NULL));
    size_t n = 1024 * 1024;
    char *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    CIO_ASSERT_OK(cio_ws_send(ws, CIO_WS_TEXT, big, n));
    cio_ws_msg m;
    CIO_ASSERT_OK(cio_ws_recv(ws, &m));
    CIO_ASSERT_EQ(m.len, n);
    CIO_ASSERT(memcmp(m.data, big, n) == 0);
    cio_ws_msg_free(&m);
    /* Streamed in fragments, a UTF-8 character split between two of them;
     * the echo joins them into one message. */
    CIO_ASSERT_OK(cio_ws_send_part(ws, CIO_WS_TEXT, "ab\xc3", 3, 0));
    CIO_ASSERT_OK(cio_ws_send_part(ws, CIO_WS_TEXT, "\xa9", 1, 0));
    CIO_ASSERT_OK(cio_ws_send_part(ws, CIO_WS_TEXT, big, 100000, 1));
    CIO_ASSERT_OK(cio_ws_recv(ws, &m));
    CIO_ASSERT_EQ(m.len, 100004);
    CIO_ASSERT(memcmp(m.data, "ab\xc3\xa9", 4) == 0);
    cio_ws_msg_free(&m);
    /* One byte over the limit: refused with 1009 from the frame header. */
    char *over = realloc(big, n + 1);
    over[n] = 'x';
    CIO_ASSERT_OK(cio_ws_send(ws, CIO_WS_BINARY, over, n + 1));
    CIO_ASSERT_ERR(cio_ws_recv(ws, &m), -EPIPE);
    CIO_ASSERT_EQ(cio_ws_close_code(ws), CIO_WS_TOO_BIG);
    free(over);
    cio_ws_close(ws, 0, NULL);
    CIO_ASSERT_OK(cio_event_wait(&f.rec.done));
    CIO_ASSERT_EQ(f.rec.recv_err, -EMSGSIZE);
    fixture_stop(&f);
    return 0;
}

static void test_big(void)
{
    CIO_ASSERT_OK(run(t_big_main));
}

/* recv_part hands the parts of a message as they come; a cancelled recv
 * keeps what it took for the next call. */
static int part_server(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    cio_event *go = arg;
    cio_ws *ws;
    if (cio_ws_accept(req, resp, &ws, NULL))
        return 0;
    CIO_ASSERT_OK(cio_ws_send_part(ws, CIO_WS_BINARY, "one", 3, 0));
    CIO_ASSERT_OK(cio_event_wait(go));
    CIO_ASSERT_OK(cio_ws_send_part(ws, CIO_WS_BINARY, "two", 3, 1));
    cio_ws_msg m;
    CIO_ASSERT_ERR(cio_ws_recv(ws, &m), -EPIPE);
    cio_ws_close(ws, 0, NULL);
    return 0;
}

static int t_cancel_recv_main(void *arg)
{
    (void)arg;
    cio_event go;
    cio_event_init(&go);
    ws_server s = {0};
    CIO_ASSERT_OK(cio_http_app_new(&s.app, NULL));
    CIO_ASSERT_OK(cio_http_app_route(s.app, "GET", "/p", part_server, &go));
    ws_server_start(&s);
    char url[128];
    cio_ws *ws;
    CIO_ASSERT_OK(cio_ws_connect(&ws, ws_url(url, sizeof(url), "ws", s.port, "/p"), NULL));
    cio_ws_msg m;
    cio_scope sc;
    cio_timeout_enter(&sc, 0.2);
    CIO_ASSERT_ERR(cio_ws_recv(ws, &m), -ETIMEDOUT); /* "one" was taken, "two" not sent */
    cio_timeout_exit(&sc);
    cio_event_set(&go);
    CIO_ASSERT_OK(cio_ws_recv(ws, &m));
    CIO_ASSERT_EQ(m.len, 6);
    CIO_ASSERT_STR_EQ(m.data, "onetwo");
    cio_ws_msg_free(&m);
    CIO_ASSERT_OK(cio_ws_close(ws, 0, NULL));
    ws_server_stop(&s);
    return 0;
}

static void test_cancel_recv(void)
{
    CIO_ASSERT_OK(run(t_cancel_recv_main));
}

static int recv_task(void *arg)
{
    cio_ws_msg m;
    int err = cio_ws_recv(arg, &m);
    if (!err)
        cio_ws_msg_free(&m);
    return err;
}

static int t_recv_part_main(void *arg)
{
    (void)arg;
    cio_event go;
    cio_event_init(&go);
    cio_event_set(&go);
    ws_server s = {0};
    CIO_ASSERT_OK(cio_http_app_new(&s.app, NULL));
    CIO_ASSERT_OK(cio_http_app_route(s.app, "GET", "/p", part_server, &go));
    ws_server_start(&s);
    char url[128];
    cio_ws *ws;
    CIO_ASSERT_OK(cio_ws_connect(&ws, ws_url(url, sizeof(url), "ws", s.port, "/p"), NULL));
    cio_ws_msg m;
    int fin;
    CIO_ASSERT_OK(cio_ws_recv_part(ws, &m, &fin));
    CIO_ASSERT_EQ(fin, 0);
    CIO_ASSERT_EQ(m.type, CIO_WS_BINARY);
    CIO_ASSERT_STR_EQ(m.data, "one");
    cio_ws_msg_free(&m);
    CIO_ASSERT_ERR(cio_ws_recv(ws, &m), -EBUSY); /* inside a streamed message */
    CIO_ASSERT(strstr(cio_task_message(cio_current()), "in parts") != NULL);
    CIO_ASSERT_OK(cio_ws_recv_part(ws, &m, &fin));
    CIO_ASSERT_EQ(fin, 1);
    CIO_ASSERT_STR_EQ(m.data, "two");
    cio_ws_msg_free(&m);
    /* One reader at a time: a second one is refused at once, with a message,
     * and the first goes on waiting. */
    cio_task *reader = cio_spawn(recv_task, ws);
    CIO_ASSERT_OK(cio_yield()); /* it runs first (FIFO) and parks in its recv */
    CIO_ASSERT_ERR(cio_ws_recv(ws, &m), -EBUSY);
    CIO_ASSERT(strstr(cio_task_message(cio_current()), "another task is receiving") != NULL);
    CIO_ASSERT_ERR(cio_ws_recv_part(ws, &m, &fin), -EBUSY);
    CIO_ASSERT(cio_task_done(reader) == 0);
    cio_cancel(reader);
    CIO_ASSERT_ERR(cio_join(reader), -ECANCELED);
    CIO_ASSERT_OK(cio_ws_close(ws, 0, NULL));
    ws_server_stop(&s);
    return 0;
}

static void test_recv_part(void)
{
    CIO_ASSERT_OK(run(t_recv_part_main));
}

/* ---- the handshake ---- */

/* The frame sent in the same write as the upgrade request reaches the
 * WebSocket (the server had read it with the head). */
static int t_early_main(void *arg)
{
    (void)arg;
    fixture f;
    fixture_start(&f, NULL);
    uint8_t fr[64];
    size_t n = ws_raw_frame(fr, 1, 0, 1, "early", 5, 1);
    cio_stream *s = ws_raw_open(f.srv.port, fr, n);
    uint8_t buf[64];
    size_t len;
    CIO_ASSERT_EQ(ws_raw_read_frame(s, buf, sizeof(buf), &len), 1);
    CIO_ASSERT_EQ(len, 5);
    CIO_ASSERT(memcmp(buf, "early", 5) == 0);
    n = ws_raw_frame(fr, 1, 0, 8, "\x03\xe8", 2, 1);
    CIO_ASSERT_OK(cio_stream_write(s, fr, n));
    CIO_ASSERT_EQ(ws_raw_read_frame(s, buf, sizeof(buf), &len), 8);
    CIO_ASSERT_EQ(len, 2);
    CIO_ASSERT_EQ(cio_stream_read(s, buf, 1), 0); /* the server closes TCP first */
    cio_stream_close(s);
    CIO_ASSERT_OK(cio_event_wait(&f.rec.done));
    CIO_ASSERT_EQ(f.rec.close_code, 1000);
    fixture_stop(&f);
    return 0;
}

static void test_early_bytes(void)
{
    CIO_ASSERT_OK(run(t_early_main));
}

/* What a handler reads of its request after cio_ws_accept: the hijack
 * shrinks the request's URL buffer (W21), and path, query and path
 * parameters must still read right. */
typedef struct req_seen {
    char path[64], query[64], param[64], qparam[64];
    cio_event done;
} req_seen;

static int request_after_accept(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    req_seen *rs = arg;
    cio_ws *ws;
    if (cio_ws_accept(req, resp, &ws, NULL))
        return 0;
    const char *z = cio_http_req_query_param(req, "z");
    snprintf(rs->path, sizeof(rs->path), "%s", cio_http_req_path(req));
    snprintf(rs->query, sizeof(rs->query), "%s", cio_http_req_query(req));
    snprintf(rs->param, sizeof(rs->param), "%s", cio_http_req_param(req, "x"));
    snprintf(rs->qparam, sizeof(rs->qparam), "%s", z ? z : "(none)");
    cio_ws_close(ws, 0, NULL);
    cio_event_set(&rs->done);
    return 0;
}

static int t_request_after_accept_main(void *arg)
{
    (void)arg;
    req_seen rs = {0};
    cio_event_init(&rs.done);
    ws_server srv;
    CIO_ASSERT_OK(cio_http_app_new(&srv.app, NULL));
    CIO_ASSERT_OK(cio_http_app_route(srv.app, "GET", "/r/{x}", request_after_accept, &rs));
    ws_server_start(&srv);
    char url[128];
    cio_ws *ws;
    CIO_ASSERT_OK(
        cio_ws_connect(&ws, ws_url(url, sizeof(url), "ws", srv.port, "/r/abc?q=1&z=%41b"), NULL));
    CIO_ASSERT_OK(cio_event_wait(&rs.done));
    cio_ws_close(ws, 0, NULL);
    CIO_ASSERT_STR_EQ(rs.path, "/r/abc");
    CIO_ASSERT_STR_EQ(rs.query, "q=1&z=%41b");
    CIO_ASSERT_STR_EQ(rs.param, "abc");
    CIO_ASSERT_STR_EQ(rs.qparam, "Ab");
    ws_server_stop(&srv);
    return 0;
}

static void test_request_after_accept(void)
{
    CIO_ASSERT_OK(run(t_request_after_accept_main));
}

/* Sends a raw request head and returns the status the server answers. */
static int raw_status(int port, const char *head, char *answer, size_t cap)
{
    cio_stream *s;
    CIO_ASSERT_OK(cio_open_connection(&s, "127.0.0.1", port, NULL));
    CIO_ASSERT_OK(cio_stream_write(s, head, strlen(head)));
    ssize_t n = cio_stream_read_until(s, "\r\n\r\n", 4, answer, cap - 1);
    CIO_ASSERT(n > 12);
    answer[n] = 0;
    cio_stream_close(s);
    return atoi(answer + 9);
}

#define REQ(extra) "GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n" extra "\r\n"
#define GOOD_KEY "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"

static int t_refusals_main(void *arg)
{
    (void)arg;
    const char *allowed[] = {"https://good.example", NULL};
    cio_ws_opts so = {.origins = allowed};
    fixture f;
    fixture_start(&f, &so);
    char a[1024];
    int p = f.srv.port;
    CIO_ASSERT_EQ(
        raw_status(p, REQ("Connection: Upgrade\r\n" GOOD_KEY "Sec-WebSocket-Version: 13\r\n"), a,
                   sizeof(a)),
        426); /* no Upgrade */
    CIO_ASSERT_EQ(raw_status(p,
                             REQ("Upgrade: websocket\r\n" GOOD_KEY "Sec-WebSocket-Version: 13\r\n"),
                             a, sizeof(a)),
                  400); /* no Connection: upgrade */
    CIO_ASSERT_EQ(
        raw_status(p,
                   REQ("Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" GOOD_KEY
                       "Sec-WebSocket-Version: 8\r\n"),
                   a, sizeof(a)),
        426);
    CIO_ASSERT(strstr(a, "Sec-WebSocket-Version: 13") != NULL);
    CIO_ASSERT_EQ(raw_status(p,
                             REQ("Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                 "Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n"),
                             a, sizeof(a)),
                  400);
    CIO_ASSERT_EQ(raw_status(p,
                             REQ("Upgrade: websocket\r\nConnection: Upgrade\r\n" GOOD_KEY
                                 "Sec-WebSocket-Version: 13\r\nOrigin: https://evil.example\r\n"),
                             a, sizeof(a)),
                  403);
    CIO_ASSERT_EQ(raw_status(p,
                             REQ("Upgrade: websocket\r\nConnection: Upgrade\r\n" GOOD_KEY
                                 "Sec-WebSocket-Version: 13\r\nOrigin: https://good.example\r\n"),
                             a, sizeof(a)),
                  101);
    CIO_ASSERT_OK(cio_event_wait(&f.rec.done));
    CIO_ASSERT_EQ(f.rec.accepted, 1);
    fixture_stop(&f);
    /* Default: same origin only. */
    fixture_start(&f, NULL);
    p = f.srv.port;
    CIO_ASSERT_EQ(raw_status(p,
                             REQ("Upgrade: websocket\r\nConnection: Upgrade\r\n" GOOD_KEY
                                 "Sec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.2\r\n"),
                             a, sizeof(a)),
                  403);
    CIO_ASSERT_EQ(raw_status(p,
                             REQ("Upgrade: websocket\r\nConnection: Upgrade\r\n" GOOD_KEY
                                 "Sec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1\r\n"),
                             a, sizeof(a)),
                  101);
    CIO_ASSERT_OK(cio_event_wait(&f.rec.done));
    /* A POST is refused. */
    cio_http_app_route(f.srv.app, "POST", "/echo", ws_echo_handler, &f.rec);
    fixture_stop(&f);
    return 0;
}

static void test_refusals(void)
{
    CIO_ASSERT_OK(run(t_refusals_main));
}

static int h_redirect(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)req;
    (void)arg;
    cio_http_resp_status(resp, 302);
    cio_http_resp_header(resp, "Location", "ws://elsewhere.example/");
    return 0;
}

static int t_client_checks_main(void *arg)
{
    (void)arg;
    const char *sp[] = {"chat.v2", "chat.v1", NULL};
    cio_ws_opts so = {.subprotocols = sp};
    fixture f;
    fixture_start(&f, &so);
    CIO_ASSERT_OK(cio_http_app_route(f.srv.app, "GET", "/redirect", h_redirect, NULL));
    const char *want[] = {"chat.v1", "chat.v2", NULL};
    const char *hdrs[] = {"X-Test: 42", NULL};
    cio_ws_opts co = {.subprotocols = want, .headers = hdrs};
    cio_ws *ws;
    CIO_ASSERT_OK(cio_ws_connect(&ws, f.url, &co));
    CIO_ASSERT_STR_EQ(cio_ws_subprotocol(ws), "chat.v2"); /* the server's preference */
    CIO_ASSERT_OK(cio_ws_close(ws, 0, NULL));
    CIO_ASSERT_OK(cio_event_wait(&f.rec.done));
    CIO_ASSERT_STR_EQ(f.rec.subprotocol, "chat.v2");
    CIO_ASSERT_STR_EQ(f.rec.header_seen, "42");
    /* None in common: no subprotocol. */
    const char *other[] = {"x", NULL};
    co.subprotocols = other;
    CIO_ASSERT_OK(cio_ws_connect(&ws, f.url, &co));
    CIO_ASSERT(cio_ws_subprotocol(ws) == NULL);
    CIO_ASSERT_OK(cio_ws_close(ws, 0, NULL));
    char url[128];
    CIO_ASSERT_ERR(
        cio_ws_connect(&ws, ws_url(url, sizeof(url), "ws", f.srv.port, "/redirect"), NULL),
        -EPROTO);
    CIO_ASSERT_ERR(
        cio_ws_connect(&ws, ws_url(url, sizeof(url), "ws", f.srv.port, "/nothing"), NULL), -EPROTO);
    CIO_ASSERT_ERR(cio_ws_connect(&ws, "http://127.0.0.1/", NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_ws_connect(&ws, "ws://", NULL), -EINVAL);
    const char *bad[] = {"X-Evil: a\r\nX-More: b", NULL};
    co.headers = bad;
    CIO_ASSERT_ERR(cio_ws_connect(&ws, f.url, &co), -EINVAL);
    fixture_stop(&f);
    return 0;
}

static void test_client_checks(void)
{
    CIO_ASSERT_OK(run(t_client_checks_main));
}

/* A hand-written server for the client's checks of the answer: it reads the
 * upgrade request, then either answers 101 with a right accept key and a
 * subprotocol the client did not offer, or never answers. */
int cio__ws_accept_key(const char *key, char out[29]); /* libcio-ws's, linked statically */

typedef struct raw_answer {
    int silent;
    cio_event release; /* the silent server holds the connection until set */
} raw_answer;

static int raw_answer_handler(cio_stream *s, void *arg)
{
    raw_answer *ra = arg;
    char head[2048];
    ssize_t n = cio_stream_read_until(s, "\r\n\r\n", 4, head, sizeof(head) - 1);
    if (n <= 0)
        return 0;
    head[n] = 0;
    if (ra->silent)
        return cio_event_wait(&ra->release);
    const char *k = strstr(head, "Sec-WebSocket-Key: ");
    char key[64] = {0}, accept[29];
    if (k)
        sscanf(k + 19, "%63[^\r]", key);
    cio__ws_accept_key(key, accept);
    char out[512];
    int len = snprintf(out, sizeof(out),
                       "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
                       "Sec-WebSocket-Protocol: chat.v9\r\n\r\n",
                       accept);
    cio_stream_write(s, out, (size_t)len);
    return cio_stream_drain(s);
}

static int t_client_answer_main(void *arg)
{
    (void)arg;
    raw_answer ra = {0};
    cio_event_init(&ra.release);
    cio_server *srv;
    CIO_ASSERT_OK(cio_start_server(&srv, "127.0.0.1", 0, raw_answer_handler, &ra, NULL));
    char url[128];
    ws_url(url, sizeof(url), "ws", cio_server_port(srv), "/");
    cio_ws *ws = NULL;
    /* A subprotocol that was not offered fails the connect, named. */
    const char *want[] = {"chat.v1", "chat.v2", NULL};
    cio_ws_opts co = {.subprotocols = want};
    CIO_ASSERT_ERR(cio_ws_connect(&ws, url, &co), -EPROTO);
    CIO_ASSERT(strstr(cio_task_message(cio_current()), "subprotocol chat.v9, not offered") != NULL);
    CIO_ASSERT(ws == NULL);
    /* A server that never answers: -ETIMEDOUT once open_timeout has passed
     * (and not before), named. */
    ra.silent = 1;
    co = (cio_ws_opts){.open_timeout = 0.3};
    double t0 = cio_now();
    CIO_ASSERT_ERR(cio_ws_connect(&ws, url, &co), -ETIMEDOUT);
    CIO_ASSERT(cio_now() - t0 >= 0.3 - 1e-3);
    CIO_ASSERT(strstr(cio_task_message(cio_current()), "0.3") != NULL);
    CIO_ASSERT(ws == NULL);
    cio_event_set(&ra.release);
    CIO_ASSERT_OK(cio_server_close(srv, 1.0));
    cio_event_destroy(&ra.release);
    return 0;
}

static void test_client_answer(void)
{
    CIO_ASSERT_OK(run(t_client_answer_main));
}

/* ---- control: pings, keepalive, close ---- */

/* A handler that never reads until told: pings are answered all the same. */
static int idle_handler(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    cio_ws_opts *o = arg;
    cio_ws *ws;
    if (cio_ws_accept(req, resp, &ws, o))
        return 0;
    cio_ws_wait_closed(ws);
    cio_ws_close(ws, 0, NULL);
    return 0;
}

static int t_ping_main(void *arg)
{
    (void)arg;
    ws_server s = {0};
    CIO_ASSERT_OK(cio_http_app_new(&s.app, NULL));
    CIO_ASSERT_OK(cio_http_app_route(s.app, "GET", "/idle", idle_handler, NULL));
    ws_server_start(&s);
    char url[128];
    cio_ws *ws;
    CIO_ASSERT_OK(cio_ws_connect(&ws, ws_url(url, sizeof(url), "ws", s.port, "/idle"), NULL));
    double rtt = -1;
    CIO_ASSERT(cio_ws_rtt(ws) < 0);
    CIO_ASSERT_OK(cio_ws_ping(ws, "abc", 3, &rtt));
    CIO_ASSERT(rtt >= 0 && rtt < 5);
    CIO_ASSERT(cio_ws_rtt(ws) >= 0);
    CIO_ASSERT_OK(cio_ws_ping(ws, NULL, 0, NULL));
    CIO_ASSERT_ERR(cio_ws_ping(ws, url, 126, NULL), -EINVAL);
    CIO_ASSERT_OK(cio_ws_close(ws, CIO_WS_GOING_AWAY, "done"));
    ws_server_stop(&s);
    return 0;
}

static void test_ping(void)
{
    CIO_ASSERT_OK(run(t_ping_main));
}

/* Keepalive: a peer that never answers pings is failed with 1011 after the
 * ping timeout; one that answers keeps the connection and gives an RTT. */
static int t_keepalive_main(void *arg)
{
    (void)arg;
    cio_ws_opts so = {.ping_interval = 0.05, .ping_timeout = 0.1, .close_timeout = 0.3};
    fixture f;
    fixture_start(&f, &so);
    /* A raw peer that reads nothing. */
    cio_stream *raw = ws_raw_open(f.srv.port, NULL, 0);
    double t0 = cio_now();
    CIO_ASSERT_OK(cio_event_wait(&f.rec.done));
    CIO_ASSERT_EQ(f.rec.recv_err, -ETIMEDOUT);
    CIO_ASSERT(cio_now() - t0 < 4);
    cio_stream_close(raw);
    /* cio's client answers the pings by itself, also while not reading. */
    cio_event_clear(&f.rec.done);
    cio_ws *ws;
    CIO_ASSERT_OK(cio_ws_connect(&ws, f.url, NULL));
    CIO_ASSERT_OK(cio_sleep(0.4));
    CIO_ASSERT(cio_ws_is_open(ws));
    CIO_ASSERT_OK(cio_ws_send_text(ws, "still here"));
    cio_ws_msg m;
    CIO_ASSERT_OK(cio_ws_recv(ws, &m));
    cio_ws_msg_free(&m);
    CIO_ASSERT_OK(cio_ws_close(ws, 0, NULL));
    CIO_ASSERT_OK(cio_event_wait(&f.rec.done));
    fixture_stop(&f);
    return 0;
}

static void test_keepalive(void)
{
    CIO_ASSERT_OK(run(t_keepalive_main));
}

/* Keepalive pings go out one ping_interval apart, not one ping_timeout apart,
 * when each is answered at once; the answered ping's round trip is kept
 * (cio_ws_rtt). Timers never fire early, so the lower bound on each gap
 * holds on a busy machine. */
static int t_keepalive_interval_main(void *arg)
{
    (void)arg;
    const double interval = 1.2, timeout = 0.8;
    cio_ws_opts so = {.ping_interval = interval, .ping_timeout = timeout, .close_timeout = 1};
    fixture f;
    fixture_start(&f, &so);
    cio_stream *raw = ws_raw_open(f.srv.port, NULL, 0);
    double seen[3];
    for (int i = 0; i < 3; i++) {
        uint8_t buf[125], pong[140];
        size_t n;
        CIO_ASSERT_EQ(ws_raw_read_frame(raw, buf, sizeof(buf), &n), 0x9);
        seen[i] = cio_now();
        size_t pn = ws_raw_frame(pong, 1, 0, 0xA, buf, n, 1);
        CIO_ASSERT_OK(cio_stream_write(raw, pong, pn));
    }
    for (int i = 1; i < 3; i++)
        CIO_ASSERT(seen[i] - seen[i - 1] > interval - 0.05); /* was ping_timeout apart */
    uint8_t close[16];
    size_t cn = ws_raw_frame(close, 1, 0, 0x8, "\x03\xe8", 2, 1);
    CIO_ASSERT_OK(cio_stream_write(raw, close, cn));
    CIO_ASSERT_OK(cio_event_wait(&f.rec.done));
    CIO_ASSERT_EQ(f.rec.close_code, CIO_WS_NORMAL);
    CIO_ASSERT(f.rec.rtt >= 0 && f.rec.rtt < timeout);
    cio_stream_close(raw);
    fixture_stop(&f);
    return 0;
}

static void test_keepalive_interval(void)
{
    CIO_ASSERT_OK(run(t_keepalive_interval_main));
}

/* Writes 1 KiB data frames without pause until the stream fails. */
static int flood_task(void *arg)
{
    static uint8_t fr[1100];
    static const char payload[1024];
    size_t n = ws_raw_frame(fr, 1, 0, 2, payload, sizeof(payload), 1);
    long frames = 0;
    while (cio_stream_write(arg, fr, n) == 0)
        frames++;
    return frames > 0 ? 0 : -EIO;
}

/* The close deadline holds whatever the peer does: a raw peer that never
 * answers the close frame and never closes TCP, and meanwhile sends a few
 * pings, or floods data frames. */
static int close_deadline_case(int flood)
{
    cio_ws_opts so = {.close_timeout = 0.3};
    fixture f;
    fixture_start(&f, &so);
    cio_stream *raw = ws_raw_open(f.srv.port, NULL, 0);
    uint8_t fr[64], buf[200];
    size_t n = ws_raw_frame(fr, 1, 0, 1, "hi", 2, 1), len;
    CIO_ASSERT_OK(cio_stream_write(raw, fr, n));
    CIO_ASSERT_EQ(ws_raw_read_frame(raw, buf, sizeof(buf), &len), 1);
    /* An invalid frame: reserved bit set. The server fails the connection
     * with 1002 and waits for our close frame, which never comes. */
    double t0 = cio_now();
    n = ws_raw_frame(fr, 1, 2, 2, "x", 1, 1);
    CIO_ASSERT_OK(cio_stream_write(raw, fr, n));
    CIO_ASSERT_EQ(ws_raw_read_frame(raw, buf, sizeof(buf), &len), 8);
    CIO_ASSERT_EQ(buf[0] << 8 | buf[1], 1002);
    cio_task *flooder = NULL;
    if (flood) {
        flooder = cio_spawn(flood_task, raw);
    } else {
        for (int i = 0; i < 5; i++) {
            n = ws_raw_frame(fr, 1, 0, 9, "p", 1, 1);
            cio_stream_write(raw, fr, n);
        }
    }
    CIO_ASSERT_OK(cio_event_wait(&f.rec.done));
    double took = cio_now() - t0;
    CIO_ASSERT_EQ(f.rec.recv_err, -EPROTO);
    CIO_ASSERT_ERR(f.rec.close_err, -ETIMEDOUT);
    CIO_ASSERT_CMP(took, >=, 0.25);
    CIO_ASSERT_CMP(took, <, 3);
    if (flooder) {
        cio_cancel(flooder);
        int ferr = cio_join(flooder);
        CIO_ASSERT(ferr == 0 || ferr == -ECANCELED);
    }
    cio_stream_close(raw);
    fixture_stop(&f);
    return 0;
}

static int t_close_deadline_main(void *arg)
{
    (void)arg;
    return close_deadline_case(0);
}

static void test_close_deadline(void)
{
    CIO_ASSERT_OK(run(t_close_deadline_main));
}

static int t_close_flood_main(void *arg)
{
    (void)arg;
    return close_deadline_case(1);
}

static void test_close_flood(void)
{
    CIO_ASSERT_OK(run(t_close_flood_main));
}

/* A peer that vanishes: 1006 and -ECONNRESET. */
static int t_vanish_main(void *arg)
{
    (void)arg;
    fixture f;
    fixture_start(&f, NULL);
    cio_stream *raw = ws_raw_open(f.srv.port, NULL, 0);
    cio_stream_close(raw);
    CIO_ASSERT_OK(cio_event_wait(&f.rec.done));
    CIO_ASSERT_EQ(f.rec.recv_err, -ECONNRESET);
    CIO_ASSERT_EQ(f.rec.close_code, 1006);
    CIO_ASSERT_ERR(f.rec.close_err, -ECONNRESET);
    fixture_stop(&f);
    return 0;
}

static void test_vanish(void)
{
    CIO_ASSERT_OK(run(t_vanish_main));
}

/* ---- backpressure and broadcast ---- */

typedef struct bp_state {
    cio_ws *ws;
    cio_event ready, stop;
    int nowait_eagain;
    size_t max_buffered;
} bp_state;

static int bp_handler(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    bp_state *st = arg;
    cio_ws_opts o = {.write_high = 64 * 1024,
                     .write_low = 16 * 1024,
                     .write_cap = 256 * 1024,
                     .close_timeout = 0.3};
    if (cio_ws_accept(req, resp, &st->ws, &o))
        return 0;
    cio_event_set(&st->ready);
    cio_event_wait(&st->stop);
    cio_ws_close(st->ws, 0, NULL);
    st->ws = NULL;
    return 0;
}

static int t_backpressure_main(void *arg)
{
    (void)arg;
    bp_state st = {0};
    cio_event_init(&st.ready);
    cio_event_init(&st.stop);
    ws_server s = {0};
    CIO_ASSERT_OK(cio_http_app_new(&s.app, NULL));
    CIO_ASSERT_OK(cio_http_app_route(s.app, "GET", "/echo", bp_handler, &st));
    ws_server_start(&s);
    cio_stream *raw = ws_raw_open(s.port, NULL, 0); /* never reads */
    CIO_ASSERT_OK(cio_event_wait(&st.ready));
    static char chunk[8192];
    /* Non-waiting sends fill the queue to the high-water mark, then
     * -EAGAIN; the queue never passes high + one message. */
    int sent = 0, err = 0;
    while ((err = cio_ws_send_nowait(st.ws, CIO_WS_BINARY, chunk, sizeof(chunk))) == 0) {
        sent++;
        CIO_ASSERT(sent < 100000);
        if (cio_ws_send_buffered(st.ws) > st.max_buffered)
            st.max_buffered = cio_ws_send_buffered(st.ws);
        cio_yield();
    }
    CIO_ASSERT_ERR(err, -EAGAIN);
    CIO_ASSERT(st.max_buffered <= 64 * 1024 + sizeof(chunk) + 64);
    /* A waiting send suspends (here: until the timeout). */
    cio_scope sc;
    cio_timeout_enter(&sc, 0.1);
    CIO_ASSERT_ERR(cio_ws_send(st.ws, CIO_WS_BINARY, chunk, sizeof(chunk)), -ETIMEDOUT);
    cio_timeout_exit(&sc);
    /* Broadcast does not wait: it queues past the high mark until the cap,
     * then closes the slow consumer with 1008. */
    cio_ws *list[1] = {st.ws};
    ssize_t q;
    int rounds = 0;
    while ((q = cio_ws_broadcast(list, 1, CIO_WS_BINARY, chunk, sizeof(chunk))) == 1)
        rounds++;
    CIO_ASSERT_EQ(q, 0);
    CIO_ASSERT(rounds > 0);
    CIO_ASSERT(!cio_ws_is_open(st.ws));
    CIO_ASSERT(cio_ws_send_buffered(st.ws) <= 256 * 1024);
    CIO_ASSERT_ERR(cio_ws_send_nowait(st.ws, CIO_WS_BINARY, "x", 1), -ENOBUFS);
    cio_event_set(&st.stop);
    while (st.ws)
        cio_sleep(0.01);
    cio_stream_close(raw);
    ws_server_stop(&s);
    return 0;
}

static void test_backpressure(void)
{
    CIO_ASSERT_OK(run(t_backpressure_main));
}

/* Several tasks send at once: every message arrives whole, in each task's
 * order. */
typedef struct multi {
    cio_ws *ws;
    int id;
} multi;

static int multi_sender(void *arg)
{
    multi *m = arg;
    char buf[64];
    for (int i = 0; i < 200; i++) {
        int n = snprintf(buf, sizeof(buf), "%d:%d", m->id, i);
        CIO_ASSERT_OK(cio_ws_send(m->ws, CIO_WS_TEXT, buf, (size_t)n));
    }
    return 0;
}

static int t_many_senders_main(void *arg)
{
    (void)arg;
    fixture f;
    fixture_start(&f, NULL);
    cio_ws *ws;
    CIO_ASSERT_OK(cio_ws_connect(&ws, f.url, NULL));
    multi m[4];
    cio_task *t[4];
    for (int i = 0; i < 4; i++) {
        m[i] = (multi){ws, i};
        t[i] = cio_spawn(multi_sender, &m[i]);
    }
    int next[4] = {0};
    for (int k = 0; k < 800; k++) {
        cio_ws_msg msg;
        CIO_ASSERT_OK(cio_ws_recv(ws, &msg));
        int id, i;
        CIO_ASSERT_EQ(sscanf(msg.data, "%d:%d", &id, &i), 2);
        CIO_ASSERT_EQ(i, next[id]);
        next[id]++;
        cio_ws_msg_free(&msg);
    }
    for (int i = 0; i < 4; i++)
        CIO_ASSERT_OK(cio_join(t[i]));
    CIO_ASSERT_OK(cio_ws_close(ws, 0, NULL));
    fixture_stop(&f);
    return 0;
}

static void test_many_senders(void)
{
    CIO_ASSERT_OK(run(t_many_senders_main));
}

/* A send cancelled while it waits for room queued nothing; what was queued
 * before goes out whole. A fragmented message abandoned by a cancelled send
 * fails the connection with 1011. */
typedef struct cancel_state {
    cio_ws *ws;
    cio_event ready, stop;
    int part_err;
    long sent; /* sends that returned 0 */
} cancel_state;

static int cancel_handler(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    cancel_state *st = arg;
    cio_ws_opts o = {.write_high = 16 * 1024, .close_timeout = 0.5};
    if (cio_ws_accept(req, resp, &st->ws, &o))
        return 0;
    cio_event_set(&st->ready);
    cio_event_wait(&st->stop);
    cio_ws_close(st->ws, 0, NULL);
    st->ws = NULL;
    return 0;
}

static int blocked_sender(void *arg)
{
    cancel_state *st = arg;
    static char chunk[32 * 1024];
    for (;;) {
        int err = cio_ws_send(st->ws, CIO_WS_BINARY, chunk, sizeof(chunk));
        if (err)
            return err;
        st->sent++;
    }
}

static int blocked_streamer(void *arg)
{
    cancel_state *st = arg;
    static char chunk[32 * 1024];
    int err = 0;
    while (!err)
        err = cio_ws_send_part(st->ws, CIO_WS_BINARY, chunk, sizeof(chunk), 0);
    st->part_err = err;
    return err;
}

static int t_cancel_send_main(void *arg)
{
    (void)arg;
    cancel_state st = {0};
    cio_event_init(&st.ready);
    cio_event_init(&st.stop);
    ws_server s = {0};
    CIO_ASSERT_OK(cio_http_app_new(&s.app, NULL));
    CIO_ASSERT_OK(cio_http_app_route(s.app, "GET", "/echo", cancel_handler, &st));
    ws_server_start(&s);
    char url[128];
    cio_ws *client;
    cio_ws_opts co = {.max_queue = 1, .max_message = SIZE_MAX};
    CIO_ASSERT_OK(cio_ws_connect(&client, ws_url(url, sizeof(url), "ws", s.port, "/echo"), &co));
    CIO_ASSERT_OK(cio_event_wait(&st.ready));
    /* The client does not read: the server's sender ends up waiting. */
    cio_task *t = cio_spawn(blocked_sender, &st);
    while (cio_ws_send_buffered(st.ws) < 16 * 1024)
        CIO_ASSERT_OK(cio_sleep(0.01));
    CIO_ASSERT_OK(cio_sleep(0.05));
    cio_cancel(t);
    CIO_ASSERT_ERR(cio_join(t), -ECANCELED);
    CIO_ASSERT(cio_ws_is_open(st.ws));
    /* Reading now: every message that was queued arrives whole. */
    long got = 0;
    for (;;) {
        cio_ws_msg m;
        cio_scope rs;
        /* Everything sent arrives; then nothing more (the cancelled send
         * queued nothing). */
        cio_timeout_enter(&rs, got < st.sent ? 30 : 0.3);
        int rerr = cio_ws_recv(client, &m);
        cio_timeout_exit(&rs);
        if (rerr == -ETIMEDOUT && got == st.sent)
            break;
        CIO_ASSERT_OK(rerr);
        CIO_ASSERT_EQ(m.len, 32 * 1024);
        got++;
        cio_ws_msg_free(&m);
    }
    CIO_ASSERT_EQ(got, st.sent);
    CIO_ASSERT_EQ(cio_ws_send_buffered(st.ws), 0);
    /* Now a streamed message whose sender is cancelled in the middle. */
    t = cio_spawn(blocked_streamer, &st);
    CIO_ASSERT_OK(cio_sleep(0.1));
    cio_cancel(t);
    cio_join(t);
    CIO_ASSERT_ERR(st.part_err, -ECANCELED);
    CIO_ASSERT(!cio_ws_is_open(st.ws));
    /* The client drains and sees 1011 (the data after the abandoned frames
     * was dropped). */
    cio_ws_msg m;
    int err;
    while ((err = cio_ws_recv(client, &m)) == 0)
        cio_ws_msg_free(&m);
    CIO_ASSERT_ERR(err, -EPIPE);
    CIO_ASSERT_EQ(cio_ws_close_code(client), CIO_WS_INTERNAL_ERROR);
    cio_ws_close(client, 0, NULL);
    cio_event_set(&st.stop);
    while (st.ws)
        CIO_ASSERT_OK(cio_sleep(0.01));
    ws_server_stop(&s);
    return 0;
}

static void test_cancel_send(void)
{
    CIO_ASSERT_OK(run(t_cancel_send_main));
}

/* ---- permessage-deflate ---- */

static int t_deflate_main(void *arg)
{
    (void)arg;
    cio_ws_opts so = {.deflate = 1, .max_message = 64 * 1024};
    fixture f;
    fixture_start(&f, &so);
    for (int variant = 0; variant < 3; variant++) {
        cio_ws_opts co = {.deflate = 1};
        if (variant == 1)
            co.deflate_no_context_takeover = co.deflate_peer_no_context_takeover = 1;
        if (variant == 2)
            co.deflate_peer_max_window_bits = 8; /* the server may not compress with 8 */
        cio_ws *ws;
        CIO_ASSERT_OK(cio_ws_connect(&ws, f.url, &co));
        CIO_ASSERT(cio_ws_deflate(ws));
        char text[4000];
        for (size_t i = 0; i < sizeof(text) - 1; i++)
            text[i] = "the quick brown fox "[i % 20];
        text[sizeof(text) - 1] = 0;
        for (int k = 0; k < 5; k++) {
            CIO_ASSERT_OK(cio_ws_send_text(ws, text));
            cio_ws_msg m;
            CIO_ASSERT_OK(cio_ws_recv(ws, &m));
            CIO_ASSERT_STR_EQ(m.data, text);
            cio_ws_msg_free(&m);
        }
        /* A bomb: 1 MiB of zeros compresses to ~1 KiB, over the server's
         * 64 KiB limit once inflated: refused with 1009 while inflating. */
        if (variant == 0) {
            char *zeros = calloc(1, 1024 * 1024);
            CIO_ASSERT_OK(cio_ws_send(ws, CIO_WS_BINARY, zeros, 1024 * 1024));
            free(zeros);
            cio_ws_msg m;
            CIO_ASSERT_ERR(cio_ws_recv(ws, &m), -EPIPE);
            CIO_ASSERT_EQ(cio_ws_close_code(ws), CIO_WS_TOO_BIG);
        }
        cio_ws_close(ws, 0, NULL);
    }
    /* Not offered by the client: plain. */
    cio_ws *ws;
    CIO_ASSERT_OK(cio_ws_connect(&ws, f.url, NULL));
    CIO_ASSERT(!cio_ws_deflate(ws));
    CIO_ASSERT_OK(cio_ws_close(ws, 0, NULL));
    fixture_stop(&f);
    return 0;
}

static void test_deflate(void)
{
    CIO_ASSERT_OK(run(t_deflate_main));
}

/* ---- wss:// ---- */

#ifdef CIO_TEST_CERTS
static int t_wss_main(void *arg)
{
    (void)arg;
    cio_http_server_opts ho = {0};
    cio_tls_config *stls, *ctls;
    CIO_ASSERT_OK(cio_tls_server_config_new(&stls, CIO_TEST_CERTS "/server.pem",
                                            CIO_TEST_CERTS "/server.key"));
    ho.stream.tls = stls;
    fixture f;
    memset(&f, 0, sizeof(f));
    cio_event_init(&f.rec.done);
    CIO_ASSERT_OK(cio_http_app_new(&f.srv.app, &ho));
    CIO_ASSERT_OK(cio_http_app_route(f.srv.app, "GET", "/echo", ws_echo_handler, &f.rec));
    ws_server_start(&f.srv);
    CIO_ASSERT_OK(cio_tls_client_config_new(&ctls));
    CIO_ASSERT_OK(cio_tls_config_load_ca(ctls, CIO_TEST_CERTS "/ca.pem"));
    cio_ws_opts co = {.stream.tls = ctls, .stream.server_hostname = "localhost"};
    char url[128];
    cio_ws *ws;
    CIO_ASSERT_OK(cio_ws_connect(&ws, ws_url(url, sizeof(url), "wss", f.srv.port, "/echo"), &co));
    CIO_ASSERT_OK(cio_ws_send_text(ws, "over TLS"));
    cio_ws_msg m;
    CIO_ASSERT_OK(cio_ws_recv(ws, &m));
    CIO_ASSERT_STR_EQ(m.data, "over TLS");
    cio_ws_msg_free(&m);
    CIO_ASSERT_OK(cio_ws_close(ws, 0, NULL));
    /* Without the CA, verification fails. */
    cio_ws_opts bad = {0};
    CIO_ASSERT(cio_ws_connect(&ws, url, &bad) < 0);
    cio_tls_config_free(ctls);
    cio_tls_config_free(stls);
    fixture_stop(&f);
    return 0;
}

static void test_wss(void)
{
    CIO_ASSERT_OK(run(t_wss_main));
}
#endif

static const cio_test_case tests[] = {
    CIO_TEST(test_echo,
             "text and binary echo, empty message, close code and reason reach the server"),
    CIO_TEST(test_big,
             "1 MiB message, streamed fragments with split UTF-8, 1 MiB + 1 refused with 1009"),
    CIO_TEST(test_recv_part,
             "recv_part hands parts with fin; recv inside a streamed message or while another "
             "task receives is -EBUSY with a message"),
    CIO_TEST(test_cancel_recv,
             "a cancelled recv keeps the part it took; the next recv completes the message"),
    CIO_TEST(test_early_bytes,
             "a frame sent with the upgrade head reaches the WebSocket; server closes TCP first"),
    CIO_TEST(test_request_after_accept,
             "after accept the handler still reads path, query and parameters right"),
    CIO_TEST(test_refusals,
             "426/400/403 for bad upgrades; Origin allow-list and same-origin default"),
    CIO_TEST(test_client_checks,
             "subprotocol choice, extra headers, redirect and non-101 refused, bad URL/header"),
    CIO_TEST(test_client_answer,
             "a subprotocol not offered fails the connect; a silent server: -ETIMEDOUT at "
             "open_timeout"),
    CIO_TEST(test_ping, "ping with RTT while the server never reads; oversized ping refused"),
    CIO_TEST(test_keepalive,
             "keepalive fails a silent peer with -ETIMEDOUT; cio client keeps it alive"),
    CIO_TEST(test_keepalive_interval,
             "keepalive pings go one interval apart when answered; the RTT is kept"),
    CIO_TEST(test_close_deadline,
             "1002 for reserved bits; the close deadline holds against a peer that never closes"),
    CIO_TEST(test_close_flood,
             "a peer flooding data frames instead of a close: the close deadline holds"),
    CIO_TEST(test_vanish, "a peer that drops TCP gives 1006 and -ECONNRESET"),
    CIO_TEST(test_backpressure,
             "nowait -EAGAIN at high water, send suspends, broadcast closes at cap with 1008"),
    CIO_TEST(test_cancel_send, "a cancelled send queues nothing and earlier messages arrive whole; "
                               "an abandoned fragmented message fails with 1011"),
    CIO_TEST(test_many_senders, "four tasks sending at once: every message whole and in order"),
    CIO_TEST(test_deflate,
             "permessage-deflate with takeover, no takeover, 8 bits; inflated-size limit"),
#ifdef CIO_TEST_CERTS
    CIO_TEST(test_wss, "wss:// through cio's TLS with verification"),
#endif
};

CIO_TEST_MAIN(tests)
