/* Tests of gather, wait and as_completed, on the virtual clock. */
#include <time.h>

#include "cio_test.h"

typedef struct job {
    double secs;
    int result; /* returned after the sleep; negative = failure */
    int cancelled;
} job;

static int run_job(void *arg)
{
    job *j = arg;
    int err = cio_sleep(j->secs);
    if (err) {
        j->cancelled = 1;
        return err;
    }
    return j->result < 0 ? cio_fail(j->result, "job of %.0f s failed", j->secs) : j->result;
}

static void spawn_jobs(cio_task **t, job *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        CIO_ASSERT((t[i] = cio_spawn(run_job, &jobs[i])) != NULL);
}

static void join_all(cio_task **t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cio_join(t[i]);
}

static int main_gather_ok(void *arg)
{
    (void)arg;
    job jobs[3] = {{1, 10, 0}, {3, 30, 0}, {2, 20, 0}};
    cio_task *t[3];
    spawn_jobs(t, jobs, 3);
    CIO_ASSERT_OK(cio_gather(t, 3, 0));
    CIO_ASSERT_CMP(cio_now(), ==, 3.0); /* concurrent: the longest, not the sum */
    for (int i = 0; i < 3; i++)
        CIO_ASSERT_EQ(cio_task_status(t[i]), jobs[i].result);
    join_all(t, 3);
    CIO_ASSERT_OK(cio_gather(NULL, 0, 0));
    return 0;
}

static void test_gather(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_gather_ok, NULL));
}

static int main_gather_fail_fast(void *arg)
{
    (void)arg;
    job jobs[3] = {{1, 10, 0}, {2, -EIO, 0}, {5, 50, 0}};
    cio_task *t[3];
    spawn_jobs(t, jobs, 3);
    CIO_ASSERT_ERR(cio_gather(t, 3, 0), -EIO);
    CIO_ASSERT_CMP(cio_now(), ==, 2.0);  /* did not wait for the 5 s job... */
    CIO_ASSERT_EQ(jobs[2].cancelled, 1); /* ...it was cancelled, and it has finished */
    CIO_ASSERT_EQ(cio_task_done(t[2]), 1);
    CIO_ASSERT_EQ(cio_task_status(t[0]), 10);
    CIO_ASSERT_STR_EQ(cio_task_message(t[1]), "job of 2 s failed");
    join_all(t, 3);
    return 0;
}

static void test_gather_cancels_rest_on_failure(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_gather_fail_fast, NULL));
}

static int main_gather_return_exceptions(void *arg)
{
    (void)arg;
    job jobs[3] = {{1, 20, 0}, {2, -EINVAL, 0}, {3, 50, 0}};
    cio_task *t[3];
    spawn_jobs(t, jobs, 3);
    CIO_ASSERT_OK(cio_gather(t, 3, CIO_RETURN_EXCEPTIONS));
    CIO_ASSERT_CMP(cio_now(), ==, 3.0);
    CIO_ASSERT_EQ(cio_task_status(t[0]), 20);
    CIO_ASSERT_ERR(cio_task_status(t[1]), -EINVAL);
    CIO_ASSERT_EQ(cio_task_status(t[2]), 50);
    join_all(t, 3);
    return 0;
}

static void test_gather_return_exceptions(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_gather_return_exceptions, NULL));
}

static int gatherer(void *arg)
{
    job *jobs = arg;
    cio_task *t[2];
    spawn_jobs(t, jobs, 2);
    int err = cio_gather(t, 2, 0);
    CIO_ASSERT(cio_task_done(t[0]) && cio_task_done(t[1])); /* nothing left running */
    join_all(t, 2);
    return err;
}

static int main_gather_cancelled(void *arg)
{
    (void)arg;
    job jobs[2] = {{5, 1, 0}, {6, 2, 0}};
    cio_task *g = cio_spawn(gatherer, jobs);
    CIO_ASSERT_OK(cio_sleep(1));
    cio_cancel(g);
    CIO_ASSERT_ERR(cio_join(g), -ECANCELED);
    CIO_ASSERT(jobs[0].cancelled && jobs[1].cancelled);
    CIO_ASSERT_CMP(cio_now(), ==, 1.0);
    return 0;
}

static void test_gather_cancelled_cancels_children(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_gather_cancelled, NULL));
}

static int main_gather_bad(void *arg)
{
    (void)arg;
    job j = {1, 1, 0};
    cio_task *t[2] = {cio_spawn(run_job, &j), NULL};
    CIO_ASSERT_ERR(cio_gather(t, 2, 0), -EINVAL);
    CIO_ASSERT_ERR(cio_gather(NULL, 2, 0), -EINVAL);
    CIO_ASSERT_OK(cio_gather(t, 1, 0));
    cio_join(t[0]);
    return 0;
}

static void test_gather_bad_input(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_gather_bad, NULL));
}

static int main_wait_modes(void *arg)
{
    (void)arg;
    job jobs[3] = {{3, 30, 0}, {1, 10, 0}, {2, -EIO, 0}};
    cio_task *t[3];
    size_t ndone;
    spawn_jobs(t, jobs, 3);
    CIO_ASSERT_OK(cio_wait(t, 3, CIO_FIRST_COMPLETED, CIO_FOREVER, &ndone));
    CIO_ASSERT_EQ(ndone, 1);
    CIO_ASSERT_CMP(cio_now(), ==, 1.0);
    CIO_ASSERT_EQ(cio_task_status(t[0]), 10); /* the finished one moved to the front */
    CIO_ASSERT_OK(cio_wait(t, 3, CIO_FIRST_EXCEPTION, CIO_FOREVER, &ndone));
    CIO_ASSERT_EQ(ndone, 2);
    CIO_ASSERT_CMP(cio_now(), ==, 2.0);
    CIO_ASSERT_ERR(cio_task_status(t[1]), -EIO);
    CIO_ASSERT_EQ(jobs[0].cancelled, 0); /* wait never cancels */
    CIO_ASSERT_OK(cio_wait(t, 3, CIO_ALL_COMPLETED, 0.5, &ndone));
    CIO_ASSERT_EQ(ndone, 2); /* timed out with one still running */
    CIO_ASSERT_CMP(cio_now(), ==, 2.5);
    CIO_ASSERT_OK(cio_wait(t, 3, CIO_ALL_COMPLETED, CIO_FOREVER, &ndone));
    CIO_ASSERT_EQ(ndone, 3);
    CIO_ASSERT_CMP(cio_now(), ==, 3.0);
    join_all(t, 3);
    return 0;
}

static void test_wait_modes(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_wait_modes, NULL));
}

static int main_wait_bad(void *arg)
{
    (void)arg;
    size_t ndone;
    static job j = {1, 1, 0}; /* outlives main: the detached task reads it */
    cio_task *t = cio_spawn(run_job, &j);
    CIO_ASSERT_ERR(cio_wait(&t, 1, 7, 1, &ndone), -EINVAL);
    CIO_ASSERT_ERR(cio_wait(&t, 1, CIO_ALL_COMPLETED, -1, &ndone), -EINVAL);
    CIO_ASSERT_ERR(cio_wait(&t, 1, CIO_ALL_COMPLETED, 1, NULL), -EINVAL);
    cio_cancel(cio_current());
    CIO_ASSERT_ERR(cio_wait(&t, 1, CIO_ALL_COMPLETED, 5, &ndone), -ECANCELED);
    CIO_ASSERT_EQ(ndone, 0);
    cio_detach(t);
    return 0;
}

static void test_wait_bad_input_and_cancel(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_wait_bad, NULL));
}

static int main_as_completed(void *arg)
{
    (void)arg;
    job jobs[4] = {{3, 3, 0}, {1, 1, 0}, {4, 4, 0}, {2, 2, 0}};
    cio_task *t[4];
    spawn_jobs(t, jobs, 4);
    cio_as_completed ac;
    CIO_ASSERT_OK(cio_as_completed_init(&ac, t, 4, CIO_FOREVER));
    cio_task *next;
    for (int expect = 1; expect <= 4; expect++) {
        CIO_ASSERT_OK(cio_as_completed_next(&ac, &next));
        CIO_ASSERT_EQ(cio_task_status(next), expect); /* completion order */
        CIO_ASSERT_CMP(cio_now(), ==, (double)expect);
    }
    CIO_ASSERT_ERR(cio_as_completed_next(&ac, &next), -ENOENT);
    cio_as_completed_destroy(&ac);
    join_all(t, 4);
    return 0;
}

static void test_as_completed_order(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_as_completed, NULL));
}

static int main_as_completed_timeout(void *arg)
{
    (void)arg;
    job jobs[2] = {{1, 1, 0}, {10, 2, 0}};
    cio_task *t[2];
    spawn_jobs(t, jobs, 2);
    cio_as_completed ac;
    CIO_ASSERT_OK(cio_as_completed_init(&ac, t, 2, 5.0));
    cio_task *next;
    CIO_ASSERT_OK(cio_as_completed_next(&ac, &next));
    CIO_ASSERT_ERR(cio_as_completed_next(&ac, &next), -ETIMEDOUT);
    CIO_ASSERT_CMP(cio_now(), ==, 5.0);
    cio_as_completed_destroy(&ac);
    cio_task *again[1] = {t[1]};
    CIO_ASSERT_OK(cio_gather(again, 1, 0)); /* no longer watched: usable again */
    join_all(t, 2);
    return 0;
}

static void test_as_completed_timeout(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_as_completed_timeout, NULL));
}

static int main_busy(void *arg)
{
    (void)arg;
    job j = {1, 1, 0};
    cio_task *t = cio_spawn(run_job, &j);
    cio_as_completed ac;
    CIO_ASSERT_OK(cio_as_completed_init(&ac, &t, 1, CIO_FOREVER));
    CIO_ASSERT_ERR(cio_gather(&t, 1, 0), -EBUSY);
    CIO_ASSERT_ERR(cio_join(t), -EBUSY);
    cio_as_completed ac2;
    CIO_ASSERT_ERR(cio_as_completed_init(&ac2, &t, 1, CIO_FOREVER), -EBUSY);
    cio_as_completed_destroy(&ac);
    CIO_ASSERT_EQ(cio_join(t), 1);
    return 0;
}

static void test_one_watcher_per_task(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_busy, NULL));
}

/* Started and finished sleepers, in the order they did so. */
typedef struct sleepers {
    int started, finished;
    int started_before_first_finish; /* how many had started when one ended */
} sleepers;

static int sleep_100ms(void *arg)
{
    sleepers *s = arg;
    if (s)
        s->started++;
    int err = cio_sleep(0.1);
    if (s && s->finished++ == 0)
        s->started_before_first_finish = s->started;
    return err;
}

static int main_real_clock(void *arg)
{
    double *elapsed = arg;
    double t0 = cio_now();
    for (int i = 0; i < 3; i++)
        CIO_ASSERT_OK(sleep_100ms(NULL));
    elapsed[0] = cio_now() - t0;
    t0 = cio_now();
    sleepers s = {0};
    cio_task *t[10];
    for (int i = 0; i < 10; i++)
        t[i] = cio_spawn(sleep_100ms, &s);
    CIO_ASSERT_OK(cio_gather(t, 10, 0));
    elapsed[1] = cio_now() - t0;
    join_all(t, 10);
    CIO_ASSERT_EQ(s.finished, 10);
    /* Ten together: all ten were asleep before the first woke. (No bound on
     * the time: a busy machine makes it later, not sequential.) */
    CIO_ASSERT_EQ(s.started_before_first_finish, 10);
    return 0;
}

static void test_real_clock_concurrency(void)
{
    double elapsed[2];
    CIO_ASSERT_OK(cio_run(main_real_clock, elapsed));
    CIO_ASSERT_CMP(elapsed[0], >=, 0.3); /* one after another: never early */
    CIO_ASSERT_CMP(elapsed[1], >=, 0.1);
}

static int main_long_step(void *arg)
{
    double *slept = arg;
    double t0 = cio_now();
    while (cio_now() - t0 < 0.05) { /* a long step: the loop's cached clock goes stale */
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    CIO_ASSERT_OK(cio_sleep(0.1));
    clock_gettime(CLOCK_MONOTONIC, &b);
    slept[0] = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    cio_scope s;
    clock_gettime(CLOCK_MONOTONIC, &a);
    CIO_ASSERT_OK(cio_timeout_enter(&s, 0.1));
    int err = cio_sleep(10);
    cio_timeout_exit(&s);
    clock_gettime(CLOCK_MONOTONIC, &b);
    CIO_ASSERT_ERR(err, -ETIMEDOUT);
    slept[1] = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    return 0;
}

static void test_no_early_wake_after_long_step(void)
{
    double slept[2];
    CIO_ASSERT_OK(cio_test_run(main_long_step, slept));
    /* Never early by more than one kernel tick (10 ms at HZ=100). */
    CIO_ASSERT_CMP(slept[0], >=, 0.09);
    CIO_ASSERT_CMP(slept[1], >=, 0.09);
}

/* Issue 14: the same handle twice made gather and as_completed wait for ever
 * and wait block until its timeout. */
static int main_duplicates(void *arg)
{
    (void)arg;
    job jobs[2] = {{1, 10, 0}, {2, 20, 0}};
    cio_task *t[2];
    spawn_jobs(t, jobs, 2);
    cio_task *dup[3] = {t[0], t[1], t[0]};
    CIO_ASSERT_ERR(cio_gather(dup, 3, 0), -EINVAL);
    CIO_ASSERT(strstr(cio_task_message(cio_current()), "listed twice") != NULL);
    size_t ndone = 7;
    CIO_ASSERT_ERR(cio_wait(dup, 3, CIO_ALL_COMPLETED, 100, &ndone), -EINVAL);
    CIO_ASSERT_EQ(ndone, 0);
    cio_as_completed ac;
    CIO_ASSERT_ERR(cio_as_completed_init(&ac, dup, 3, CIO_FOREVER), -EINVAL);
    CIO_ASSERT_CMP(cio_now(), ==, 0.0); /* refused at once */
    /* Nothing was left watched or marked: the array without the duplicate works. */
    CIO_ASSERT_OK(cio_gather(t, 2, 0));
    CIO_ASSERT_CMP(cio_now(), ==, 2.0);
    join_all(t, 2);
    return 0;
}

static void test_duplicate_handles(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_duplicates, NULL));
}

static int main_wait_empty(void *arg)
{
    (void)arg;
    size_t ndone = 7;
    cio_task *none[1];
    CIO_ASSERT_ERR(cio_wait(none, 0, CIO_FIRST_COMPLETED, CIO_FOREVER, &ndone), -EINVAL);
    CIO_ASSERT_EQ(ndone, 0);
    return 0;
}

static void test_wait_empty(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_wait_empty, NULL));
}

typedef struct ac_pair {
    cio_as_completed *ac;
    int err;
    cio_task *got;
} ac_pair;

static int ac_consumer(void *arg)
{
    ac_pair *p = arg;
    p->err = cio_as_completed_next(p->ac, &p->got);
    return 0;
}

static int main_as_completed_two_waiters(void *arg)
{
    (void)arg;
    job jobs[1] = {{1, 10, 0}};
    cio_task *t[1];
    spawn_jobs(t, jobs, 1);
    cio_as_completed ac;
    CIO_ASSERT_OK(cio_as_completed_init(&ac, t, 1, CIO_FOREVER));
    ac_pair a = {&ac, 1, NULL}, b = {&ac, 1, NULL};
    cio_task *ca = cio_spawn(ac_consumer, &a);
    CIO_ASSERT_OK(cio_yield()); /* a waits in next */
    cio_task *cb = cio_spawn(ac_consumer, &b);
    CIO_ASSERT_OK(cio_yield());
    CIO_ASSERT_ERR(b.err, -EBUSY); /* refused at once, not parked for ever */
    CIO_ASSERT_OK(cio_join(cb));
    CIO_ASSERT_OK(cio_join(ca));
    CIO_ASSERT_OK(a.err);
    CIO_ASSERT(a.got == t[0]);
    cio_as_completed_destroy(&ac);
    join_all(t, 1);
    return 0;
}

static void test_as_completed_two_waiters(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_as_completed_two_waiters, NULL));
}
/* Issue 14: two tasks that finish in the same loop step are both in
 * FIRST_COMPLETED's done set, as in asyncio. */
static int main_first_completed_same_step(void *arg)
{
    (void)arg;
    job jobs[3] = {{1, 10, 0}, {1, 20, 0}, {5, 50, 0}};
    cio_task *t[3];
    spawn_jobs(t, jobs, 3);
    size_t ndone = 0;
    CIO_ASSERT_OK(cio_wait(t, 3, CIO_FIRST_COMPLETED, CIO_FOREVER, &ndone));
    CIO_ASSERT_EQ(ndone, 2);
    CIO_ASSERT_CMP(cio_now(), ==, 1.0);
    join_all(t, 3);
    return 0;
}

static void test_first_completed_same_step(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_first_completed_same_step, NULL));
}

CIO_TEST_MAIN(((cio_test_case[]){
    CIO_TEST(test_no_early_wake_after_long_step,
             "a sleep or timeout set after a 50 ms step is not cut short by a stale clock"),
    CIO_TEST(test_duplicate_handles,
             "a handle listed twice is -EINVAL at once for gather, wait and as_completed"),
    CIO_TEST(test_wait_empty, "cio_wait on an empty set is -EINVAL (asyncio: ValueError)"),
    CIO_TEST(test_as_completed_two_waiters,
             "a second task in next on one as_completed iterator gets -EBUSY"),
    CIO_TEST(test_first_completed_same_step,
             "FIRST_COMPLETED sees every task that finished in the same loop step"),
    CIO_TEST(test_gather, "gather waits for all; total time is the longest, not the sum"),
    CIO_TEST(test_gather_cancels_rest_on_failure,
             "gather's first failure cancels the rest and waits for them"),
    CIO_TEST(test_gather_return_exceptions, "with RETURN_EXCEPTIONS every task runs to its end"),
    CIO_TEST(test_gather_cancelled_cancels_children, "a cancelled gather cancels its tasks"),
    CIO_TEST(test_gather_bad_input, "NULL arrays and handles are -EINVAL"),
    CIO_TEST(test_wait_modes, "wait FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED, timeout"),
    CIO_TEST(test_wait_bad_input_and_cancel, "wait's bad arguments and cancellation"),
    CIO_TEST(test_as_completed_order, "as_completed yields tasks in completion order"),
    CIO_TEST(test_as_completed_timeout, "as_completed's timeout gives -ETIMEDOUT"),
    CIO_TEST(test_one_watcher_per_task, "a second watcher of a task gets -EBUSY"),
    CIO_TEST(test_real_clock_concurrency,
             "real clock: three 100 ms sleeps take >= 300 ms in a row; ten gathered all "
             "sleep at once"),
}))
