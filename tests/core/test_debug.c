/* Tests of the debugging aids: deadlock report, task dump, slow-step
 * warning, stack-overflow message, leaked-handle report. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "cio_test.h"

static int join_other(void *arg)
{
    return cio_join(arg);
}

static int main_deadlock(void *arg)
{
    (void)arg;
    cio_task *b;
    cio_task_set_name(NULL, "task-a");
    cio_spawn_opts(&b, join_other, cio_current(), &(cio_task_opts){.name = "task-b"});
    return cio_join(b); /* task-a waits for task-b, which waits for task-a */
}

static void test_deadlock_reported(void)
{
    cio_test_capture_stderr_begin();
    int err = cio_test_run_virtual(main_deadlock, NULL);
    char *out = cio_test_capture_stderr_end();
    CIO_ASSERT_ERR(err, -EDEADLK); /* reported and stopped, not hung */
    CIO_ASSERT(strstr(out, "deadlock") != NULL);
    CIO_ASSERT(strstr(out, "task-a") != NULL);
    CIO_ASSERT(strstr(out, "join task-b") != NULL);
    free(out);
}

static int sleepy(void *arg)
{
    return cio_sleep(*(double *)arg);
}

static int main_dump(void *arg)
{
    char **text = arg;
    double secs = 10;
    cio_task *s, *j;
    cio_spawn_opts(&s, sleepy, &secs, &(cio_task_opts){.name = "napper"});
    cio_spawn_opts(&j, (cio_fn)cio_join, s, &(cio_task_opts){.name = "waiter"});
    cio_yield();
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int n = cio_dump_tasks(f);
    fclose(f);
    *text = buf;
    CIO_ASSERT_EQ(n, 3);
    cio_cancel(j);
    return cio_join(j) == -ECANCELED ? 0 : -1;
}

static void test_dump_tasks(void)
{
    char *text = NULL;
    CIO_ASSERT_OK(cio_test_run_virtual(main_dump, &text));
    CIO_ASSERT(strstr(text, "napper") && strstr(text, "waiting on sleep"));
    CIO_ASSERT(strstr(text, "waiter") && strstr(text, "waiting on join napper"));
    CIO_ASSERT(strstr(text, "main") && strstr(text, "running"));
    free(text);
    CIO_ASSERT_ERR(cio_dump_tasks(NULL), -EPERM);
}

/* Thread CPU time in seconds: a busy loop measured by it burns 150 ms of CPU
 * however often the machine preempts it. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int busy(void *arg)
{
    (void)arg;
    double t0 = cpu_now();
    while (cpu_now() - t0 < 0.15) {
    }
    return 0;
}

/* A blocking system call: the thread is off the CPU but not waiting for one. */
static int blocking_sleep(void *arg)
{
    (void)arg;
    struct timespec d = {0, 150 * 1000000L};
    while (nanosleep(&d, &d) < 0) {
    }
    return 0;
}

static void expect_slow_step_warning(cio_fn fn)
{
    cio_opts o = {.debug = 1, .no_sigint = 1};
    cio_test_capture_stderr_begin();
    int err = cio_run_opts(fn, NULL, &o);
    char *out = cio_test_capture_stderr_end();
    CIO_ASSERT_OK(err);
    CIO_ASSERT(strstr(out, "task main ran") != NULL);
    CIO_ASSERT(strstr(out, "without suspending") != NULL);
    free(out);
}

static void test_slow_step_warning(void)
{
    expect_slow_step_warning(busy);
}

static void test_blocking_call_warning(void)
{
    expect_slow_step_warning(blocking_sleep);
}

static atomic_int hogs_running;
static atomic_int hogs_stop;

static void *hog(void *arg)
{
    (void)arg;
    atomic_fetch_add(&hogs_running, 1);
    while (!atomic_load(&hogs_stop)) {
    }
    return NULL;
}

/* 200 ms of wall time spinning, sharing one CPU with two hogs: a third of it
 * on the CPU, the rest preempted. */
static int preempted_spin(void *arg)
{
    (void)arg;
    double t0 = cio_now();
    while (cio_now() - t0 < 0.2) {
    }
    return 0;
}

static void test_preempted_step_not_reported(void)
{
    cpu_set_t one, saved;
    CIO_ASSERT_OK(sched_getaffinity(0, sizeof(saved), &saved));
    CPU_ZERO(&one);
    CPU_SET(sched_getcpu(), &one);
    CIO_ASSERT_OK(sched_setaffinity(0, sizeof(one), &one)); /* the hogs inherit it */
    pthread_t h[2];
    atomic_store(&hogs_stop, 0);
    atomic_store(&hogs_running, 0);
    for (int i = 0; i < 2; i++)
        CIO_ASSERT_OK(pthread_create(&h[i], NULL, hog, NULL));
    while (atomic_load(&hogs_running) < 2)
        sched_yield();
    cio_opts o = {.debug = 1, .no_sigint = 1};
    cio_test_capture_stderr_begin();
    int err = cio_run_opts(preempted_spin, NULL, &o);
    char *out = cio_test_capture_stderr_end();
    atomic_store(&hogs_stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(h[i], NULL);
    sched_setaffinity(0, sizeof(saved), &saved);
    CIO_ASSERT_OK(err);
    if (strstr(out, "without suspending"))
        CIO_FAIL_AT("a preempted step was reported as blocking:\n%s", out);
    free(out);
}

static volatile int keep_going = 1;

static int recurse(int n)
{
    volatile char pad[512];
    pad[0] = (char)n;
    return keep_going ? recurse(n + 1) + pad[0] : 0;
}

static int overflow(void *arg)
{
    (void)arg;
    return recurse(0);
}

static int main_overflow(void *arg)
{
    (void)arg;
    cio_task *t;
    cio_spawn_opts(&t, overflow, NULL, &(cio_task_opts){.name = "deep-diver"});
    return cio_join(t);
}

static void test_stack_overflow_named(void)
{
    int pipefd[2];
    CIO_ASSERT_EQ(pipe(pipefd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipefd[1], 2);
        cio_opts o = {.debug = 1, .no_sigint = 1};
        cio_run_opts(main_overflow, NULL, &o);
        _exit(0); /* not reached: the overflow kills the process */
    }
    close(pipefd[1]);
    char buf[4096] = {0};
    size_t got = 0;
    ssize_t r;
    while (got < sizeof(buf) - 1 && (r = read(pipefd[0], buf + got, sizeof(buf) - 1 - got)) > 0)
        got += (size_t)r;
    int status;
    waitpid(pid, &status, 0);
    CIO_ASSERT(!(WIFEXITED(status) && WEXITSTATUS(status) == 0));
    CIO_ASSERT(strstr(buf, "stack overflow in task deep-diver") != NULL);
}

/* Issue 14: a frame bigger than the guard page (a large local array) jumped
 * over it and crashed with no message, even in debug mode. */
__attribute__((noinline)) static int big_frame(int i)
{
    volatile char big[256 * 1024]; /* four times the default stack */
    big[i] = 1;                    /* the lowest byte: 192 KiB below the stack */
    return big[i];
}

static int overflow_big(void *arg)
{
    (void)arg;
    return big_frame(0);
}

static int main_overflow_big(void *arg)
{
    (void)arg;
    cio_task *t;
    cio_spawn_opts(&t, overflow_big, NULL, &(cio_task_opts){.name = "big-array"});
    return cio_join(t);
}

static void test_stack_overflow_large_frame(void)
{
    int pipefd[2];
    CIO_ASSERT_EQ(pipe(pipefd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipefd[1], 2);
        cio_opts o = {.debug = 1, .no_sigint = 1};
        int err = cio_run_opts(main_overflow_big, NULL, &o);
        fprintf(stderr, "cio_run returned %d\n", err);
        _exit(0); /* not reached: the overflow kills the process */
    }
    close(pipefd[1]);
    char buf[4096] = {0};
    size_t got = 0;
    ssize_t r;
    while (got < sizeof(buf) - 1 && (r = read(pipefd[0], buf + got, sizeof(buf) - 1 - got)) > 0)
        got += (size_t)r;
    int status;
    waitpid(pid, &status, 0);
    CIO_ASSERT(!(WIFEXITED(status) && WEXITSTATUS(status) == 0));
    if (!strstr(buf, "stack overflow in task big-array"))
        CIO_FAIL_AT("no report; stderr was: %s", buf);
}

static int sleep_2_return_7(void *arg)
{
    (void)arg;
    cio_sleep(2);
    return 7;
}

static int shield_arg(void *arg)
{
    return cio_shield(arg);
}

/* Issue 14: `await wait_for(shield(t))` then `await t`, ported, joins a handle
 * cio_shield released: -EINVAL silently, and t's result is lost. */
static int main_join_released(void *arg)
{
    (void)arg;
    cio_task *t = cio_spawn(sleep_2_return_7, NULL);
    CIO_ASSERT_ERR(cio_wait_for(shield_arg, t, 1), -ETIMEDOUT);
    CIO_ASSERT_ERR(cio_join(t), -EINVAL);
    CIO_ASSERT(strstr(cio_task_message(NULL), "already released") != NULL);
    return 0;
}

static void test_join_released_handle_reported(void)
{
    cio_opts o = {.debug = 1, .no_sigint = 1, .virtual_clock = 1};
    cio_test_capture_stderr_begin();
    int err = cio_run_opts(main_join_released, NULL, &o);
    char *out = cio_test_capture_stderr_end();
    CIO_ASSERT_OK(err);
    CIO_ASSERT(strstr(out, "cio_join on a task handle already released") != NULL);
    free(out);
}

static int backend_is_epoll(void *arg)
{
    (void)arg;
    return strcmp(cio_backend_name(), "epoll") == 0 ? 0 : -1;
}

/* Issue 14: under Valgrind io_uring gave hundreds of false reports; AUTO picks
 * epoll there. Run by CTest under Valgrind without CIO_BACKEND (the
 * test_debug_valgrind_backend test); a plain run has nothing to check. */
static void test_valgrind_picks_epoll(void)
{
    if (!getenv("CIO_TEST_UNDER_VALGRIND"))
        CIO_SKIP("only meaningful under Valgrind");
    unsetenv("CIO_BACKEND");
    cio_opts o = {.no_sigint = 1, .virtual_clock = 1};
    CIO_ASSERT_OK(cio_run_opts(backend_is_epoll, NULL, &o));
}

static int return_0(void *arg);

/* Issue 14: an inherited SIG_IGN for SIGINT silently turned Ctrl-C off. */
static void test_ignored_sigint_reported(void)
{
    signal(SIGINT, SIG_IGN);
    cio_opts o = {.debug = 1, .virtual_clock = 1};
    cio_test_capture_stderr_begin();
    int err = cio_run_opts(return_0, NULL, &o);
    char *out = cio_test_capture_stderr_end();
    CIO_ASSERT_OK(err);
    CIO_ASSERT(strstr(out, "SIGINT is ignored") != NULL);
    free(out);
}

static int return_0(void *arg)
{
    (void)arg;
    return 0;
}

static int main_leak_handle(void *arg)
{
    (void)arg;
    cio_task *t;
    cio_spawn_opts(&t, return_0, NULL, &(cio_task_opts){.name = "forgotten"});
    return cio_yield();
}

static void test_leaked_handle_reported(void)
{
    cio_opts o = {.debug = 1, .no_sigint = 1, .virtual_clock = 1};
    cio_test_capture_stderr_begin();
    int err = cio_run_opts(main_leak_handle, NULL, &o);
    char *out = cio_test_capture_stderr_end();
    CIO_ASSERT_OK(err);
    CIO_ASSERT(strstr(out, "task forgotten finished but its handle was never released") != NULL);
    free(out);
}

static int check_debug_flag(void *arg)
{
    (void)arg;
    return cio_debug_enabled() ? 0 : -1;
}

static void test_debug_from_environment(void)
{
    setenv("CIO_DEBUG", "1", 1);
    CIO_ASSERT_OK(cio_test_run_virtual(check_debug_flag, NULL));
    setenv("CIO_DEBUG", "0", 1);
    CIO_ASSERT_ERR(cio_test_run_virtual(check_debug_flag, NULL), -1);
}

CIO_TEST_MAIN(((cio_test_case[]){
    CIO_TEST(test_deadlock_reported, "a join cycle is reported with names and cio_run returns"),
    CIO_TEST(test_dump_tasks, "cio_dump_tasks lists names, states and what each waits on"),
    CIO_TEST(test_slow_step_warning,
             "debug mode warns of a task running 150 ms of CPU without suspending"),
    CIO_TEST(test_blocking_call_warning,
             "debug mode warns of a task blocked 150 ms in a system call (nanosleep)"),
    CIO_TEST(test_preempted_step_not_reported,
             "a step that spins 200 ms on one CPU shared with two hogs (mostly preempted) "
             "is not reported as blocking"),
    CIO_TEST(test_stack_overflow_named, "debug mode names the task whose stack overflowed"),
    CIO_TEST(test_ignored_sigint_reported,
             "debug mode says when an inherited SIG_IGN turns off Ctrl-C"),
    CIO_TEST(test_valgrind_picks_epoll, "under Valgrind the AUTO backend is epoll"),
    CIO_TEST(test_join_released_handle_reported,
             "debug mode reports cio_join on a handle cio_shield already released"),
    CIO_TEST(test_stack_overflow_large_frame,
             "debug mode names the task when a frame larger than a page jumps the guard"),
    CIO_TEST(test_leaked_handle_reported, "debug mode reports a handle never joined or detached"),
    CIO_TEST(test_debug_from_environment, "CIO_DEBUG=1 turns debug mode on"),
}))
