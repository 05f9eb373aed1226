/* Tests of cio_gen (async generators): laziness, the end, failures with
 * their message, close, and cancellation of the consumer. */
#include "sync_test.h"

#include <stdint.h>

#define P(i) ((void *)(intptr_t)(i))
#define I(p) ((int)(intptr_t)(p))

static cio_gen gen;

typedef struct count_args {
    int n;        /* values 1..n, then return `status` */
    double delay; /* before each value */
    int status;
    double cleanup; /* sleep after a close, if > 0 */
    int cleanup_status;
} count_args;

static int count(cio_gen *g, void *arg)
{
    count_args *a = arg;
    for (int i = 1; i <= a->n; i++) {
        if (a->delay > 0) {
            int err = cio_sleep(a->delay);
            if (err) {
                trace("P:sleep:%s", ename(err));
                return err;
            }
        }
        trace("P%d", i);
        int err = cio_gen_yield(g, P(i));
        if (err) {
            trace("P:yield:%s", ename(err));
            if (a->cleanup > 0) {
                cio_sleep(a->cleanup); /* cleanup may suspend after a close */
                trace("P:cleaned@%.0f", cio_now());
            }
            if (a->cleanup_status)
                return cio_fail(a->cleanup_status, "cleanup failed");
            return err;
        }
    }
    if (a->status)
        return cio_fail(a->status, "value %d failed", a->n + 1);
    return 0;
}

static int main_iterate(void *arg)
{
    (void)arg;
    count_args a = {.n = 3, .delay = 1};
    CIO_ASSERT_OK(cio_gen_init(&gen, count, &a));
    settle();
    trace("start"); /* nothing ran yet: the body is lazy */
    void *v;
    int err;
    while ((err = cio_gen_next(&gen, &v)) == 0)
        trace("got%d@%.0f", I(v), cio_now());
    CIO_ASSERT_ERR(err, -ENOENT);
    CIO_ASSERT_ERR(cio_gen_next(&gen, &v), -ENOENT); /* stays at the end */
    cio_gen_destroy(&gen);
    CIO_ASSERT_STR_EQ(traced(), "start P1 got1@1 P2 got2@2 P3 got3@3");
    return 0;
}

static void test_iterate(void)
{
    CIO_ASSERT_OK(run_virtual(main_iterate, NULL));
}

static int main_lazy(void *arg)
{
    (void)arg;
    count_args a = {.n = 5};
    cio_gen_init(&gen, count, &a);
    void *v;
    CIO_ASSERT_OK(cio_gen_next(&gen, &v));
    settle(); /* the producer does not run ahead of the consumer */
    CIO_ASSERT_OK(cio_gen_next(&gen, &v));
    CIO_ASSERT_EQ(I(v), 2);
    settle();
    CIO_ASSERT_STR_EQ(traced(), "P1 P2");
    CIO_ASSERT_OK(cio_gen_close(&gen));
    CIO_ASSERT_STR_EQ(traced(), "P1 P2 P:yield:ECANCELED");
    cio_gen_destroy(&gen);
    return 0;
}

static void test_lazy(void)
{
    CIO_ASSERT_OK(run_virtual(main_lazy, NULL));
}

static int main_failure(void *arg)
{
    (void)arg;
    count_args a = {.n = 1, .status = -EIO};
    cio_gen_init(&gen, count, &a);
    void *v;
    CIO_ASSERT_OK(cio_gen_next(&gen, &v));
    CIO_ASSERT_ERR(cio_gen_next(&gen, &v), -EIO);
    /* The producer's message reached the consumer, as an exception would. */
    CIO_ASSERT_STR_EQ(cio_task_message(cio_current()), "value 2 failed");
    CIO_ASSERT_ERR(cio_gen_next(&gen, &v), -ENOENT); /* reported once */
    CIO_ASSERT_OK(cio_gen_close(&gen));
    cio_gen_destroy(&gen);
    return 0;
}

static void test_failure_reaches_consumer(void)
{
    CIO_ASSERT_OK(run_virtual(main_failure, NULL));
}

static int main_close(void *arg)
{
    (void)arg;
    count_args a = {.n = 100, .cleanup = 2};
    cio_gen_init(&gen, count, &a);
    void *v;
    CIO_ASSERT_OK(cio_gen_next(&gen, &v));
    CIO_ASSERT_OK(cio_gen_next(&gen, &v));
    CIO_ASSERT_OK(cio_gen_close(&gen)); /* waits for the cleanup */
    CIO_ASSERT_CMP(cio_now(), ==, 2.0);
    CIO_ASSERT_ERR(cio_gen_next(&gen, &v), -ENOENT);
    CIO_ASSERT_OK(cio_gen_close(&gen)); /* again: nothing to do */
    cio_gen_destroy(&gen);
    CIO_ASSERT_STR_EQ(traced(), "P1 P2 P:yield:ECANCELED P:cleaned@2");
    return 0;
}

static void test_close_early(void)
{
    CIO_ASSERT_OK(run_virtual(main_close, NULL));
}

static int main_close_failing_cleanup(void *arg)
{
    (void)arg;
    count_args a = {.n = 100, .cleanup_status = -EPIPE};
    cio_gen_init(&gen, count, &a);
    void *v;
    CIO_ASSERT_OK(cio_gen_next(&gen, &v));
    CIO_ASSERT_ERR(cio_gen_close(&gen), -EPIPE);
    CIO_ASSERT_STR_EQ(cio_task_message(cio_current()), "cleanup failed");
    CIO_ASSERT_ERR(cio_gen_next(&gen, &v), -ENOENT);
    cio_gen_destroy(&gen);
    return 0;
}

static void test_close_failing_cleanup(void)
{
    CIO_ASSERT_OK(run_virtual(main_close_failing_cleanup, NULL));
}

static int main_close_unstarted_and_finished(void *arg)
{
    (void)arg;
    count_args a = {.n = 1};
    void *v;
    cio_gen_init(&gen, count, &a);
    CIO_ASSERT_OK(cio_gen_close(&gen)); /* never started: the body never runs */
    CIO_ASSERT_ERR(cio_gen_next(&gen, &v), -ENOENT);
    cio_gen_destroy(&gen);
    cio_gen_init(&gen, count, &a);
    CIO_ASSERT_OK(cio_gen_next(&gen, &v));
    CIO_ASSERT_ERR(cio_gen_next(&gen, &v), -ENOENT);
    CIO_ASSERT_OK(cio_gen_close(&gen));
    cio_gen_destroy(&gen);
    CIO_ASSERT_STR_EQ(traced(), "P1");
    return 0;
}

static void test_close_unstarted_and_finished(void)
{
    CIO_ASSERT_OK(run_virtual(main_close_unstarted_and_finished, NULL));
}

static int main_cancelled_next(void *arg)
{
    (void)arg;
    count_args a = {.n = 3, .delay = 1};
    cio_gen_init(&gen, count, &a);
    void *v = NULL;
    cio_scope s;
    CIO_ASSERT_OK(cio_timeout_enter(&s, 0.5));
    CIO_ASSERT_ERR(cio_gen_next(&gen, &v), -ETIMEDOUT);
    cio_timeout_exit(&s);
    /* The producer was not cancelled; the value it yields at 1 s is kept. */
    CIO_ASSERT_OK(cio_gen_next(&gen, &v));
    CIO_ASSERT_EQ(I(v), 1);
    CIO_ASSERT_CMP(cio_now(), ==, 1.0);
    cio_sleep(5); /* the value may also arrive while nobody waits */
    CIO_ASSERT_OK(cio_timeout_enter(&s, 0.5));
    CIO_ASSERT_ERR(cio_gen_next(&gen, &v), -ETIMEDOUT);
    cio_timeout_exit(&s);
    settle();
    CIO_ASSERT_OK(cio_gen_next(&gen, &v));
    CIO_ASSERT_EQ(I(v), 2);
    CIO_ASSERT_OK(cio_gen_next(&gen, &v));
    CIO_ASSERT_EQ(I(v), 3);
    CIO_ASSERT_ERR(cio_gen_next(&gen, &v), -ENOENT);
    cio_gen_destroy(&gen);
    CIO_ASSERT_STR_EQ(traced(), "P1 P2 P3");
    return 0;
}

static void test_cancelled_next_loses_nothing(void)
{
    CIO_ASSERT_OK(run_virtual(main_cancelled_next, NULL));
}

static int main_close_running(void *arg)
{
    (void)arg;
    count_args a = {.n = 3, .delay = 10};
    cio_gen_init(&gen, count, &a);
    void *v;
    cio_scope s;
    CIO_ASSERT_OK(cio_timeout_enter(&s, 1));
    CIO_ASSERT_ERR(cio_gen_next(&gen, &v), -ETIMEDOUT);
    cio_timeout_exit(&s);
    /* The producer is busy (sleeping towards its first value): close cancels it. */
    CIO_ASSERT_OK(cio_gen_close(&gen));
    CIO_ASSERT_CMP(cio_now(), ==, 1.0);
    CIO_ASSERT_ERR(cio_gen_next(&gen, &v), -ENOENT);
    cio_gen_destroy(&gen);
    CIO_ASSERT_STR_EQ(traced(), "P:sleep:ECANCELED");
    return 0;
}

static void test_close_running_producer(void)
{
    CIO_ASSERT_OK(run_virtual(main_close_running, NULL));
}

static int main_destroy_closes(void *arg)
{
    (void)arg;
    count_args a = {.n = 10};
    cio_gen_init(&gen, count, &a);
    void *v;
    CIO_ASSERT_OK(cio_gen_next(&gen, &v));
    cio_gen_destroy(&gen); /* closes the producer and waits for it */
    CIO_ASSERT_STR_EQ(traced(), "P1 P:yield:ECANCELED");
    return 0;
}

static void test_destroy_closes(void)
{
    CIO_ASSERT_OK(run_virtual(main_destroy_closes, NULL));
}

/* Misuse from the producer: next on itself, yield from elsewhere. */
static int misuse(cio_gen *g, void *arg)
{
    (void)arg;
    void *v;
    CIO_ASSERT_ERR(cio_gen_next(g, &v), -EDEADLK);
    CIO_ASSERT_ERR(cio_gen_close(g), -EDEADLK);
    return cio_gen_yield(g, P(1));
}

static int other_consumer(void *arg)
{
    void *v;
    return cio_gen_next(arg, &v);
}

static int main_misuse(void *arg)
{
    (void)arg;
    void *v;
    CIO_ASSERT_ERR(cio_gen_init(NULL, count, NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_gen_init(&gen, NULL, NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_gen_next(NULL, &v), -EINVAL);
    CIO_ASSERT_ERR(cio_gen_yield(NULL, NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_gen_close(NULL), -EINVAL);
    cio_gen_destroy(NULL);
    cio_gen_init(&gen, misuse, NULL);
    CIO_ASSERT_ERR(cio_gen_next(&gen, NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_gen_yield(&gen, P(1)), -EPERM); /* not the producer */
    count_args a = {.n = 1, .delay = 1};
    cio_gen g2;
    cio_gen_init(&g2, count, &a);
    cio_task *t = spawn_ok(other_consumer, &g2);
    settle();
    CIO_ASSERT_ERR(cio_gen_next(&g2, &v), -EBUSY); /* another task is in next */
    CIO_ASSERT_OK(cio_join(t));
    CIO_ASSERT_OK(cio_gen_next(&gen, &v)); /* misuse's checks ran, then it yielded */
    CIO_ASSERT_EQ(I(v), 1);
    cio_gen_destroy(&g2);
    cio_gen_destroy(&gen);
    return 0;
}

static void test_misuse(void)
{
    CIO_ASSERT_OK(run_virtual(main_misuse, NULL));
    cio_gen g;
    void *v;
    count_args a = {.n = 1};
    cio_gen_init(&g, count, &a);
    CIO_ASSERT_ERR(cio_gen_next(&g, &v), -EPERM); /* outside a task */
}

/* A body that ignores the close and keeps yielding. */
static int stubborn(cio_gen *g, void *arg)
{
    int *yields = arg;
    for (;;) {
        (*yields)++;
        cio_gen_yield(g, P(*yields)); /* the return value ignored: the bug */
    }
    return 0;
}

/* Issue 14: cio_gen_close spun for ever on such a body; Python raises
 * "async generator ignored GeneratorExit" at once. */
static int main_ignored_close(void *arg)
{
    (void)arg;
    int yields = 0;
    CIO_ASSERT_OK(cio_gen_init(&gen, stubborn, &yields));
    void *v;
    CIO_ASSERT_OK(cio_gen_next(&gen, &v));
    CIO_ASSERT_EQ(I(v), 1);
    CIO_ASSERT_ERR(cio_gen_close(&gen), -EPROTO);
    CIO_ASSERT(strstr(cio_task_message(cio_current()), "yielded again") != NULL);
    CIO_ASSERT_EQ(yields, 2); /* told once, yielded once more, parked for good */
    CIO_ASSERT_ERR(cio_gen_next(&gen, &v), -ENOENT);
    CIO_ASSERT_OK(cio_gen_close(&gen)); /* closed already */
    cio_gen_destroy(&gen);              /* returns at once */
    return 0;
}

static void test_ignored_close(void)
{
    cio_test_capture_stderr_begin(); /* the loop reports the parked producer */
    int err = run_virtual(main_ignored_close, NULL);
    char *out = cio_test_capture_stderr_end();
    CIO_ASSERT_OK(err);
    CIO_ASSERT(strstr(out, "ignored cio_gen_close") != NULL);
    free(out);
}

/* Yields 1, 2, 3; an error thrown in is handled once (it yields -err instead)
 * and the second one ends the body with that error. */
static int catcher(cio_gen *g, void *arg)
{
    (void)arg;
    int caught = 0;
    for (int i = 1; i <= 3; i++) {
        int err = cio_gen_yield(g, P(i));
        trace("y%d:%s", i, ename(err));
        if (err == -ECANCELED)
            return err;
        if (err && caught++)
            return cio_fail(err, "thrown twice");
        if (err && (err = cio_gen_yield(g, P(-err))) != 0)
            return err;
    }
    return 0;
}

/* Issue 14: async generators had no athrow. */
static int main_throw(void *arg)
{
    (void)arg;
    void *v;
    CIO_ASSERT_OK(cio_gen_init(&gen, catcher, NULL));
    CIO_ASSERT_OK(cio_gen_next(&gen, &v));
    CIO_ASSERT_EQ(I(v), 1);
    CIO_ASSERT_OK(cio_gen_throw(&gen, -EIO, &v)); /* handled: the next yield comes back */
    CIO_ASSERT_EQ(I(v), EIO);
    CIO_ASSERT_OK(cio_gen_next(&gen, &v));
    CIO_ASSERT_EQ(I(v), 2);
    CIO_ASSERT_ERR(cio_gen_throw(&gen, -EPIPE, &v), -EPIPE); /* not handled: it comes back */
    CIO_ASSERT(v == NULL);
    CIO_ASSERT_STR_EQ(cio_task_message(cio_current()), "thrown twice");
    CIO_ASSERT_ERR(cio_gen_next(&gen, &v), -ENOENT);
    CIO_ASSERT_STR_EQ(traced(), "y1:EIO y2:EPIPE");
    cio_gen_destroy(&gen);
    /* On a generator not started the body never runs. */
    CIO_ASSERT_OK(cio_gen_init(&gen, catcher, NULL));
    CIO_ASSERT_ERR(cio_gen_throw(&gen, -EIO, &v), -EIO);
    CIO_ASSERT_ERR(cio_gen_next(&gen, &v), -ENOENT);
    CIO_ASSERT_ERR(cio_gen_throw(&gen, 5, &v), -EINVAL);
    cio_gen_destroy(&gen);
    return 0;
}

static void test_throw(void)
{
    CIO_ASSERT_OK(run_virtual(main_throw, NULL));
}

static int main_unclosed(void *arg)
{
    (void)arg;
    static count_args a = {.n = 5};
    CIO_ASSERT_OK(cio_gen_init(&gen, count, &a));
    void *v;
    CIO_ASSERT_OK(cio_gen_next(&gen, &v));
    return 0; /* never closed */
}

/* Issue 14: debug mode called an unclosed generator "a task ... never
 * released (cio_join or cio_detach)". */
static void test_unclosed_generator_wording(void)
{
    cio_opts o = {.debug = 1, .no_sigint = 1, .virtual_clock = 1};
    cio_test_capture_stderr_begin();
    int err = cio_run_opts(main_unclosed, NULL, &o);
    char *out = cio_test_capture_stderr_end();
    CIO_ASSERT_OK(err);
    CIO_ASSERT(strstr(out, "async generator (producer task gen) was never closed") != NULL);
    CIO_ASSERT(strstr(out, "cio_join or cio_detach") == NULL);
    free(out);
}

CIO_TEST_MAIN(((cio_test_case[]){
    CIO_TEST(test_unclosed_generator_wording,
             "debug mode reports an unclosed generator as one, not as a task to join"),
    CIO_TEST(test_ignored_close,
             "a body that yields after close: close returns -EPROTO at once, no spin"),
    CIO_TEST(test_throw, "cio_gen_throw (athrow) raises at the yield; handled or propagated"),
    CIO_TEST(test_iterate, "values in order, then -ENOENT for good; the body starts lazily"),
    CIO_TEST(test_lazy, "the producer runs only between a next and its yield"),
    CIO_TEST(test_failure_reaches_consumer,
             "a producer failure and its message reach next, once, then -ENOENT"),
    CIO_TEST(test_close_early, "close: yield returns -ECANCELED, cleanup may suspend"),
    CIO_TEST(test_close_failing_cleanup, "close returns a failing cleanup's status and message"),
    CIO_TEST(test_close_unstarted_and_finished, "closing an unstarted or finished generator"),
    CIO_TEST(test_cancelled_next_loses_nothing,
             "a next cancelled by a timeout loses no value: the next call gets it"),
    CIO_TEST(test_close_running_producer, "close cancels a producer busy after a cancelled next"),
    CIO_TEST(test_destroy_closes, "destroy closes a running generator first"),
    CIO_TEST(test_misuse, "bad input -EINVAL; -EPERM, -EDEADLK and -EBUSY for misuse"),
}))
