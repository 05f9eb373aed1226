/* Runs libcio-sqlite's examples in a temporary directory and checks what
 * they print: the guides' aiosqlite program, and the to-do server whose
 * to-dos outlive a restart. */
#include <signal.h>

#include "example_runner.h"

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof(dir), "/tmp/cio-sqlite-ex-XXXXXX");
    CIO_ASSERT(mkdtemp(dir) != NULL);
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CIO_ASSERT_EQ(system(cmd), 0);
}

static void test_aiosqlite_users(void)
{
    make_dir();
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "cd '%s' && '%s/aiosqlite_users'", dir, CIO_EXAMPLES_DIR);
    run r = run_cmd(cmd);
    CIO_ASSERT_EQ(r.status, 0);
    CIO_ASSERT_STR_EQ(r.out, "(1, 'Alice')\n");
    free(r.out);
    /* The file keeps the first run's row; the second run adds one. */
    r = run_cmd(cmd);
    CIO_ASSERT_EQ(r.status, 0);
    CIO_ASSERT_STR_EQ(r.out, "(1, 'Alice')\n(2, 'Alice')\n");
    free(r.out);
    remove_dir();
}

#ifdef CIO_HAVE_HTTP_EXAMPLE
/* Starts the server on a free port; returns its PID and its stdout. */
static pid_t start_server(FILE **out, int *port)
{
    int pipefd[2];
    CIO_ASSERT_EQ(pipe(pipefd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipefd[1], 1);
        char exe[256], db[128];
        snprintf(exe, sizeof(exe), "%s/sqlite_todo_server", CIO_EXAMPLES_DIR);
        snprintf(db, sizeof(db), "%s/todos.db", dir);
        execl(exe, exe, "--port", "0", "--db", db, (char *)NULL);
        _exit(127);
    }
    close(pipefd[1]);
    *out = fdopen(pipefd[0], "r");
    char line[256];
    CIO_ASSERT(fgets(line, sizeof(line), *out) &&
               sscanf(line, "serving on http://127.0.0.1:%d", port) == 1);
    return pid;
}

static void stop_server(pid_t pid, FILE *out)
{
    kill(pid, SIGINT); /* the first Ctrl-C: a graceful shutdown */
    int status;
    CIO_ASSERT_EQ(waitpid(pid, &status, 0), pid);
    CIO_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char line[256];
    CIO_ASSERT(fgets(line, sizeof(line), out) && strcmp(line, "stopped\n") == 0);
    fclose(out);
}

static char *curl(const char *fmt, int port)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), fmt, port, port, port);
    run r = run_cmd(cmd);
    CIO_ASSERT_EQ(r.status, 0);
    return r.out;
}

static void test_sqlite_todo_server(void)
{
    make_dir();
    FILE *out;
    int port;
    pid_t pid = start_server(&out, &port);
    char *o = curl("curl -sS -X POST -d '{\"title\":\"write tests\"}' http://127.0.0.1:%d/todos "
                   "&& curl -sS -X POST -d '{\"title\":\"ship\"}' http://127.0.0.1:%d/todos && "
                   "curl -sS -o /dev/null -w ' %%{http_code}' -X POST -d '{}' "
                   "http://127.0.0.1:%d/todos",
                   port);
    CIO_ASSERT_STR_EQ(o, "{\"id\":1,\"title\":\"write tests\",\"done\":false}"
                         "{\"id\":2,\"title\":\"ship\",\"done\":false} 400");
    free(o);
    stop_server(pid, out);

    /* A new process finds the to-dos in the file. */
    pid = start_server(&out, &port);
    o = curl("curl -sS http://127.0.0.1:%d/todos && curl -sS -o /dev/null -w ' %%{http_code}' "
             "-X DELETE http://127.0.0.1:%d/todos/1 && curl -sS -w ' %%{http_code}' "
             "http://127.0.0.1:%d/todos/1",
             port);
    CIO_ASSERT_STR_EQ(o, "[{\"id\":1,\"title\":\"write tests\",\"done\":false},"
                         "{\"id\":2,\"title\":\"ship\",\"done\":false}]"
                         " 204{\"error\":\"no such to-do\"} 404");
    free(o);
    stop_server(pid, out);
    remove_dir();
}
#endif

int main(int argc, char **argv)
{
    static const cio_test_case tests[] = {
        CIO_TEST(test_aiosqlite_users, "the guides' aiosqlite program creates, inserts, "
                                       "commits and prints the rows; a second run adds one"),
#ifdef CIO_HAVE_HTTP_EXAMPLE
        CIO_TEST(test_sqlite_todo_server, "the to-do server creates, lists, deletes; its "
                                          "to-dos survive a restart; SIGINT stops it cleanly"),
#endif
    };
    return cio_test_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
