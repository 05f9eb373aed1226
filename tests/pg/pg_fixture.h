/* A throwaway PostgreSQL 15 cluster for one test executable.
 *
 * PG_TEST_MAIN(table) starts it once, before the runner forks the test cases
 * (they inherit pgfx), and stops it by PID at the end: initdb --no-sync into
 * a temporary directory, postgres with fsync off and small buffers, on a Unix
 * socket in that directory and on a free 127.0.0.1 port, trust auth. initdb
 * refuses root, so as root both run as the `postgres` system user, which owns
 * the directory. Without the server binaries every test is skipped (77). */
#ifndef CIO_PG_FIXTURE_H
#define CIO_PG_FIXTURE_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "cio_test.h"
#include "cio/pg.h"

#ifndef PG_BIN
#define PG_BIN "/usr/lib/postgresql/15/bin"
#endif

static struct {
    char dir[64];
    int port;
    pid_t pid;
    char dsn_unix[256]; /* key=value over the Unix socket */
    char dsn_tcp[256];  /* URI over 127.0.0.1 */
} pgfx;

/* Runs argv (as postgres when we are root) with output to the cluster's log.
 * Returns the child's PID. */
static pid_t pgfx_spawn(char *const argv[])
{
    struct passwd *pw = getuid() == 0 ? getpwnam("postgres") : NULL;
    char log[128];
    snprintf(log, sizeof log, "%s/log", pgfx.dir);
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    if (getuid() == 0) {
        if (!pw || setgroups(0, NULL) || setgid(pw->pw_gid) || setuid(pw->pw_uid))
            _exit(126);
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* after setuid, which clears it */
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    int nul = open("/dev/null", O_RDONLY);
    if (fd >= 0 && nul >= 0) {
        dup2(nul, 0);
        dup2(fd, 1);
        dup2(fd, 2);
    }
    if (chdir(pgfx.dir) != 0)
        _exit(126);
    execv(argv[0], argv);
    _exit(127);
}

static int pgfx_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int pgfx_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) ||
        getsockname(fd, (struct sockaddr *)&a, &len))
        return -1;
    close(fd);
    return ntohs(a.sin_port);
}

static void pgfx_stop(void)
{
    if (pgfx.pid > 0) {
        kill(pgfx.pid, SIGQUIT); /* immediate shutdown: nothing to keep */
        waitpid(pgfx.pid, NULL, 0);
        pgfx.pid = 0;
    }
    if (pgfx.dir[0] && !getenv("CIO_PG_KEEP"))
        nftw(pgfx.dir, pgfx_rm, 16, FTW_DEPTH | FTW_PHYS);
}

static void pgfx_dump_log(void)
{
    char log[128];
    snprintf(log, sizeof log, "%s/log", pgfx.dir);
    FILE *f = fopen(log, "r");
    char line[512];
    while (f && fgets(line, sizeof line, f))
        fputs(line, stderr);
    if (f)
        fclose(f);
}

/* 0 when the cluster runs, 77 to skip, 1 on failure. */
static int pgfx_start(void)
{
    if (access(PG_BIN "/postgres", X_OK) != 0 || access(PG_BIN "/initdb", X_OK) != 0) {
        fprintf(stderr, "skipped: no PostgreSQL server in %s\n", PG_BIN);
        return 77;
    }
    struct passwd *pw = getuid() == 0 ? getpwnam("postgres") : NULL;
    if (getuid() == 0 && !pw) {
        fprintf(stderr, "skipped: running as root and no postgres user for initdb\n");
        return 77;
    }
    snprintf(pgfx.dir, sizeof pgfx.dir, "/tmp/cio-pg-XXXXXX");
    if (!mkdtemp(pgfx.dir))
        return 1;
    chmod(pgfx.dir, 0755);
    if (pw && chown(pgfx.dir, pw->pw_uid, pw->pw_gid) != 0)
        return 1;
    char data[96];
    snprintf(data, sizeof data, "%s/data", pgfx.dir);
    char *initdb[] = {PG_BIN "/initdb", "-D", data,   "--no-sync",  "-A", "trust", "-U",
                      "postgres",       "-E", "UTF8", "--locale=C", NULL};
    int st = 0;
    pid_t pid = pgfx_spawn(initdb);
    if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "initdb failed:\n");
        pgfx_dump_log();
        pgfx_stop();
        return 1;
    }
    /* TLS on TCP (sslmode=prefer clients use it) when the test has certificates:
     * the key must belong to the server's user with mode 0600. */
    char ssl_cert[160] = "", ssl_key[160] = "";
#ifdef CIO_TEST_CERTS
    char tls_cert[128], tls_key[128];
    snprintf(tls_cert, sizeof tls_cert, "%s/server.pem", pgfx.dir);
    snprintf(tls_key, sizeof tls_key, "%s/server.key", pgfx.dir);
    const char *src[2] = {CIO_TEST_CERTS "/server.pem", CIO_TEST_CERTS "/server.key"};
    const char *dst[2] = {tls_cert, tls_key};
    for (int i = 0; i < 2; i++) {
        FILE *in = fopen(src[i], "r"), *out = fopen(dst[i], "w");
        char buf[4096];
        size_t n;
        while (in && out && (n = fread(buf, 1, sizeof buf, in)) > 0)
            fwrite(buf, 1, n, out);
        if (in)
            fclose(in);
        if (out)
            fclose(out);
        chmod(dst[i], 0600);
        if (pw && chown(dst[i], pw->pw_uid, pw->pw_gid) != 0)
            return 1;
    }
    snprintf(ssl_cert, sizeof ssl_cert, "ssl_cert_file=%s", tls_cert);
    snprintf(ssl_key, sizeof ssl_key, "ssl_key_file=%s", tls_key);
#endif
    pgfx.port = pgfx_free_port();
    char port[16];
    snprintf(port, sizeof port, "%d", pgfx.port);
    char *postgres[] = {PG_BIN "/postgres",
                        "-D",
                        data,
                        "-k",
                        pgfx.dir,
                        "-p",
                        port,
                        "-c",
                        "listen_addresses=127.0.0.1",
                        "-c",
                        "fsync=off",
                        "-c",
                        "synchronous_commit=off",
                        "-c",
                        "full_page_writes=off",
                        "-c",
                        "shared_buffers=16MB",
                        "-c",
                        "max_connections=150",
                        "-c",
                        "unix_socket_permissions=0777",
                        NULL,
                        NULL,
                        NULL,
                        NULL,
                        NULL,
                        NULL,
                        NULL};
    if (ssl_cert[0]) {
        size_t k = 0;
        while (postgres[k])
            k++;
        postgres[k++] = "-c";
        postgres[k++] = "ssl=on";
        postgres[k++] = "-c";
        postgres[k++] = ssl_cert;
        postgres[k++] = "-c";
        postgres[k++] = ssl_key;
    }
    pgfx.pid = pgfx_spawn(postgres);
    snprintf(pgfx.dsn_unix, sizeof pgfx.dsn_unix, "host=%s port=%d user=postgres dbname=postgres",
             pgfx.dir, pgfx.port);
    snprintf(pgfx.dsn_tcp, sizeof pgfx.dsn_tcp, "postgresql://postgres@127.0.0.1:%d/postgres",
             pgfx.port);
    /* Ready when it answers a ping (bounded: 60 s on a loaded machine). */
    for (int i = 0; i < 3000; i++) {
        if (PQping(pgfx.dsn_unix) == PQPING_OK)
            return 0;
        if (waitpid(pgfx.pid, &st, WNOHANG) == pgfx.pid) {
            pgfx.pid = 0;
            break;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "postgres did not start:\n");
    pgfx_dump_log();
    pgfx_stop();
    return 1;
}

#define PG_TEST_MAIN(table)                                                                        \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        int rc_ = pgfx_start();                                                                    \
        if (rc_)                                                                                   \
            return rc_;                                                                            \
        rc_ = cio_test_main(argc, argv, table, sizeof(table) / sizeof(table[0]));                  \
        pgfx_stop();                                                                               \
        return rc_;                                                                                \
    }

/* Helpers for test bodies. */
static inline cio_pg_conn *pg_connect_ok(const cio_pg_opts *o)
{
    cio_pg_conn *c = NULL;
    CIO_ASSERT_OK(cio_pg_connect(&c, pgfx.dsn_unix, o));
    return c;
}

/* A TCP listener on 127.0.0.1 that never accepts: the kernel completes the
 * handshake, nothing ever answers (a host that blackholes the protocol).
 * Returns the socket (close it at the end) and its port in *port. */
static inline int pg_silent_listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    CIO_ASSERT(fd >= 0);
    CIO_ASSERT_OK(bind(fd, (struct sockaddr *)&a, sizeof a));
    CIO_ASSERT_OK(listen(fd, 64));
    CIO_ASSERT_OK(getsockname(fd, (struct sockaddr *)&a, &len));
    *port = ntohs(a.sin_port);
    return fd;
}

static inline int64_t pg_int(cio_pg_conn *c, const char *sql)
{
    int64_t v = -1;
    CIO_ASSERT_OK(cio_pg_fetchval_int(c, &v, sql, NULL, 0));
    return v;
}

#endif
