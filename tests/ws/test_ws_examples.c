/* The WebSocket examples, run as a user would: ws_chat_server serves its page
 * and the room; two ws_chat_client members talk through it; Ctrl-C (SIGINT)
 * stops the server gracefully. */
#include <signal.h>

#include "ws_test.h"

static cio_process *start(const char *const *argv, cio_stream **out)
{
    cio_process_opts po = {.stdout_mode = CIO_STDIO_PIPE};
    cio_process *p;
    CIO_ASSERT_OK(cio_process_spawn(&p, argv, &po));
    CIO_ASSERT_OK(cio_process_stream(p, 1, out, NULL));
    return p;
}

static int t_chat_main(void *arg)
{
    (void)arg;
    const char *srv_argv[] = {CIO_EXAMPLES_DIR "/ws_chat_server", "--port", "0", NULL};
    cio_stream *out;
    cio_process *srv = start(srv_argv, &out);
    char line[256];
    CIO_ASSERT(cio_stream_read_line(out, line, sizeof(line)) > 0);
    int port = 0;
    CIO_ASSERT(sscanf(line, "chat on http://127.0.0.1:%d/", &port) == 1);
    /* The page: a GET / through a raw connection. */
    cio_stream *s;
    CIO_ASSERT_OK(cio_open_connection(&s, "127.0.0.1", port, NULL));
    const char *get = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    CIO_ASSERT_OK(cio_stream_write(s, get, strlen(get)));
    static char page[8192];
    size_t n = 0;
    ssize_t r;
    while ((r = cio_stream_read(s, page + n, sizeof(page) - 1 - n)) > 0)
        n += (size_t)r;
    page[n] = 0;
    cio_stream_close(s);
    CIO_ASSERT(strstr(page, "200 OK") != NULL);
    CIO_ASSERT(strstr(page, "new WebSocket") != NULL);
    /* A member that stays (cio's own client), and a scripted one. */
    char url[128];
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/ws", port);
    cio_ws *bob;
    CIO_ASSERT_OK(cio_ws_connect(&bob, url, NULL));
    const char *cli_argv[] = {
        CIO_EXAMPLES_DIR "/ws_chat_client", url, "alice", "hi bob", "bye bob", NULL};
    cio_stream *cout;
    cio_process *cli = start(cli_argv, &cout);
    static char said[4096];
    n = 0;
    while ((r = cio_stream_read(cout, said + n, sizeof(said) - 1 - n)) > 0)
        n += (size_t)r;
    said[n] = 0;
    CIO_ASSERT_EQ(cio_process_wait(cli), 0);
    CIO_ASSERT(strstr(said, "alice: hi bob\nalice: bye bob\n") != NULL);
    /* Bob heard himself and alice join, both lines in order, and alice leave. */
    const char *want[] = {"* someone joined", "* someone joined", "alice: hi bob", "alice: bye bob",
                          "* someone left"};
    for (int i = 0; i < 5; i++) {
        cio_ws_msg m;
        CIO_ASSERT_OK(cio_ws_recv(bob, &m));
        CIO_ASSERT_STR_EQ(m.data, want[i]);
        cio_ws_msg_free(&m);
    }
    CIO_ASSERT_OK(cio_ws_close(bob, 0, NULL));
    cio_stream_close(cout);
    CIO_ASSERT_OK(cio_process_send_signal(srv, SIGINT));
    CIO_ASSERT(cio_stream_read_line(out, line, sizeof(line)) > 0);
    CIO_ASSERT_STR_EQ(line, "stopped\n");
    CIO_ASSERT_EQ(cio_process_wait(srv), 0);
    cio_stream_close(out);
    cio_process_close(srv);
    cio_process_close(cli);
    return 0;
}

static void test_chat(void)
{
    CIO_ASSERT_OK(cio_test_run(t_chat_main, NULL));
}

static const cio_test_case tests[] = {
    CIO_TEST(test_chat, "chat example: page served, two members talk, join/leave announced, "
                        "SIGINT stops the server"),
};

CIO_TEST_MAIN(tests)
