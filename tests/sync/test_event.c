/* Tests of cio_event: set wakes every waiter, clear, cancellation. */
#include "sync_test.h"

static cio_event ev;

static int main_basic(void *arg)
{
    (void)arg;
    CIO_ASSERT_OK(cio_event_init(&ev));
    CIO_ASSERT_EQ(cio_event_is_set(&ev), 0);
    CIO_ASSERT_OK(cio_event_set(&ev));
    CIO_ASSERT_EQ(cio_event_is_set(&ev), 1);
    double t0 = cio_now();
    CIO_ASSERT_OK(cio_event_wait(&ev)); /* set: returns at once */
    CIO_ASSERT_CMP(cio_now(), ==, t0);
    CIO_ASSERT_OK(cio_event_set(&ev)); /* idempotent */
    CIO_ASSERT_OK(cio_event_clear(&ev));
    CIO_ASSERT_EQ(cio_event_is_set(&ev), 0);
    cio_event_destroy(&ev);
    return 0;
}

static void test_basic(void)
{
    CIO_ASSERT_OK(run_virtual(main_basic, NULL));
}

static void test_bad_input(void)
{
    CIO_ASSERT_ERR(cio_event_init(NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_event_set(NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_event_clear(NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_event_wait(NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_event_is_set(NULL), 0);
    cio_event_destroy(NULL);
    cio_event e = {0};                          /* zeroed: a clear event */
    CIO_ASSERT_ERR(cio_event_wait(&e), -EPERM); /* outside a task */
    CIO_ASSERT_OK(cio_event_set(&e));           /* setting needs no task */
    CIO_ASSERT_EQ(cio_event_is_set(&e), 1);
}

/* The guide's start signal: three workers wait, a controller sets after 1 s. */
static int worker(void *arg)
{
    const char *name = arg;
    int err = cio_event_wait(&ev);
    trace("%s:%s@%.1f", name, ename(err), cio_now());
    return err;
}

static int controller(void *arg)
{
    (void)arg;
    cio_sleep(1.0);
    trace("set");
    return cio_event_set(&ev);
}

static int main_start_signal(void *arg)
{
    (void)arg;
    cio_event_init(&ev);
    cio_task *t[4] = {spawn_ok(worker, "W1"), spawn_ok(worker, "W2"), spawn_ok(worker, "W3"),
                      spawn_ok(controller, NULL)};
    CIO_ASSERT_OK(cio_gather(t, 4, 0));
    for (int i = 0; i < 4; i++)
        cio_join(t[i]);
    CIO_ASSERT_STR_EQ(traced(), "set W1:0@1.0 W2:0@1.0 W3:0@1.0");
    return 0;
}

static void test_set_wakes_all_in_order(void)
{
    CIO_ASSERT_OK(run_virtual(main_start_signal, NULL));
}

static int main_set_then_clear(void *arg)
{
    (void)arg;
    cio_event_init(&ev);
    cio_task *a = spawn_ok(worker, "A");
    settle();
    /* A set followed at once by a clear still releases the waiters of that
     * moment (asyncio's rule); a wait after the clear blocks again. */
    cio_event_set(&ev);
    cio_event_clear(&ev);
    CIO_ASSERT_OK(cio_join(a));
    cio_task *b = spawn_ok(worker, "B");
    settle();
    CIO_ASSERT_EQ(cio_task_done(b), 0);
    cio_event_set(&ev);
    CIO_ASSERT_OK(cio_join(b));
    CIO_ASSERT_STR_EQ(traced(), "A:0@0.0 B:0@0.0");
    return 0;
}

static void test_set_then_clear(void)
{
    CIO_ASSERT_OK(run_virtual(main_set_then_clear, NULL));
}

static int timed_worker(void *arg)
{
    cio_scope s;
    CIO_ASSERT_OK(cio_timeout_enter(&s, *(double *)arg));
    int err = cio_event_wait(&ev);
    trace("T:%s@%.1f", ename(err), cio_now());
    cio_timeout_exit(&s);
    return err;
}

static int main_cancel_and_timeout(void *arg)
{
    (void)arg;
    cio_event_init(&ev);
    double limit = 0.5;
    cio_task *a = spawn_ok(worker, "A"), *b = spawn_ok(worker, "B");
    cio_task *t = spawn_ok(timed_worker, &limit);
    settle();
    cio_cancel(a);
    CIO_ASSERT_ERR(cio_join(a), -ECANCELED);
    CIO_ASSERT_ERR(cio_join(t), -ETIMEDOUT);
    cio_sleep(1.0);
    cio_event_set(&ev);
    CIO_ASSERT_OK(cio_join(b)); /* the others' departure lost B nothing */
    CIO_ASSERT_STR_EQ(traced(), "A:ECANCELED@0.0 T:ETIMEDOUT@0.5 B:0@1.5");
    return 0;
}

static void test_cancel_and_timeout(void)
{
    CIO_ASSERT_OK(run_virtual(main_cancel_and_timeout, NULL));
}

static int main_cancel_at_set(void *arg)
{
    (void)arg;
    cio_event_init(&ev);
    cio_task *a = spawn_ok(worker, "A"), *b = spawn_ok(worker, "B");
    settle();
    cio_event_set(&ev);
    cio_cancel(a); /* woken by the set, cancelled before it ran */
    CIO_ASSERT_ERR(cio_join(a), -ECANCELED);
    CIO_ASSERT_OK(cio_join(b));
    CIO_ASSERT_EQ(cio_event_is_set(&ev), 1);
    CIO_ASSERT_STR_EQ(traced(), "A:ECANCELED@0.0 B:0@0.0");
    return 0;
}

static void test_cancel_at_set(void)
{
    CIO_ASSERT_OK(run_virtual(main_cancel_at_set, NULL));
}

static void set_cb(void *arg)
{
    cio_event_set(arg);
}

static int main_set_from_callback(void *arg)
{
    (void)arg;
    cio_event_init(&ev);
    CIO_ASSERT(cio_call_later(2.0, set_cb, &ev) != NULL);
    CIO_ASSERT_OK(cio_event_wait(&ev));
    CIO_ASSERT_CMP(cio_now(), ==, 2.0);
    return 0;
}

static void test_set_from_callback(void)
{
    CIO_ASSERT_OK(run_virtual(main_set_from_callback, NULL));
}

static int main_cancelled_scope(void *arg)
{
    (void)arg;
    cio_event_init(&ev);
    cio_event_set(&ev);
    cio_scope s;
    CIO_ASSERT_OK(cio_scope_enter(&s));
    cio_scope_cancel(&s);
    CIO_ASSERT_ERR(cio_event_wait(&ev), -ECANCELED); /* level-triggered, even when set */
    cio_scope_exit(&s);
    CIO_ASSERT_OK(cio_event_wait(&ev));
    return 0;
}

static void test_cancelled_scope(void)
{
    CIO_ASSERT_OK(run_virtual(main_cancelled_scope, NULL));
}

/* Two tasks hand a token back and forth through two events, as W2 does: a
 * wait resumes either straight from the other task or, once the turn's budget
 * of direct switches is spent, from the scheduler. Either way the waiting
 * function's caller must get back its callee-saved registers (six values
 * live across every wait put them there), its errno and the wait's result. */
static cio_event ping, pong;
static volatile long seed = 7;

static int player(void *arg)
{
    int first = arg != NULL;
    cio_event *mine = first ? &ping : &pong, *theirs = first ? &pong : &ping;
    long a = seed, b = seed * 3, c = seed * 5, d = seed * 7, e = seed * 11, f = seed * 13;
    for (int i = 0; i < 300; i++) {
        if (first)
            CIO_ASSERT_OK(cio_event_set(theirs));
        errno = first ? 1000 + i : 2000 + i;
        CIO_ASSERT_OK(cio_event_wait(mine));
        CIO_ASSERT_EQ(errno, first ? 1000 + i : 2000 + i);
        CIO_ASSERT_OK(cio_event_clear(mine));
        if (!first)
            CIO_ASSERT_OK(cio_event_set(theirs));
        a += 1, b += 2, c += 3, d += 4, e += 5, f += 6;
    }
    long s = seed;
    CIO_ASSERT(a == s + 300 && b == 3 * s + 600 && c == 5 * s + 900);
    CIO_ASSERT(d == 7 * s + 1200 && e == 11 * s + 1500 && f == 13 * s + 1800);
    return 0;
}

static int main_ping_pong(void *arg)
{
    (void)arg;
    cio_event_init(&ping);
    cio_event_init(&pong);
    cio_task *t[2] = {cio_spawn(player, &ping), cio_spawn(player, NULL)};
    CIO_ASSERT_OK(cio_gather(t, 2, 0));
    CIO_ASSERT_OK(cio_join(t[0]));
    CIO_ASSERT_OK(cio_join(t[1]));
    return 0;
}

static void test_ping_pong_keeps_state(void)
{
    CIO_ASSERT_OK(run_virtual(main_ping_pong, NULL));
}

CIO_TEST_MAIN(((cio_test_case[]){
    CIO_TEST(test_basic, "set/clear/is_set; wait on a set event returns at once"),
    CIO_TEST(test_bad_input, "NULL gives -EINVAL; wait outside a task -EPERM; zeroed works"),
    CIO_TEST(test_set_wakes_all_in_order,
             "the guide's start signal: set wakes every waiter, in arrival order"),
    CIO_TEST(test_set_then_clear, "set then clear still releases that moment's waiters"),
    CIO_TEST(test_cancel_and_timeout, "cancelled and timed-out waiters leave; others unaffected"),
    CIO_TEST(test_cancel_at_set, "a waiter cancelled as the set wakes it returns the reason"),
    CIO_TEST(test_set_from_callback, "a callback (call_later) can set the event"),
    CIO_TEST(test_cancelled_scope, "inside a cancelled scope wait returns the reason at once"),
    CIO_TEST(test_ping_pong_keeps_state,
             "a wait resumed by the other task or the loop keeps registers, errno, result"),
}))
