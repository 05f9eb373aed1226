/* Tests of cio_barrier: rounds, arrival indices, draining, abort, reset and
 * cancellation. */
#include "sync_test.h"

static cio_barrier bar;

static void test_bad_input(void)
{
    cio_barrier b;
    CIO_ASSERT_ERR(cio_barrier_init(NULL, 2), -EINVAL);
    CIO_ASSERT_ERR(cio_barrier_init(&b, 0), -EINVAL);
    CIO_ASSERT_ERR(cio_barrier_wait(NULL, NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_barrier_reset(NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_barrier_abort(NULL), -EINVAL);
    CIO_ASSERT_EQ(cio_barrier_parties(NULL), 0);
    CIO_ASSERT_EQ(cio_barrier_n_waiting(NULL), 0);
    CIO_ASSERT_EQ(cio_barrier_broken(NULL), 0);
    cio_barrier_destroy(NULL);
    CIO_ASSERT_OK(cio_barrier_init(&b, 2));
    CIO_ASSERT_ERR(cio_barrier_wait(&b, NULL), -EPERM); /* outside a task */
    CIO_ASSERT_EQ(cio_barrier_parties(&b), 2);
}

typedef struct arrival {
    const char *name;
    double delay;
    int rounds;
} arrival;

static int party(void *arg)
{
    arrival *a = arg;
    for (int r = 0; r < a->rounds; r++) {
        if (a->delay > 0)
            cio_sleep(a->delay);
        size_t index = 99;
        int err = cio_barrier_wait(&bar, &index);
        trace("%s:%s:%zu@%.0f", a->name, ename(err), index, cio_now());
        if (err)
            return err;
    }
    return 0;
}

static int main_rounds(void *arg)
{
    (void)arg;
    cio_barrier_init(&bar, 3);
    arrival a[3] = {{"a", 2, 2}, {"b", 1, 2}, {"c", 3, 2}};
    cio_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = spawn_ok(party, &a[i]);
    cio_sleep(2.5);
    CIO_ASSERT_EQ(cio_barrier_n_waiting(&bar), 2);
    CIO_ASSERT_OK(cio_gather(t, 3, 0));
    for (int i = 0; i < 3; i++)
        cio_join(t[i]);
    /* Round 1 fills at 3 s (b, a, c arrive in that order); round 2 at 6 s. The
     * last to arrive returns first: it does not wait. */
    CIO_ASSERT_STR_EQ(traced(), "c:0:2@3 b:0:0@3 a:0:1@3 c:0:2@6 b:0:0@6 a:0:1@6");
    CIO_ASSERT_EQ(cio_barrier_n_waiting(&bar), 0);
    return 0;
}

static void test_rounds_and_indices(void)
{
    CIO_ASSERT_OK(run_virtual(main_rounds, NULL));
}

static int one_party(void *arg)
{
    (void)arg;
    cio_barrier b;
    cio_barrier_init(&b, 1);
    size_t i = 9;
    CIO_ASSERT_OK(cio_barrier_wait(&b, &i));
    CIO_ASSERT_EQ(i, 0);
    CIO_ASSERT_OK(cio_barrier_wait(&b, &i)); /* a barrier of one never waits */
    return 0;
}

static void test_one_party(void)
{
    CIO_ASSERT_OK(run_virtual(one_party, NULL));
}

/* Two parties, each waiting twice in a row with no pause: the one released
 * first must not join the next round before the other has left this one. */
static int twice(void *arg)
{
    const char *name = arg;
    for (int r = 0; r < 2; r++) {
        size_t i;
        int err = cio_barrier_wait(&bar, &i);
        trace("%s%d:%zu", name, r, i);
        if (err)
            return err;
    }
    return 0;
}

static int main_draining(void *arg)
{
    (void)arg;
    cio_barrier_init(&bar, 2);
    cio_task *a = spawn_ok(twice, "a"), *b = spawn_ok(twice, "b");
    CIO_ASSERT_OK(cio_join(a));
    CIO_ASSERT_OK(cio_join(b));
    /* b filled round 0 and came back while a had not left: b waited (draining)
     * until a left; a, going on at once, arrived in round 1 first (index 0). */
    CIO_ASSERT_STR_EQ(traced(), "b0:1 a0:0 b1:1 a1:0");
    return 0;
}

static void test_draining_blocks_newcomers(void)
{
    CIO_ASSERT_OK(run_virtual(main_draining, NULL));
}

static int main_abort(void *arg)
{
    (void)arg;
    cio_barrier_init(&bar, 3);
    arrival a[2] = {{"a", 0, 1}, {"b", 0, 1}};
    cio_task *ta = spawn_ok(party, &a[0]), *tb = spawn_ok(party, &a[1]);
    settle();
    CIO_ASSERT_OK(cio_barrier_abort(&bar));
    CIO_ASSERT_ERR(cio_join(ta), -EPIPE);
    CIO_ASSERT_ERR(cio_join(tb), -EPIPE);
    CIO_ASSERT_EQ(cio_barrier_broken(&bar), 1);
    CIO_ASSERT_ERR(cio_barrier_wait(&bar, NULL), -EPIPE); /* stays broken */
    CIO_ASSERT_OK(cio_barrier_reset(&bar));
    CIO_ASSERT_EQ(cio_barrier_broken(&bar), 0);
    arrival c[3] = {{"c", 0, 1}, {"d", 0, 1}, {"e", 0, 1}};
    cio_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = spawn_ok(party, &c[i]);
    CIO_ASSERT_OK(cio_gather(t, 3, 0));
    for (int i = 0; i < 3; i++)
        cio_join(t[i]);
    CIO_ASSERT_STR_EQ(traced(), "a:EPIPE:99@0 b:EPIPE:99@0 e:0:2@0 c:0:0@0 d:0:1@0");
    return 0;
}

static void test_abort(void)
{
    CIO_ASSERT_OK(run_virtual(main_abort, NULL));
}

static int main_reset(void *arg)
{
    (void)arg;
    cio_barrier_init(&bar, 3);
    arrival a[2] = {{"a", 0, 1}, {"b", 0, 1}};
    cio_task *ta = spawn_ok(party, &a[0]), *tb = spawn_ok(party, &a[1]);
    settle();
    CIO_ASSERT_OK(cio_barrier_reset(&bar)); /* the waiters of the round fail */
    /* A newcomer waits until the reset round has emptied, then fills anew. */
    arrival c[3] = {{"c", 0, 1}, {"d", 0, 1}, {"e", 0, 1}};
    cio_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = spawn_ok(party, &c[i]);
    CIO_ASSERT_ERR(cio_join(ta), -EPIPE);
    CIO_ASSERT_ERR(cio_join(tb), -EPIPE);
    CIO_ASSERT_OK(cio_gather(t, 3, 0));
    for (int i = 0; i < 3; i++)
        cio_join(t[i]);
    CIO_ASSERT_EQ(cio_barrier_broken(&bar), 0);
    CIO_ASSERT_STR_EQ(traced(), "a:EPIPE:99@0 b:EPIPE:99@0 e:0:2@0 c:0:0@0 d:0:1@0");
    return 0;
}

static void test_reset(void)
{
    CIO_ASSERT_OK(run_virtual(main_reset, NULL));
}

static int main_cancel_filling(void *arg)
{
    (void)arg;
    cio_barrier_init(&bar, 3);
    arrival a[4] = {{"a", 0, 1}, {"b", 0, 1}, {"c", 0, 1}, {"d", 0, 1}};
    cio_task *ta = spawn_ok(party, &a[0]), *tb = spawn_ok(party, &a[1]);
    settle();
    CIO_ASSERT_EQ(cio_barrier_n_waiting(&bar), 2);
    cio_cancel(ta); /* a (index 0) leaves: b becomes index 0 */
    CIO_ASSERT_ERR(cio_join(ta), -ECANCELED);
    CIO_ASSERT_EQ(cio_barrier_n_waiting(&bar), 1);
    cio_task *tc = spawn_ok(party, &a[2]);
    settle();
    CIO_ASSERT_EQ(cio_task_done(tc), 0); /* still one party short */
    cio_task *td = spawn_ok(party, &a[3]);
    CIO_ASSERT_OK(cio_join(tb));
    CIO_ASSERT_OK(cio_join(tc));
    CIO_ASSERT_OK(cio_join(td));
    /* Indices stay dense: 0, 1, 2, as if a had never arrived. */
    CIO_ASSERT_STR_EQ(traced(), "a:ECANCELED:99@0 d:0:2@0 b:0:0@0 c:0:1@0");
    return 0;
}

static void test_cancel_while_filling(void)
{
    CIO_ASSERT_OK(run_virtual(main_cancel_filling, NULL));
}

static int timed_party(void *arg)
{
    (void)arg;
    cio_scope s;
    CIO_ASSERT_OK(cio_timeout_enter(&s, 1.0));
    size_t i = 99;
    int err = cio_barrier_wait(&bar, &i);
    cio_timeout_exit(&s);
    trace("t:%s:%zu@%.0f", ename(err), i, cio_now());
    return err;
}

static int main_timeout(void *arg)
{
    (void)arg;
    cio_barrier_init(&bar, 2);
    cio_task *t = spawn_ok(timed_party, NULL);
    CIO_ASSERT_ERR(cio_join(t), -ETIMEDOUT);
    CIO_ASSERT_EQ(cio_barrier_n_waiting(&bar), 0); /* as if it never came */
    arrival a[2] = {{"a", 0, 1}, {"b", 0, 1}};
    cio_task *ta = spawn_ok(party, &a[0]), *tb = spawn_ok(party, &a[1]);
    CIO_ASSERT_OK(cio_join(ta));
    CIO_ASSERT_OK(cio_join(tb));
    CIO_ASSERT_STR_EQ(traced(), "t:ETIMEDOUT:99@1 b:0:1@1 a:0:0@1");
    return 0;
}

static void test_timeout(void)
{
    CIO_ASSERT_OK(run_virtual(main_timeout, NULL));
}

static int main_cancel_after_release(void *arg)
{
    (void)arg;
    cio_barrier_init(&bar, 2);
    arrival a[4] = {{"a", 0, 1}, {"b", 0, 1}, {"c", 0, 1}, {"d", 0, 1}};
    cio_task *ta = spawn_ok(party, &a[0]);
    settle();
    cio_task *tb = spawn_ok(party, &a[1]);
    /* Run b (it fills the round and wakes a), then cancel a before it runs. */
    cio_yield();
    cio_cancel(ta);
    CIO_ASSERT_ERR(cio_join(ta), -ECANCELED); /* too late to undo: the reason */
    CIO_ASSERT_OK(cio_join(tb));
    /* The barrier is whole: the next round works. */
    cio_task *tc = spawn_ok(party, &a[2]), *td = spawn_ok(party, &a[3]);
    CIO_ASSERT_OK(cio_join(tc));
    CIO_ASSERT_OK(cio_join(td));
    CIO_ASSERT_STR_EQ(traced(), "b:0:1@0 a:ECANCELED:99@0 d:0:1@0 c:0:0@0");
    return 0;
}

static void test_cancel_after_release(void)
{
    CIO_ASSERT_OK(run_virtual(main_cancel_after_release, NULL));
}

/* Issue 14: -4 became SIZE_MAX - 3 parties, a barrier that never fills. */
static void test_negative_parties(void)
{
    cio_barrier b;
    CIO_ASSERT_ERR(cio_barrier_init(&b, (size_t)-4), -EINVAL);
    CIO_ASSERT_ERR(cio_barrier_init(&b, (size_t)-1), -EINVAL);
    CIO_ASSERT_OK(cio_barrier_init(&b, 4));
    cio_barrier_destroy(&b);
}

CIO_TEST_MAIN(((cio_test_case[]){
    CIO_TEST(test_negative_parties, "a negative party count converted to size_t is -EINVAL"),
    CIO_TEST(test_bad_input, "NULL or 0 parties -EINVAL; wait outside a task -EPERM"),
    CIO_TEST(test_rounds_and_indices, "rounds fill at the last arrival; indices in arrival order"),
    CIO_TEST(test_one_party, "a barrier of one party never waits"),
    CIO_TEST(test_draining_blocks_newcomers, "a draining round makes newcomers wait"),
    CIO_TEST(test_abort, "abort fails waiters and later waits with -EPIPE until reset"),
    CIO_TEST(test_reset, "reset fails the round's waiters with -EPIPE; then it refills"),
    CIO_TEST(test_cancel_while_filling,
             "a cancelled waiter leaves the count; indices stay dense (never arrived)"),
    CIO_TEST(test_timeout, "a timed-out waiter leaves the count; the barrier still works"),
    CIO_TEST(test_cancel_after_release, "a waiter cancelled after its round filled"),
}))
