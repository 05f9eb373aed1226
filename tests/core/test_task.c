/* Tests of tasks: spawn, join, detach, cancel, names, failure messages, and
 * cio_run's ownership rules. */
#include <pthread.h>

#include "cio_test.h"

static int return_7(void *arg)
{
    (void)arg;
    return 7;
}

static int main_spawn_join(void *arg)
{
    (void)arg;
    cio_task *t = cio_spawn(return_7, NULL);
    CIO_ASSERT(t != NULL);
    CIO_ASSERT_EQ(cio_task_done(t), 0);
    CIO_ASSERT_ERR(cio_task_status(t), -EINPROGRESS);
    CIO_ASSERT_EQ(cio_join(t), 7);
    return 0;
}

static void test_spawn_join(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_spawn_join, NULL));
}

/* ---- order ---- */

static char order[64];
static size_t norder;

static int append_letter(void *arg)
{
    order[norder++] = *(const char *)arg;
    return 0;
}

static int main_order(void *arg)
{
    (void)arg;
    cio_task *t[3];
    t[0] = cio_spawn(append_letter, "a");
    t[1] = cio_spawn(append_letter, "b");
    t[2] = cio_spawn(append_letter, "c");
    order[norder++] = 'M'; /* nothing ran yet: spawning does not switch */
    CIO_ASSERT_OK(cio_yield());
    order[norder++] = 'Y';
    for (int i = 0; i < 3; i++)
        CIO_ASSERT_OK(cio_join(t[i]));
    return 0;
}

static void test_spawn_order(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_order, NULL));
    CIO_ASSERT_STR_EQ(order, "MabcY");
}

/* ---- tasks that never ran start on the stack of the one that finished ---- */

static cio_task *fresh[5];

/* Checks that it runs as itself, then does what its letter says. */
static int fresh_body(void *arg)
{
    const char *letter = arg;
    int i = *letter - 'a';
    CIO_ASSERT(cio_current() == fresh[i]);
    order[norder++] = *letter;
    if (*letter == 'b') { /* goes past its stack's top page */
        volatile char deep[16 * 1024];
        for (size_t k = 0; k < sizeof(deep); k += 512)
            deep[k] = (char)k;
        return deep[512];
    }
    if (*letter == 'e')
        return cio_fail(-EIO, "e failed");
    return 0;
}

static int join_first(void *arg)
{
    (void)arg;
    CIO_ASSERT_EQ(cio_join(fresh[0]), 0);
    order[norder++] = 'J';
    return 0;
}

static int main_fresh_chain(void *arg)
{
    (void)arg;
    norder = 0;
    memset(order, 0, sizeof(order));
    cio_task *joiner = cio_spawn(join_first, NULL); /* runs first, parks on fresh[0] */
    static const char *letters[] = {"a", "b", "c", "d", "e"};
    for (int i = 0; i < 5; i++) {
        cio_task_opts o = {.name = letters[i], .stack_size = i == 2 ? 256 * 1024 : 0};
        CIO_ASSERT_OK(cio_spawn_opts(&fresh[i], fresh_body, (void *)letters[i], &o));
    }
    CIO_ASSERT_OK(cio_join(joiner));
    CIO_ASSERT_STR_EQ(order, "abcdeJ"); /* the woken joiner runs after the batch */
    CIO_ASSERT_EQ(cio_join(fresh[1]), 0);
    for (int i = 2; i < 4; i++)
        CIO_ASSERT_EQ(cio_join(fresh[i]), 0);
    CIO_ASSERT_STR_EQ(cio_task_message(fresh[4]), "e failed");
    CIO_ASSERT_ERR(cio_join(fresh[4]), -EIO);
    return 0;
}

static void test_fresh_tasks_chain(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_fresh_chain, NULL));
}

/* ---- cancellation ---- */

static int sleep_long(void *arg)
{
    int *result = arg;
    *result = cio_sleep(100);
    /* Level-triggered: every later suspending call sees the reason too. */
    CIO_ASSERT_ERR(cio_yield(), -ECANCELED);
    CIO_ASSERT_ERR(cio_sleep(1), -ECANCELED);
    return *result;
}

static int main_cancel(void *arg)
{
    (void)arg;
    int result = 1;
    cio_task *t = cio_spawn(sleep_long, &result);
    CIO_ASSERT_OK(cio_sleep(1));
    cio_cancel(t);
    cio_cancel(t); /* idempotent */
    CIO_ASSERT_ERR(cio_join(t), -ECANCELED);
    CIO_ASSERT_ERR(result, -ECANCELED);
    CIO_ASSERT_CMP(cio_now(), <, 2.0); /* woke at the cancel, not after 100 s */
    return 0;
}

static void test_cancel_sleeping(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_cancel, NULL));
}

static int child_ends_cleanly(void *arg)
{
    int *stage = arg;
    *stage = 1;
    int err = cio_sleep(10);
    *stage = 2; /* cleanup runs after the cancellation arrives */
    return err;
}

static int joiner(void *arg)
{
    return cio_join(arg);
}

static int main_join_propagates(void *arg)
{
    (void)arg;
    int stage = 0;
    cio_task *child = cio_spawn(child_ends_cleanly, &stage);
    cio_task *j = cio_spawn(joiner, child);
    CIO_ASSERT_OK(cio_sleep(1));
    cio_cancel(j); /* cancelling the joiner cancels the joined task */
    CIO_ASSERT_ERR(cio_join(j), -ECANCELED);
    CIO_ASSERT_EQ(stage, 2); /* and the joiner waited for it to finish */
    return 0;
}

static void test_join_propagates_cancel(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_join_propagates, NULL));
}

static int main_cancel_before_start(void *arg)
{
    (void)arg;
    int result = 1;
    cio_task *t = cio_spawn(sleep_long, &result);
    cio_cancel(t); /* before it ever ran: its body runs and sees the cancel */
    CIO_ASSERT_ERR(cio_join(t), -ECANCELED);
    CIO_ASSERT_ERR(result, -ECANCELED);
    return 0;
}

static void test_cancel_before_start(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_cancel_before_start, NULL));
}

static int self_cancel(void *arg)
{
    (void)arg;
    cio_cancel(cio_current());
    CIO_ASSERT_ERR(cio_cancelled(), -ECANCELED);
    return cio_sleep(0.5);
}

static int main_self_cancel(void *arg)
{
    (void)arg;
    CIO_ASSERT_ERR(cio_join(cio_spawn(self_cancel, NULL)), -ECANCELED);
    CIO_ASSERT_CMP(cio_now(), ==, 0.0); /* it never slept */
    return 0;
}

static void test_self_cancel_never_suspends(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_self_cancel, NULL));
}

/* ---- bad input ---- */

static int main_bad_handles(void *arg)
{
    (void)arg;
    CIO_ASSERT_ERR(cio_join(NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_task_status(NULL), -EINVAL);
    CIO_ASSERT(cio_task_name(NULL) == NULL);
    cio_cancel(NULL);
    cio_detach(NULL);
    cio_task *t = cio_spawn(return_7, NULL);
    CIO_ASSERT_EQ(cio_join(t), 7);
    CIO_ASSERT_ERR(cio_join(t), -EINVAL); /* joined twice */
    CIO_ASSERT_ERR(cio_join(cio_current()), -EDEADLK);
    cio_task *out = (cio_task *)1;
    CIO_ASSERT_ERR(cio_spawn_opts(&out, NULL, NULL, NULL), -EINVAL);
    CIO_ASSERT(out == NULL);
    CIO_ASSERT_ERR(cio_sleep(-1), -EINVAL);
    CIO_ASSERT_ERR(cio_sleep(0.0 / 0.0), -EINVAL);
    return 0;
}

static void test_bad_handles(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_bad_handles, NULL));
}

static int second_joiner(void *arg)
{
    return cio_join(arg);
}

static int main_two_joiners(void *arg)
{
    (void)arg;
    int result = 0;
    cio_task *t = cio_spawn(sleep_long, &result);
    cio_task *j = cio_spawn(second_joiner, t);
    CIO_ASSERT_OK(cio_yield()); /* j now waits on t */
    CIO_ASSERT_ERR(cio_join(t), -EBUSY);
    cio_cancel(t);
    CIO_ASSERT_ERR(cio_join(j), -ECANCELED);
    return 0;
}

static void test_one_joiner_at_a_time(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_two_joiners, NULL));
}

static void test_outside_loop(void)
{
    CIO_ASSERT(cio_current() == NULL);
    CIO_ASSERT(cio_loop_current() == NULL);
    CIO_ASSERT_ERR(cio_sleep(0.1), -EPERM);
    CIO_ASSERT_ERR(cio_yield(), -EPERM);
    CIO_ASSERT(cio_spawn(return_7, NULL) == NULL);
    cio_task *t;
    CIO_ASSERT_ERR(cio_spawn_opts(&t, return_7, NULL, NULL), -EPERM);
    CIO_ASSERT_ERR(cio_gather(NULL, 0, 0), -EPERM);
    CIO_ASSERT_ERR(cio_fail(-EIO, "no task"), -EIO);
    CIO_ASSERT_ERR(cio_run(NULL, NULL), -EINVAL);
    CIO_ASSERT_CMP(cio_now(), >, 0.0);
}

static int main_nested_run(void *arg)
{
    (void)arg;
    CIO_ASSERT_ERR(cio_run(return_7, NULL), -EBUSY);
    return 0;
}

static void test_nested_run_refused(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_nested_run, NULL));
}

/* ---- names and messages ---- */

static int failing(void *arg)
{
    return cio_fail(-EPROTO, "bad record %d", *(int *)arg);
}

static int main_names_messages(void *arg)
{
    (void)arg;
    int n = 42;
    cio_task *t;
    CIO_ASSERT_OK(cio_spawn_opts(&t, failing, &n, &(cio_task_opts){.name = "parser"}));
    CIO_ASSERT_STR_EQ(cio_task_name(t), "parser");
    CIO_ASSERT_STR_EQ(cio_task_name(cio_current()), "main");
    cio_task_set_name(NULL, "renamed-main");
    CIO_ASSERT_STR_EQ(cio_task_name(cio_current()), "renamed-main");
    cio_task *u = cio_spawn(return_7, NULL);
    CIO_ASSERT(strncmp(cio_task_name(u), "Task-", 5) == 0);
    cio_task *both[2] = {t, u};
    CIO_ASSERT_OK(cio_gather(both, 2, CIO_RETURN_EXCEPTIONS));
    CIO_ASSERT_ERR(cio_task_status(t), -EPROTO);
    CIO_ASSERT_STR_EQ(cio_task_message(t), "bad record 42");
    CIO_ASSERT(cio_task_message(u) == NULL);
    CIO_ASSERT_ERR(cio_join(t), -EPROTO);
    CIO_ASSERT_EQ(cio_join(u), 7);
    return 0;
}

static void test_names_and_messages(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_names_messages, NULL));
}

/* Issue 14: a call failing without a message of its own left the previous,
 * unrelated message in place, so a program reading it after the failure was
 * told about something else. */
static int cancel_later(void *arg)
{
    CIO_ASSERT_OK(cio_sleep(1));
    cio_scope_cancel(arg);
    return 0;
}

static int main_stale_messages(void *arg)
{
    (void)arg;
    /* A bad argument: the call's own message. */
    cio_fail(-EIO, "disk full (unrelated)");
    CIO_ASSERT_ERR(cio_sleep(-1), -EINVAL);
    const char *m = cio_task_message(cio_current());
    CIO_ASSERT(m && strstr(m, "cio_sleep") && !strstr(m, "disk full"));
    cio_fail(-EIO, "disk full (unrelated)");
    CIO_ASSERT_ERR(cio_join(NULL), -EINVAL);
    CIO_ASSERT(!strstr(cio_task_message(cio_current()), "disk full"));
    /* A cancel reason seen at a call's first step: no message. */
    cio_scope s;
    CIO_ASSERT_OK(cio_scope_enter(&s));
    cio_scope_cancel(&s);
    cio_fail(-EIO, "disk full (unrelated)");
    CIO_ASSERT_ERR(cio_sleep(1), -ECANCELED);
    CIO_ASSERT(cio_task_message(cio_current()) == NULL);
    CIO_ASSERT_ERR(cio_scope_exit(&s), -ECANCELED);
    /* A cancel delivered while parked: no message either. */
    CIO_ASSERT_OK(cio_scope_enter(&s));
    cio_task *c = cio_spawn(cancel_later, &s);
    cio_fail(-EIO, "disk full (unrelated)");
    CIO_ASSERT_ERR(cio_sleep(10), -ECANCELED);
    CIO_ASSERT(cio_task_message(cio_current()) == NULL);
    CIO_ASSERT_ERR(cio_scope_exit(&s), -ECANCELED);
    CIO_ASSERT_OK(cio_join(c));
    /* An expired timeout says where it was entered, even after an old message. */
    cio_fail(-EIO, "disk full (unrelated)");
    CIO_ASSERT_OK(cio_timeout_enter(&s, 1));
    CIO_ASSERT_ERR(cio_sleep(5), -ETIMEDOUT);
    CIO_ASSERT_ERR(cio_timeout_exit(&s), -ETIMEDOUT);
    m = cio_task_message(cio_current());
    CIO_ASSERT(m && strstr(m, "timeout entered at") && !strstr(m, "disk full"));
    /* A message set by the failing call itself stays: the task ends with it. */
    CIO_ASSERT_ERR(cio_fail(-EIO, "mine"), -EIO);
    CIO_ASSERT_STR_EQ(cio_task_message(cio_current()), "mine");
    return 0;
}

static void test_no_stale_messages(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_stale_messages, NULL));
}

/* ---- cio_run's ownership ---- */

static int finished_leftover;

static int leftover(void *arg)
{
    (void)arg;
    int err = cio_sleep(1000);
    finished_leftover = err == -ECANCELED;
    return err;
}

static int main_leaves_tasks(void *arg)
{
    (void)arg;
    cio_detach(cio_spawn(leftover, NULL));
    cio_spawn(leftover, NULL); /* neither joined nor detached */
    CIO_ASSERT_OK(cio_yield());
    return 5;
}

static void test_run_cancels_leftovers(void)
{
    CIO_ASSERT_EQ(cio_test_run_virtual(main_leaves_tasks, NULL), 5);
    CIO_ASSERT_EQ(finished_leftover, 1);
}

static int fail_detached(void *arg)
{
    (void)arg;
    return cio_fail(-EIO, "disk on fire");
}

static int main_detached_failure(void *arg)
{
    (void)arg;
    cio_task *t;
    cio_spawn_opts(&t, fail_detached, NULL, &(cio_task_opts){.name = "writer"});
    cio_detach(t);
    return cio_sleep(1);
}

static void test_unjoined_failure_reported(void)
{
    cio_test_capture_stderr_begin();
    int err = cio_test_run_virtual(main_detached_failure, NULL);
    char *out = cio_test_capture_stderr_end();
    CIO_ASSERT_OK(err);
    CIO_ASSERT(strstr(out, "task writer failed") != NULL);
    CIO_ASSERT(strstr(out, "disk on fire") != NULL);
    free(out);
}

/* ---- switching keeps state ---- */

static int keeps_errno(void *arg)
{
    (void)arg;
    errno = 1234;
    CIO_ASSERT_OK(cio_yield());
    CIO_ASSERT_EQ(errno, 1234);
    return 0;
}

static int clobbers_errno(void *arg)
{
    (void)arg;
    errno = 99;
    return 0;
}

static int main_errno(void *arg)
{
    (void)arg;
    cio_task *t[2] = {cio_spawn(keeps_errno, NULL), cio_spawn(clobbers_errno, NULL)};
    CIO_ASSERT_OK(cio_gather(t, 2, 0));
    cio_join(t[0]);
    cio_join(t[1]);
    return 0;
}

static void test_errno_saved_across_switches(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_errno, NULL));
}

static int fpu_task(void *arg)
{
    double x = *(double *)arg;
    for (int i = 0; i < 100; i++) {
        x = x * 1.5 + 0.25;
        if (cio_yield())
            return -1;
    }
    *(double *)arg = x;
    return 0;
}

static int main_fpu(void *arg)
{
    (void)arg;
    double a = 1.0, b = 2.0, ea = 1.0, eb = 2.0;
    for (int i = 0; i < 100; i++) {
        ea = ea * 1.5 + 0.25;
        eb = eb * 1.5 + 0.25;
    }
    cio_task *t[2] = {cio_spawn(fpu_task, &a), cio_spawn(fpu_task, &b)};
    CIO_ASSERT_OK(cio_gather(t, 2, 0));
    cio_join(t[0]);
    cio_join(t[1]);
    CIO_ASSERT(a == ea && b == eb);
    return 0;
}

static void test_registers_survive_switches(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_fpu, NULL));
}

static int deep(int n)
{
    volatile char buf[1024];
    buf[0] = (char)n;
    buf[1023] = (char)n;
    return n == 0 ? 0 : deep(n - 1) + (buf[0] == buf[1023]);
}

static int uses_big_stack(void *arg)
{
    (void)arg;
    return deep(200) == 200 ? 0 : -1; /* about 200 KiB deep */
}

static int main_stack_size(void *arg)
{
    (void)arg;
    cio_task *t;
    CIO_ASSERT_OK(
        cio_spawn_opts(&t, uses_big_stack, NULL, &(cio_task_opts){.stack_size = 1024 * 1024}));
    CIO_ASSERT_OK(cio_join(t));
    return 0;
}

static void test_task_stack_size(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_stack_size, NULL));
}

static void test_loop_stack_size(void)
{
    cio_opts o = {.virtual_clock = 1, .stack_size = 1024 * 1024, .no_sigint = 1};
    CIO_ASSERT_OK(cio_run_opts(uses_big_stack, NULL, &o));
}

static int main_many(void *arg)
{
    size_t n = *(size_t *)arg;
    cio_task **t = calloc(n, sizeof(*t));
    for (size_t i = 0; i < n; i++)
        CIO_ASSERT((t[i] = cio_spawn(return_7, NULL)) != NULL);
    CIO_ASSERT_OK(cio_gather(t, n, 0));
    for (size_t i = 0; i < n; i++)
        CIO_ASSERT_EQ(cio_join(t[i]), 7);
    free(t);
    return 0;
}

static void test_many_tasks_reuse_stacks(void)
{
    size_t n = 20000; /* past the guarded budget, into slab stacks */
    for (int round = 0; round < 2; round++)
        CIO_ASSERT_OK(cio_test_run_virtual(main_many, &n));
}

/* ---- SIGINT ---- */

static int main_sigint(void *arg)
{
    (void)arg;
    raise(SIGINT); /* the handler only flags it: the loop cancels main */
    int err = cio_sleep(100);
    CIO_ASSERT_ERR(err, -ECANCELED);
    return err;
}

static void test_sigint_cancels_main(void)
{
    cio_opts o = {.virtual_clock = 1};
    CIO_ASSERT_ERR(cio_run_opts(main_sigint, NULL, &o), -ECANCELED);
}

static void test_backend_choice(void)
{
    cio_opts o = {.virtual_clock = 1, .no_sigint = 1, .backend = CIO_BACKEND_EPOLL};
    CIO_ASSERT_OK(cio_run_opts(return_7, NULL, &o) == 7 ? 0 : -1);
    o.backend = (cio_backend_kind)42;
    CIO_ASSERT_ERR(cio_run_opts(return_7, NULL, &o), -EINVAL);
}

static int cancel_self_then_return(void *arg)
{
    (void)arg;
    cio_cancel(cio_current());
    return 5; /* no suspending call after the cancel */
}

static int cancel_self_then_report(void *arg)
{
    (void)arg;
    cio_cancel(cio_current());
    return cio_cancelled() ? cio_cancelled() : 5;
}

static int main_self_cancel_return(void *arg)
{
    (void)arg;
    /* Kept difference from asyncio (docs/guide.md, "No silent traps"): the
     * body's return value is the task's status; the cancel is a request that
     * only suspending calls deliver. */
    CIO_ASSERT_EQ(cio_join(cio_spawn(cancel_self_then_return, NULL)), 5);
    CIO_ASSERT_ERR(cio_join(cio_spawn(cancel_self_then_report, NULL)), -ECANCELED);
    return 0;
}

static void test_self_cancel_then_return(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_self_cancel_return, NULL));
}

CIO_TEST_MAIN(((cio_test_case[]){
    CIO_TEST(test_self_cancel_then_return,
             "a task that cancels itself and returns without suspending keeps its value"),
    CIO_TEST(test_spawn_join, "a spawned task runs and cio_join returns its status"),
    CIO_TEST(test_spawn_order,
             "spawn does not switch; ready tasks run FIFO when the spawner yields"),
    CIO_TEST(test_fresh_tasks_chain,
             "tasks that never ran start in order on the stack of the one that finished, "
             "each as itself, with its own stack size, deep use and failure kept"),
    CIO_TEST(test_cancel_sleeping, "cio_cancel wakes a sleeper with -ECANCELED, level-triggered"),
    CIO_TEST(test_join_propagates_cancel,
             "cancelling a joiner cancels the joined task and waits for its cleanup"),
    CIO_TEST(test_cancel_before_start, "a task cancelled before it starts sees -ECANCELED"),
    CIO_TEST(test_self_cancel_never_suspends, "a cancelled task's suspending calls never suspend"),
    CIO_TEST(test_bad_handles, "NULL handles, double join, self join and bad durations are errors"),
    CIO_TEST(test_one_joiner_at_a_time, "a second waiter on the same task gets -EBUSY"),
    CIO_TEST(test_outside_loop, "suspending calls outside a loop return -EPERM"),
    CIO_TEST(test_nested_run_refused, "cio_run inside a running loop returns -EBUSY"),
    CIO_TEST(test_names_and_messages, "task names, default names and cio_fail messages"),
    CIO_TEST(test_no_stale_messages,
             "a call failing with no message of its own (bad argument, cancel, timeout) "
             "does not leave an earlier, unrelated message in place"),
    CIO_TEST(test_run_cancels_leftovers, "cio_run cancels and awaits tasks left when main returns"),
    CIO_TEST(test_unjoined_failure_reported, "a detached task's failure is reported at close"),
    CIO_TEST(test_errno_saved_across_switches, "errno is per task across switches"),
    CIO_TEST(test_registers_survive_switches, "floating-point state survives switches"),
    CIO_TEST(test_task_stack_size, "a per-task stack size gives room for deep recursion"),
    CIO_TEST(test_loop_stack_size, "the loop's stack size option applies to its tasks"),
    CIO_TEST(test_many_tasks_reuse_stacks, "20,000 tasks twice: guarded and slab stacks, reused"),
    CIO_TEST(test_sigint_cancels_main, "SIGINT cancels the main task"),
    CIO_TEST(test_backend_choice, "the epoll backend can be forced; a bad backend is -EINVAL"),
}))
