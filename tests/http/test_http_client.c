/* Tests of libcio-http's client against a real, independent server: a
 * private nginx on a free loopback port. */
#include <jansson.h>

#include "cio/http.h"
#include "nginx_fixture.h"

static nginx_fixture fx;

static void with_nginx(cio_fn main)
{
    nginx_start(&fx);
    int err = cio_test_run(main, NULL);
    nginx_stop(&fx);
    CIO_ASSERT_OK(err);
}

static cio_http_session *session(void)
{
    cio_http_session *s;
    cio_http_session_opts o = {.base_url = fx.base};
    CIO_ASSERT_OK(cio_http_session_new(&s, &o));
    return s;
}

static int main_get(void *arg)
{
    (void)arg;
    cio_http_session *s = session();
    cio_http_response *r;
    CIO_ASSERT_OK(cio_http_get(s, "/hello.txt", &r));
    CIO_ASSERT_EQ(cio_http_response_status(r), 200);
    size_t len;
    CIO_ASSERT_STR_EQ(cio_http_response_body(r, &len), "Hello from nginx\n");
    CIO_ASSERT_EQ(len, 17);
    CIO_ASSERT_STR_EQ(cio_http_response_header(r, "content-type"), "text/plain");
    CIO_ASSERT(strncmp(cio_http_response_header(r, "SERVER"), "nginx", 5) == 0);
    CIO_ASSERT(cio_http_response_header(r, "x-missing") == NULL);
    CIO_ASSERT_OK(cio_http_raise_for_status(r));
    CIO_ASSERT_STR_EQ(cio_http_response_version(r), "HTTP/1.1");
    cio_http_response_free(r);
    /* HEAD: headers, no body. */
    cio_http_request head = {.method = "HEAD", .url = "/hello.txt"};
    CIO_ASSERT_OK(cio_http_request_send(s, &head, &r));
    CIO_ASSERT_EQ(cio_http_response_status(r), 200);
    cio_http_response_body(r, &len);
    CIO_ASSERT_EQ(len, 0);
    cio_http_response_free(r);
    cio_http_session_close(s);
    return 0;
}

static void test_get_and_head(void)
{
    with_nginx(main_get);
}

static int main_status(void *arg)
{
    (void)arg;
    cio_http_session *s = session();
    cio_http_response *r;
    CIO_ASSERT_OK(cio_http_get(s, "/missing", &r)); /* any status is a response */
    CIO_ASSERT_EQ(cio_http_response_status(r), 404);
    CIO_ASSERT_ERR(cio_http_raise_for_status(r), -ENOENT);
    CIO_ASSERT(strstr(cio_task_message(cio_current()), "404 Not Found for http://127.0.0.1:"));
    cio_http_response_free(r);
    CIO_ASSERT_OK(cio_http_get(s, "/teapot", &r));
    CIO_ASSERT_EQ(cio_http_response_status(r), 418);
    CIO_ASSERT_ERR(cio_http_raise_for_status(r), -EPROTO);
    cio_http_response_free(r);
    cio_http_session_close(s);
    return 0;
}

static void test_status_and_raise(void)
{
    with_nginx(main_status);
}

static int main_redirects(void *arg)
{
    (void)arg;
    cio_http_session *s = session();
    cio_http_response *r;
    CIO_ASSERT_OK(cio_http_get(s, "/redirect", &r));
    CIO_ASSERT_EQ(cio_http_response_status(r), 200);
    CIO_ASSERT(strstr(cio_http_response_url(r), "/hello.txt") != NULL);
    cio_http_response_free(r);
    CIO_ASSERT_ERR(cio_http_get(s, "/loop", &r), -ELOOP);
    CIO_ASSERT(strstr(cio_task_message(cio_current()), "/loop") != NULL);
    cio_http_session_close(s);
    return 0;
}

static void test_redirects(void)
{
    with_nginx(main_redirects);
}

static int main_gzip_query(void *arg)
{
    (void)arg;
    cio_http_session *s = session();
    cio_http_response *r;
    CIO_ASSERT_OK(cio_http_get(s, "/text.txt", &r));
    CIO_ASSERT_STR_EQ(cio_http_response_header(r, "content-encoding"), "gzip");
    size_t len;
    const char *body = cio_http_response_body(r, &len);
    CIO_ASSERT(strncmp(body, "line 000 of a compressible text\n", 32) == 0); /* decoded */
    CIO_ASSERT_EQ(len, 200 * 32);
    cio_http_response_free(r);
    cio_http_request req = {.method = "GET",
                            .url = "/args",
                            .query = (const char *const[]){"q", "a b&c", "n", "1", NULL}};
    CIO_ASSERT_OK(cio_http_request_send(s, &req, &r));
    CIO_ASSERT_STR_EQ(cio_http_response_body(r, NULL), "q=a%20b%26c&n=1");
    cio_http_response_free(r);
    cio_http_session_close(s);
    return 0;
}

static void test_gzip_and_query(void)
{
    with_nginx(main_gzip_query);
}

typedef struct fetch {
    cio_http_session *s;
    int status;
} fetch;

static int fetch_one(void *arg)
{
    fetch *f = arg;
    cio_http_response *r;
    int err = cio_http_get(f->s, "/hello.txt", &r);
    if (err)
        return err;
    f->status = cio_http_response_status(r);
    cio_http_response_free(r);
    return 0;
}

static int main_concurrent(void *arg)
{
    (void)arg;
    cio_http_session *s;
    cio_http_session_opts o = {.base_url = fx.base, .max_connections = 10};
    CIO_ASSERT_OK(cio_http_session_new(&s, &o));
    enum { N = 200 };
    static fetch f[N];
    static cio_task *t[N];
    for (int i = 0; i < N; i++) {
        f[i] = (fetch){s, 0};
        t[i] = cio_spawn(fetch_one, &f[i]);
    }
    CIO_ASSERT_OK(cio_gather(t, N, 0));
    for (int i = 0; i < N; i++) {
        CIO_ASSERT_OK(cio_join(t[i]));
        CIO_ASSERT_EQ(f[i].status, 200);
    }
    cio_http_session_close(s);
    return 0;
}

static void test_concurrent_requests_pooled(void)
{
    with_nginx(main_concurrent);
}

static int main_stream(void *arg)
{
    (void)arg;
    cio_http_session *s = session();
    cio_http_stream *st;
    int status;
    cio_http_request req = {.method = "GET", .url = "/big.bin"};
    CIO_ASSERT_OK(cio_http_stream_open(s, &req, &st, &status));
    CIO_ASSERT_EQ(status, 200);
    CIO_ASSERT_STR_EQ(cio_http_stream_header(st, "Content-Type"), "text/plain");
    size_t total = 0;
    char buf[10000];
    ssize_t n;
    while ((n = cio_http_stream_read(st, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n; i++)
            CIO_ASSERT_EQ((unsigned char)buf[i], ((total + (size_t)i) * 7) & 0xff);
        total += (size_t)n;
        if (total % (1024 * 1024) < sizeof(buf))
            cio_sleep(0.01); /* a slow reader: curl is paused meanwhile */
    }
    CIO_ASSERT_EQ(n, 0);
    CIO_ASSERT_EQ(total, FIXTURE_BIG_SIZE);
    cio_http_stream_close(st);
    cio_http_session_close(s);
    return 0;
}

static void test_streaming_download(void)
{
    with_nginx(main_stream);
}

static int main_cancel(void *arg)
{
    (void)arg;
    cio_http_session *s = session();
    cio_http_response *r;
    cio_scope sc;
    CIO_ASSERT_OK(cio_timeout_enter(&sc, 0.2));
    int err = cio_http_get(s, "/slow", &r); /* 4 MiB at 64 KiB/s: far too slow */
    CIO_ASSERT_ERR(cio_timeout_exit(&sc), -ETIMEDOUT);
    CIO_ASSERT_ERR(err, -ETIMEDOUT);
    /* The session still works; the half-read connection was not reused. */
    CIO_ASSERT_OK(cio_http_get(s, "/hello.txt", &r));
    CIO_ASSERT_STR_EQ(cio_http_response_body(r, NULL), "Hello from nginx\n");
    cio_http_response_free(r);
    cio_http_session_close(s);
    return 0;
}

static void test_cancel_mid_transfer(void)
{
    with_nginx(main_cancel);
}

static int main_errors(void *arg)
{
    (void)arg;
    cio_http_session *s;
    CIO_ASSERT_OK(cio_http_session_new(&s, NULL));
    cio_http_response *r;
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", fixture_free_port());
    CIO_ASSERT_ERR(cio_http_get(s, url, &r), -ECONNREFUSED);
    CIO_ASSERT(strstr(cio_task_message(cio_current()), url) != NULL);
    CIO_ASSERT_ERR(cio_http_get(s, "http://no-such-host.invalid/", &r), -ENOENT);
    CIO_ASSERT(strstr(cio_task_message(cio_current()), "no-such-host.invalid") != NULL);
    CIO_ASSERT_ERR(cio_http_get(s, "nope://x", &r), -EINVAL);
    CIO_ASSERT_ERR(cio_http_get(NULL, "/", &r), -EINVAL);
    CIO_ASSERT_ERR(cio_http_request_send(s, &(cio_http_request){0}, &r), -EINVAL);
    cio_http_session_close(s);
    cio_http_session_close(NULL);
    return 0;
}

static void test_errors_name_the_url(void)
{
    cio_http_response_free(NULL); /* documented no-op after a failed request (issue 14) */
    CIO_ASSERT_OK(cio_test_run(main_errors, NULL));
    cio_http_session *s;
    CIO_ASSERT_ERR(cio_http_session_new(&s, NULL), -EPERM);
}

static int main_json(void *arg)
{
    (void)arg;
    cio_http_session *s = session();
    json_t *j;
    CIO_ASSERT_OK(cio_http_get_json(s, "/post.json", &j));
    CIO_ASSERT_EQ(json_integer_value(json_object_get(j, "id")), 1);
    CIO_ASSERT_STR_EQ(json_string_value(json_object_get(j, "title")), "first post");
    json_decref(j);
    CIO_ASSERT_ERR(cio_http_get_json(s, "/broken.json", &j), -EBADMSG);
    CIO_ASSERT_ERR(cio_http_get_json(s, "/missing.json", &j), -ENOENT);
    cio_http_session_close(s);
    return 0;
}

static void test_json(void)
{
    with_nginx(main_json);
}

/* Easy handles are reused with their session options: a reused handle must
 * not keep the last request's method, body or timeout. nginx answers 405 to
 * a POST on a static file. */
static int main_reuse(void *arg)
{
    (void)arg;
    cio_http_session *s = session();
    cio_http_response *r;
    for (int i = 0; i < 3; i++) {
        CIO_ASSERT_OK(cio_http_post(s, "/hello.txt", "x=1", 3, NULL, &r));
        CIO_ASSERT_EQ(cio_http_response_status(r), 405);
        cio_http_response_free(r);
        cio_http_request head = {.method = "HEAD", .url = "/hello.txt", .timeout = 5};
        CIO_ASSERT_OK(cio_http_request_send(s, &head, &r));
        size_t len;
        cio_http_response_body(r, &len);
        CIO_ASSERT_EQ(len, 0);
        cio_http_response_free(r);
        CIO_ASSERT_OK(cio_http_get(s, "/hello.txt", &r));
        CIO_ASSERT_EQ(cio_http_response_status(r), 200);
        CIO_ASSERT_STR_EQ(cio_http_response_body(r, &len), "Hello from nginx\n");
        cio_http_response_free(r);
    }
    cio_http_session_close(s);
    return 0;
}

static void test_handles_reused_cleanly(void)
{
    with_nginx(main_reuse);
}

/* The proxy environment is read when a session is created: http_proxy
 * pointing at a closed port refuses, no_proxy exempts the host, and a later
 * change of the environment does not affect a live session. */
static int main_proxy_env(void *arg)
{
    (void)arg;
    char proxy[64];
    snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", fixture_free_port());
    cio_http_session *plain = session();
    setenv("http_proxy", proxy, 1);
    unsetenv("no_proxy");
    unsetenv("NO_PROXY");
    cio_http_session *proxied = session();
    setenv("no_proxy", "127.0.0.1", 1);
    cio_http_session *exempt = session();
    unsetenv("http_proxy");
    unsetenv("no_proxy");
    cio_http_response *r;
    CIO_ASSERT_ERR(cio_http_get(proxied, "/hello.txt", &r), -ECONNREFUSED);
    CIO_ASSERT_OK(cio_http_get(exempt, "/hello.txt", &r));
    CIO_ASSERT_EQ(cio_http_response_status(r), 200);
    cio_http_response_free(r);
    CIO_ASSERT_OK(cio_http_get(plain, "/hello.txt", &r));
    CIO_ASSERT_EQ(cio_http_response_status(r), 200);
    cio_http_response_free(r);
    cio_http_session_close(plain);
    cio_http_session_close(proxied);
    cio_http_session_close(exempt);
    return 0;
}

static void test_proxy_environment(void)
{
    with_nginx(main_proxy_env);
}

CIO_TEST_MAIN(((cio_test_case[]){
    CIO_TEST(test_get_and_head, "GET and HEAD against nginx: status, body, headers any case"),
    CIO_TEST(test_status_and_raise, "4xx statuses are responses; raise_for_status names them"),
    CIO_TEST(test_redirects, "redirects are followed; a redirect loop gives -ELOOP"),
    CIO_TEST(test_gzip_and_query, "gzip bodies are decoded; query parameters are encoded"),
    CIO_TEST(test_concurrent_requests_pooled, "200 concurrent GETs over a pool of 10"),
    CIO_TEST(test_streaming_download, "a 4 MiB body streamed to a slow reader arrives intact"),
    CIO_TEST(test_cancel_mid_transfer, "a timeout mid-transfer aborts it; the session goes on"),
    CIO_TEST(test_errors_name_the_url, "refused, unknown host, bad URL: errno and the URL"),
    CIO_TEST(test_json, "JSON helpers parse bodies and report bad JSON and 404s"),
    CIO_TEST(test_handles_reused_cleanly, "POST, HEAD, GET in turn on reused handles"),
    CIO_TEST(test_proxy_environment, "http_proxy and no_proxy are read when a session opens"),
}))
