/* Tests of TLS streams: a cio TLS server and client on loopback with the
 * test CA (tests/io/certs), verification failures with clear errors,
 * handshakes that time out, STARTTLS, mutual TLS, ALPN, large transfers,
 * cancellation and close in the middle of a TLS read. */
#include "net_test.h"

#define CERT(f) CIO_TEST_CERTS "/" f

static cio_tls_config *server_cfg(const char *cert, const char *key)
{
    cio_tls_config *c;
    CIO_ASSERT_OK(cio_tls_server_config_new(&c, cert, key));
    return c;
}

static cio_tls_config *client_cfg(void)
{
    cio_tls_config *c;
    CIO_ASSERT_OK(cio_tls_client_config_new(&c));
    CIO_ASSERT_OK(cio_tls_config_load_ca(c, CERT("ca.pem")));
    return c;
}

static cio_server *tls_server(cio_conn_fn fn, void *arg, cio_tls_config *cfg)
{
    cio_stream_opts o = {.tls = cfg};
    return net_server(fn, arg, &o);
}

/* ---- the happy path ---- */

typedef struct bulk {
    cio_stream *s;
    char *data;
    size_t n;
} bulk;

static int bulk_writer(void *arg)
{
    bulk *b = arg;
    int err = cio_stream_write(b->s, b->data, b->n);
    return err ? err : cio_stream_drain(b->s);
}

static int main_echo(void *arg)
{
    (void)arg;
    cio_tls_config *scfg = server_cfg(CERT("server.pem"), CERT("server.key"));
    cio_tls_config *ccfg = client_cfg();
    cio_server *srv = tls_server(net_echo_handler, NULL, scfg);
    cio_tls_config_free(scfg); /* the server keeps its own reference */
    cio_stream_opts o = {.tls = ccfg};
    cio_stream *s;
    CIO_ASSERT_OK(cio_open_connection(&s, "localhost", cio_server_port(srv), &o));
    CIO_ASSERT_STR_EQ(cio_stream_tls_version(s), "TLSv1.3");
    NET_WRITE(s, "secret line\n");
    char line[32];
    CIO_ASSERT_EQ(cio_stream_read_line(s, line, sizeof(line)), 12);
    CIO_ASSERT_STR_EQ(line, "secret line\n");
    /* 2 MB each way at once: backpressure and buffering through TLS. */
    static char out[2 << 20], in[2 << 20];
    for (size_t i = 0; i < sizeof(out); i++)
        out[i] = (char)(i * 13 + (i >> 12));
    bulk b = {s, out, sizeof(out)};
    cio_task *w = cio_spawn(bulk_writer, &b);
    CIO_ASSERT_EQ(cio_stream_read_exactly(s, in, sizeof(in), NULL), (ssize_t)sizeof(in));
    CIO_ASSERT_OK(cio_join(w));
    CIO_ASSERT(memcmp(in, out, sizeof(in)) == 0);
    CIO_ASSERT_OK(cio_stream_close(s));
    /* By IP address: the certificate names 127.0.0.1 too. */
    CIO_ASSERT_OK(cio_open_connection(&s, "127.0.0.1", cio_server_port(srv), &o));
    cio_stream_close(s);
    cio_tls_config_free(ccfg);
    CIO_ASSERT_OK(cio_server_close(srv, 1.0));
    return 0;
}

static void test_tls_echo(void)
{
    CIO_ASSERT_OK(net_run(main_echo, NULL));
}

/* ---- verification ---- */

static int main_untrusted(void *arg)
{
    (void)arg;
    cio_tls_config *scfg = server_cfg(CERT("untrusted.pem"), CERT("untrusted.key"));
    cio_tls_config *ccfg = client_cfg();
    cio_server *srv = tls_server(net_echo_handler, NULL, scfg);
    cio_stream_opts o = {.tls = ccfg};
    cio_stream *s = (cio_stream *)1;
    CIO_ASSERT_ERR(cio_open_connection(&s, "localhost", cio_server_port(srv), &o), CIO_ECERT);
    CIO_ASSERT(s == NULL);
    NET_ASSERT_MESSAGE_HAS("certificate verification failed");
    NET_ASSERT_MESSAGE_HAS("self-signed");
    NET_ASSERT_MESSAGE_HAS("localhost");
    CIO_ASSERT_STR_EQ(cio_strerror(CIO_ECERT), "TLS certificate verification failed");
    /* With verification off, the same server is accepted. */
    cio_tls_config *insecure;
    CIO_ASSERT_OK(cio_tls_client_config_new(&insecure));
    CIO_ASSERT_OK(cio_tls_config_set_verify(insecure, 0));
    o.tls = insecure;
    CIO_ASSERT_OK(cio_open_connection(&s, "localhost", cio_server_port(srv), &o));
    cio_stream_close(s);
    cio_tls_config_free(insecure);
    cio_tls_config_free(scfg);
    cio_tls_config_free(ccfg);
    CIO_ASSERT_OK(cio_server_close(srv, 1.0));
    return 0;
}

static void test_tls_untrusted_certificate(void)
{
    CIO_ASSERT_OK(net_run(main_untrusted, NULL));
}

static int main_wrong_name(void *arg)
{
    (void)arg;
    cio_tls_config *scfg = server_cfg(CERT("server.pem"), CERT("server.key"));
    cio_tls_config *ccfg = client_cfg();
    cio_server *srv = tls_server(net_echo_handler, NULL, scfg);
    cio_stream_opts o = {.tls = ccfg, .server_hostname = "www.example.com"};
    cio_stream *s;
    CIO_ASSERT_ERR(cio_open_connection(&s, "127.0.0.1", cio_server_port(srv), &o), CIO_ECERT);
    NET_ASSERT_MESSAGE_HAS("hostname mismatch");
    NET_ASSERT_MESSAGE_HAS("www.example.com");
    /* The server only sees a failed handshake; it goes on serving. */
    o.server_hostname = NULL;
    CIO_ASSERT_OK(cio_open_connection(&s, "localhost", cio_server_port(srv), &o));
    cio_stream_close(s);
    cio_tls_config_free(scfg);
    cio_tls_config_free(ccfg);
    CIO_ASSERT_OK(cio_server_close(srv, 1.0));
    return 0;
}

static void test_tls_wrong_hostname(void)
{
    CIO_ASSERT_OK(net_run(main_wrong_name, NULL));
}

/* ---- timeouts ---- */

/* A listener that never accepts: the kernel completes the TCP handshake and
 * the ClientHello goes unanswered. */
static int silent_listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    CIO_ASSERT_EQ(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    CIO_ASSERT_EQ(listen(fd, 8), 0);
    CIO_ASSERT_EQ(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static int main_timeout(void *arg)
{
    (void)arg;
    int port;
    int lfd = silent_listener(&port);
    cio_tls_config *ccfg = client_cfg();
    cio_stream_opts o = {.tls = ccfg};
    cio_stream *s;
    /* Under the caller's timeout scope. */
    cio_scope sc;
    double t0 = cio_now();
    CIO_ASSERT_OK(cio_timeout_enter(&sc, 0.2));
    int err = cio_open_connection(&s, "localhost", port, &o);
    CIO_ASSERT_ERR(cio_timeout_exit(&sc), -ETIMEDOUT);
    CIO_ASSERT_ERR(err, -ETIMEDOUT);
    CIO_ASSERT_CMP(cio_now() - t0, <, 1.0);
    /* Under the config's handshake timeout, with a message. */
    CIO_ASSERT_OK(cio_tls_config_set_timeouts(ccfg, 0.2, 1.0));
    CIO_ASSERT_ERR(cio_open_connection(&s, "localhost", port, &o), -ETIMEDOUT);
    NET_ASSERT_MESSAGE_HAS("TLS handshake");
    NET_ASSERT_MESSAGE_HAS("no answer within 0.2 s");
    /* Cancelled from outside. */
    CIO_ASSERT_OK(cio_tls_config_set_timeouts(ccfg, 60, 30));
    CIO_ASSERT_OK(cio_scope_enter(&sc));
    cio_scope_cancel(&sc);
    CIO_ASSERT_ERR(cio_open_connection(&s, "localhost", port, &o), -ECANCELED);
    cio_scope_exit(&sc);
    close(lfd);
    cio_tls_config_free(ccfg);
    return 0;
}

static void test_tls_handshake_timeout(void)
{
    CIO_ASSERT_OK(net_run(main_timeout, NULL));
}

/* A server whose clients never speak TLS: its handshake times out under the
 * server config's timeout and the handler never runs. */
static int never_called(cio_stream *s, void *arg)
{
    (void)s;
    (*(int *)arg)++;
    return 0;
}

static int main_server_timeout(void *arg)
{
    (void)arg;
    cio_tls_config *scfg = server_cfg(CERT("server.pem"), CERT("server.key"));
    CIO_ASSERT_OK(cio_tls_config_set_timeouts(scfg, 0.1, 0.1));
    int calls = 0;
    cio_server *srv = tls_server(never_called, &calls, scfg);
    cio_stream *plain;
    CIO_ASSERT_OK(cio_open_connection(&plain, "127.0.0.1", cio_server_port(srv), NULL));
    char buf[8];
    CIO_ASSERT_EQ(cio_stream_read(plain, buf, sizeof(buf)), 0); /* dropped after 0.1 s */
    CIO_ASSERT_EQ(calls, 0);
    cio_stream_close(plain);
    cio_tls_config_free(scfg);
    CIO_ASSERT_OK(cio_server_close(srv, 1.0));
    return 0;
}

static void test_tls_server_handshake_timeout(void)
{
    CIO_ASSERT_OK(net_run(main_server_timeout, NULL));
}

/* ---- STARTTLS, mutual TLS, ALPN ---- */

static cio_tls_config *starttls_server_cfg;

static int starttls_handler(cio_stream *s, void *arg)
{
    (void)arg;
    char line[32];
    ssize_t n = cio_stream_read_line(s, line, sizeof(line));
    if (n <= 0 || strcmp(line, "STARTTLS\n") != 0)
        return -EPROTO;
    int err = cio_stream_write(s, "GO\n", 3);
    if (!err)
        err = cio_stream_start_tls(s, starttls_server_cfg, NULL);
    return err ? err : net_echo_handler(s, NULL);
}

static int main_starttls(void *arg)
{
    (void)arg;
    starttls_server_cfg = server_cfg(CERT("server.pem"), CERT("server.key"));
    cio_tls_config *ccfg = client_cfg();
    cio_server *srv = net_server(starttls_handler, NULL, NULL);
    cio_stream *s;
    CIO_ASSERT_OK(cio_open_connection(&s, "127.0.0.1", cio_server_port(srv), NULL));
    NET_WRITE(s, "STARTTLS\n");
    char line[32];
    CIO_ASSERT_EQ(cio_stream_read_line(s, line, sizeof(line)), 3);
    CIO_ASSERT_ERR(cio_stream_start_tls(s, ccfg, NULL), -EINVAL); /* verifying needs a name */
    CIO_ASSERT_OK(cio_stream_start_tls(s, ccfg, "localhost"));
    CIO_ASSERT_ERR(cio_stream_start_tls(s, ccfg, "localhost"), -EALREADY);
    NET_WRITE(s, "now private\n");
    CIO_ASSERT_EQ(cio_stream_read_line(s, line, sizeof(line)), 12);
    CIO_ASSERT_STR_EQ(line, "now private\n");
    cio_stream_close(s);
    cio_tls_config_free(ccfg);
    cio_tls_config_free(starttls_server_cfg);
    CIO_ASSERT_OK(cio_server_close(srv, 1.0));
    return 0;
}

static void test_tls_starttls(void)
{
    CIO_ASSERT_OK(net_run(main_starttls, NULL));
}

static int main_mutual(void *arg)
{
    (void)arg;
    cio_tls_config *scfg = server_cfg(CERT("server.pem"), CERT("server.key"));
    CIO_ASSERT_OK(cio_tls_config_load_ca(scfg, CERT("ca.pem")));
    CIO_ASSERT_OK(cio_tls_config_set_verify(scfg, 1));
    cio_server *srv = tls_server(net_echo_handler, NULL, scfg);
    /* Without a client certificate: refused (seen at the first read in TLS 1.3). */
    cio_tls_config *anon = client_cfg();
    cio_stream_opts o = {.tls = anon};
    cio_stream *s;
    char line[16];
    int err = cio_open_connection(&s, "localhost", cio_server_port(srv), &o);
    if (!err) {
        NET_WRITE(s, "hi\n");
        err = (int)cio_stream_read_line(s, line, sizeof(line));
        cio_stream_close(s);
    }
    CIO_ASSERT_ERR(err, CIO_ETLS);
    NET_ASSERT_MESSAGE_HAS("certificate required");
    /* With one signed by the CA: served. */
    cio_tls_config *ccfg = client_cfg();
    CIO_ASSERT_OK(cio_tls_config_set_cert(ccfg, CERT("server.pem"), CERT("server.key")));
    o.tls = ccfg;
    CIO_ASSERT_OK(cio_open_connection(&s, "localhost", cio_server_port(srv), &o));
    NET_WRITE(s, "hi\n");
    CIO_ASSERT_EQ(cio_stream_read_line(s, line, sizeof(line)), 3);
    cio_stream_close(s);
    cio_tls_config_free(anon);
    cio_tls_config_free(ccfg);
    cio_tls_config_free(scfg);
    CIO_ASSERT_OK(cio_server_close(srv, 1.0));
    return 0;
}

static void test_tls_mutual(void)
{
    CIO_ASSERT_OK(net_run(main_mutual, NULL));
}

static char server_alpn[32];

static int alpn_handler(cio_stream *s, void *arg)
{
    (void)arg;
    const char *p = cio_stream_tls_alpn(s);
    snprintf(server_alpn, sizeof(server_alpn), "%s", p ? p : "(none)");
    return net_echo_handler(s, NULL);
}

static int main_alpn(void *arg)
{
    (void)arg;
    cio_tls_config *scfg = server_cfg(CERT("server.pem"), CERT("server.key"));
    CIO_ASSERT_OK(cio_tls_config_set_alpn(scfg, "h2,http/1.1"));
    CIO_ASSERT_ERR(cio_tls_config_set_alpn(scfg, "a,,b"), -EINVAL);
    cio_tls_config *ccfg = client_cfg();
    CIO_ASSERT_OK(cio_tls_config_set_alpn(ccfg, "http/1.1"));
    cio_server *srv = tls_server(alpn_handler, NULL, scfg);
    cio_stream_opts o = {.tls = ccfg};
    cio_stream *s;
    CIO_ASSERT_OK(cio_open_connection(&s, "localhost", cio_server_port(srv), &o));
    CIO_ASSERT_STR_EQ(cio_stream_tls_alpn(s), "http/1.1");
    NET_WRITE(s, "x\n");
    char line[8];
    CIO_ASSERT_EQ(cio_stream_read_line(s, line, sizeof(line)), 2);
    CIO_ASSERT_STR_EQ(server_alpn, "http/1.1");
    cio_stream_close(s);
    cio_tls_config_free(scfg);
    cio_tls_config_free(ccfg);
    CIO_ASSERT_OK(cio_server_close(srv, 1.0));
    return 0;
}

static void test_tls_alpn(void)
{
    CIO_ASSERT_OK(net_run(main_alpn, NULL));
}

/* ---- close_notify, cancellation, close mid-read ---- */

static int eof_seen;

static int eof_handler(cio_stream *s, void *arg)
{
    (void)arg;
    char buf[64];
    ssize_t n;
    while ((n = cio_stream_read(s, buf, sizeof(buf))) > 0) {
    }
    eof_seen = n == 0 ? 1 : (int)n;
    return 0;
}

static int tls_reader(void *arg)
{
    char buf[16];
    return (int)cio_stream_read(arg, buf, sizeof(buf));
}

static int main_close(void *arg)
{
    (void)arg;
    cio_tls_config *scfg = server_cfg(CERT("server.pem"), CERT("server.key"));
    cio_tls_config *ccfg = client_cfg();
    cio_server *srv = tls_server(eof_handler, NULL, scfg);
    cio_stream_opts o = {.tls = ccfg};
    cio_stream *s;
    CIO_ASSERT_OK(cio_open_connection(&s, "localhost", cio_server_port(srv), &o));
    NET_WRITE(s, "some data");
    /* A TLS read cancelled by a timeout; the stream still works after. */
    char buf[16];
    cio_scope sc;
    CIO_ASSERT_OK(cio_timeout_enter(&sc, 0.05));
    CIO_ASSERT_ERR(cio_stream_read(s, buf, sizeof(buf)), -ETIMEDOUT);
    cio_timeout_exit(&sc);
    NET_WRITE(s, "more");
    /* close sends close_notify: the server reads a clean EOF. */
    CIO_ASSERT_OK(cio_stream_close(s));
    NET_WAIT_UNTIL(eof_seen, 30);
    CIO_ASSERT_EQ(eof_seen, 1);
    /* A close under another task's TLS read: -ECONNABORTED, nothing leaks. */
    CIO_ASSERT_OK(cio_open_connection(&s, "localhost", cio_server_port(srv), &o));
    cio_task *t = cio_spawn(tls_reader, s);
    CIO_ASSERT_OK(cio_yield()); /* it runs first (FIFO) and parks in its read */
    CIO_ASSERT_OK(cio_stream_close(s));
    CIO_ASSERT_ERR(cio_join(t), -ECONNABORTED);
    cio_tls_config_free(scfg);
    cio_tls_config_free(ccfg);
    CIO_ASSERT_OK(cio_server_close(srv, 1.0));
    return 0;
}

static void test_tls_close_and_cancel(void)
{
    CIO_ASSERT_OK(net_run(main_close, NULL));
}

/* ---- bad input ---- */

static int main_config_errors(void *arg)
{
    (void)arg;
    cio_tls_config *c;
    CIO_ASSERT_ERR(cio_tls_server_config_new(&c, "/nonexistent.pem", CERT("server.key")), -ENOENT);
    NET_ASSERT_MESSAGE_HAS("/nonexistent.pem");
    CIO_ASSERT_ERR(cio_tls_server_config_new(&c, CERT("server.pem"), CERT("untrusted.key")),
                   CIO_ETLS);
    NET_ASSERT_MESSAGE_HAS("does not match");
    CIO_ASSERT_ERR(cio_tls_server_config_new(&c, CERT("README.md"), CERT("server.key")), -EINVAL);
    CIO_ASSERT_ERR(cio_tls_server_config_new(&c, NULL, CERT("server.key")), -EINVAL);
    CIO_ASSERT_ERR(cio_tls_server_config_new(NULL, CERT("server.pem"), CERT("server.key")),
                   -EINVAL);
    CIO_ASSERT_ERR(cio_tls_client_config_new(NULL), -EINVAL);
    cio_tls_config *cli = client_cfg();
    CIO_ASSERT_ERR(cio_tls_config_load_ca(cli, "/nonexistent-ca.pem"), -ENOENT);
    CIO_ASSERT_ERR(cio_tls_config_set_timeouts(cli, -1, 1), -EINVAL);
    CIO_ASSERT_ERR(cio_tls_config_set_verify(NULL, 1), -EINVAL);
    cio_tls_config_free(NULL);
    /* A client config for a server, and the other way round. */
    cio_server *srv;
    cio_stream_opts o = {.tls = cli};
    CIO_ASSERT_ERR(cio_start_server(&srv, "127.0.0.1", 0, net_echo_handler, NULL, &o), -EINVAL);
    cio_tls_config *srvcfg = server_cfg(CERT("server.pem"), CERT("server.key"));
    o.tls = srvcfg;
    cio_stream *s;
    CIO_ASSERT_ERR(cio_open_connection(&s, "127.0.0.1", 443, &o), -EINVAL);
    CIO_ASSERT_ERR(cio_stream_start_tls(NULL, cli, "x"), -EINVAL);
    CIO_ASSERT(cio_stream_tls_version(NULL) == NULL);
    cio_tls_config_free(cli);
    cio_tls_config_free(srvcfg);
    return 0;
}

static void test_tls_config_errors(void)
{
    CIO_ASSERT_OK(net_run(main_config_errors, NULL));
}

CIO_TEST_MAIN(((cio_test_case[]){
    CIO_TEST(test_tls_echo, "TLS 1.3 server and client with the test CA; 2 MB each way"),
    CIO_TEST(test_tls_untrusted_certificate,
             "an untrusted certificate: CIO_ECERT naming the reason; verify off accepts it"),
    CIO_TEST(test_tls_wrong_hostname, "a name the certificate lacks: CIO_ECERT hostname mismatch"),
    CIO_TEST(test_tls_handshake_timeout,
             "a server that never answers: -ETIMEDOUT by scope, by config, or cancelled"),
    CIO_TEST(test_tls_server_handshake_timeout, "a client that never speaks TLS is dropped"),
    CIO_TEST(test_tls_starttls, "a plain stream upgraded in the middle (STARTTLS)"),
    CIO_TEST(test_tls_mutual, "a server that requires client certificates"),
    CIO_TEST(test_tls_alpn, "ALPN negotiated on both sides"),
    CIO_TEST(test_tls_close_and_cancel,
             "close_notify gives a clean EOF; a cancelled TLS read; close under a reader"),
    CIO_TEST(test_tls_config_errors, "missing files, mismatched keys, wrong config kinds"),
}))
