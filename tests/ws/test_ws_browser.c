/* A real browser against libcio-ws: headless Chromium loads a page served by
 * cio's HTTP server; its script opens a WebSocket to cio, exchanges a text
 * message and a 1 MiB binary one (echoed and checked on both sides), closes
 * with 1000, and reports the outcome with a request the test waits for.
 * Skipped (77) when chromium is not installed. */
#include <signal.h>
#include <sys/stat.h>

#include "ws_test.h"

#define CHROMIUM "/usr/bin/chromium"
#define BIG (1024 * 1024)

static const char page[] =
    "<!doctype html><html><body><script>\n"
    "const report = (ok, detail) => "
    "fetch(`/report?ok=${ok}&detail=${encodeURIComponent(detail)}`);\n"
    "const big = new Uint8Array(1 << 20);\n"
    "for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 255;\n"
    "let step = 0;\n"
    "const ws = new WebSocket(`ws://${location.host}/ws`);\n"
    "ws.binaryType = 'arraybuffer';\n"
    "ws.onopen = () => ws.send('hello from the browser');\n"
    "ws.onmessage = (e) => {\n"
    "  if (step === 0) {\n"
    "    if (e.data !== 'hello from cio') return report(0, 'text: ' + e.data);\n"
    "    step = 1; ws.send(big);\n"
    "  } else if (step === 1) {\n"
    "    const a = new Uint8Array(e.data);\n"
    "    if (a.length !== big.length) return report(0, 'binary length ' + a.length);\n"
    "    for (let i = 0; i < a.length; i++) if (a[i] !== big[i]) return report(0, 'byte ' + i);\n"
    "    step = 2; ws.close(1000, 'done');\n"
    "  }\n"
    "};\n"
    "ws.onclose = (e) => report(step === 2 && e.code === 1000 ? 1 : 0, 'close ' + e.code);\n"
    "</script></body></html>\n";

typedef struct browser_state {
    cio_event reported;
    int ok;
    char detail[200];
    int text_ok, binary_ok, close_code;
} browser_state;

static int h_page(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)req;
    (void)arg;
    cio_http_resp_header(resp, "Content-Type", "text/html; charset=utf-8");
    return cio_http_resp_body(resp, page, sizeof(page) - 1);
}

static int h_report(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    browser_state *st = arg;
    const char *ok = cio_http_req_query_param(req, "ok");
    const char *detail = cio_http_req_query_param(req, "detail");
    st->ok = ok && strcmp(ok, "1") == 0;
    snprintf(st->detail, sizeof(st->detail), "%s", detail ? detail : "");
    cio_event_set(&st->reported);
    return cio_http_resp_body(resp, "thanks", 6);
}

static int h_ws(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    browser_state *st = arg;
    cio_ws *ws;
    if (cio_ws_accept(req, resp, &ws, NULL))
        return 0;
    cio_ws_msg m;
    if (cio_ws_recv(ws, &m) == 0) {
        st->text_ok = m.type == CIO_WS_TEXT && strcmp(m.data, "hello from the browser") == 0;
        cio_ws_msg_free(&m);
        cio_ws_send_text(ws, "hello from cio");
    }
    if (cio_ws_recv(ws, &m) == 0) {
        int ok = m.type == CIO_WS_BINARY && m.len == BIG;
        for (size_t i = 0; ok && i < m.len; i++)
            ok = (uint8_t)m.data[i] == (uint8_t)(i * 7);
        st->binary_ok = ok;
        cio_ws_send(ws, m.type, m.data, m.len);
        cio_ws_msg_free(&m);
    }
    cio_ws_recv(ws, &m); /* the close */
    st->close_code = cio_ws_close_code(ws);
    cio_ws_close(ws, 0, NULL);
    return 0;
}

static int t_browser_main(void *arg)
{
    (void)arg;
    browser_state st = {0};
    cio_event_init(&st.reported);
    ws_server s = {0};
    CIO_ASSERT_OK(cio_http_app_new(&s.app, NULL));
    CIO_ASSERT_OK(cio_http_app_route(s.app, "GET", "/", h_page, &st));
    CIO_ASSERT_OK(cio_http_app_route(s.app, "GET", "/report", h_report, &st));
    CIO_ASSERT_OK(cio_http_app_route(s.app, "GET", "/ws", h_ws, &st));
    ws_server_start(&s);
    char url[128], profile[] = "/tmp/cio-ws-chromium-XXXXXX", dirarg[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s.port);
    CIO_ASSERT(mkdtemp(profile) != NULL);
    snprintf(dirarg, sizeof(dirarg), "--user-data-dir=%s", profile);
    const char *argv[] = {CHROMIUM,
                          "--headless",
                          "--no-sandbox",
                          "--disable-gpu",
                          "--disable-quic",
                          "--no-first-run",
                          "--disable-background-networking",
                          "--disable-component-update",
                          "--disable-sync",
                          "--no-proxy-server",
                          dirarg,
                          url,
                          NULL};
    cio_process_opts po = {
        .stdout_mode = CIO_STDIO_DEVNULL, .stderr_mode = CIO_STDIO_DEVNULL, .new_process_group = 1};
    cio_process *p;
    CIO_ASSERT_OK(cio_process_spawn(&p, argv, &po));
    cio_scope sc;
    cio_timeout_enter(&sc, 90);
    int err = cio_event_wait(&st.reported);
    cio_timeout_exit(&sc);
    kill(-cio_process_pid(p), SIGKILL); /* the browser and its helpers, by group */
    cio_process_wait(p);
    cio_process_close(p);
    char rm[200];
    snprintf(rm, sizeof(rm), "rm -rf %s", profile);
    CIO_ASSERT_EQ(system(rm), 0);
    CIO_ASSERT_OK(err); /* the page reported within 90 s */
    fprintf(stderr, "browser reported ok=%d (%s)\n", st.ok, st.detail);
    CIO_ASSERT(st.ok);
    CIO_ASSERT(st.text_ok);
    CIO_ASSERT(st.binary_ok);
    CIO_ASSERT_EQ(st.close_code, 1000);
    ws_server_stop(&s);
    return 0;
}

static void test_browser(void)
{
    struct stat sb;
    if (stat(CHROMIUM, &sb) != 0)
        CIO_SKIP("chromium is not installed");
    CIO_ASSERT_OK(cio_test_run(t_browser_main, NULL));
}

static const cio_test_case tests[] = {
    CIO_TEST(test_browser, "headless Chromium: text and a 1 MiB binary message echoed, close 1000, "
                           "result reported to cio's HTTP server"),
};

CIO_TEST_MAIN(tests)
