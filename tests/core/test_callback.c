/* Tests of plain callbacks and timer ordering. */
#include <pthread.h>

#include "cio_test.h"

static char trace[128];
static size_t ntrace;

static void note(void *arg)
{
    trace[ntrace++] = *(const char *)arg;
}

static int task_note(void *arg)
{
    note(arg);
    return 0;
}

static int main_order(void *arg)
{
    (void)arg;
    cio_call_soon(note, "1");
    cio_task *t = cio_spawn(task_note, "T");
    cio_call_soon(note, "2");
    cio_handle *h = cio_call_soon(note, "X");
    cio_handle_cancel(h); /* never runs */
    CIO_ASSERT_OK(cio_yield());
    CIO_ASSERT_OK(cio_join(t));
    CIO_ASSERT_STR_EQ(trace, "1T2"); /* one FIFO for callbacks and tasks */
    return 0;
}

static void test_call_soon_order(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_order, NULL));
}

static int main_later(void *arg)
{
    (void)arg;
    CIO_ASSERT(cio_call_later(3, note, "c") != NULL);
    CIO_ASSERT(cio_call_later(1, note, "a") != NULL);
    cio_handle *h = cio_call_later(2, note, "X");
    CIO_ASSERT(cio_call_later(2, note, "b") != NULL);
    CIO_ASSERT(cio_call_later(-1, note, "X") == NULL);
    cio_handle_cancel(h);
    CIO_ASSERT_OK(cio_sleep(5));
    CIO_ASSERT_STR_EQ(trace, "abc");
    return 0;
}

static void test_call_later(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_later, NULL));
}

static int sleeper(void *arg)
{
    int secs = *(const char *)arg - '0';
    if (cio_sleep(secs) == 0)
        note(arg);
    return 0;
}

static int main_sleep_order(void *arg)
{
    (void)arg;
    const char *order = "3121";
    cio_task *t[4];
    for (int i = 0; i < 4; i++)
        t[i] = cio_spawn(sleeper, (void *)&order[i]);
    CIO_ASSERT_OK(cio_gather(t, 4, 0));
    for (int i = 0; i < 4; i++)
        cio_join(t[i]);
    /* Earlier deadlines first; equal deadlines in the order they were armed. */
    CIO_ASSERT_STR_EQ(trace, "1123");
    CIO_ASSERT(trace[0] == order[1] && &order[1] != &order[3]);
    return 0;
}

static void test_sleep_order(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_sleep_order, NULL));
}

static void blocking_from_callback(void *arg)
{
    *(int *)arg = cio_sleep(1);
}

static int main_callback_cannot_block(void *arg)
{
    (void)arg;
    int r = 0;
    cio_call_soon(blocking_from_callback, &r);
    CIO_ASSERT_OK(cio_yield());
    CIO_ASSERT_ERR(r, -EPERM);
    return 0;
}

static void test_callback_cannot_suspend(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_callback_cannot_block, NULL));
}

/* ---- call_soon_threadsafe ---- */

typedef struct ts_state {
    cio_loop *loop;
    cio_task *waiter;
    int value;
    pthread_t thread;
} ts_state;

static void deliver(void *arg)
{
    ts_state *s = arg;
    s->value = 42;
    cio_cancel(s->waiter); /* wake the waiting task */
}

static void *worker(void *arg)
{
    ts_state *s = arg;
    usleep(20000);
    if (cio_call_soon_threadsafe(s->loop, deliver, s) != 0)
        s->value = -1;
    return NULL;
}

static int main_threadsafe(void *arg)
{
    (void)arg;
    ts_state s = {cio_loop_current(), cio_current(), 0, 0};
    cio_loop_ref(); /* the worker may still wake us: not a deadlock */
    CIO_ASSERT_EQ(pthread_create(&s.thread, NULL, worker, &s), 0);
    cio_scope sc;
    cio_scope_enter(&sc);
    int err = cio_sleep(30);
    cio_scope_exit(&sc);
    cio_loop_unref();
    pthread_join(s.thread, NULL);
    CIO_ASSERT_ERR(err, -ECANCELED);
    CIO_ASSERT_EQ(s.value, 42);
    CIO_ASSERT_ERR(cio_call_soon_threadsafe(NULL, deliver, &s), -EINVAL);
    return 0;
}

static void test_call_soon_threadsafe(void)
{
    double t0 = cio_now();
    CIO_ASSERT_OK(cio_run(main_threadsafe, NULL));
    CIO_ASSERT_CMP(cio_now() - t0, <, 10.0); /* woken by the thread, not the 30 s timer */
}

CIO_TEST_MAIN(((cio_test_case[]){
    CIO_TEST(test_call_soon_order, "callbacks and tasks share one FIFO; cancelled ones never run"),
    CIO_TEST(test_call_later, "call_later fires in deadline order; cancel and bad delay"),
    CIO_TEST(test_sleep_order, "sleeps wake by deadline, ties in arming order"),
    CIO_TEST(test_callback_cannot_suspend, "a suspending call from a callback is -EPERM"),
    CIO_TEST(test_call_soon_threadsafe,
             "another thread wakes the loop through call_soon_threadsafe"),
}))
