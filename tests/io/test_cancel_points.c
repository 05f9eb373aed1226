/* Cancellation at arbitrary points of real exchanges: a client connects,
 * says one line, reads the echo and closes, under a timeout that grows from
 * run to run from 0 to 1.5 times what a whole exchange takes, so the timeout
 * lands in turn on the resolve, the connect, the TLS handshake, the write,
 * the read and the close. Whatever
 * it interrupts, the call returns (0 or -ETIMEDOUT, nothing else), quickly,
 * the server goes on serving, and at the end no descriptor and (under
 * ASan) no memory is left behind. */
#include <signal.h>

#include "net_test.h"

#define CERT(f) CIO_TEST_CERTS "/" f
#define RUNS 240

/* One exchange; returns 0 or the first error. */
static int exchange(int port, const cio_stream_opts *o)
{
    cio_stream *s;
    int err = cio_open_connection(&s, "localhost", port, o);
    if (err)
        return err;
    err = cio_stream_write(s, "ping\n", 5);
    char line[16];
    if (!err) {
        ssize_t n = cio_stream_read_line(s, line, sizeof(line));
        err = n == 5 ? 0 : n < 0 ? (int)n : -EPROTO;
    }
    int cerr = cio_stream_close(s);
    return err ? err : cerr;
}

static void run_all(cio_tls_config *server_tls, cio_tls_config *client_tls)
{
    int before = net_open_fds();
    cio_stream_opts so = {.tls = server_tls};
    cio_server *srv = net_server(net_echo_handler, NULL, &so);
    int port = cio_server_port(srv);
    cio_stream_opts co = {.tls = client_tls};
    double t = cio_now();
    for (int i = 0; i < 5; i++) /* warm up, and time a whole exchange */
        CIO_ASSERT_OK(exchange(port, &co));
    const double step = 1.5 * (cio_now() - t) / 5 / RUNS;
    int completed = 0, timed_out = 0;
    for (int k = 0; k < RUNS; k++) {
        double t0 = cio_now();
        cio_scope sc;
        CIO_ASSERT_OK(cio_timeout_enter(&sc, k * step));
        int err = exchange(port, &co);
        cio_timeout_exit(&sc);
        double took = cio_now() - t0;
        if (err != 0 && err != -ETIMEDOUT)
            CIO_FAIL_AT("run %d (timeout %.0f us): %s: %s", k, k * step * 1e6, cio_strerror(err),
                        net_message());
        if (took > 1.0)
            CIO_FAIL_AT("run %d (timeout %.0f us) took %.3f s", k, k * step * 1e6, took);
        completed += err == 0;
        timed_out += err == -ETIMEDOUT;
    }
    /* Both outcomes happened, and the server still answers. */
    CIO_ASSERT_CMP(timed_out, >, 0);
    CIO_ASSERT_OK(exchange(port, &co));
    fprintf(stderr, "%s: %d exchanges completed, %d cut short\n", client_tls ? "TLS" : "plain",
            completed, timed_out);
    CIO_ASSERT_OK(cio_server_close(srv, 1.0));
    CIO_ASSERT_EQ(net_open_fds(), before);
}

static int main_plain(void *arg)
{
    (void)arg;
    run_all(NULL, NULL);
    return 0;
}

static void test_plain(void)
{
    CIO_ASSERT_OK(net_run(main_plain, NULL));
}

static int main_tls(void *arg)
{
    (void)arg;
    cio_tls_config *server, *client;
    CIO_ASSERT_OK(cio_tls_server_config_new(&server, CERT("server.pem"), CERT("server.key")));
    CIO_ASSERT_OK(cio_tls_client_config_new(&client));
    CIO_ASSERT_OK(cio_tls_config_load_ca(client, CERT("ca.pem")));
    run_all(server, client);
    cio_tls_config_free(server);
    cio_tls_config_free(client);
    return 0;
}

static void test_tls(void)
{
    CIO_ASSERT_OK(net_run(main_tls, NULL));
}

/* A subprocess round trip (spawn cat, feed it a line, collect the output,
 * wait) cut short anywhere: communicate kills and reaps the child when its
 * caller is cancelled, so no child is left running and no pipe left open. */
static int main_process(void *arg)
{
    (void)arg;
    int before = net_open_fds();
    const char *argv[] = {"cat", NULL};
    cio_process_opts po = {.stdin_mode = CIO_STDIO_PIPE, .stdout_mode = CIO_STDIO_PIPE};
    double t0 = cio_now();
    for (int i = 0; i < 3; i++) { /* time a whole round trip */
        cio_process *p;
        CIO_ASSERT_OK(cio_process_spawn(&p, argv, &po));
        cio_process_output out;
        CIO_ASSERT_EQ(cio_process_communicate(p, "line\n", 5, &out, CIO_FOREVER), 0);
        cio_process_output_free(&out);
        cio_process_close(p);
    }
    const double step = 1.5 * (cio_now() - t0) / 3 / 100;
    int cut = 0;
    for (int k = 0; k < 100; k++) {
        cio_process *p;
        CIO_ASSERT_OK(cio_process_spawn(&p, argv, &po));
        pid_t pid = cio_process_pid(p);
        cio_scope sc;
        CIO_ASSERT_OK(cio_timeout_enter(&sc, k * step));
        cio_process_output out;
        int code = cio_process_communicate(p, "line\n", 5, &out, CIO_FOREVER);
        cio_timeout_exit(&sc);
        if (code == -ETIMEDOUT) {
            cut++;
            CIO_ASSERT(cio_process_returncode(p) >= 0); /* killed and reaped */
            CIO_ASSERT(kill(pid, 0) < 0);               /* gone, not a zombie */
        } else {
            CIO_ASSERT_EQ(code, 0);
            CIO_ASSERT_EQ(out.out_len, 5);
        }
        cio_process_output_free(&out);
        cio_process_close(p);
    }
    CIO_ASSERT_CMP(cut, >, 0);
    CIO_ASSERT_EQ(net_open_fds(), before);
    return 0;
}

static void test_process(void)
{
    CIO_ASSERT_OK(net_run(main_process, NULL));
}

static const cio_test_case tests[] = {
    CIO_TEST(test_plain, "an echo exchange cut short at 240 points: no error but the timeout, "
                         "no descriptor left"),
    CIO_TEST(test_tls, "the same over TLS: handshakes and shutdowns cut short anywhere"),
    CIO_TEST(test_process, "a subprocess round trip cut short anywhere: the child is killed and "
                           "reaped, no pipe left open"),
};

CIO_TEST_MAIN(tests)
