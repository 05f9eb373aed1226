/* Runs the built examples with --scale 0.1 and checks that their output tells
 * the guide's story: the lines, their order, and the timing. Timing is checked
 * against the scaled durations (a 1 s sleep of the guide takes 0.1 s) with
 * lower bounds only (a sleep never ends early). "Concurrent, not sequential"
 * and "at the failure, not at the slow task's end" are read from the order of
 * the lines and from relations between the printed times, never from an upper
 * bound on wall time, which a busy machine overruns. Stories that are only an
 * ordering of close timers run on the virtual clock (--virtual-clock). */
#include "example_runner.h"

/* ---- the examples ---- */

static void test_01_coroutine_basics(void)
{
    run r = run_example("01_coroutine_basics");
    expect_story(&r, "Hello", "World", "Fetching...", "Result: Data Received",
                 "compute(2) called inline -> 4, status 0", "done in", NULL);
    CIO_ASSERT_CMP(number_after(&r, "World (after "), >=, 0.99 * 1 * U);
    /* greet's 1 s, then fetch_data's 2 s called inline: they add up. */
    CIO_ASSERT_CMP(number_after(&r, "Result: Data Received (after "), >=, 0.99 * 3 * U);
    free(r.out);
}

static void test_02_why_tasks(void)
{
    run r = run_example("02_why_tasks");
    expect_story(&r, "sequential:", "-> Fetching users", "<- Got users", "-> Fetching posts",
                 "<- Got posts", "-> Fetching comments", "<- Got comments", "sequential took",
                 NULL);
    /* Concurrent: all three start before any finishes. */
    expect_story(&r, "concurrent:", "-> Fetching users", "-> Fetching posts",
                 "-> Fetching comments", "<- Got users", "<- Got posts", "<- Got comments",
                 "concurrent took", "Response from /users", "Response from /comments", NULL);
    double seq = number_after(&r, "sequential took ");
    double conc = number_after(&r, "concurrent took ");
    CIO_ASSERT_CMP(seq, >=, 0.99 * 3 * U);
    CIO_ASSERT_CMP(conc, >=, 0.99 * 1 * U);
    CIO_ASSERT_CMP(conc, <, seq); /* and the order above: all started before any ended */
    free(r.out);
}

static void test_03_create_task(void)
{
    run r = run_example("03_create_task");
    /* create_task schedules; the tasks start only when main suspends. */
    expect_story(&r, "Tasks created, main continues...", "Task-2 started", "Task-3 started",
                 "Hello (at", "World (at", "All tasks done!", "spawned task square-3",
                 "awaited it: status 0, result 9", NULL);
    double all = number_after(&r, "All tasks done! (");
    CIO_ASSERT_CMP(all, >=, 0.99 * 2 * U);
    /* 1 s and 2 s overlapped: both started before Hello (the order above). */
    free(r.out);
}

static void test_04_gather(void)
{
    run r = run_example("04_gather");
    expect_story(&r, "Fetching users...", "Fetching posts...", "Fetching comments...", "Got posts!",
                 "Got comments!", "Got users!",
                 "Results: [\"users data\", \"posts data\", \"comments data\"]", NULL);
    double g = number_after(&r, "gather took ");
    CIO_ASSERT_CMP(g, >=, 0.99 * 2 * U);
    /* The longest, not the sum: all three started before any ended (above). */
    expect_story(&r, "return_exceptions=True", "[20, error 'Cannot process zero', 50]",
                 "the first failure cancels the rest", "gather returned -EINVAL after",
                 "Cannot process zero",
                 "[error -ECANCELED, error 'Cannot process zero', error -ECANCELED]", NULL);
    /* It returned at the failure, without waiting for the 1 s siblings: they
     * were cancelled (the -ECANCELED entries above), not finished. */
    free(r.out);
}

static void test_05_taskgroup(void)
{
    run r = run_example_with("05_taskgroup", "--virtual-clock"); /* shared deadlines */
    expect_story(&r, "every child succeeds", "Task1 completed", "Task2 completed",
                 "All succeeded: Task1-result, Task2-result", NULL);
    double all = number_after(&r, "All succeeded: Task1-result, Task2-result (");
    CIO_ASSERT_CMP(all, >=, 0.99 * 2 * U);
    CIO_ASSERT_CMP(all, <=, 1.01 * 2 * U); /* the longest, not the sum: 1 s + 2 s overlap */
    /* fetch-a and fetch-b end on one deadline, in one loop turn: either may be
     * the first failure, and both must be reported. */
    expect_story(&r, "two children fail", "body: its own sleep returned -ECANCELED",
                 "(the first failure)", "Error: 2 failure(s):", NULL);
    CIO_ASSERT_EQ(count_lines(r.out, "fetch-a: -ECONNREFUSED: fetch-a could not finish"), 1);
    CIO_ASSERT_EQ(count_lines(r.out, "fetch-b: -EIO: fetch-b could not finish"), 1);
    CIO_ASSERT_EQ(count_lines(r.out, "Task1 cancelled (-ECANCELED)"), 1);
    CIO_ASSERT_EQ(count_lines(r.out, "Task2 cancelled (-ECANCELED)"), 1);
    CIO_ASSERT_EQ(count_lines(r.out, "completed"), 2); /* only in the first group */
    /* The failure at 0.5 s ended the 3 s body sleep and the 2 s sibling. */
    double body = number_after(&r, "body: its own sleep returned -ECANCELED after ");
    CIO_ASSERT_CMP(body, >=, 0.99 * 0.5 * U);
    /* The siblings were cancelled, not finished (the counts above), and the
     * body's 3 s sleep returned -ECANCELED: both ended at the failure. */
    free(r.out);
}

static void test_06_wait(void)
{
    run r = run_example("06_wait_first_completed");
    expect_story(&r, "FIRST_COMPLETED", "First done: B finished", "pending: 2, cancelling them",
                 "ALL_COMPLETED with a timeout", "Completed: 2; still pending: 2",
                 "FIRST_EXCEPTION", "done: ok, status 0", "done: broken, status -EIO: broken broke",
                 "with 1 still pending", NULL);
    expect_no_line(&r, "First done: A");
    double first = number_after(&r, "First done: B finished (after ");
    CIO_ASSERT_CMP(first, >=, 0.99 * 0.3 * U);
    /* B's 0.3 s, before A's 1 s: B first, no A (above). */
    double timeout = number_after(&r, "still pending: 2 (after ");
    CIO_ASSERT_CMP(timeout, >=, 0.99 * 2.5 * U);
    double fe = number_after(&r, "returned after ");
    CIO_ASSERT_CMP(fe, >=, 0.99 * 0.5 * U);
    /* At the failure, not at the slow task's end: "with 1 still pending". */
    free(r.out);
}

/* On the virtual clock: the story is the order of timers 0.1 s apart (10 ms
 * at this scale), which a preempted loop on the real clock could reorder. */
static void test_07_as_completed(void)
{
    run r = run_example_with("07_as_completed", "--virtual-clock");
    expect_story(&r, "completion order", "Got: task_y", "Got: task_z", "Got: task_x",
                 "as_completed(timeout=0.5)", "Got: fast", "Got: medium",
                 "next returned -ETIMEDOUT after", "cancelling slow, still running", NULL);
    expect_no_line(&r, "Got: slow");
    /* The iteration's timeout, exactly: not the slow task's 2 s. */
    double t = number_after(&r, "next returned -ETIMEDOUT after ");
    CIO_ASSERT_CMP(t, >=, 0.99 * 0.5 * U);
    CIO_ASSERT_CMP(t, <=, 1.01 * 0.5 * U);
    free(r.out);
}

static void test_08_cancellation(void)
{
    run r = run_example("08_cancellation");
    expect_story(&r, "Starting long task...", "Task was cancelled — running cleanup (-ECANCELED",
                 "an unshielded sleep in cleanup returns -ECANCELED at once",
                 "shielded flush returned 0", "cleanup finished",
                 "Main: confirmed task cancelled (status -ECANCELED",
                 "connection buffer released: yes", NULL);
    expect_no_line(&r, "Finished long task!");
    CIO_ASSERT_CMP(number_after(&r, "(-ECANCELED at "), >=, 0.99 * 0.5 * U);

    /* The shielded wait really waited despite the cancellation. */
    CIO_ASSERT_CMP(number_after(&r, "shielded flush returned 0 after "), >=, 0.99 * 0.2 * U);
    expect_story(&r, "cancelled before it starts",
                 "body runs although cancelled before it started; cio_cancelled() = -ECANCELED",
                 "its sleep returned -ECANCELED; freeing its argument \"GET /index.html\"",
                 "joined: -ECANCELED", "fire and forget", "Working...",
                 "background job cancelled: -ECANCELED", NULL);
    /* Every second for 2.5 s: three lines (two at least on a loaded machine). */
    int working = count_lines(r.out, "Working...");
    CIO_ASSERT_CMP(working, >=, 2);
    CIO_ASSERT_CMP(working, <=, 3);
    free(r.out);
}

static void test_09_wait_for_and_timeout(void)
{
    run r = run_example("09_wait_for_and_timeout");
    expect_story(&r, "wait_for(slow_operation(), timeout=2.0)",
                 "Operation timed out after 2 seconds", "wait_for(fast_operation()",
                 "returned 0: \"finally done\"", "asyncio.timeout(2.0)", "Block timed out",
                 "inside it the sleep returned -ETIMEDOUT", NULL);
    double wf = number_after(&r, "Operation timed out after 2 seconds (");
    CIO_ASSERT_CMP(wf, >=, 0.99 * 2 * U);
    /* The deadline, not the 5 s operation: "timed out" above. */
    double block = number_after(&r, "Block timed out (");
    CIO_ASSERT_CMP(block, >=, 0.99 * 2 * U);

    /* A 1 s deadline, pushed back after each 0.4 s step, outlives 1.6 s. */
    expect_story(&r, "reschedule", "step 1 done", "step 2 done", "step 3 done", "step 4 done",
                 "finished every step after", "(exit: 0)", NULL);
    CIO_ASSERT_CMP(number_after(&r, "finished every step after "), >=, 0.99 * 1.6 * U);
    expect_story(&r, "timeout_at", "timeout_at: exit -ETIMEDOUT after",
                 "(sleep returned -ETIMEDOUT)", NULL);
    double at = number_after(&r, "timeout_at: exit -ETIMEDOUT after ");
    CIO_ASSERT_CMP(at, >=, 0.99 * 0.5 * U);

    free(r.out);
}

static void test_10_shield(void)
{
    run r = run_example("10_shield");
    expect_story(&r, "wait with a timeout", "Committing transaction A...", "Timed out waiting",
                 "but commit is still running!", "Transaction A committed", "awaited the commit: 0",
                 "wait_for(shield(task), timeout=0.3)", "Committing transaction B...",
                 "Timed out waiting", "main returns; cio_run waits for the commit",
                 "Transaction B committed", "loop closed after", NULL);
    double gave_up = number_after(&r, "Timed out waiting (");
    double committed = number_after(&r, "Transaction A committed (");
    CIO_ASSERT_CMP(gave_up, >=, 0.99 * 0.3 * U);
    /* The waiter gave up before the commit ended: the story's order above says
     * so, and the times agree (no bound on how late a busy machine wakes it). */
    CIO_ASSERT_CMP(gave_up, <=, committed);
    CIO_ASSERT_CMP(committed, >=, 0.99 * 1 * U);
    /* Both commits ran to their end: 2 s in all. */
    CIO_ASSERT_CMP(number_after(&r, "Transaction B committed ("), >=, 0.99 * 2 * U);
    free(r.out);
}

static void test_11_call_soon(void)
{
    run r = run_example("11_call_soon");
    expect_story(&r, "scheduled; they run once main suspends", "callback: first",
                 "callback: second", "callback: later", "call_soon_threadsafe from a pthread",
                 "main waits for the thread's answer",
                 "callback on the loop thread: the answer is 42", "main got 42 from the thread",
                 NULL);
    expect_no_line(&r, "never");
    expect_no_line(&r, "in a task? yes");
    CIO_ASSERT_CMP(number_after(&r, "callback: later ("), >=, 0.99 * 0.2 * U);
    free(r.out);
}

static void test_demo(void)
{
    run r = run_example("demo");
    expect_story(&r, "1. Three 1 s waits", "took", "as three tasks, gathered", "faster",
                 "2. gather", "[20, error 'Cannot process zero', 50]", "3. TaskGroup",
                 "fast: completed", "slow: cancelled", "the group failed after",
                 "-ECONNREFUSED: flaky: connection refused by flaky", "4. wait_for",
                 "returned -ETIMEDOUT", "5. task.cancel()",
                 "another sleep returns -ECANCELED at once",
                 "flush inside a shield scope returned 0", "main: joined it: -ECANCELED",
                 "6. A 1 s commit", "Timed out waiting", "Transaction committed.",
                 "awaited the commit: 0", "tour finished in", NULL);
    CIO_ASSERT_CMP(number_after(&r, "tour finished in "), >=, 0.99 * 6.7 * U);
    /* "(3.0x faster)": the gathered waits overlapped. */
    const char *p = strstr(r.out, "x faster)");
    CIO_ASSERT(p != NULL);
    while (p > r.out && p[-1] != '(')
        p--;
    CIO_ASSERT_CMP(strtod(p, NULL), >, 1.0); /* (3x on an idle machine) */
    free(r.out);
}

static const char *const all_examples[] = {
    "01_coroutine_basics", "02_why_tasks",    "03_create_task",
    "04_gather",           "05_taskgroup",    "06_wait_first_completed",
    "07_as_completed",     "08_cancellation", "09_wait_for_and_timeout",
    "10_shield",           "11_call_soon",    "demo",
};

static void test_quiet_in_debug_mode(void)
{
    for (size_t i = 0; i < sizeof(all_examples) / sizeof(all_examples[0]); i++) {
        char cmd[1024];
        /* stderr into the pipe, stdout away: what cio reports. */
        snprintf(cmd, sizeof(cmd), "CIO_DEBUG=1 '%s/%s' --scale %g 2>&1 >/dev/null",
                 CIO_EXAMPLES_DIR, all_examples[i], U);
        run r = run_cmd(cmd);
        if (r.status != 0 || r.out[0])
            CIO_FAIL_AT("%s under CIO_DEBUG=1 exited %d with stderr:\n%s", all_examples[i],
                        r.status, r.out);
        free(r.out);
    }
}

static void test_bad_scale(void)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "'%s/02_why_tasks' --scale 0 2>/dev/null", CIO_EXAMPLES_DIR);
    run r = run_cmd(cmd);
    CIO_ASSERT_EQ(r.status, 2);
    CIO_ASSERT_STR_EQ(r.out, "");
    free(r.out);
}

static const cio_test_case tests[] = {
    CIO_TEST(test_01_coroutine_basics,
             "greet prints Hello, sleeps 1 s, prints World; an inline coroutine call adds up"),
    CIO_TEST(test_02_why_tasks, "three awaited 1 s fetches take 3 s; as tasks they overlap "
                                "(all start before any ends) and take 1 s"),
    CIO_TEST(test_03_create_task,
             "spawned tasks start when main suspends; 1 s and 2 s tasks finish in 2 s; named "
             "task's result comes back through its argument"),
    CIO_TEST(test_04_gather, "gather returns results in order in the longest time; "
                             "return_exceptions gives [20, error 'Cannot process zero', 50]; "
                             "by default the first failure cancels the rest at once"),
    CIO_TEST(test_05_taskgroup, "a group waits for all; two failures cancel the siblings and "
                                "the body's sleep and are both reported"),
    CIO_TEST(test_06_wait, "FIRST_COMPLETED returns B first; a 2.5 s timeout leaves 2 of 4 "
                           "pending; FIRST_EXCEPTION returns at the failure"),
    CIO_TEST(test_07_as_completed,
             "tasks come back in completion order; the iteration's timeout ends it and the "
             "slow task is cancelled"),
    CIO_TEST(test_08_cancellation,
             "a cancelled task cleans up, later sleeps return -ECANCELED at once, a shielded "
             "flush waits; a task cancelled before start runs its body; a background loop "
             "stops"),
    CIO_TEST(test_09_wait_for_and_timeout,
             "wait_for and a timeout scope end a 5 s operation at 2 s; reschedule keeps a 1 s "
             "deadline alive for 1.6 s; timeout_at fires at its absolute deadline"),
    CIO_TEST(test_10_shield, "the outer wait gives up at 0.3 s while the commit completes, "
                             "with cio_wait and with cio_shield under cio_wait_for"),
    CIO_TEST(test_11_call_soon, "call_soon callbacks run in order outside tasks, call_later "
                                "after its delay, a cancelled one never; a pthread's "
                                "call_soon_threadsafe wakes main"),
    CIO_TEST(test_demo, "the demo tour tells all six stories in order and exits 0"),
    CIO_TEST(test_quiet_in_debug_mode,
             "no example reports anything on stderr under CIO_DEBUG=1 (no unjoined failure, "
             "leaked handle, slow step or scope error)"),
    CIO_TEST(test_bad_scale, "an example rejects --scale 0 with exit status 2"),
};

CIO_TEST_MAIN(tests)
