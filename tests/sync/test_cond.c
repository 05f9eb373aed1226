/* Tests of cio_cond: notify order, wait_for, and re-acquiring the lock on
 * cancellation. */
#include "sync_test.h"

static cio_cond cond;
static int items;

static void test_bad_input(void)
{
    CIO_ASSERT_ERR(cio_cond_init(NULL, NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_cond_wait(NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_cond_wait_for(NULL, NULL, NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_cond_notify(NULL, 1), -EINVAL);
    CIO_ASSERT_ERR(cio_cond_notify_all(NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_cond_acquire(NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_cond_release(NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_cond_locked(NULL), 0);
    CIO_ASSERT(cio_cond_lock(NULL) == NULL);
    cio_cond_destroy(NULL);
    cio_cond c;
    CIO_ASSERT_OK(cio_cond_init(&c, NULL));
    CIO_ASSERT_ERR(cio_cond_wait(&c), -EPERM); /* outside a task */
    CIO_ASSERT_ERR(cio_cond_notify(&c, 1), -EPERM);
    cio_cond_destroy(&c);
}

static int always(void *arg)
{
    (void)arg;
    return 1;
}

static int main_needs_lock(void *arg)
{
    (void)arg;
    cio_lock l;
    cio_lock_init(&l);
    CIO_ASSERT_OK(cio_cond_init(&cond, &l));
    CIO_ASSERT(cio_cond_lock(&cond) == &l);
    CIO_ASSERT_ERR(cio_cond_wait(&cond), -EPERM); /* lock not held */
    CIO_ASSERT_ERR(cio_cond_wait_for(&cond, always, NULL), -EPERM);
    CIO_ASSERT_ERR(cio_cond_notify(&cond, 1), -EPERM);
    CIO_ASSERT_ERR(cio_cond_notify_all(&cond), -EPERM);
    CIO_ASSERT_OK(cio_cond_acquire(&cond));
    CIO_ASSERT_EQ(cio_lock_locked(&l), 1);
    CIO_ASSERT_EQ(cio_cond_locked(&cond), 1);
    CIO_ASSERT_EQ(cio_cond_notify(&cond, 1), 0); /* nobody waits */
    CIO_ASSERT_ERR(cio_cond_notify(&cond, -1), -EINVAL);
    CIO_ASSERT_OK(cio_cond_wait_for(&cond, always, NULL)); /* holds already */
    CIO_ASSERT_OK(cio_cond_release(&cond));
    cio_cond_destroy(&cond);
    return 0;
}

static void test_needs_lock(void)
{
    CIO_ASSERT_OK(run_virtual(main_needs_lock, NULL));
}

/* Waits once; records the result and that it holds the lock on return. */
static int waiter(void *arg)
{
    const char *name = arg;
    CIO_ASSERT_OK(cio_cond_acquire(&cond));
    int err = cio_cond_wait(&cond);
    trace("%s:%s%s", name, ename(err), cio_cond_locked(&cond) ? "" : ":unlocked");
    CIO_ASSERT_OK(cio_cond_release(&cond)); /* holds it in every case */
    return err;
}

static int main_notify_order(void *arg)
{
    (void)arg;
    cio_cond_init(&cond, NULL);
    static const char *names[] = {"a", "b", "c", "d", "e"};
    cio_task *t[5];
    for (int i = 0; i < 5; i++)
        t[i] = spawn_ok(waiter, (void *)names[i]);
    settle();
    CIO_ASSERT_OK(cio_cond_acquire(&cond));
    CIO_ASSERT_EQ(cio_cond_notify(&cond, 2), 2);
    CIO_ASSERT_OK(cio_cond_release(&cond));
    settle();
    CIO_ASSERT_STR_EQ(traced(), "a:0 b:0");
    CIO_ASSERT_OK(cio_cond_acquire(&cond));
    CIO_ASSERT_EQ(cio_cond_notify_all(&cond), 3);
    trace("main");
    CIO_ASSERT_OK(cio_cond_release(&cond));
    CIO_ASSERT_OK(cio_gather(t, 5, 0));
    for (int i = 0; i < 5; i++)
        cio_join(t[i]);
    /* Woken waiters run only once the notifier let go of the lock. */
    CIO_ASSERT_STR_EQ(traced(), "a:0 b:0 main c:0 d:0 e:0");
    return 0;
}

static void test_notify_order(void)
{
    CIO_ASSERT_OK(run_virtual(main_notify_order, NULL));
}

static int have_items(void *arg)
{
    (void)arg;
    return items > 0;
}

static int consumer(void *arg)
{
    const char *name = arg;
    CIO_ASSERT_OK(cio_cond_acquire(&cond));
    int err = cio_cond_wait_for(&cond, have_items, NULL);
    if (!err)
        items--;
    trace("%s:%s@%.0f", name, ename(err), cio_now());
    cio_cond_release(&cond);
    return err;
}

static int main_wait_for(void *arg)
{
    (void)arg;
    cio_cond_init(&cond, NULL);
    items = 0;
    cio_task *c1 = spawn_ok(consumer, "c1"), *c2 = spawn_ok(consumer, "c2");
    for (int i = 1; i <= 2; i++) {
        cio_sleep(1.0);
        cio_cond_acquire(&cond);
        cio_cond_notify_all(&cond); /* a spurious wakeup: the predicate is false */
        cio_cond_release(&cond);
        cio_sleep(1.0);
        cio_cond_acquire(&cond);
        items++;
        cio_cond_notify(&cond, 1);
        cio_cond_release(&cond);
    }
    CIO_ASSERT_OK(cio_join(c1));
    CIO_ASSERT_OK(cio_join(c2));
    CIO_ASSERT_STR_EQ(traced(), "c1:0@2 c2:0@4");
    return 0;
}

static void test_wait_for(void)
{
    CIO_ASSERT_OK(run_virtual(main_wait_for, NULL));
}

static int main_cancel_reacquires(void *arg)
{
    (void)arg;
    cio_cond_init(&cond, NULL);
    cio_task *a = spawn_ok(waiter, "a");
    settle();
    CIO_ASSERT_OK(cio_cond_acquire(&cond));
    cio_cancel(a); /* a stops waiting, then must wait for the lock we hold */
    settle();
    CIO_ASSERT_EQ(cio_task_done(a), 0);
    trace("main-release");
    CIO_ASSERT_OK(cio_cond_release(&cond));
    CIO_ASSERT_ERR(cio_join(a), -ECANCELED);
    CIO_ASSERT_STR_EQ(traced(), "main-release a:ECANCELED");
    CIO_ASSERT_EQ(cio_cond_locked(&cond), 0);
    return 0;
}

static void test_cancel_reacquires_lock(void)
{
    CIO_ASSERT_OK(run_virtual(main_cancel_reacquires, NULL));
}

static int main_notified_then_cancelled(void *arg)
{
    (void)arg;
    cio_cond_init(&cond, NULL);
    cio_task *a = spawn_ok(waiter, "a"), *b = spawn_ok(waiter, "b");
    settle();
    CIO_ASSERT_OK(cio_cond_acquire(&cond));
    CIO_ASSERT_EQ(cio_cond_notify(&cond, 1), 1); /* notifies a... */
    cio_cancel(a);                               /* ...cancelled in the same instant */
    CIO_ASSERT_OK(cio_cond_release(&cond));
    CIO_ASSERT_ERR(cio_join(a), -ECANCELED);
    CIO_ASSERT_OK(cio_join(b)); /* the notification was passed on, not lost */
    CIO_ASSERT_STR_EQ(traced(), "a:ECANCELED b:0");
    return 0;
}

static void test_notified_then_cancelled(void)
{
    CIO_ASSERT_OK(run_virtual(main_notified_then_cancelled, NULL));
}

static int timed_waiter(void *arg)
{
    (void)arg;
    cio_scope s;
    CIO_ASSERT_OK(cio_cond_acquire(&cond));
    CIO_ASSERT_OK(cio_timeout_enter(&s, 1.5));
    int err = cio_cond_wait(&cond);
    cio_timeout_exit(&s);
    trace("t:%s@%.1f:%s", ename(err), cio_now(), cio_cond_locked(&cond) ? "locked" : "free");
    cio_cond_release(&cond);
    return err;
}

static int main_timeout(void *arg)
{
    (void)arg;
    cio_cond_init(&cond, NULL);
    cio_task *t = spawn_ok(timed_waiter, NULL);
    CIO_ASSERT_ERR(cio_join(t), -ETIMEDOUT);
    CIO_ASSERT_STR_EQ(traced(), "t:ETIMEDOUT@1.5:locked");
    CIO_ASSERT_EQ(cio_cond_locked(&cond), 0);
    return 0;
}

static void test_timeout(void)
{
    CIO_ASSERT_OK(run_virtual(main_timeout, NULL));
}

static int main_cancelled_scope(void *arg)
{
    (void)arg;
    cio_cond_init(&cond, NULL);
    CIO_ASSERT_OK(cio_cond_acquire(&cond));
    cio_scope s;
    CIO_ASSERT_OK(cio_scope_enter(&s));
    cio_scope_cancel(&s);
    CIO_ASSERT_ERR(cio_cond_wait(&cond), -ECANCELED);
    CIO_ASSERT_EQ(cio_cond_locked(&cond), 1); /* never let go */
    CIO_ASSERT_ERR(cio_cond_wait_for(&cond, always, NULL), -ECANCELED);
    cio_scope_exit(&s);
    CIO_ASSERT_OK(cio_cond_release(&cond));
    return 0;
}

static void test_cancelled_scope(void)
{
    CIO_ASSERT_OK(run_virtual(main_cancelled_scope, NULL));
}

CIO_TEST_MAIN(((cio_test_case[]){
    CIO_TEST(test_bad_input, "NULL gives -EINVAL; outside a task -EPERM; own lock by default"),
    CIO_TEST(test_needs_lock, "wait, wait_for and notify need the lock held (-EPERM)"),
    CIO_TEST(test_notify_order, "notify(n) wakes the first n in order; notify_all the rest"),
    CIO_TEST(test_wait_for, "wait_for sleeps through spurious wakeups until the predicate"),
    CIO_TEST(test_cancel_reacquires_lock,
             "a cancelled waiter re-acquires the lock before it returns the reason"),
    CIO_TEST(test_notified_then_cancelled,
             "a notification landing on a cancelled waiter passes to the next one"),
    CIO_TEST(test_timeout, "a timeout ends the wait with -ETIMEDOUT, lock held again"),
    CIO_TEST(test_cancelled_scope, "in a cancelled scope wait returns at once, lock kept"),
}))
