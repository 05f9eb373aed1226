/* cio's tiny test runner.
 *
 * A test file lists its tests in a table and calls cio_test_main. Each test
 * runs in a forked child under a timeout (CIO_TEST_TIMEOUT seconds, default
 * 60); CIO_TEST_NOFORK=1 runs them in-process for a debugger. A failed assert
 * prints both sides and aborts the child, never unwinding a task's stack.
 * The run ends with "N passed, N failed, N skipped"; the exit status is 0, 1
 * on any failure, or 77 when every test was skipped (CTest's skip code).
 * A first argument runs only the tests whose name contains it;
 * CIO_TEST_ONLY=name runs the one test of that exact name; CIO_TEST_LIST=1
 * prints the names and runs nothing (the torture runner uses both). */
#ifndef CIO_TEST_H
#define CIO_TEST_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cio.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define CIO_TEST_LEAK_CHECK() __lsan_do_recoverable_leak_check()
#else
#define CIO_TEST_LEAK_CHECK() 0
#endif

typedef struct cio_test_case {
    const char *name;
    void (*fn)(void);
    const char *checks; /* what the test proves, printed with its result */
} cio_test_case;

#define CIO_TEST(fn, checks)                                                                       \
    {                                                                                              \
#fn, fn, checks                                                                            \
    }

/* Stderr as it was before a capture (below), for a failure inside one. */
static int cio_test_saved_stderr = -1;

#define CIO_FAIL_AT(...)                                                                           \
    do {                                                                                           \
        if (cio_test_saved_stderr >= 0)                                                            \
            fflush(stderr), dup2(cio_test_saved_stderr, 2);                                        \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                            \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        abort();                                                                                   \
    } while (0)

#define CIO_ASSERT(cond)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            CIO_FAIL_AT("assertion failed: %s", #cond);                                            \
    } while (0)

#define CIO_ASSERT_EQ(a, b)                                                                        \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_)                                                                              \
            CIO_FAIL_AT("%s == %s failed: %lld != %lld", #a, #b, a_, b_);                          \
    } while (0)

#define CIO_ASSERT_NE(a, b)                                                                        \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ == b_)                                                                              \
            CIO_FAIL_AT("%s != %s failed: both %lld", #a, #b, a_);                                 \
    } while (0)

/* A cio return code: prints both as names. */
#define CIO_ASSERT_ERR(call, expected)                                                             \
    do {                                                                                           \
        int got_ = (int)(call), want_ = (int)(expected);                                           \
        if (got_ != want_)                                                                         \
            CIO_FAIL_AT("%s returned %d (%s), expected %d (%s)", #call, got_, cio_strerror(got_),  \
                        want_, cio_strerror(want_));                                               \
    } while (0)

#define CIO_ASSERT_OK(call) CIO_ASSERT_ERR(call, 0)

#define CIO_ASSERT_STR_EQ(a, b)                                                                    \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                                     \
            CIO_FAIL_AT("%s == %s failed: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)",           \
                        b_ ? b_ : "(null)");                                                       \
    } while (0)

#define CIO_ASSERT_CMP(a, op, b)                                                                   \
    do {                                                                                           \
        double a_ = (double)(a), b_ = (double)(b);                                                 \
        if (!(a_ op b_))                                                                           \
            CIO_FAIL_AT("%s %s %s failed: %g vs %g", #a, #op, #b, a_, b_);                         \
    } while (0)

/* Ends the current test as skipped. */
#define CIO_SKIP(why)                                                                              \
    do {                                                                                           \
        fprintf(stderr, "skipped: %s\n", why);                                                     \
        exit(77);                                                                                  \
    } while (0)

/* Captures what the code between begin and end writes to stderr. end returns
 * it as a malloc'd string (the caller frees it). */
static FILE *cio_test_capture_file;

static inline void cio_test_capture_stderr_begin(void)
{
    fflush(stderr);
    cio_test_capture_file = tmpfile();
    if (!cio_test_capture_file)
        abort();
    cio_test_saved_stderr = dup(2);
    dup2(fileno(cio_test_capture_file), 2);
}

static inline char *cio_test_capture_stderr_end(void)
{
    fflush(stderr);
    dup2(cio_test_saved_stderr, 2);
    close(cio_test_saved_stderr);
    cio_test_saved_stderr = -1;
    long n = ftell(cio_test_capture_file);
    if (n < 0)
        n = 0;
    char *buf = calloc(1, (size_t)n + 1);
    rewind(cio_test_capture_file);
    if (buf && n > 0 && fread(buf, 1, (size_t)n, cio_test_capture_file) != (size_t)n)
        buf[0] = 0;
    fclose(cio_test_capture_file);
    return buf;
}

/* Skips the test when the backend CTest asked for (CIO_BACKEND) cannot run
 * on this kernel or build: a skip, never a pass. */
static inline int cio_test_check_backend(int err)
{
    const char *want = getenv("CIO_BACKEND");
    if (want && (err == -ENOSYS || err == -EPERM || err == -ENOTSUP) &&
        strcmp(want, "epoll") != 0) {
        fprintf(stderr, "skipped: backend %s unavailable: %s\n", want, cio_strerror(err));
        exit(77);
    }
    return err;
}

/* Runs main under a loop with a virtual clock (the usual test setting). */
static inline int cio_test_run_virtual(cio_fn main, void *arg)
{
    cio_opts o = {0};
    o.virtual_clock = 1;
    o.no_sigint = 1;
    return cio_test_check_backend(cio_run_opts(main, arg, &o));
}

/* Runs main under a loop with the real clock. */
static inline int cio_test_run(cio_fn main, void *arg)
{
    cio_opts o = {0};
    o.no_sigint = 1;
    return cio_test_check_backend(cio_run_opts(main, arg, &o));
}

static inline int cio_test_main(int argc, char **argv, const cio_test_case *tests, size_t n)
{
    int nofork = getenv("CIO_TEST_NOFORK") && atoi(getenv("CIO_TEST_NOFORK"));
    unsigned timeout = getenv("CIO_TEST_TIMEOUT") ? (unsigned)atoi(getenv("CIO_TEST_TIMEOUT")) : 60;
    const char *only = getenv("CIO_TEST_ONLY");
    int passed = 0, failed = 0, skipped = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (getenv("CIO_TEST_LIST")) {
        for (size_t i = 0; i < n; i++)
            printf("%s\n", tests[i].name);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (argc > 1 && !strstr(tests[i].name, argv[1]))
            continue;
        if (only && *only && strcmp(tests[i].name, only) != 0)
            continue;
        int status = 0;
        if (nofork) {
            tests[i].fn();
        } else {
            fflush(NULL);
            pid_t pid = fork();
            if (pid == 0) {
                alarm(timeout);
                tests[i].fn();
                fflush(NULL);
                /* _exit skips LeakSanitizer's exit-time check: run it here. */
                _exit(CIO_TEST_LEAK_CHECK() ? 3 : 0);
            }
            if (pid < 0 || waitpid(pid, &status, 0) < 0) {
                perror("fork/waitpid");
                return 1;
            }
        }
        const char *verdict;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            verdict = "ok";
            passed++;
        } else if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
            verdict = "SKIP";
            skipped++;
        } else {
            verdict = "FAIL";
            failed++;
        }
        printf("%-4s %s: %s", verdict, tests[i].name, tests[i].checks);
        if (WIFSIGNALED(status))
            printf(" [killed by signal %d%s]", WTERMSIG(status),
                   WTERMSIG(status) == SIGALRM ? ": timed out" : "");
        else if (WIFEXITED(status) && WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 77)
            printf(" [exit %d]", WEXITSTATUS(status));
        printf("\n");
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    if (failed)
        return 1;
    return passed == 0 && skipped > 0 ? 77 : 0;
}

#define CIO_TEST_MAIN(table)                                                                       \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        return cio_test_main(argc, argv, table, sizeof(table) / sizeof(table[0]));                 \
    }

#endif
