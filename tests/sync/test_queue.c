/* Tests of cio_queue: FIFO, LIFO and priority order, bounded and unbounded
 * storage, FIFO hand-off to waiting getters and putters, cancellation safety,
 * task_done/join and shutdown. */
#include "sync_test.h"

#include <stdint.h>

#define P(i) ((void *)(intptr_t)(i))
#define I(p) ((int)(intptr_t)(p))

static cio_queue q;

static int cmp_int(const void *a, const void *b, void *arg)
{
    (void)arg;
    intptr_t x = (intptr_t)a, y = (intptr_t)b;
    return (x > y) - (x < y);
}

static void test_bad_input(void)
{
    cio_queue x;
    void *v;
    CIO_ASSERT_ERR(cio_queue_init(NULL, 0), -EINVAL);
    CIO_ASSERT_ERR(cio_queue_init_lifo(NULL, 0), -EINVAL);
    CIO_ASSERT_ERR(cio_queue_init_priority(&x, 0, NULL, NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_queue_init(&x, SIZE_MAX), -ENOMEM); /* storage is made at init */
    CIO_ASSERT_ERR(cio_queue_put(NULL, P(1)), -EINVAL);
    CIO_ASSERT_ERR(cio_queue_put_nowait(NULL, P(1)), -EINVAL);
    CIO_ASSERT_ERR(cio_queue_get(NULL, &v), -EINVAL);
    CIO_ASSERT_ERR(cio_queue_get_nowait(NULL, &v), -EINVAL);
    CIO_ASSERT_ERR(cio_queue_task_done(NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_queue_join(NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_queue_shutdown(NULL, 0), -EINVAL);
    CIO_ASSERT_EQ(cio_queue_qsize(NULL), 0);
    CIO_ASSERT_EQ(cio_queue_maxsize(NULL), 0);
    CIO_ASSERT_EQ(cio_queue_empty(NULL), 1);
    CIO_ASSERT_EQ(cio_queue_full(NULL), 0);
    cio_queue_destroy(NULL);
    CIO_ASSERT_OK(cio_queue_init(&x, 2));
    CIO_ASSERT_ERR(cio_queue_get(&x, NULL), -EINVAL);
    CIO_ASSERT_ERR(cio_queue_get_nowait(&x, NULL), -EINVAL);
    /* Outside a task: the blocking calls refuse, the nowait ones work. */
    CIO_ASSERT_ERR(cio_queue_put(&x, P(1)), -EPERM);
    CIO_ASSERT_ERR(cio_queue_get(&x, &v), -EPERM);
    CIO_ASSERT_ERR(cio_queue_join(&x), -EPERM);
    CIO_ASSERT_OK(cio_queue_put_nowait(&x, P(7)));
    CIO_ASSERT_OK(cio_queue_get_nowait(&x, &v));
    CIO_ASSERT_EQ(I(v), 7);
    cio_queue_destroy(&x);
}

static void drain_expect(cio_queue *x, const char *want)
{
    char got[256] = "";
    void *v;
    while (cio_queue_get_nowait(x, &v) == 0)
        snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%d", got[0] ? " " : "", I(v));
    CIO_ASSERT_STR_EQ(got, want);
}

static void test_orders(void)
{
    static const int in[] = {3, 1, 4, 1, 5, 9, 2, 6};
    cio_queue f, l, p;
    CIO_ASSERT_OK(cio_queue_init(&f, 8));
    CIO_ASSERT_OK(cio_queue_init_lifo(&l, 0));
    CIO_ASSERT_OK(cio_queue_init_priority(&p, 0, cmp_int, NULL));
    for (int i = 0; i < 8; i++) {
        CIO_ASSERT_OK(cio_queue_put_nowait(&f, P(in[i])));
        CIO_ASSERT_OK(cio_queue_put_nowait(&l, P(in[i])));
        CIO_ASSERT_OK(cio_queue_put_nowait(&p, P(in[i])));
    }
    drain_expect(&f, "3 1 4 1 5 9 2 6");
    drain_expect(&l, "6 2 9 5 1 4 1 3");
    drain_expect(&p, "1 1 2 3 4 5 6 9");
    cio_queue_destroy(&f);
    cio_queue_destroy(&l);
    cio_queue_destroy(&p);
}

/* Items with a priority and a name: equal priorities keep put order. */
typedef struct job {
    int prio;
    char name;
} job;

static int cmp_job(const void *a, const void *b, void *arg)
{
    (void)arg;
    return ((const job *)a)->prio - ((const job *)b)->prio;
}

static void test_priority_stable(void)
{
    job jobs[] = {{2, 'a'}, {1, 'b'}, {2, 'c'}, {1, 'd'}, {0, 'e'}, {2, 'f'}, {1, 'g'}};
    size_t n = sizeof(jobs) / sizeof(jobs[0]);
    cio_queue p;
    CIO_ASSERT_OK(cio_queue_init_priority(&p, n, cmp_job, NULL));
    for (size_t i = 0; i < n; i++)
        CIO_ASSERT_OK(cio_queue_put_nowait(&p, &jobs[i]));
    CIO_ASSERT_ERR(cio_queue_put_nowait(&p, &jobs[0]), -EAGAIN);
    char got[16] = "";
    void *v;
    for (size_t i = 0; i < n; i++) {
        CIO_ASSERT_OK(cio_queue_get_nowait(&p, &v));
        got[i] = ((job *)v)->name;
    }
    CIO_ASSERT_STR_EQ(got, "ebdgacf");
    cio_queue_destroy(&p);
}

static void test_sizes(void)
{
    void *v;
    CIO_ASSERT_OK(cio_queue_init(&q, 3));
    CIO_ASSERT_EQ(cio_queue_maxsize(&q), 3);
    CIO_ASSERT_EQ(cio_queue_empty(&q), 1);
    CIO_ASSERT_ERR(cio_queue_get_nowait(&q, &v), -EAGAIN);
    for (int i = 0; i < 3; i++) {
        CIO_ASSERT_EQ(cio_queue_full(&q), 0);
        CIO_ASSERT_OK(cio_queue_put_nowait(&q, P(i)));
        CIO_ASSERT_EQ(cio_queue_qsize(&q), i + 1);
    }
    CIO_ASSERT_EQ(cio_queue_full(&q), 1);
    CIO_ASSERT_EQ(cio_queue_empty(&q), 0);
    CIO_ASSERT_ERR(cio_queue_put_nowait(&q, P(9)), -EAGAIN);
    cio_queue_destroy(&q);
    CIO_ASSERT_OK(cio_queue_init(&q, 0));
    for (int i = 0; i < 1000; i++)
        CIO_ASSERT_OK(cio_queue_put_nowait(&q, P(i)));
    CIO_ASSERT_EQ(cio_queue_full(&q), 0); /* unbounded: never full */
    CIO_ASSERT_EQ(cio_queue_qsize(&q), 1000);
    cio_queue_destroy(&q);
}

static void test_ring_wraps_and_grows(void)
{
    /* Keep the ring partly full while it wraps, then make it grow while
     * wrapped: order must survive both. */
    CIO_ASSERT_OK(cio_queue_init(&q, 0));
    int next_in = 0, next_out = 0;
    void *v;
    for (int round = 0; round < 2000; round++) {
        int puts = 1 + round % 7, gets = round % 5;
        if (round > 1000)
            gets = round % 9; /* drain it in the end */
        for (int i = 0; i < puts && round <= 1000; i++)
            CIO_ASSERT_OK(cio_queue_put_nowait(&q, P(next_in++)));
        for (int i = 0; i < gets && cio_queue_get_nowait(&q, &v) == 0; i++)
            CIO_ASSERT_EQ(I(v), next_out++);
    }
    while (cio_queue_get_nowait(&q, &v) == 0)
        CIO_ASSERT_EQ(I(v), next_out++);
    CIO_ASSERT_EQ(next_out, next_in);
    cio_queue_destroy(&q);
}

/* ---- waiting getters and putters ---- */

static int getter(void *arg)
{
    const char *name = arg;
    void *v = P(-1);
    int err = cio_queue_get(&q, &v);
    if (err)
        trace("%s:%s", name, ename(err));
    else
        trace("%s:%d", name, I(v));
    return err;
}

typedef struct putter_arg {
    const char *name;
    int item;
} putter_arg;

static int putter(void *arg)
{
    putter_arg *p = arg;
    int err = cio_queue_put(&q, P(p->item));
    trace("%s:%s", p->name, ename(err));
    return err;
}

static int main_getters_fifo(void *arg)
{
    (void)arg;
    static const char *names[] = {"g0", "g1", "g2", "g3"};
    cio_queue_init(&q, 2);
    cio_task *t[4];
    for (int i = 0; i < 4; i++)
        t[i] = spawn_ok(getter, (void *)names[i]);
    settle();
    for (int i = 0; i < 4; i++)
        CIO_ASSERT_OK(cio_queue_put(&q, P(10 + i)));
    /* The items wait for the getters they were promised to: a newcomer finds
     * none to take, though they still fill the queue's two slots. */
    void *v;
    CIO_ASSERT_EQ(cio_queue_qsize(&q), 0);
    CIO_ASSERT_EQ(cio_queue_empty(&q), 1);
    CIO_ASSERT_ERR(cio_queue_get_nowait(&q, &v), -EAGAIN);
    for (int i = 0; i < 4; i++)
        CIO_ASSERT_OK(cio_join(t[i]));
    CIO_ASSERT_STR_EQ(traced(), "g0:10 g1:11 g2:12 g3:13");
    cio_queue_destroy(&q);
    return 0;
}

static void test_getters_fifo(void)
{
    CIO_ASSERT_OK(run_virtual(main_getters_fifo, NULL));
}

static int main_putters_fifo(void *arg)
{
    (void)arg;
    cio_queue_init(&q, 1);
    CIO_ASSERT_OK(cio_queue_put(&q, P(0)));
    putter_arg pa[3] = {{"p1", 1}, {"p2", 2}, {"p3", 3}};
    cio_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = spawn_ok(putter, &pa[i]);
    settle();
    void *v;
    char got[64] = "";
    for (int i = 0; i < 4; i++) {
        CIO_ASSERT_OK(cio_queue_get(&q, &v));
        snprintf(got + strlen(got), sizeof(got) - strlen(got), "%d ", I(v));
        if (i < 3) {
            /* The freed slot is promised to the first putter: no barging. */
            CIO_ASSERT_EQ(cio_queue_full(&q), 1);
            CIO_ASSERT_ERR(cio_queue_put_nowait(&q, P(99)), -EAGAIN);
        }
    }
    CIO_ASSERT_STR_EQ(got, "0 1 2 3 ");
    for (int i = 0; i < 3; i++)
        CIO_ASSERT_OK(cio_join(t[i]));
    CIO_ASSERT_STR_EQ(traced(), "p1:0 p2:0 p3:0");
    cio_queue_destroy(&q);
    return 0;
}

static void test_putters_fifo(void)
{
    CIO_ASSERT_OK(run_virtual(main_putters_fifo, NULL));
}

static int main_priority_getters(void *arg)
{
    (void)arg;
    cio_queue_init_priority(&q, 0, cmp_int, NULL);
    cio_task *a = spawn_ok(getter, "a"), *b = spawn_ok(getter, "b"), *c = spawn_ok(getter, "c");
    settle();
    /* Three items arrive before any getter runs: the first getter in line
     * takes the most urgent one. */
    cio_queue_put_nowait(&q, P(30));
    cio_queue_put_nowait(&q, P(10));
    cio_queue_put_nowait(&q, P(20));
    CIO_ASSERT_OK(cio_join(a));
    CIO_ASSERT_OK(cio_join(b));
    CIO_ASSERT_OK(cio_join(c));
    CIO_ASSERT_STR_EQ(traced(), "a:10 b:20 c:30");
    cio_queue_destroy(&q);
    return 0;
}

static void test_priority_getters(void)
{
    CIO_ASSERT_OK(run_virtual(main_priority_getters, NULL));
}

/* ---- cancellation ---- */

static int main_cancel_getter_waiting(void *arg)
{
    (void)arg;
    cio_queue_init(&q, 0);
    cio_task *a = spawn_ok(getter, "a"), *b = spawn_ok(getter, "b"), *c = spawn_ok(getter, "c");
    settle();
    cio_cancel(b);
    CIO_ASSERT_ERR(cio_join(b), -ECANCELED);
    cio_queue_put_nowait(&q, P(1));
    cio_queue_put_nowait(&q, P(2));
    CIO_ASSERT_OK(cio_join(a));
    CIO_ASSERT_OK(cio_join(c));
    CIO_ASSERT_STR_EQ(traced(), "b:ECANCELED a:1 c:2");
    cio_queue_destroy(&q);
    return 0;
}

static void test_cancel_getter_waiting(void)
{
    CIO_ASSERT_OK(run_virtual(main_cancel_getter_waiting, NULL));
}

static int main_cancel_getter_at_handoff(void *arg)
{
    (void)arg;
    cio_queue_init(&q, 1);
    cio_task *a = spawn_ok(getter, "a"), *b = spawn_ok(getter, "b");
    settle();
    CIO_ASSERT_OK(cio_queue_put(&q, P(42))); /* promised to a... */
    cio_cancel(a);                           /* ...cancelled before it runs */
    CIO_ASSERT_ERR(cio_join(a), -ECANCELED);
    CIO_ASSERT_OK(cio_join(b)); /* the item went to the next getter */
    /* With no other getter, the item stays in the queue. */
    cio_task *c = spawn_ok(getter, "c");
    settle();
    CIO_ASSERT_OK(cio_queue_put(&q, P(43)));
    cio_cancel(c);
    CIO_ASSERT_ERR(cio_join(c), -ECANCELED);
    CIO_ASSERT_EQ(cio_queue_qsize(&q), 1);
    void *v;
    CIO_ASSERT_OK(cio_queue_get_nowait(&q, &v));
    CIO_ASSERT_EQ(I(v), 43);
    CIO_ASSERT_STR_EQ(traced(), "a:ECANCELED b:42 c:ECANCELED");
    cio_queue_destroy(&q);
    return 0;
}

static void test_cancel_getter_at_handoff(void)
{
    CIO_ASSERT_OK(run_virtual(main_cancel_getter_at_handoff, NULL));
}

static int main_cancel_putter_at_handoff(void *arg)
{
    (void)arg;
    cio_queue_init(&q, 1);
    CIO_ASSERT_OK(cio_queue_put(&q, P(0)));
    putter_arg pa[2] = {{"p1", 1}, {"p2", 2}};
    cio_task *p1 = spawn_ok(putter, &pa[0]), *p2 = spawn_ok(putter, &pa[1]);
    settle();
    void *v;
    CIO_ASSERT_OK(cio_queue_get(&q, &v)); /* the slot is promised to p1... */
    cio_cancel(p1);                       /* ...cancelled before it runs */
    CIO_ASSERT_ERR(cio_join(p1), -ECANCELED);
    CIO_ASSERT_OK(cio_join(p2)); /* the slot went to p2 */
    CIO_ASSERT_OK(cio_queue_get_nowait(&q, &v));
    CIO_ASSERT_EQ(I(v), 2); /* p1's item was never put */
    CIO_ASSERT_EQ(cio_queue_empty(&q), 1);
    CIO_ASSERT_STR_EQ(traced(), "p1:ECANCELED p2:0");
    /* p1's put did not count for join either: two items were put. */
    CIO_ASSERT_OK(cio_queue_task_done(&q));
    CIO_ASSERT_OK(cio_queue_task_done(&q));
    CIO_ASSERT_ERR(cio_queue_task_done(&q), -EOVERFLOW);
    cio_queue_destroy(&q);
    return 0;
}

static void test_cancel_putter_at_handoff(void)
{
    CIO_ASSERT_OK(run_virtual(main_cancel_putter_at_handoff, NULL));
}

static cio_scope waiter_scope;

static int timed_getter(void *arg)
{
    CIO_ASSERT_OK(cio_timeout_enter(&waiter_scope, *(double *)arg));
    void *v = P(-1);
    int err = cio_queue_get(&q, &v);
    cio_timeout_exit(&waiter_scope);
    trace("tg:%s:%d@%.1f", ename(err), I(v), cio_now());
    return err;
}

static int timed_putter(void *arg)
{
    CIO_ASSERT_OK(cio_timeout_enter(&waiter_scope, *(double *)arg));
    int err = cio_queue_put(&q, P(77));
    cio_timeout_exit(&waiter_scope);
    trace("tp:%s@%.1f", ename(err), cio_now());
    return err;
}

static int main_timeouts(void *arg)
{
    (void)arg;
    double half = 0.5, ten = 10;
    void *v;
    cio_queue_init(&q, 1);
    /* Timeouts while waiting. */
    CIO_ASSERT_ERR(cio_join(spawn_ok(timed_getter, &half)), -ETIMEDOUT);
    cio_queue_put_nowait(&q, P(5));
    CIO_ASSERT_ERR(cio_join(spawn_ok(timed_putter, &half)), -ETIMEDOUT);
    CIO_ASSERT_EQ(cio_queue_qsize(&q), 1);
    /* A putter's deadline passing as its slot is handed over. */
    cio_task *tp = spawn_ok(timed_putter, &ten);
    settle();
    CIO_ASSERT_OK(cio_queue_get_nowait(&q, &v));
    cio_timeout_reschedule(&waiter_scope, 0);
    CIO_ASSERT_ERR(cio_join(tp), -ETIMEDOUT);
    CIO_ASSERT_EQ(cio_queue_empty(&q), 1);
    CIO_ASSERT_EQ(cio_queue_full(&q), 0); /* the slot was given back */
    /* A getter's deadline passing as an item is handed over. */
    cio_task *tg = spawn_ok(timed_getter, &ten);
    settle();
    cio_queue_put_nowait(&q, P(6));
    cio_timeout_reschedule(&waiter_scope, 0);
    CIO_ASSERT_ERR(cio_join(tg), -ETIMEDOUT);
    CIO_ASSERT_OK(cio_queue_get_nowait(&q, &v));
    CIO_ASSERT_EQ(I(v), 6);
    CIO_ASSERT_STR_EQ(traced(),
                      "tg:ETIMEDOUT:-1@0.5 tp:ETIMEDOUT@1.0 tp:ETIMEDOUT@1.0 tg:ETIMEDOUT:-1@1.0");
    cio_queue_destroy(&q);
    return 0;
}

static void test_timeouts(void)
{
    CIO_ASSERT_OK(run_virtual(main_timeouts, NULL));
}

static int main_cancelled_scope(void *arg)
{
    (void)arg;
    cio_queue_init(&q, 0);
    cio_queue_put_nowait(&q, P(1));
    cio_scope s;
    CIO_ASSERT_OK(cio_scope_enter(&s));
    cio_scope_cancel(&s);
    void *v;
    CIO_ASSERT_ERR(cio_queue_get(&q, &v), -ECANCELED);
    CIO_ASSERT_ERR(cio_queue_put(&q, P(2)), -ECANCELED);
    CIO_ASSERT_ERR(cio_queue_join(&q), -ECANCELED);
    cio_scope_exit(&s);
    CIO_ASSERT_EQ(cio_queue_qsize(&q), 1); /* untouched */
    cio_queue_destroy(&q);
    return 0;
}

static void test_cancelled_scope(void)
{
    CIO_ASSERT_OK(run_virtual(main_cancelled_scope, NULL));
}

/* ---- task_done and join: the guide's producer/consumer with maxsize 3 ---- */

static const char *jobs_in[] = {"job-1", "job-2", "job-3", "job-4", "job-5"};

static int producer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 5; i++) {
        cio_sleep(0.2);
        CIO_ASSERT_OK(cio_queue_put(&q, (void *)jobs_in[i]));
        trace("P:%s@%.1f", jobs_in[i], cio_now());
    }
    return 0;
}

static int consumer(void *arg)
{
    (void)arg;
    for (;;) {
        void *v;
        int err = cio_queue_get(&q, &v);
        if (err)
            return err;
        cio_sleep(0.3);
        trace("C:%s@%.1f", (const char *)v, cio_now());
        CIO_ASSERT_OK(cio_queue_task_done(&q));
    }
}

static int main_join(void *arg)
{
    (void)arg;
    cio_queue_init(&q, 3);
    CIO_ASSERT_OK(cio_queue_join(&q)); /* nothing unfinished: at once */
    cio_task *p = spawn_ok(producer, NULL), *c = spawn_ok(consumer, NULL);
    CIO_ASSERT_OK(cio_join(p));
    CIO_ASSERT_OK(cio_queue_join(&q));
    trace("joined@%.1f", cio_now());
    cio_cancel(c);
    CIO_ASSERT_ERR(cio_join(c), -ECANCELED);
    CIO_ASSERT_ERR(cio_queue_task_done(&q), -EOVERFLOW);
    CIO_ASSERT_STR_EQ(traced(), "P:job-1@0.2 P:job-2@0.4 C:job-1@0.5 P:job-3@0.6 "
                                "C:job-2@0.8 P:job-4@0.8 P:job-5@1.0 C:job-3@1.1 "
                                "C:job-4@1.4 C:job-5@1.7 joined@1.7");
    cio_queue_destroy(&q);
    return 0;
}

static void test_task_done_join(void)
{
    CIO_ASSERT_OK(run_virtual(main_join, NULL));
}

static int joiner(void *arg)
{
    const char *name = arg;
    int err = cio_queue_join(&q);
    trace("%s:%s@%.0f", name, ename(err), cio_now());
    return err;
}

static int main_join_cancel(void *arg)
{
    (void)arg;
    cio_queue_init(&q, 0);
    cio_queue_put_nowait(&q, P(1));
    cio_task *a = spawn_ok(joiner, "a"), *b = spawn_ok(joiner, "b");
    settle();
    cio_cancel(a);
    CIO_ASSERT_ERR(cio_join(a), -ECANCELED);
    cio_sleep(1);
    void *v;
    cio_queue_get_nowait(&q, &v);
    cio_queue_task_done(&q);
    CIO_ASSERT_OK(cio_join(b));
    CIO_ASSERT_STR_EQ(traced(), "a:ECANCELED@0 b:0@1");
    cio_queue_destroy(&q);
    return 0;
}

static void test_join_cancel(void)
{
    CIO_ASSERT_OK(run_virtual(main_join_cancel, NULL));
}

/* ---- shutdown ---- */

static int main_shutdown(void *arg)
{
    (void)arg;
    void *v;
    cio_queue_init(&q, 2);
    cio_queue_put_nowait(&q, P(1));
    cio_queue_put_nowait(&q, P(2));
    putter_arg pa = {"p", 3};
    cio_task *p = spawn_ok(putter, &pa);
    settle();
    CIO_ASSERT_OK(cio_queue_shutdown(&q, 0));
    CIO_ASSERT_ERR(cio_join(p), -ESHUTDOWN); /* a waiting putter fails */
    CIO_ASSERT_ERR(cio_queue_put(&q, P(4)), -ESHUTDOWN);
    CIO_ASSERT_ERR(cio_queue_put_nowait(&q, P(4)), -ESHUTDOWN);
    /* Gets drain what is left, then fail. */
    CIO_ASSERT_OK(cio_queue_get(&q, &v));
    CIO_ASSERT_EQ(I(v), 1);
    CIO_ASSERT_OK(cio_queue_get_nowait(&q, &v));
    CIO_ASSERT_EQ(I(v), 2);
    CIO_ASSERT_ERR(cio_queue_get(&q, &v), -ESHUTDOWN);
    CIO_ASSERT_ERR(cio_queue_get_nowait(&q, &v), -ESHUTDOWN);
    CIO_ASSERT_OK(cio_queue_shutdown(&q, 0)); /* idempotent */
    cio_queue_destroy(&q);
    /* A getter waiting on an empty queue fails at shutdown. */
    cio_queue_init(&q, 0);
    cio_task *g = spawn_ok(getter, "g");
    settle();
    cio_queue_shutdown(&q, 0);
    CIO_ASSERT_ERR(cio_join(g), -ESHUTDOWN);
    CIO_ASSERT_STR_EQ(traced(), "p:ESHUTDOWN g:ESHUTDOWN");
    cio_queue_destroy(&q);
    return 0;
}

static void test_shutdown(void)
{
    CIO_ASSERT_OK(run_virtual(main_shutdown, NULL));
}

static int main_shutdown_immediate(void *arg)
{
    (void)arg;
    void *v;
    cio_queue_init(&q, 0);
    cio_queue_put_nowait(&q, P(1));
    cio_queue_put_nowait(&q, P(2));
    cio_task *j = spawn_ok(joiner, "j");
    settle();
    CIO_ASSERT_EQ(cio_task_done(j), 0);
    cio_queue_shutdown(&q, 1); /* drops both; join has nothing left to wait for */
    CIO_ASSERT_EQ(cio_queue_qsize(&q), 0);
    CIO_ASSERT_ERR(cio_queue_get_nowait(&q, &v), -ESHUTDOWN);
    CIO_ASSERT_OK(cio_join(j));
    CIO_ASSERT_ERR(cio_queue_task_done(&q), -EOVERFLOW);
    cio_queue_destroy(&q);
    /* An item already promised to a woken getter is dropped as well. */
    cio_queue_init(&q, 0);
    cio_task *g = spawn_ok(getter, "g");
    settle();
    cio_queue_put_nowait(&q, P(3)); /* promised to g, which has not run yet */
    cio_queue_shutdown(&q, 1);
    CIO_ASSERT_ERR(cio_join(g), -ESHUTDOWN);
    CIO_ASSERT_OK(cio_queue_join(&q));
    CIO_ASSERT_STR_EQ(traced(), "j:0@0 g:ESHUTDOWN");
    cio_queue_destroy(&q);
    return 0;
}

static void test_shutdown_immediate(void)
{
    CIO_ASSERT_OK(run_virtual(main_shutdown_immediate, NULL));
}

static int main_shutdown_keeps_claims(void *arg)
{
    (void)arg;
    cio_queue_init(&q, 0);
    cio_task *g = spawn_ok(getter, "g");
    settle();
    cio_queue_put_nowait(&q, P(8)); /* promised to g */
    cio_queue_shutdown(&q, 0);      /* not immediate: g still gets it */
    CIO_ASSERT_OK(cio_join(g));
    CIO_ASSERT_STR_EQ(traced(), "g:8");
    cio_queue_destroy(&q);
    return 0;
}

static void test_shutdown_keeps_claims(void)
{
    CIO_ASSERT_OK(run_virtual(main_shutdown_keeps_claims, NULL));
}

static int main_destroy_with_waiter(void *arg)
{
    (void)arg;
    cio_queue_init(&q, 0);
    cio_task *g = spawn_ok(getter, "g");
    settle();
    cio_test_capture_stderr_begin();
    cio_queue_destroy(&q);
    char *out = cio_test_capture_stderr_end();
    CIO_ASSERT(strstr(out, "cio_queue") != NULL);
    free(out);
    CIO_ASSERT_ERR(cio_join(g), -EIDRM);
    cio_queue_destroy(&q);
    return 0;
}

static void test_destroy_with_waiter(void)
{
    CIO_ASSERT_OK(run_virtual(main_destroy_with_waiter, NULL));
}

static void free_item(void *item, void *arg)
{
    int *freed = arg;
    trace("drop%d", *(int *)item);
    free(item);
    (*freed)++;
}

/* Issue 14: an immediate shutdown dropped queued pointers with no way to free
 * what they point to. */
static int main_shutdown_drop(void *arg)
{
    (void)arg;
    cio_queue dq;
    CIO_ASSERT_OK(cio_queue_init(&dq, 0));
    for (int i = 1; i <= 3; i++) {
        int *p = malloc(sizeof(*p));
        *p = i;
        CIO_ASSERT_OK(cio_queue_put(&dq, p));
    }
    int freed = 0;
    CIO_ASSERT_ERR(cio_queue_shutdown_drop(&dq, NULL, NULL), -EINVAL);
    CIO_ASSERT_OK(cio_queue_shutdown_drop(&dq, free_item, &freed));
    CIO_ASSERT_EQ(freed, 3);
    CIO_ASSERT_STR_EQ(traced(), "drop1 drop2 drop3");
    CIO_ASSERT_EQ(cio_queue_qsize(&dq), 0);
    void *v;
    CIO_ASSERT_ERR(cio_queue_get_nowait(&dq, &v), -ESHUTDOWN);
    CIO_ASSERT_OK(cio_queue_join(&dq)); /* dropped items count as done */
    cio_queue_destroy(&dq);
    return 0;
}

static void test_shutdown_drop(void)
{
    CIO_ASSERT_OK(run_virtual(main_shutdown_drop, NULL));
}

CIO_TEST_MAIN(((cio_test_case[]){
    CIO_TEST(test_shutdown_drop, "an immediate shutdown hands each dropped item to a callback"),
    CIO_TEST(test_bad_input, "NULL -EINVAL; huge maxsize -ENOMEM; blocking calls need a task"),
    CIO_TEST(test_orders, "FIFO, LIFO and priority orders"),
    CIO_TEST(test_priority_stable, "equal priorities come out in put order"),
    CIO_TEST(test_sizes, "qsize/empty/full/maxsize; nowait calls give -EAGAIN"),
    CIO_TEST(test_ring_wraps_and_grows, "an unbounded ring keeps FIFO order across wraps/growth"),
    CIO_TEST(test_getters_fifo, "waiting getters get items in arrival order; no barging"),
    CIO_TEST(test_putters_fifo, "waiting putters put in arrival order; freed slots are kept"),
    CIO_TEST(test_priority_getters, "the first waiting getter takes the most urgent item"),
    CIO_TEST(test_cancel_getter_waiting, "a getter cancelled in line leaves it; order kept"),
    CIO_TEST(test_cancel_getter_at_handoff,
             "an item handed to a cancelled getter goes to the next getter or stays queued"),
    CIO_TEST(test_cancel_putter_at_handoff,
             "a slot handed to a cancelled putter goes to the next; its item is not put"),
    CIO_TEST(test_timeouts, "timeouts while waiting and at the hand-off instant, both sides"),
    CIO_TEST(test_cancelled_scope, "in a cancelled scope get/put/join return at once"),
    CIO_TEST(test_task_done_join, "the guide's maxsize-3 pipeline: task_done/join timing"),
    CIO_TEST(test_join_cancel, "a cancelled joiner leaves; the other is released at the end"),
    CIO_TEST(test_shutdown, "shutdown: puts fail, gets drain then fail, waiters fail"),
    CIO_TEST(test_shutdown_immediate,
             "immediate shutdown drops items (promised ones too) and releases join"),
    CIO_TEST(test_shutdown_keeps_claims, "a plain shutdown lets a woken getter take its item"),
    CIO_TEST(test_destroy_with_waiter, "destroying a queue with waiters is reported; -EIDRM"),
}))
