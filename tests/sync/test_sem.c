/* Tests of cio_sem (Semaphore and BoundedSemaphore): permits, FIFO hand-off,
 * cancellation safety, the bound. */

#include "sync_test.h"

#include <stdint.h>

static cio_sem sem;

static int main_basic(void *arg)
{
    (void)arg;
    CIO_ASSERT_OK(cio_sem_init(&sem, 2));
    CIO_ASSERT_EQ(cio_sem_value(&sem), 2);
    CIO_ASSERT_EQ(cio_sem_locked(&sem), 0);
    CIO_ASSERT_OK(cio_sem_acquire(&sem));
    CIO_ASSERT_OK(cio_sem_try_acquire(&sem));
    CIO_ASSERT_EQ(cio_sem_value(&sem), 0);
    CIO_ASSERT_EQ(cio_sem_locked(&sem), 1);
    CIO_ASSERT_ERR(cio_sem_try_acquire(&sem), -EAGAIN);
    CIO_ASSERT_OK(cio_sem_release(&sem));
    CIO_ASSERT_OK(cio_sem_release(&sem));
    CIO_ASSERT_OK(cio_sem_release(&sem)); /* unbounded: may go above the start */
    CIO_ASSERT_EQ(cio_sem_value(&sem), 3);
    cio_sem_destroy(&sem);
    return 0;
}

static void test_basic(void)
{
    CIO_ASSERT_OK(run_virtual(main_basic, NULL));
}

static void test_bad_input(void)
{
    CIO_ASSERT_ERR(cio_sem_init(NULL, 1), -EINVAL);
    CIO_ASSERT_ERR(cio_sem_init_bounded(NULL, 1), -EINVAL);
    CIO_ASSERT_ERR(cio_sem_acquire(NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_sem_try_acquire(NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_sem_release(NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_sem_value(NULL), 0);
    CIO_ASSERT_EQ(cio_sem_locked(NULL), 0);
    cio_sem_destroy(NULL);
    cio_sem s;
    cio_sem_init(&s, 1);
    CIO_ASSERT_ERR(cio_sem_acquire(&s), -EPERM); /* outside a task */
    CIO_ASSERT_OK(cio_sem_try_acquire(&s));      /* needs no task */
    CIO_ASSERT_OK(cio_sem_release(&s));
    CIO_ASSERT_OK(cio_sem_init(&s, PTRDIFF_MAX));
    CIO_ASSERT_ERR(cio_sem_release(&s), -EOVERFLOW); /* the counter is full */
}

/* Issue 14: -1 became SIZE_MAX permits and the semaphore never blocked. */
static void test_negative_size(void)
{
    cio_sem s;
    CIO_ASSERT_ERR(cio_sem_init(&s, (size_t)-1), -EINVAL);
    CIO_ASSERT_ERR(cio_sem_init_bounded(&s, (size_t)-1), -EINVAL);
    CIO_ASSERT_ERR(cio_sem_init(&s, (size_t)PTRDIFF_MAX + 1), -EINVAL);
}

static void test_bounded(void)
{
    cio_sem s;
    CIO_ASSERT_OK(cio_sem_init_bounded(&s, 2));
    CIO_ASSERT_ERR(cio_sem_release(&s), -EOVERFLOW); /* released more than acquired */
    CIO_ASSERT_OK(cio_sem_try_acquire(&s));
    CIO_ASSERT_OK(cio_sem_release(&s));
    CIO_ASSERT_ERR(cio_sem_release(&s), -EOVERFLOW);
    CIO_ASSERT_EQ(cio_sem_value(&s), 2);
    CIO_ASSERT_OK(cio_sem_init_bounded(&s, 0));
    CIO_ASSERT_ERR(cio_sem_release(&s), -EOVERFLOW);
}

static int worker(void *arg)
{
    const char *name = arg;
    int err = cio_sem_acquire(&sem);
    trace("%s:%s", name, ename(err));
    return err;
}

static int main_fifo(void *arg)
{
    (void)arg;
    static const char *names[] = {"a", "b", "c", "d", "e"};
    cio_sem_init(&sem, 0);
    cio_task *t[5];
    for (int i = 0; i < 5; i++)
        t[i] = spawn_ok(worker, (void *)names[i]);
    settle();
    for (int i = 0; i < 5; i++) {
        CIO_ASSERT_OK(cio_sem_release(&sem));
        /* Handed to the first waiter: a newcomer cannot take it. */
        CIO_ASSERT_EQ(cio_sem_value(&sem), 0);
        CIO_ASSERT_ERR(cio_sem_try_acquire(&sem), -EAGAIN);
        settle();
    }
    for (int i = 0; i < 5; i++)
        CIO_ASSERT_OK(cio_join(t[i]));
    CIO_ASSERT_STR_EQ(traced(), "a:0 b:0 c:0 d:0 e:0");
    return 0;
}

static void test_fifo_handoff(void)
{
    CIO_ASSERT_OK(run_virtual(main_fifo, NULL));
}

/* The guide's demo: 10 fetches of 0.5 s, at most 3 at once. */
static int inside, peak;

static int fetch(void *arg)
{
    (void)arg;
    CIO_ASSERT_OK(cio_sem_acquire(&sem));
    if (++inside > peak)
        peak = inside;
    cio_sleep(0.5);
    inside--;
    return cio_sem_release(&sem);
}

static int main_limit(void *arg)
{
    (void)arg;
    cio_sem_init_bounded(&sem, 3);
    cio_task *t[10];
    for (int i = 0; i < 10; i++)
        t[i] = spawn_ok(fetch, NULL);
    CIO_ASSERT_OK(cio_gather(t, 10, 0));
    for (int i = 0; i < 10; i++)
        cio_join(t[i]);
    CIO_ASSERT_EQ(peak, 3);
    CIO_ASSERT_CMP(cio_now(), ==, 2.0); /* four waves of 0.5 s */
    CIO_ASSERT_EQ(cio_sem_value(&sem), 3);
    return 0;
}

static void test_at_most_n(void)
{
    CIO_ASSERT_OK(run_virtual(main_limit, NULL));
}

static int main_cancel_waiting(void *arg)
{
    (void)arg;
    cio_sem_init(&sem, 0);
    cio_task *a = spawn_ok(worker, "a"), *b = spawn_ok(worker, "b"), *c = spawn_ok(worker, "c");
    settle();
    cio_cancel(b);
    CIO_ASSERT_ERR(cio_join(b), -ECANCELED);
    cio_sem_release(&sem);
    cio_sem_release(&sem);
    CIO_ASSERT_OK(cio_join(a));
    CIO_ASSERT_OK(cio_join(c));
    CIO_ASSERT_STR_EQ(traced(), "b:ECANCELED a:0 c:0");
    CIO_ASSERT_EQ(cio_sem_value(&sem), 0);
    return 0;
}

static void test_cancel_while_waiting(void)
{
    CIO_ASSERT_OK(run_virtual(main_cancel_waiting, NULL));
}

static int main_cancel_at_handoff(void *arg)
{
    (void)arg;
    cio_sem_init_bounded(&sem, 1);
    CIO_ASSERT_OK(cio_sem_acquire(&sem));
    cio_task *a = spawn_ok(worker, "a"), *b = spawn_ok(worker, "b");
    settle();
    CIO_ASSERT_OK(cio_sem_release(&sem)); /* a's permit now... */
    cio_cancel(a);                        /* ...but a is cancelled before it runs */
    CIO_ASSERT_ERR(cio_join(a), -ECANCELED);
    CIO_ASSERT_OK(cio_join(b)); /* passed on to b */
    CIO_ASSERT_EQ(cio_sem_value(&sem), 0);
    /* With nobody else waiting, the permit goes back to the counter. */
    cio_task *c = spawn_ok(worker, "c");
    settle();
    CIO_ASSERT_OK(cio_sem_release(&sem)); /* b's permit, released for it */
    cio_cancel(c);
    CIO_ASSERT_ERR(cio_join(c), -ECANCELED);
    CIO_ASSERT_EQ(cio_sem_value(&sem), 1);             /* not lost */
    CIO_ASSERT_ERR(cio_sem_release(&sem), -EOVERFLOW); /* nor duplicated */
    CIO_ASSERT_STR_EQ(traced(), "a:ECANCELED b:0 c:ECANCELED");
    return 0;
}

static void test_cancel_at_handoff(void)
{
    CIO_ASSERT_OK(run_virtual(main_cancel_at_handoff, NULL));
}

static cio_scope waiter_scope;

static int timed_worker(void *arg)
{
    CIO_ASSERT_OK(cio_timeout_enter(&waiter_scope, *(double *)arg));
    int err = cio_sem_acquire(&sem);
    trace("t:%s@%.1f", ename(err), cio_now());
    cio_timeout_exit(&waiter_scope);
    return err;
}

static int main_timeouts(void *arg)
{
    (void)arg;
    cio_sem_init(&sem, 0);
    double half = 0.5, ten = 10;
    cio_task *t = spawn_ok(timed_worker, &half);
    CIO_ASSERT_ERR(cio_join(t), -ETIMEDOUT);
    CIO_ASSERT_CMP(cio_now(), ==, 0.5);
    t = spawn_ok(timed_worker, &ten);
    cio_task *b = spawn_ok(worker, "b");
    settle();
    cio_sem_release(&sem);                    /* handed to t... */
    cio_timeout_reschedule(&waiter_scope, 0); /* ...as its deadline passes */
    CIO_ASSERT_ERR(cio_join(t), -ETIMEDOUT);
    CIO_ASSERT_OK(cio_join(b));
    CIO_ASSERT_STR_EQ(traced(), "t:ETIMEDOUT@0.5 t:ETIMEDOUT@0.5 b:0");
    CIO_ASSERT_EQ(cio_sem_value(&sem), 0);
    return 0;
}

static void test_timeouts(void)
{
    CIO_ASSERT_OK(run_virtual(main_timeouts, NULL));
}

static void release_cb(void *arg)
{
    CIO_ASSERT_OK(cio_sem_release(arg));
}

static int main_release_from_callback(void *arg)
{
    (void)arg;
    cio_sem_init(&sem, 0);
    cio_call_later(1.0, release_cb, &sem);
    CIO_ASSERT_OK(cio_sem_acquire(&sem));
    CIO_ASSERT_CMP(cio_now(), ==, 1.0);
    return 0;
}

static void test_release_from_callback(void)
{
    CIO_ASSERT_OK(run_virtual(main_release_from_callback, NULL));
}

static int main_cancelled_scope(void *arg)
{
    (void)arg;
    cio_sem_init(&sem, 1);
    cio_scope s;
    CIO_ASSERT_OK(cio_scope_enter(&s));
    cio_scope_cancel(&s);
    CIO_ASSERT_ERR(cio_sem_acquire(&sem), -ECANCELED);
    CIO_ASSERT_EQ(cio_sem_value(&sem), 1);
    cio_scope_exit(&s);
    return 0;
}

static void test_cancelled_scope(void)
{
    CIO_ASSERT_OK(run_virtual(main_cancelled_scope, NULL));
}

static int worker_release(void *arg)
{
    int err = worker(arg);
    if (!err)
        cio_sem_release(&sem);
    return err;
}

/* Issue 14 (Python 3.12's fix): a task that releases and at once acquires
 * again must queue behind the waiter the permit was promised to, and locked()
 * is true while every permit is promised. */
static int main_no_barging(void *arg)
{
    (void)arg;
    cio_sem_init(&sem, 1);
    CIO_ASSERT_OK(cio_sem_acquire(&sem));
    cio_task *w = spawn_ok(worker_release, "w");
    settle();                             /* w waits */
    CIO_ASSERT_OK(cio_sem_release(&sem)); /* promised to w, which has not run */
    CIO_ASSERT_EQ(cio_sem_locked(&sem), 1);
    CIO_ASSERT_EQ(cio_sem_value(&sem), 0);
    CIO_ASSERT_ERR(cio_sem_try_acquire(&sem), -EAGAIN);
    CIO_ASSERT_OK(cio_sem_acquire(&sem)); /* waits for w's release */
    trace("main");
    CIO_ASSERT_OK(cio_join(w));
    CIO_ASSERT_STR_EQ(traced(), "w:0 main");
    CIO_ASSERT_OK(cio_sem_release(&sem));
    return 0;
}

static void test_no_barging(void)
{
    CIO_ASSERT_OK(run_virtual(main_no_barging, NULL));
}

CIO_TEST_MAIN(((cio_test_case[]){
    CIO_TEST(test_no_barging,
             "release then acquire queues behind the promised waiter; locked() counts it"),
    CIO_TEST(test_basic, "value/acquire/try_acquire/release/locked"),
    CIO_TEST(test_bad_input, "NULL -EINVAL; acquire outside a task -EPERM; counter overflow"),
    CIO_TEST(test_negative_size, "a negative size converted to size_t is -EINVAL"),
    CIO_TEST(test_bounded, "a bounded semaphore released too often gives -EOVERFLOW"),
    CIO_TEST(test_fifo_handoff, "permits go to waiters in arrival order; no barging"),
    CIO_TEST(test_at_most_n, "the guide's demo: at most 3 of 10 at once, 4 waves"),
    CIO_TEST(test_cancel_while_waiting, "a waiter cancelled in line leaves it; order kept"),
    CIO_TEST(test_cancel_at_handoff,
             "a permit handed to a cancelled waiter goes to the next or back; none lost"),
    CIO_TEST(test_timeouts, "timeouts while waiting and at the hand-off instant"),
    CIO_TEST(test_release_from_callback, "a callback can release"),
    CIO_TEST(test_cancelled_scope, "in a cancelled scope acquire returns at once, value kept"),
}))
