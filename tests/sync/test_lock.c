/* Tests of cio_lock: ownership, FIFO hand-off, cancellation safety. */
#include "sync_test.h"

static cio_lock lock;

static int main_basic(void *arg)
{
    (void)arg;
    CIO_ASSERT_OK(cio_lock_init(&lock));
    CIO_ASSERT_EQ(cio_lock_locked(&lock), 0);
    CIO_ASSERT_OK(cio_lock_acquire(&lock));
    CIO_ASSERT_EQ(cio_lock_locked(&lock), 1);
    CIO_ASSERT_ERR(cio_lock_acquire(&lock), -EDEADLK); /* not reentrant: asyncio would hang */
    CIO_ASSERT_ERR(cio_lock_try_acquire(&lock), -EDEADLK);
    CIO_ASSERT_OK(cio_lock_release(&lock));
    CIO_ASSERT_EQ(cio_lock_locked(&lock), 0);
    CIO_ASSERT_ERR(cio_lock_release(&lock), -EPERM); /* not held */
    CIO_ASSERT_OK(cio_lock_try_acquire(&lock));
    CIO_ASSERT_OK(cio_lock_release(&lock));
    cio_lock_destroy(&lock);
    return 0;
}

static void test_basic(void)
{
    CIO_ASSERT_OK(run_virtual(main_basic, NULL));
}

static int main_bad_input(void *arg)
{
    (void)arg;
    CIO_ASSERT_ERR(cio_lock_init(NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_lock_acquire(NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_lock_try_acquire(NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_lock_release(NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_lock_locked(NULL), 0);
    cio_lock_destroy(NULL);
    return 0;
}

static void test_bad_input(void)
{
    CIO_ASSERT_OK(run_virtual(main_bad_input, NULL));
    /* Outside a task: no owner to record, no task to suspend. */
    cio_lock l = {0}; /* a zeroed lock is an unlocked lock */
    CIO_ASSERT_ERR(cio_lock_acquire(&l), -EPERM);
    CIO_ASSERT_ERR(cio_lock_try_acquire(&l), -EPERM);
    CIO_ASSERT_ERR(cio_lock_release(&l), -EPERM);
}

static int release_other(void *arg)
{
    return cio_lock_release(arg);
}

static int main_release_not_owner(void *arg)
{
    (void)arg;
    cio_lock_init(&lock);
    CIO_ASSERT_OK(cio_lock_acquire(&lock));
    CIO_ASSERT_ERR(cio_join(spawn_ok(release_other, &lock)), -EPERM);
    CIO_ASSERT_EQ(cio_lock_locked(&lock), 1); /* still ours */
    CIO_ASSERT_OK(cio_lock_release(&lock));
    return 0;
}

static void test_release_not_owner(void)
{
    CIO_ASSERT_OK(run_virtual(main_release_not_owner, NULL));
}

/* A worker: acquire, note it, hold across a yield, release. */
static int worker(void *arg)
{
    const char *name = arg;
    int err = cio_lock_acquire(&lock);
    if (err) {
        trace("%s:%s", name, err == -ECANCELED ? "cancelled" : "timedout");
        return err;
    }
    trace("%s", name);
    cio_yield();
    cio_yield();
    CIO_ASSERT_OK(cio_lock_release(&lock));
    return 0;
}

static int main_fifo(void *arg)
{
    (void)arg;
    static const char *names[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
    cio_lock_init(&lock);
    CIO_ASSERT_OK(cio_lock_acquire(&lock));
    cio_task *t[8];
    for (int i = 0; i < 8; i++)
        t[i] = spawn_ok(worker, (void *)names[i]);
    settle(); /* all eight wait, in spawn order */
    CIO_ASSERT_OK(cio_lock_release(&lock));
    /* Hand-off: the lock went straight to "a"; we cannot barge in. */
    CIO_ASSERT_EQ(cio_lock_locked(&lock), 1);
    CIO_ASSERT_ERR(cio_lock_try_acquire(&lock), -EAGAIN);
    CIO_ASSERT_OK(cio_gather(t, 8, 0));
    for (int i = 0; i < 8; i++)
        CIO_ASSERT_OK(cio_join(t[i]));
    CIO_ASSERT_STR_EQ(traced(), "a b c d e f g h");
    CIO_ASSERT_EQ(cio_lock_locked(&lock), 0);
    return 0;
}

static void test_fifo_handoff(void)
{
    CIO_ASSERT_OK(run_virtual(main_fifo, NULL));
}

/* The guide's example: read, yield, write under the lock. */
static int counter;

static int increment(void *arg)
{
    int use_lock = *(int *)arg;
    if (use_lock)
        CIO_ASSERT_OK(cio_lock_acquire(&lock));
    int current = counter;
    cio_sleep(0);
    counter = current + 1;
    if (use_lock)
        CIO_ASSERT_OK(cio_lock_release(&lock));
    return 0;
}

static int main_counter(void *arg)
{
    cio_lock_init(&lock);
    counter = 0;
    cio_task *t[5];
    for (int i = 0; i < 5; i++)
        t[i] = spawn_ok(increment, arg);
    CIO_ASSERT_OK(cio_gather(t, 5, 0));
    for (int i = 0; i < 5; i++)
        cio_join(t[i]);
    return counter;
}

static void test_counter(void)
{
    int with = 1, without = 0;
    CIO_ASSERT_EQ(run_virtual(main_counter, &with), 5);
    CIO_ASSERT_EQ(run_virtual(main_counter, &without), 1); /* the race it prevents */
}

static int main_cancel_waiting(void *arg)
{
    (void)arg;
    cio_lock_init(&lock);
    CIO_ASSERT_OK(cio_lock_acquire(&lock));
    cio_task *a = spawn_ok(worker, "a"), *b = spawn_ok(worker, "b"), *c = spawn_ok(worker, "c");
    settle();
    cio_cancel(b); /* in the middle of the line */
    settle();
    CIO_ASSERT_ERR(cio_join(b), -ECANCELED);
    CIO_ASSERT_OK(cio_lock_release(&lock));
    CIO_ASSERT_OK(cio_join(a));
    CIO_ASSERT_OK(cio_join(c));
    CIO_ASSERT_STR_EQ(traced(), "b:cancelled a c");
    CIO_ASSERT_EQ(cio_lock_locked(&lock), 0);
    return 0;
}

static void test_cancel_while_waiting(void)
{
    CIO_ASSERT_OK(run_virtual(main_cancel_waiting, NULL));
}

static int main_cancel_at_handoff(void *arg)
{
    (void)arg;
    cio_lock_init(&lock);
    CIO_ASSERT_OK(cio_lock_acquire(&lock));
    cio_task *a = spawn_ok(worker, "a"), *b = spawn_ok(worker, "b");
    settle();
    CIO_ASSERT_OK(cio_lock_release(&lock)); /* a owns it now, but has not run */
    cio_cancel(a);                          /* ...and is cancelled in that instant */
    CIO_ASSERT_ERR(cio_join(a), -ECANCELED);
    CIO_ASSERT_OK(cio_join(b)); /* a passed the lock on to b */
    CIO_ASSERT_STR_EQ(traced(), "a:cancelled b");
    CIO_ASSERT_EQ(cio_lock_locked(&lock), 0); /* not leaked */
    return 0;
}

static void test_cancel_at_handoff(void)
{
    CIO_ASSERT_OK(run_virtual(main_cancel_at_handoff, NULL));
}

/* A waiter under a timeout scope that the test can reach. */
static cio_scope waiter_scope;

static int timed_worker(void *arg)
{
    CIO_ASSERT_OK(cio_timeout_enter(&waiter_scope, *(double *)arg));
    int err = cio_lock_acquire(&lock);
    trace("%s@%.1f", err ? ename(err) : "got", cio_now());
    if (!err)
        cio_lock_release(&lock);
    cio_timeout_exit(&waiter_scope);
    return err;
}

static int holder(void *arg)
{
    CIO_ASSERT_OK(cio_lock_acquire(&lock));
    cio_sleep(*(double *)arg);
    trace("release@%.1f", cio_now());
    return cio_lock_release(&lock);
}

static int main_timeout(void *arg)
{
    (void)arg;
    cio_lock_init(&lock);
    double hold = 1.0, limit = 0.5;
    cio_task *h = spawn_ok(holder, &hold);
    cio_task *w = spawn_ok(timed_worker, &limit);
    cio_task *x = spawn_ok(worker, "x");
    CIO_ASSERT_ERR(cio_join(w), -ETIMEDOUT);
    CIO_ASSERT_CMP(cio_now(), ==, 0.5);
    CIO_ASSERT_OK(cio_join(h));
    CIO_ASSERT_OK(cio_join(x));
    CIO_ASSERT_STR_EQ(traced(), "ETIMEDOUT@0.5 release@1.0 x");
    CIO_ASSERT_EQ(cio_lock_locked(&lock), 0);
    return 0;
}

static void test_timeout_while_waiting(void)
{
    CIO_ASSERT_OK(run_virtual(main_timeout, NULL));
}

static int main_timeout_at_handoff(void *arg)
{
    (void)arg;
    cio_lock_init(&lock);
    double limit = 10;
    CIO_ASSERT_OK(cio_lock_acquire(&lock));
    cio_task *w = spawn_ok(timed_worker, &limit);
    cio_task *x = spawn_ok(worker, "x");
    settle();
    CIO_ASSERT_OK(cio_lock_release(&lock));                  /* handed to w... */
    CIO_ASSERT_OK(cio_timeout_reschedule(&waiter_scope, 0)); /* ...whose deadline passes now */
    CIO_ASSERT_ERR(cio_join(w), -ETIMEDOUT);
    CIO_ASSERT_OK(cio_join(x));
    CIO_ASSERT_STR_EQ(traced(), "ETIMEDOUT@0.0 x");
    CIO_ASSERT_EQ(cio_lock_locked(&lock), 0);
    return 0;
}

static void test_timeout_at_handoff(void)
{
    CIO_ASSERT_OK(run_virtual(main_timeout_at_handoff, NULL));
}

static int main_cancelled_scope(void *arg)
{
    (void)arg;
    cio_lock_init(&lock);
    cio_scope s;
    CIO_ASSERT_OK(cio_scope_enter(&s));
    cio_scope_cancel(&s);
    /* Level-triggered: even a free lock is not taken inside a cancelled scope. */
    CIO_ASSERT_ERR(cio_lock_acquire(&lock), -ECANCELED);
    CIO_ASSERT_EQ(cio_lock_locked(&lock), 0);
    cio_scope_exit(&s);
    CIO_ASSERT_OK(cio_lock_acquire(&lock));
    CIO_ASSERT_OK(cio_lock_release(&lock));
    return 0;
}

static void test_cancelled_scope(void)
{
    CIO_ASSERT_OK(run_virtual(main_cancelled_scope, NULL));
}

static int main_destroy_with_waiter(void *arg)
{
    (void)arg;
    cio_lock_init(&lock);
    CIO_ASSERT_OK(cio_lock_acquire(&lock));
    cio_task *a = spawn_ok(worker, "a");
    settle();
    cio_test_capture_stderr_begin();
    cio_lock_destroy(&lock);
    char *out = cio_test_capture_stderr_end();
    CIO_ASSERT(strstr(out, "cio_lock") && strstr(out, "destroyed while 1 task(s) wait"));
    free(out);
    CIO_ASSERT_ERR(cio_join(a), -EIDRM);
    return 0;
}

static void test_destroy_with_waiter(void)
{
    CIO_ASSERT_OK(run_virtual(main_destroy_with_waiter, NULL));
}

static int main_dump(void *arg)
{
    (void)arg;
    cio_lock_init(&lock);
    CIO_ASSERT_OK(cio_lock_acquire(&lock));
    cio_task *a = spawn_ok(worker, "a");
    settle();
    char buf[4096] = {0};
    FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
    cio_dump_tasks(f);
    fclose(f);
    CIO_ASSERT(strstr(buf, "waiting on lock"));
    CIO_ASSERT_OK(cio_lock_release(&lock));
    return cio_join(a);
}

static void test_dump_names_the_wait(void)
{
    CIO_ASSERT_OK(run_virtual(main_dump, NULL));
}

CIO_TEST_MAIN(((cio_test_case[]){
    CIO_TEST(test_basic, "acquire/release/locked/try_acquire; not reentrant (-EDEADLK)"),
    CIO_TEST(test_bad_input, "NULL gives -EINVAL; outside a task -EPERM; zeroed lock works"),
    CIO_TEST(test_release_not_owner, "releasing a lock another task holds gives -EPERM"),
    CIO_TEST(test_fifo_handoff, "waiters get the lock in arrival order; no barging on release"),
    CIO_TEST(test_counter, "the guide's counter is always 5 with the lock (1 without)"),
    CIO_TEST(test_cancel_while_waiting, "a waiter cancelled in line leaves it; order kept"),
    CIO_TEST(test_cancel_at_handoff,
             "a waiter cancelled just as the lock is handed to it passes it on"),
    CIO_TEST(test_timeout_while_waiting, "a timeout ends the wait; the lock is not leaked"),
    CIO_TEST(test_timeout_at_handoff, "a timeout at the hand-off instant passes the lock on"),
    CIO_TEST(test_cancelled_scope, "inside a cancelled scope acquire returns the reason at once"),
    CIO_TEST(test_destroy_with_waiter, "destroying a lock with waiters is reported; -EIDRM"),
    CIO_TEST(test_dump_names_the_wait, "cio_dump_tasks shows a task waiting on a lock"),
}))
