/* Runs the networking examples (examples/echo_server.c, echo_client.c,
 * udp_echo.c) on the backend CTest picks (the children inherit CIO_BACKEND)
 * and checks what they print and how they exit: the echo pair plain and with
 * TLS, a client refused, a server stopped by SIGTERM, and UDP pings. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <sys/prctl.h>

#include "cio_test.h"

#ifndef CIO_EXAMPLES_DIR
#error "build with -DCIO_EXAMPLES_DIR=<directory of the built examples>"
#endif

#define EX(name) CIO_EXAMPLES_DIR "/" name
#define CERT(f) CIO_TEST_CERTS "/" f

/* Every wait on a child is bounded: a child that cannot start, hangs or dies
 * fails the test within WAIT_S seconds, with what it said. Children die with
 * the test process (PR_SET_PDEATHSIG), so a failed test leaves no process
 * holding CTest's output pipe open. */
#define WAIT_S 30

typedef struct server {
    pid_t pid;
    int out; /* read end of the server's stdout */
    int port;
} server;

/* In a forked child: die with the parent, send stdout and stderr to `fd`. */
static void child_setup(int fd, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127); /* the parent died before prctl */
    dup2(fd, 1);
    dup2(fd, 2);
}

/* Waits for `fd` to be readable until `deadline` (cio_now() seconds):
 * 1 when it is (data or end of file), 0 at the deadline. */
static int readable_by(int fd, double deadline)
{
    for (;;) {
        int left_ms = (int)((deadline - cio_now()) * 1000);
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = left_ms > 0 ? poll(&pfd, 1, left_ms) : 0;
        if (r >= 0)
            return r > 0;
        CIO_ASSERT_EQ(errno, EINTR);
    }
}

/* Reads one line (without its newline) from `fd` within WAIT_S seconds.
 * Returns 1, or 0 on end of file, timeout or error (`why` says which). */
static int read_line(int fd, char *line, size_t cap, const char **why)
{
    size_t n = 0;
    double deadline = cio_now() + WAIT_S;
    *why = "end of output (the child exited)";
    while (n + 1 < cap) {
        if (!readable_by(fd, deadline)) {
            *why = "no line in time (WAIT_S)";
            break;
        }
        char c;
        if (read(fd, &c, 1) <= 0)
            break;
        if (c == '\n') {
            line[n] = 0;
            return 1;
        }
        line[n++] = c;
    }
    line[n] = 0;
    return 0;
}

/* Waits up to WAIT_S seconds for `pid` to exit; kills it and fails after. */
static int wait_exit(pid_t pid, const char *what)
{
    double deadline = cio_now() + WAIT_S;
    int status;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        CIO_ASSERT_EQ(r, 0);
        if (cio_now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            CIO_FAIL_AT("%s did not exit within %d s (killed)", what, WAIT_S);
        }
        struct timespec d = {0, 10 * 1000000L};
        nanosleep(&d, NULL);
    }
}

/* Forks and execs argv[0] with stdout and stderr into a pipe; returns the pid
 * and the pipe's read end in *out. */
static pid_t spawn_child(const char *const *argv, int *out)
{
    int p[2];
    CIO_ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
    pid_t parent = getpid();
    pid_t pid = fork();
    CIO_ASSERT(pid >= 0);
    if (pid == 0) {
        child_setup(p[1], parent);
        execv(argv[0], (char *const *)argv);
        dprintf(1, "cannot exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(p[1]);
    *out = p[0];
    return pid;
}

/* Starts echo_server with extra arguments and reads its "listening" line. */
static server start_server(const char *const *extra)
{
    const char *argv[8] = {EX("echo_server"), "--port=0"};
    for (int i = 0; extra && extra[i]; i++)
        argv[2 + i] = extra[i];
    server s = {0};
    s.pid = spawn_child(argv, &s.out);
    char line[256];
    const char *why;
    if (!read_line(s.out, line, sizeof(line), &why)) {
        kill(s.pid, SIGKILL);
        CIO_FAIL_AT("echo_server did not start: %s; it said \"%s\"", why, line);
    }
    const char *colon = strrchr(line, ':');
    if (strncmp(line, "listening on ", 13) != 0 || !colon) {
        kill(s.pid, SIGKILL);
        CIO_FAIL_AT("unexpected first line: %s", line);
    }
    s.port = atoi(colon + 1);
    CIO_ASSERT(s.port > 0);
    return s;
}

/* SIGTERM: the server says it closes and exits 0. */
static void stop_server(server *s)
{
    CIO_ASSERT_EQ(kill(s->pid, SIGTERM), 0);
    char line[256];
    const char *why;
    if (!read_line(s->out, line, sizeof(line), &why) || !strstr(line, "closing")) {
        kill(s->pid, SIGKILL);
        CIO_FAIL_AT("no closing line after SIGTERM (%s): \"%s\"", why, line);
    }
    int status = wait_exit(s->pid, "echo_server after SIGTERM");
    CIO_ASSERT(WIFEXITED(status));
    CIO_ASSERT_EQ(WEXITSTATUS(status), 0);
    close(s->out);
}

/* Runs a command line (through the shell, which execs it); returns its exit
 * status and output (stdout and stderr), within WAIT_S seconds. */
static int run(const char *cmd, char *out, size_t cap)
{
    char full[1024];
    snprintf(full, sizeof(full), "exec %s", cmd);
    const char *argv[] = {"/bin/sh", "-c", full, NULL};
    int fd;
    pid_t pid = spawn_child(argv, &fd);
    size_t n = 0;
    double deadline = cio_now() + WAIT_S;
    for (;;) {
        if (!readable_by(fd, deadline)) {
            kill(pid, SIGKILL);
            out[n] = 0;
            CIO_FAIL_AT("%s: no end of output within %d s; it said: %s", cmd, WAIT_S, out);
        }
        char spill[512]; /* past `cap`: read and drop, so the child never blocks */
        ssize_t got = n + 1 < cap ? read(fd, out + n, cap - 1 - n) : read(fd, spill, sizeof(spill));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        if (n + 1 < cap)
            n += (size_t)got;
    }
    out[n] = 0;
    close(fd);
    int st = wait_exit(pid, cmd);
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
