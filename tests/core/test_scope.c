/* Tests of scopes: timeouts, cancel scopes, shields, wait_for, cio_shield,
 * and the reports for misused scopes. All on the virtual clock. */
#include "cio_test.h"

static int main_timeout_fires(void *arg)
{
    (void)arg;
    cio_scope s;
    CIO_ASSERT_OK(cio_timeout_enter(&s, 2.0));
    CIO_ASSERT_ERR(cio_sleep(10), -ETIMEDOUT);
    CIO_ASSERT_CMP(cio_now(), ==, 2.0);
    CIO_ASSERT_ERR(cio_yield(), -ETIMEDOUT); /* level-triggered inside the scope */
    CIO_ASSERT_EQ(cio_timeout_expired(&s), 1);
    CIO_ASSERT_ERR(cio_timeout_exit(&s), -ETIMEDOUT);
    CIO_ASSERT_OK(cio_sleep(1)); /* outside it, calls work again */
    CIO_ASSERT_CMP(cio_now(), ==, 3.0);
    return 0;
}

static void test_timeout_fires(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_timeout_fires, NULL));
}

static int main_timeout_not_reached(void *arg)
{
    (void)arg;
    cio_scope s;
    CIO_ASSERT_OK(cio_timeout_enter(&s, 5.0));
    CIO_ASSERT_OK(cio_sleep(1));
    CIO_ASSERT_CMP(cio_timeout_deadline(&s), ==, 5.0);
    CIO_ASSERT_OK(cio_timeout_exit(&s));
    CIO_ASSERT_OK(cio_sleep(10)); /* the disarmed deadline never fires */
    return 0;
}

static void test_timeout_not_reached(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_timeout_not_reached, NULL));
}

static int main_nested(void *arg)
{
    (void)arg;
    cio_scope outer, inner;
    CIO_ASSERT_OK(cio_timeout_enter(&outer, 1.0));
    CIO_ASSERT_OK(cio_timeout_enter(&inner, 3.0));
    CIO_ASSERT_ERR(cio_sleep(10), -ETIMEDOUT);
    CIO_ASSERT_CMP(cio_now(), ==, 1.0);      /* the earlier, outer deadline fired */
    CIO_ASSERT_OK(cio_timeout_exit(&inner)); /* the inner one did not fire */
    CIO_ASSERT_ERR(cio_timeout_exit(&outer), -ETIMEDOUT);
    return 0;
}

static void test_nested_timeouts(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_nested, NULL));
}

static int cancel_then_timeout(void *arg)
{
    (void)arg;
    cio_scope s;
    CIO_ASSERT_OK(cio_timeout_enter(&s, 1.0));
    int first = cio_sleep(10); /* cancelled at 0.5 s */
    int second = cio_sleep(5); /* still cancelled, and later the deadline passes */
    cio_timeout_exit(&s);
    CIO_ASSERT_ERR(first, -ECANCELED);
    CIO_ASSERT_ERR(second, -ECANCELED);
    return 0;
}

static int main_reasons(void *arg)
{
    (void)arg;
    cio_task *t = cio_spawn(cancel_then_timeout, NULL);
    CIO_ASSERT_OK(cio_sleep(0.5));
    cio_cancel(t); /* the task's root scope is outside the timeout: it wins */
    CIO_ASSERT_OK(cio_join(t));
    return 0;
}

static void test_outermost_reason_wins(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_reasons, NULL));
}

static int main_expired_then_cancelled(void *arg)
{
    (void)arg;
    cio_scope s;
    CIO_ASSERT_OK(cio_timeout_enter(&s, 1.0));
    CIO_ASSERT_ERR(cio_sleep(5), -ETIMEDOUT);
    cio_cancel(cio_current()); /* an outer cancel now overrides the timeout */
    CIO_ASSERT_ERR(cio_yield(), -ECANCELED);
    CIO_ASSERT_ERR(cio_timeout_exit(&s), -ETIMEDOUT);
    CIO_ASSERT_ERR(cio_yield(), -ECANCELED);
    return 0;
}

static void test_external_cancel_not_mistaken_for_timeout(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_expired_then_cancelled, NULL));
}

static int main_zero_and_past(void *arg)
{
    (void)arg;
    cio_scope s;
    CIO_ASSERT_OK(cio_timeout_enter(&s, 0));
    CIO_ASSERT_ERR(cio_yield(), -ETIMEDOUT); /* expired at once */
    CIO_ASSERT_ERR(cio_timeout_exit(&s), -ETIMEDOUT);
    CIO_ASSERT_OK(cio_timeout_at_enter(&s, cio_now() - 1));
    CIO_ASSERT_ERR(cio_sleep(1), -ETIMEDOUT);
    CIO_ASSERT_ERR(cio_timeout_exit(&s), -ETIMEDOUT);
    CIO_ASSERT_OK(cio_timeout_at_enter(&s, cio_now() + 2));
    CIO_ASSERT_ERR(cio_sleep(5), -ETIMEDOUT);
    CIO_ASSERT_CMP(cio_now(), ==, 2.0);
    CIO_ASSERT_ERR(cio_timeout_exit(&s), -ETIMEDOUT);
    CIO_ASSERT_OK(cio_timeout_enter(&s, CIO_FOREVER));
    CIO_ASSERT_CMP(cio_timeout_deadline(&s), ==, CIO_FOREVER);
    CIO_ASSERT_OK(cio_sleep(1000));
    CIO_ASSERT_OK(cio_timeout_exit(&s));
    return 0;
}

static void test_zero_past_and_forever(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_zero_and_past, NULL));
}

static int main_reschedule(void *arg)
{
    (void)arg;
    cio_scope s;
    CIO_ASSERT_OK(cio_timeout_enter(&s, 1.0));
    CIO_ASSERT_OK(cio_timeout_reschedule(&s, 3.0)); /* now at 3 s */
    CIO_ASSERT_OK(cio_sleep(2));
    CIO_ASSERT_ERR(cio_sleep(2), -ETIMEDOUT);
    CIO_ASSERT_CMP(cio_now(), ==, 3.0);
    CIO_ASSERT_OK(cio_timeout_reschedule(&s, 10)); /* an expired scope stays expired */
    CIO_ASSERT_ERR(cio_yield(), -ETIMEDOUT);
    CIO_ASSERT_ERR(cio_timeout_exit(&s), -ETIMEDOUT);
    CIO_ASSERT_OK(cio_timeout_enter(&s, 1.0));
    CIO_ASSERT_OK(cio_timeout_reschedule(&s, CIO_FOREVER));
    CIO_ASSERT_OK(cio_sleep(5));
    CIO_ASSERT_OK(cio_timeout_reschedule(&s, -1)); /* past: expires at once */
    CIO_ASSERT_ERR(cio_timeout_exit(&s), -ETIMEDOUT);
    CIO_ASSERT_ERR(cio_timeout_reschedule(&s, 1), -EINVAL); /* not open */
    return 0;
}

static void test_reschedule(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_reschedule, NULL));
}

static int main_bad_scopes(void *arg)
{
    (void)arg;
    cio_scope s;
    CIO_ASSERT_ERR(cio_timeout_enter(&s, -1), -EINVAL);
    CIO_ASSERT_ERR(cio_timeout_enter(&s, 0.0 / 0.0), -EINVAL);
    CIO_ASSERT_ERR(cio_timeout_enter(NULL, 1), -EINVAL);
    CIO_ASSERT_ERR(cio_scope_exit(NULL), -EINVAL);
    CIO_ASSERT_OK(cio_scope_enter(&s));
    CIO_ASSERT_OK(cio_scope_exit(&s));
    CIO_ASSERT_ERR(cio_scope_exit(&s), -EINVAL); /* exited twice */
    return 0;
}

static void test_bad_scopes(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_bad_scopes, NULL));
    cio_scope s;
    CIO_ASSERT_ERR(cio_timeout_enter(&s, 1), -EPERM);
    CIO_ASSERT_ERR(cio_shield_enter(&s), -EPERM);
}

static int main_out_of_order(void *arg)
{
    (void)arg;
    cio_scope a, b;
    CIO_ASSERT_OK(cio_timeout_enter(&a, 1.0));
    CIO_ASSERT_OK(cio_timeout_enter(&b, 2.0));
    CIO_ASSERT_ERR(cio_scope_exit(&a), CIO_ESCOPE); /* b is still open */
    CIO_ASSERT_ERR(cio_scope_exit(&b), -EINVAL);    /* closed along with a */
    CIO_ASSERT_OK(cio_sleep(5));                    /* neither deadline fires any more */
    return 0;
}

static void test_out_of_order_exit_reported(void)
{
    cio_test_capture_stderr_begin();
    int err = cio_test_run_virtual(main_out_of_order, NULL);
    char *out = cio_test_capture_stderr_end();
    CIO_ASSERT_OK(err);
    CIO_ASSERT(strstr(out, "test_scope.c:") != NULL);
    CIO_ASSERT(strstr(out, "still open") != NULL);
    free(out);
}

static int leaks_scope(void *arg)
{
    (void)arg;
    cio_scope s;
    CIO_ASSERT_OK(cio_timeout_enter(&s, 1.0));
    return 0; /* returns with s open */
}

static int main_leaked_scope(void *arg)
{
    (void)arg;
    CIO_ASSERT_OK(cio_join(cio_spawn(leaks_scope, NULL)));
    CIO_ASSERT_OK(cio_sleep(5)); /* the dead scope's timer must not fire */
    return 0;
}

static void test_scope_left_open_reported(void)
{
    cio_test_capture_stderr_begin();
    int err = cio_test_run_virtual(main_leaked_scope, NULL);
    char *out = cio_test_capture_stderr_end();
    CIO_ASSERT_OK(err);
    CIO_ASSERT(strstr(out, "returned with 1 scope(s) still open") != NULL);
    CIO_ASSERT(strstr(out, "test_scope.c:") != NULL);
    free(out);
}

static int cancel_scope_body(void *arg)
{
    cio_scope **out = arg;
    cio_scope s;
    CIO_ASSERT_OK(cio_scope_enter(&s));
    *out = &s;
    int err = cio_sleep(10);
    CIO_ASSERT_ERR(cio_scope_exit(&s), -ECANCELED);
    *out = NULL;
    CIO_ASSERT_OK(cio_sleep(1)); /* only the scope was cancelled, not the task */
    return err;
}

static int main_cancel_scope(void *arg)
{
    (void)arg;
    cio_scope *s = NULL;
    cio_task *t = cio_spawn(cancel_scope_body, &s);
    CIO_ASSERT_OK(cio_sleep(1));
    CIO_ASSERT(s != NULL);
    cio_scope_cancel(s);
    CIO_ASSERT_ERR(cio_join(t), -ECANCELED);
    CIO_ASSERT_CMP(cio_now(), ==, 2.0);
    return 0;
}

static void test_cancel_scope(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_cancel_scope, NULL));
}

/* ---- shields ---- */

static int shielded_cleanup(void *arg)
{
    int *done = arg;
    int first = cio_sleep(10); /* cancelled at 1 s */
    cio_scope sh;
    CIO_ASSERT_OK(cio_shield_enter(&sh));
    int cleanup = cio_sleep(2); /* the cleanup still waits */
    cio_shield_exit(&sh);
    *done = cleanup == 0;
    CIO_ASSERT_ERR(cio_yield(), -ECANCELED); /* outside the shield again */
    return first;
}

static int main_shield_scope(void *arg)
{
    (void)arg;
    int done = 0;
    cio_task *t = cio_spawn(shielded_cleanup, &done);
    CIO_ASSERT_OK(cio_sleep(1));
    cio_cancel(t);
    CIO_ASSERT_ERR(cio_join(t), -ECANCELED);
    CIO_ASSERT_EQ(done, 1);
    CIO_ASSERT_CMP(cio_now(), ==, 3.0);
    return 0;
}

static void test_shield_scope(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_shield_scope, NULL));
}

static int timeout_inside_shield(void *arg)
{
    (void)arg;
    cio_scope sh, t;
    CIO_ASSERT_OK(cio_shield_enter(&sh));
    CIO_ASSERT_OK(cio_timeout_enter(&t, 1.0));
    int err = cio_sleep(5); /* scopes inside a shield still work */
    cio_timeout_exit(&t);
    cio_shield_exit(&sh);
    return err;
}

static void test_timeout_inside_shield(void)
{
    CIO_ASSERT_ERR(cio_test_run_virtual(timeout_inside_shield, NULL), -ETIMEDOUT);
}

/* ---- wait_for ---- */

static int slow_op(void *arg)
{
    double *secs = arg;
    int err = cio_sleep(*secs);
    return err ? err : 42;
}

static int main_wait_for(void *arg)
{
    (void)arg;
    double fast = 1, slow = 10;
    CIO_ASSERT_EQ(cio_wait_for(slow_op, &fast, 5), 42);
    CIO_ASSERT_ERR(cio_wait_for(slow_op, &slow, 5), -ETIMEDOUT);
    CIO_ASSERT_CMP(cio_now(), ==, 6.0);
    CIO_ASSERT_ERR(cio_wait_for(NULL, NULL, 1), -EINVAL);
    CIO_ASSERT_ERR(cio_wait_for(slow_op, &fast, -1), -EINVAL);
    return 0;
}

static void test_wait_for(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_wait_for, NULL));
}

/* The guide's commit-transaction example: the caller gives up, the commit
 * finishes anyway. */
static int committed;

static int commit(void *arg)
{
    (void)arg;
    int err = cio_sleep(3);
    committed = err == 0;
    return err;
}

static int shielded_commit(void *arg)
{
    (void)arg;
    return cio_shield(cio_spawn(commit, NULL));
}

static int main_shield_task(void *arg)
{
    (void)arg;
    int r = cio_wait_for(shielded_commit, NULL, 1.0);
    CIO_ASSERT_ERR(r, -ETIMEDOUT);
    CIO_ASSERT_EQ(committed, 0);
    CIO_ASSERT_OK(cio_sleep(5));
    CIO_ASSERT_EQ(committed, 1); /* the shielded task went on */
    cio_task *t = cio_spawn(commit, NULL);
    CIO_ASSERT_OK(cio_shield(t)); /* not cancelled: returns the status */
    CIO_ASSERT_ERR(cio_shield(NULL), -EINVAL);
    return 0;
}

static void test_shield_task(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_shield_task, NULL));
}

/* Issue 14: entering an open timeout scope made it its own parent, and when
 * it fired the loop spun for ever delivering the cancel. */
static int main_reenter(void *arg)
{
    (void)arg;
    cio_scope s;
    CIO_ASSERT_OK(cio_timeout_enter(&s, 1));
    CIO_ASSERT_ERR(cio_timeout_enter(&s, 2), -EINVAL);
    CIO_ASSERT(strstr(cio_task_message(cio_current()), "entered again") != NULL);
    CIO_ASSERT_ERR(cio_scope_enter(&s), -EINVAL);
    CIO_ASSERT_ERR(cio_shield_enter(&s), -EINVAL);
    CIO_ASSERT_CMP(cio_timeout_deadline(&s), ==, 1.0); /* untouched */
    CIO_ASSERT_ERR(cio_sleep(5), -ETIMEDOUT);
    CIO_ASSERT_CMP(cio_now(), ==, 1.0);
    CIO_ASSERT_ERR(cio_timeout_exit(&s), -ETIMEDOUT);
    CIO_ASSERT_OK(cio_timeout_enter(&s, 1)); /* closed: it may be entered again */
    CIO_ASSERT_OK(cio_timeout_exit(&s));
    return 0;
}

static void test_reenter_open_scope(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_reenter, NULL));
    cio_opts o = {0};
    o.virtual_clock = 1;
    o.no_sigint = 1;
    o.debug = 1;
    cio_test_capture_stderr_begin();
    int err = cio_run_opts(main_reenter, NULL, &o);
    char *out = cio_test_capture_stderr_end();
    CIO_ASSERT_OK(err);
    CIO_ASSERT(strstr(out, "has not exited; refused") != NULL);
    free(out);
}

static int sleep_then(void *arg)
{
    int *status = arg;
    cio_sleep(1);
    return *status;
}

static int join_arg(void *arg)
{
    return cio_join(arg);
}

/* Issue 14: wait_for and a cancelled join said -ETIMEDOUT although the task
 * failed with a real error at that moment, and wait_for(..., 0) threw away a
 * finished task's result. */
static int main_wait_for_keeps_result(void *arg)
{
    (void)arg;
    int eio = -EIO, ok = 42;
    /* t's timer was armed first: it fails at 1.0 just before the deadline. */
    cio_task *t = cio_spawn(sleep_then, &eio);
    CIO_ASSERT_OK(cio_yield());
    CIO_ASSERT_ERR(cio_wait_for(join_arg, t, 1.0), -EIO);
    CIO_ASSERT_CMP(cio_now(), ==, 1.0);
    t = cio_spawn(sleep_then, &ok);
    CIO_ASSERT_OK(cio_sleep(2)); /* t is done */
    CIO_ASSERT_EQ(cio_wait_for(join_arg, t, 0), 42);
    /* A task that does not finish still times out. */
    t = cio_spawn(sleep_then, &ok);
    CIO_ASSERT_ERR(cio_wait_for(join_arg, t, 0.5), -ETIMEDOUT);
    return 0;
}

static void test_wait_for_keeps_result(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_wait_for_keeps_result, NULL));
}

/* Issue 14: a reschedule to a past deadline was -EINVAL and kept the old one. */
static int main_reschedule_past(void *arg)
{
    (void)arg;
    cio_scope s;
    CIO_ASSERT_OK(cio_timeout_enter(&s, 10));
    CIO_ASSERT_OK(cio_timeout_reschedule(&s, -1));
    CIO_ASSERT_EQ(cio_timeout_expired(&s), 1);
    CIO_ASSERT_ERR(cio_sleep(5), -ETIMEDOUT);
    CIO_ASSERT_CMP(cio_now(), ==, 0.0);
    CIO_ASSERT_ERR(cio_timeout_exit(&s), -ETIMEDOUT);
    CIO_ASSERT_OK(cio_timeout_enter(&s, 10));
    CIO_ASSERT_ERR(cio_timeout_reschedule(&s, __builtin_nan("")), -EINVAL);
    CIO_ASSERT_OK(cio_timeout_reschedule(&s, 0));
    CIO_ASSERT_ERR(cio_timeout_exit(&s), -ETIMEDOUT);
    return 0;
}

static void test_reschedule_past(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_reschedule_past, NULL));
}

static int sleep_5(void *arg)
{
    (void)arg;
    return cio_sleep(5);
}

/* Issue 14: a timeout around a call that fails without a message (an HTTP
 * request, say) left the task with none. */
static int main_timeout_message(void *arg)
{
    (void)arg;
    cio_scope s;
    CIO_ASSERT_OK(cio_timeout_enter(&s, 1));
    CIO_ASSERT_ERR(cio_sleep(5), -ETIMEDOUT);
    CIO_ASSERT_ERR(cio_timeout_exit(&s), -ETIMEDOUT);
    CIO_ASSERT(strstr(cio_task_message(NULL), "timed out: the timeout entered at") != NULL);
    CIO_ASSERT(strstr(cio_task_message(NULL), "test_scope.c") != NULL);
    CIO_ASSERT_ERR(cio_wait_for(sleep_5, NULL, 0.5), -ETIMEDOUT);
    CIO_ASSERT_STR_EQ(cio_task_message(NULL), "cio_wait_for timed out after 0.5 s");
    /* A message the code inside set stays. */
    CIO_ASSERT_OK(cio_timeout_enter(&s, 1));
    CIO_ASSERT_ERR(cio_sleep(5), -ETIMEDOUT);
    cio_fail(-ETIMEDOUT, "GET /slow: no answer");
    CIO_ASSERT_ERR(cio_timeout_exit(&s), -ETIMEDOUT);
    CIO_ASSERT_STR_EQ(cio_task_message(NULL), "GET /slow: no answer");
    return 0;
}

static void test_timeout_message(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_timeout_message, NULL));
}

/* Never early: a timeout fires at or after its deadline, never before, not
 * even by a nanosecond. Sleepers whose deadlines are 1 ns apart each check,
 * when theirs fires, that the clock has reached it; on the virtual clock the
 * loop jumps exactly to the next deadline, so a timer fired 1 ns early is
 * seen, on the real clock any early wake-up (rounding a wait down) is. */
enum { EARLY_SLEEPERS = 64 };
static cio_event never;
static int early_fired, early_wrong;

static int early_sleeper(void *arg)
{
    double when = *(const double *)arg;
    cio_scope sc;
    CIO_ASSERT_OK(cio_timeout_at_enter(&sc, when));
    int err = cio_event_wait(&never);
    double now = cio_now(), deadline = cio_timeout_deadline(&sc);
    int expired = cio_timeout_expired(&sc);
    CIO_ASSERT_ERR(cio_timeout_exit(&sc), -ETIMEDOUT);
    CIO_ASSERT_ERR(err, -ETIMEDOUT);
    CIO_ASSERT(expired);
    early_fired++;
    if (now < deadline) {
        early_wrong++;
        fprintf(stderr, "timer fired %.0f ns early (deadline %.9f, now %.9f)\n",
                (deadline - now) * 1e9, deadline, now);
    }
    return 0;
}

static int main_never_early(void *arg)
{
    double step = *(const double *)arg; /* seconds between two deadlines */
    cio_event_init(&never);
    early_fired = early_wrong = 0;
    double whens[EARLY_SLEEPERS];
    cio_task *t[EARLY_SLEEPERS];
    double base = cio_now() + 0.001;
    for (int i = 0; i < EARLY_SLEEPERS; i++) {
        /* Spread out of order: the heap sees every shape of insert. */
        whens[i] = base + (double)((i * 37) % EARLY_SLEEPERS) * step;
        CIO_ASSERT(t[i] = cio_spawn(early_sleeper, &whens[i]));
    }
    for (int i = 0; i < EARLY_SLEEPERS; i++)
        CIO_ASSERT_OK(cio_join(t[i]));
    /* Plain sleeps too: after cio_sleep(d), d has passed. */
    for (int i = 1; i <= 8; i++) {
        double d = step * i * 3, start = cio_now();
        CIO_ASSERT_OK(cio_sleep(d));
        CIO_ASSERT_CMP(cio_now() - start, >=, d * (1 - 1e-9));
    }
    cio_event_destroy(&never);
    CIO_ASSERT_EQ(early_fired, EARLY_SLEEPERS);
    CIO_ASSERT_EQ(early_wrong, 0);
    return 0;
}

static void test_timer_never_early_virtual(void)
{
    double step = 1e-9; /* one nanosecond apart */
    CIO_ASSERT_OK(cio_test_run_virtual(main_never_early, &step));
}

static void test_timer_never_early_real(void)
{
    double step = 37e-6; /* odd microseconds: waits that do not round evenly */
    CIO_ASSERT_OK(cio_test_run(main_never_early, &step));
}

CIO_TEST_MAIN(((cio_test_case[]){
    CIO_TEST(test_timer_never_early_virtual,
             "virtual clock: timeouts 1 ns apart each fire at, never before, their deadline"),
    CIO_TEST(test_timer_never_early_real,
             "real clock: no timeout or sleep ends before its deadline"),
    CIO_TEST(test_timeout_message, "an expired timeout leaves a message saying where it was set"),
    CIO_TEST(test_reenter_open_scope,
             "entering an open scope again is -EINVAL, leaves it as it was; debug reports it"),
    CIO_TEST(test_wait_for_keeps_result,
             "wait_for keeps a real error at the deadline and a finished task's result"),
    CIO_TEST(test_reschedule_past, "a reschedule to a past deadline expires the scope at once"),
    CIO_TEST(test_timeout_fires, "a timeout interrupts a sleep with -ETIMEDOUT, level-triggered"),
    CIO_TEST(test_timeout_not_reached, "a timeout closed in time never fires"),
    CIO_TEST(test_nested_timeouts, "nested timeouts: the earlier deadline fires its own scope"),
    CIO_TEST(test_outermost_reason_wins, "an outer cancel wins over an inner timeout"),
    CIO_TEST(test_external_cancel_not_mistaken_for_timeout,
             "a cancel after a timeout fired is reported as a cancel"),
    CIO_TEST(test_zero_past_and_forever, "zero, past and infinite deadlines"),
    CIO_TEST(test_reschedule, "reschedule moves a deadline; an expired scope stays expired"),
    CIO_TEST(test_bad_scopes, "bad durations, NULL, double exit and no loop are errors"),
    CIO_TEST(test_out_of_order_exit_reported, "an out-of-order exit is reported with file:line"),
    CIO_TEST(test_scope_left_open_reported,
             "a scope left open at task end is reported and its timer disarmed"),
    CIO_TEST(test_cancel_scope, "cio_scope_cancel cancels only the code inside the scope"),
    CIO_TEST(test_shield_scope, "a shield lets cleanup wait while the task is cancelled"),
    CIO_TEST(test_timeout_inside_shield, "a timeout inside a shield still fires"),
    CIO_TEST(test_wait_for, "wait_for returns the result or -ETIMEDOUT at the deadline"),
    CIO_TEST(test_shield_task, "cio_shield: the caller times out, the shielded commit completes"),
}))
