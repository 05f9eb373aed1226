/* Runs the HTTP examples (the README's demo first) and checks their story. */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include "cio_test.h"

static char *run(const char *cmd)
{
    static char out[65536];
    char full[512];
    snprintf(full, sizeof(full), "%s/%s 2>&1", CIO_EXAMPLES_DIR, cmd);
    FILE *p = popen(full, "r");
    CIO_ASSERT(p != NULL);
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = 0;
    CIO_ASSERT_EQ(pclose(p), 0);
    return out;
}

static void test_api_client_demo(void)
{
    char *out = run("api_client --delay 0.1");
    CIO_ASSERT(strstr(out, "embedded JSON API at http://127.0.0.1:"));
    CIO_ASSERT(strstr(out, "post  1: \"sunt aut facere repellat provident\" by Leanne Graham"));
    CIO_ASSERT(strstr(out, "post 10: \"optio molestias id quia eum\" by Chelsey Dietrich"));
    CIO_ASSERT(strstr(out, "post  7: ERROR 500 Internal Server Error for http://127.0.0.1:"));
    CIO_ASSERT(strstr(out, "-> 9 fetched, 1 failed"));
    double concurrent = 0, sequential = 0;
    const char *t = strstr(out, "concurrent: ");
    CIO_ASSERT(
        t && sscanf(t, "concurrent: %lf s one after another: %lf", &concurrent, &sequential) == 2);
    /* 19 requests of 0.1 s: about 1.9 s in a row; 5 at a time: about 0.4 s. */
    CIO_ASSERT_CMP(sequential, >=, 0.99 * 1.9);
    CIO_ASSERT_CMP(concurrent * 2.5, <, sequential);
}

static void test_api_client_bad_args(void)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "%s/api_client --posts 0 >/dev/null 2>&1", CIO_EXAMPLES_DIR);
    CIO_ASSERT_NE(system(cmd), 0);
}

static void test_gather_pages(void)
{
    char *out = run("http_gather");
    CIO_ASSERT(strstr(out, "/python: 200, 25 bytes") && strstr(out, "/cio: 200, 22 bytes"));
    double secs = 0;
    const char *t = strstr(out, "3 pages in ");
    CIO_ASSERT(t && sscanf(t, "3 pages in %lf", &secs) == 1);
    CIO_ASSERT_CMP(secs, >=, 0.49); /* each page takes 0.5 s... */
    CIO_ASSERT_CMP(secs, <,
                   1.5); /* ...and they were fetched together: one after another is 1.5 s */
}

static void test_single_get(void)
{
    char *out = run("httpx_get");
    CIO_ASSERT(strstr(out, "200 HTTP/1.1 text/plain; charset=utf-8\nHello from cio!\n"));
}

static void test_streaming_download(void)
{
    char *out = run("stream_download");
    CIO_ASSERT(strstr(out, "  8 MiB\nHTTP 200: 8388608 bytes written to /tmp/cio-download.bin"));
    unlink("/tmp/cio-download.bin");
}

static void test_json_api_server(void)
{
    int pipefd[2];
    CIO_ASSERT_EQ(pipe(pipefd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipefd[1], 1);
        char path[256];
        snprintf(path, sizeof(path), "%s/json_api_server", CIO_EXAMPLES_DIR);
        execl(path, path, "--port", "0", (char *)NULL);
        _exit(127);
    }
    close(pipefd[1]);
    FILE *in = fdopen(pipefd[0], "r");
    char line[256];
    int port = 0;
    CIO_ASSERT(fgets(line, sizeof(line), in) &&
               sscanf(line, "serving on http://127.0.0.1:%d", &port) == 1);
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "curl -sS -X POST -d '{\"title\":\"write tests\"}' http://127.0.0.1:%d/todos && "
             "curl -sS http://127.0.0.1:%d/todos/1 && curl -sS -o /dev/null -w ' %%{http_code}' "
             "-X DELETE http://127.0.0.1:%d/todos/1 && curl -sS -w ' %%{http_code}' "
             "http://127.0.0.1:%d/todos/1",
             port, port, port, port);
    FILE *p = popen(cmd, "r");
    char out[1024] = {0};
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = 0;
    pclose(p);
    CIO_ASSERT(strstr(out, "{\"id\":1,\"title\":\"write tests\",\"done\":false}{\"id\":1"));
    CIO_ASSERT(strstr(out, " 204{\"error\":\"no such to-do\"} 404"));
    kill(pid, SIGINT); /* the first Ctrl-C: a graceful shutdown */
    int status;
    waitpid(pid, &status, 0);
    CIO_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CIO_ASSERT(fgets(line, sizeof(line), in) && strcmp(line, "stopped\n") == 0);
    fclose(in);
}

CIO_TEST_MAIN(((cio_test_case[]){
    CIO_TEST(test_gather_pages, "three 0.5 s pages gathered arrive in well under 1.5 s"),
    CIO_TEST(test_single_get, "the single GET prints status, version, type and body"),
    CIO_TEST(test_streaming_download, "an 8 MiB chunked body streams to a file"),
    CIO_TEST(test_json_api_server,
             "the JSON API creates, reads and deletes a to-do; SIGINT shuts it down cleanly"),
    CIO_TEST(test_api_client_demo,
             "the demo fetches 10 posts and authors 5 at a time, reports post 7's error, and "
             "beats the sequential run by a wide ratio"),
    CIO_TEST(test_api_client_bad_args, "bad arguments are refused with a non-zero exit"),
}))
