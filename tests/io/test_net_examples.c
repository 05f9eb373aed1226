/* Runs the networking examples (examples/echo_server.c, echo_client.c,
 * udp_echo.c) on the backend CTest picks (the children inherit CIO_BACKEND)
 * and checks what they print and how they exit: the echo pair plain and with
 * TLS, a client refused, a server stopped by SIGTERM, and UDP pings. */
#include <signal.h>

#include "cio_test.h"

#ifndef CIO_EXAMPLES_DIR
#error "build with -DCIO_EXAMPLES_DIR=<directory of the built examples>"
#endif

#define EX(name) CIO_EXAMPLES_DIR "/" name
#define CERT(f) CIO_TEST_CERTS "/" f

typedef struct server {
    pid_t pid;
    FILE *out;
    int port;
} server;

/* Starts echo_server with extra arguments and reads its "listening" line. */
static server start_server(const char *const *extra)
{
    int p[2];
    CIO_ASSERT_EQ(pipe(p), 0);
    server s = {0};
    s.pid = fork();
    CIO_ASSERT(s.pid >= 0);
    if (s.pid == 0) {
        const char *argv[8] = {EX("echo_server"), "--port=0"};
        for (int i = 0; extra && extra[i]; i++)
            argv[2 + i] = extra[i];
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(p[1]);
    s.out = fdopen(p[0], "r");
    char line[256];
    if (!fgets(line, sizeof(line), s.out))
        CIO_FAIL_AT("echo_server said nothing");
    const char *colon = strrchr(line, ':');
    if (strncmp(line, "listening on ", 13) != 0 || !colon)
        CIO_FAIL_AT("unexpected first line: %s", line);
    s.port = atoi(colon + 1);
    CIO_ASSERT(s.port > 0);
    return s;
}

/* SIGTERM: the server says it closes and exits 0. */
static void stop_server(server *s)
{
    CIO_ASSERT_EQ(kill(s->pid, SIGTERM), 0);
    char line[256] = "";
    if (!fgets(line, sizeof(line), s->out) || !strstr(line, "closing"))
        CIO_FAIL_AT("no closing line after SIGTERM: \"%s\"", line);
    int status;
    CIO_ASSERT_EQ(waitpid(s->pid, &status, 0), s->pid);
    CIO_ASSERT(WIFEXITED(status));
    CIO_ASSERT_EQ(WEXITSTATUS(status), 0);
    fclose(s->out);
}

/* Runs a command; returns its exit status and output (stdout and stderr). */
static int run(const char *cmd, char *out, size_t cap)
{
    char full[1024];
    snprintf(full, sizeof(full), "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    CIO_ASSERT(p != NULL);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void test_echo_pair(void)
{
    server s = start_server(NULL);
    char cmd[512], out[4096];
    snprintf(cmd, sizeof(cmd), "'%s' --port=%d --conns=20 --msgs=200", EX("echo_client"), s.port);
    int st = run(cmd, out, sizeof(out));
    if (st != 0 || !strstr(out, "20 connections x 200 messages: 4000 echoes checked"))
        CIO_FAIL_AT("echo_client exited %d: %s", st, out);
    stop_server(&s);
}

static void test_echo_pair_tls(void)
{
    const char *extra[] = {"--tls-cert=" CERT("server.pem"), "--tls-key=" CERT("server.key"), NULL};
    server s = start_server(extra);
    char cmd[512], out[4096];
    snprintf(cmd, sizeof(cmd), "'%s' --host=localhost --port=%d --conns=5 --msgs=100 --tls-ca=%s",
             EX("echo_client"), s.port, CERT("ca.pem"));
    int st = run(cmd, out, sizeof(out));
    if (st != 0 || !strstr(out, "5 connections x 100 messages: 500 echoes checked"))
        CIO_FAIL_AT("echo_client exited %d: %s", st, out);
    /* A client that does not trust the server's CA is refused, with a reason. */
    snprintf(cmd, sizeof(cmd), "'%s' --host=localhost --port=%d --conns=1 --msgs=1 --tls-ca=%s",
             EX("echo_client"), s.port, CERT("untrusted.pem"));
    st = run(cmd, out, sizeof(out));
    if (st == 0 || !strstr(out, "certificate verification failed"))
        CIO_FAIL_AT("an untrusting client exited %d: %s", st, out);
    stop_server(&s);
}

static void test_client_refused(void)
{
    server s = start_server(NULL);
    int port = s.port;
    stop_server(&s); /* nobody listens there now */
    char cmd[512], out[4096];
    snprintf(cmd, sizeof(cmd), "'%s' --port=%d --conns=3 --msgs=1", EX("echo_client"), port);
    int st = run(cmd, out, sizeof(out));
    char want[64];
    snprintf(want, sizeof(want), "127.0.0.1:%d", port);
    if (st != 1 || !strstr(out, want) || !strstr(out, "refused"))
        CIO_FAIL_AT("echo_client exited %d: %s", st, out);
}

static void test_udp_echo(void)
{
    char out[4096];
    int st = run("'" EX("udp_echo") "' --scale 0.1", out, sizeof(out));
    if (st != 0 || !strstr(out, "server bound to 127.0.0.1:") ||
        !strstr(out, "epsilon -> epsilon") || !strstr(out, "done"))
        CIO_FAIL_AT("udp_echo exited %d: %s", st, out);
}

CIO_TEST_MAIN(((cio_test_case[]){
    CIO_TEST(test_echo_pair, "echo_server and echo_client: 20 x 200 echoes; SIGTERM exits 0"),
    CIO_TEST(test_echo_pair_tls, "the pair over TLS; a client that distrusts the CA is refused"),
    CIO_TEST(test_client_refused, "echo_client to a closed port fails naming host:port"),
    CIO_TEST(test_udp_echo, "udp_echo: five datagrams echoed"),
}))
