/* libcio-pg pool: sizes, FIFO waiters, deadlines, the waiter cap, discard and
 * reset on release, dead connections, and cancellation at 1,000 random points
 * across acquire / query / release. */
#include <math.h>

#include "pg_fixture.h"

static cio_pg_pool *new_pool(size_t min, size_t max)
{
    cio_pg_pool_opts o = {.min_size = min, .max_size = max};
    cio_pg_pool *p = NULL;
    CIO_ASSERT_OK(cio_pg_pool_new(&p, pgfx.dsn_unix, &o));
    return p;
}

static int t_basic_main(void *arg)
{
    (void)arg;
    cio_pg_pool *p = new_pool(2, 4);
    cio_pg_pool_stats st;
    cio_pg_pool_stats_get(p, &st);
    CIO_ASSERT_EQ(st.size, 2);
    CIO_ASSERT_EQ(st.idle, 2);
    cio_pg_conn *c[4];
    for (int i = 0; i < 4; i++)
        CIO_ASSERT_OK(cio_pg_pool_acquire(p, &c[i]));
    cio_pg_pool_stats_get(p, &st);
    CIO_ASSERT_EQ(st.size, 4);
    CIO_ASSERT_EQ(st.idle, 0);
    for (int i = 0; i < 4; i++) {
        CIO_ASSERT_EQ(pg_int(c[i], "SELECT 1"), 1);
        cio_pg_pool_release(p, c[i]);
    }
    cio_pg_pool_stats_get(p, &st);
    CIO_ASSERT_EQ(st.idle, 4);
    CIO_ASSERT_EQ(st.acquired, 4);
    CIO_ASSERT_EQ(st.resets, 0); /* nothing changed the sessions */
    cio_pg_pool_free(p);
    return 0;
}

static void test_basic(void)
{
    CIO_ASSERT_OK(cio_test_run(t_basic_main, NULL));
}

typedef struct waiter_arg {
    cio_pg_pool *p;
    int id;
    int *order;
    int *n;
    int err;
} waiter_arg;

static int fifo_waiter(void *arg)
{
    waiter_arg *w = arg;
    cio_pg_conn *c;
    w->err = cio_pg_pool_acquire(w->p, &c);
    if (w->err)
        return 0;
    w->order[(*w->n)++] = w->id;
    cio_pg_pool_release(w->p, c);
    return 0;
}

static int t_fifo_main(void *arg)
{
    (void)arg;
    cio_pg_pool *p = new_pool(1, 1);
    cio_pg_conn *held;
    CIO_ASSERT_OK(cio_pg_pool_acquire(p, &held));
    enum { N = 8 };
    int order[N], n = 0;
    waiter_arg w[N];
    cio_task *t[N];
    for (int i = 0; i < N; i++) {
        w[i] = (waiter_arg){p, i, order, &n, 0};
        t[i] = cio_spawn(fifo_waiter, &w[i]);
    }
    CIO_ASSERT_OK(cio_yield()); /* all queued, in spawn order */
    cio_pg_pool_stats st;
    cio_pg_pool_stats_get(p, &st);
    CIO_ASSERT_EQ(st.waiting, N);
    cio_cancel(t[3]); /* a cancelled waiter leaves the queue */
    cio_pg_pool_release(p, held);
    CIO_ASSERT_OK(cio_gather(t, N, CIO_RETURN_EXCEPTIONS));
    for (int i = 0; i < N; i++)
        cio_join(t[i]);
    CIO_ASSERT_EQ(n, N - 1);
    for (int i = 0, k = 0; i < N; i++) {
        if (i == 3) {
            CIO_ASSERT_ERR(w[i].err, -ECANCELED);
            continue;
        }
        CIO_ASSERT_EQ(order[k++], i);
    }
    cio_pg_pool_stats_get(p, &st);
    CIO_ASSERT_EQ(st.size, 1);
    CIO_ASSERT_EQ(st.idle, 1);
    cio_pg_pool_free(p);
    return 0;
}

static void test_fifo(void)
{
    CIO_ASSERT_OK(cio_test_run(t_fifo_main, NULL));
}

static int t_limits_main(void *arg)
{
    (void)arg;
    /* min_size 1: the connection opens in pool_new, not under the short deadline. */
    cio_pg_pool_opts o = {.min_size = 1, .max_size = 1, .acquire_timeout = 0.2, .max_waiters = 1};
    cio_pg_pool *p = NULL;
    CIO_ASSERT_OK(cio_pg_pool_new(&p, pgfx.dsn_unix, &o));
    cio_pg_conn *held, *c;
    CIO_ASSERT_OK(cio_pg_pool_acquire(p, &held));
    double t0 = cio_now();
    CIO_ASSERT_ERR(cio_pg_pool_acquire(p, &c), -ETIMEDOUT); /* the default deadline */
    CIO_ASSERT_CMP(cio_now() - t0, >=, 0.19);
    CIO_ASSERT(strstr(cio_task_message(cio_current()), "acquire_timeout") != NULL);
    /* With one waiter queued, the next one is refused at once. */
    int order[2], n = 0;
    waiter_arg w = {p, 0, order, &n, 0};
    cio_task *t = cio_spawn(fifo_waiter, &w);
    CIO_ASSERT_OK(cio_yield());
    CIO_ASSERT_ERR(cio_pg_pool_acquire(p, &c), -EAGAIN);
    cio_pg_pool_release(p, held);
    CIO_ASSERT_OK(cio_join(t));
    CIO_ASSERT_OK(w.err);
    cio_pg_pool_free(p);
    return 0;
}

static void test_limits(void)
{
    CIO_ASSERT_OK(cio_test_run(t_limits_main, NULL));
}

static int t_release_rules_main(void *arg)
{
    (void)arg;
    cio_pg_pool *p = new_pool(0, 1);
    cio_pg_conn *c;
    cio_pg_pool_stats st;
    /* A session change costs one reset; the next user sees the default. */
    CIO_ASSERT_OK(cio_pg_pool_acquire(p, &c));
    int pid = cio_pg_backend_pid(c);
    CIO_ASSERT_OK(cio_pg_execute(c, "SET application_name = 'changed'", NULL, 0, NULL));
    cio_pg_pool_release(p, c);
    cio_pg_pool_stats_get(p, &st);
    CIO_ASSERT_EQ(st.resets, 1);
    CIO_ASSERT_OK(cio_pg_pool_acquire(p, &c));
    CIO_ASSERT_EQ(cio_pg_backend_pid(c), pid); /* kept, not replaced */
    char *s = NULL;
    CIO_ASSERT_OK(cio_pg_fetchval_text(c, &s, "SHOW application_name", NULL, 0));
    CIO_ASSERT_STR_EQ(s, "");
    free(s);
    /* So does set_config (any case) of a setting the server does not report:
     * no command tag or ParameterStatus shows it, only the SQL text. */
    CIO_ASSERT_OK(
        cio_pg_execute(c, "SELECT Set_Config('work_mem', '1234kB', false)", NULL, 0, NULL));
    cio_pg_pool_release(p, c);
    cio_pg_pool_stats_get(p, &st);
    CIO_ASSERT_EQ(st.resets, 2);
    CIO_ASSERT_OK(cio_pg_pool_acquire(p, &c));
    CIO_ASSERT_OK(cio_pg_fetchval_text(c, &s, "SHOW work_mem", NULL, 0));
    CIO_ASSERT_STR_EQ(s, "4MB");
    free(s);
    /* Advisory locks count as a session change. */
    CIO_ASSERT_OK(cio_pg_execute(c, "SELECT pg_advisory_lock(42)", NULL, 0, NULL));
    cio_pg_pool_release(p, c);
    cio_pg_pool_stats_get(p, &st);
    CIO_ASSERT_EQ(st.resets, 3);
    CIO_ASSERT_OK(cio_pg_pool_acquire(p, &c));
    CIO_ASSERT_EQ(pg_int(c, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"), 0);
    /* Released inside a transaction: discarded. */
    CIO_ASSERT_OK(cio_pg_execute(c, "BEGIN", NULL, 0, NULL));
    cio_pg_pool_release(p, c);
    cio_pg_pool_stats_get(p, &st);
    CIO_ASSERT_EQ(st.discarded, 1);
    CIO_ASSERT_EQ(st.size, 0);
    /* Killed by the server while idle in the pool: the next acquire gets a
     * working connection. */
    cio_pg_conn *admin = pg_connect_ok(NULL);
    CIO_ASSERT_OK(cio_pg_pool_acquire(p, &c));
    pid = cio_pg_backend_pid(c);
    cio_pg_pool_release(p, c);
    cio_pg_param pp[] = {cio_pg_int4(pid)};
    /* Killed while idle in the pool (pg_terminate_backend waits until the
     * backend is gone): the acquire finds it dead before handing it out and
     * gives a working connection instead, not the dead one's error. */
    CIO_ASSERT_OK(cio_pg_execute(admin, "SELECT pg_terminate_backend($1, 5000)", pp, 1, NULL));
    cio_pg_pool_stats_get(p, &st);
    uint64_t discarded = st.discarded;
    CIO_ASSERT_OK(cio_pg_pool_acquire(p, &c));
    CIO_ASSERT_NE(cio_pg_backend_pid(c), pid);
    CIO_ASSERT_EQ(pg_int(c, "SELECT 3"), 3);
    cio_pg_pool_release(p, c);
    cio_pg_pool_stats_get(p, &st);
    CIO_ASSERT_EQ(st.discarded, discarded + 1);
    cio_pg_close(admin);
    cio_pg_pool_free(p);
    /* A connection idle past health_check_idle is checked with a round trip
     * before reuse; a fresh one is not. */
    cio_pg_pool_opts o = {.max_size = 1, .health_check_idle = 0.001};
    CIO_ASSERT_OK(cio_pg_pool_new(&p, pgfx.dsn_unix, &o));
    CIO_ASSERT_OK(cio_pg_pool_acquire(p, &c));
    cio_pg_pool_release(p, c);
    CIO_ASSERT_OK(cio_sleep(0.01));
    CIO_ASSERT_OK(cio_pg_pool_acquire(p, &c));
    CIO_ASSERT_EQ(pg_int(c, "SELECT 4"), 4);
    cio_pg_pool_release(p, c);
    cio_pg_pool_stats_get(p, &st);
    CIO_ASSERT_EQ(st.checks, 1);
    cio_pg_pool_free(p);
    return 0;
}

static void test_release_rules(void)
{
    CIO_ASSERT_OK(cio_test_run(t_release_rules_main, NULL));
}

/* ---- cancellation at random points ---- */

typedef struct worker {
    cio_pg_pool *p;
    unsigned seed;
    int rounds;
    int timeouts, ok;
} worker;

static int pool_worker(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < w->rounds; i++) {
        /* Odd rounds get a random bound, log-uniform from 10 us to 10 ms, so
         * the cut falls anywhere in acquire, the query, the transaction and
         * release on a fast or a slow machine; even ones get a bound that
         * lets them finish, and must. */
        int cut = i % 2;
        double bound = cut ? pow(10, -5 + 3 * (rand_r(&w->seed) % 10000) / 1e4) : 10.0;
        int q = rand_r(&w->seed) % 4;
        cio_scope s;
        cio_timeout_enter(&s, bound);
        cio_pg_conn *c = NULL;
        int err = cio_pg_pool_acquire(w->p, &c);
        if (!err) {
            int64_t v = 0;
            cio_pg_param prm[] = {cio_pg_int4(i)};
            if (q == 0)
                err = cio_pg_fetchval_int(c, &v, "SELECT $1::int4", prm, 1);
            else if (q == 1)
                err = cio_pg_fetchval_int(c, &v, "SELECT $1::int4 FROM pg_sleep(0.002)", prm, 1);
            else if (q == 2)
                err = cio_pg_execute(c, "SET work_mem = '8MB'", NULL, 0, NULL);
            else {
                cio_pg_tx tx;
                err = cio_pg_tx_begin(&tx, c, NULL);
                if (!err) {
                    err = cio_pg_fetchval_int(c, &v, "SELECT $1::int4", prm, 1);
                    err = cio_pg_tx_end(&tx, err);
                }
            }
            if (!err && q != 2)
                CIO_ASSERT_EQ(v, i);
            cio_pg_pool_release(w->p, c);
        }
        cio_timeout_exit(&s);
        if (!cut && err)
            CIO_FAIL_AT("a round with a 10 s bound failed: %d (%s): %s", err, cio_strerror(err),
                        cio_task_message(cio_current()));
        if (err == -ETIMEDOUT)
            w->timeouts++;
        else if (err == 0)
            w->ok++;
        else
            CIO_FAIL_AT("unexpected error %d (%s): %s", err, cio_strerror(err),
                        cio_task_message(cio_current()));
    }
    return 0;
}

static int t_cancel_points_main(void *arg)
{
    (void)arg;
    cio_pg_pool_opts o = {.min_size = 2, .max_size = 4, .conn = {.cancel_grace = 5}};
    cio_pg_pool *p = NULL;
    CIO_ASSERT_OK(cio_pg_pool_new(&p, pgfx.dsn_unix, &o));
    enum { W = 8, ROUNDS = 250 }; /* 1,000 cut short at random points */
    worker w[W];
    cio_task *t[W];
    for (int i = 0; i < W; i++) {
        w[i] = (worker){.p = p, .seed = 1234u + (unsigned)i, .rounds = ROUNDS};
        t[i] = cio_spawn(pool_worker, &w[i]);
    }
    CIO_ASSERT_OK(cio_gather(t, W, 0));
    int timeouts = 0, ok = 0;
    for (int i = 0; i < W; i++) {
        CIO_ASSERT_OK(cio_join(t[i]));
        timeouts += w[i].timeouts;
        ok += w[i].ok;
    }
    CIO_ASSERT_EQ(timeouts + ok, W * ROUNDS);
    cio_pg_pool_stats st;
    cio_pg_pool_stats_get(p, &st);
    printf("  %d completed, %d cut short; %llu acquires, %llu discarded, %llu resets\n", ok,
           timeouts, (unsigned long long)st.acquired, (unsigned long long)st.discarded,
           (unsigned long long)st.resets);
    CIO_ASSERT_CMP(timeouts, >, 100); /* the bounds did cut operations short */
    CIO_ASSERT_CMP(ok, >=, W * ROUNDS / 2);
    /* The pool ends full of clean connections: take them all at once. */
    CIO_ASSERT_CMP(st.size, <=, 4);
    CIO_ASSERT_EQ(st.waiting, 0);
    CIO_ASSERT_EQ(st.idle, st.size);
    cio_pg_conn *c[4];
    for (int i = 0; i < 4; i++) {
        CIO_ASSERT_OK(cio_pg_pool_acquire(p, &c[i]));
        CIO_ASSERT_EQ(pg_int(c[i], "SELECT 1"), 1);
        CIO_ASSERT_EQ(cio_pg_in_transaction(c[i]), 0);
        char *s = NULL;
        CIO_ASSERT_OK(cio_pg_fetchval_text(c[i], &s, "SHOW work_mem", NULL, 0));
        CIO_ASSERT_STR_EQ(s, "4MB"); /* every SET was reset */
        free(s);
    }
    /* Nothing of ours still runs on the server. */
    CIO_ASSERT_EQ(pg_int(c[0], "SELECT count(*) FROM pg_stat_activity WHERE state <> 'idle' "
                               "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"),
                  0);
    for (int i = 0; i < 4; i++)
        cio_pg_pool_release(p, c[i]);
    cio_pg_pool_stats_get(p, &st);
    CIO_ASSERT_EQ(st.idle, 4);
    cio_pg_pool_free(p);
    return 0;
}

static void test_cancel_points(void)
{
    CIO_ASSERT_OK(cio_test_run(t_cancel_points_main, NULL));
}

/* ---- freeing the pool while tasks are inside it ---- */

typedef struct free_arg {
    cio_pg_pool *p;
    int err;
    char msg[256];
    double took;
} free_arg;

static int free_acquirer(void *arg)
{
    free_arg *a = arg;
    cio_pg_conn *c = NULL;
    double t0 = cio_now();
    a->err = cio_pg_pool_acquire(a->p, &c);
    a->took = cio_now() - t0;
    snprintf(a->msg, sizeof a->msg, "%s", cio_task_message(cio_current()));
    if (!a->err)
        cio_pg_pool_release(a->p, c);
    return 0;
}

/* Waits for the tasks within 2 s (the acquires' own deadline is 30 s). */
static void join_promptly(cio_task **t, size_t n)
{
    cio_scope sc;
    CIO_ASSERT_OK(cio_timeout_enter(&sc, 2.0));
    int err = cio_gather(t, n, CIO_RETURN_EXCEPTIONS);
    CIO_ASSERT_OK(cio_timeout_exit(&sc));
    CIO_ASSERT_OK(err);
    for (size_t i = 0; i < n; i++)
        CIO_ASSERT_OK(cio_join(t[i]));
}

static void expect_shutdown(const free_arg *a)
{
    CIO_ASSERT_ERR(a->err, -ESHUTDOWN);
    CIO_ASSERT_CMP(a->took, <, 1.0);
    CIO_ASSERT(strstr(a->msg, "PostgreSQL pool postgres@") != NULL);
    CIO_ASSERT(strstr(a->msg, "freed while this task was in acquire") != NULL);
}

static int t_free_wakes_main(void *arg)
{
    (void)arg;
    /* Waiters queued behind a held connection. */
    cio_pg_pool *p = new_pool(1, 1);
    cio_pg_conn *held;
    CIO_ASSERT_OK(cio_pg_pool_acquire(p, &held));
    enum { N = 3 };
    free_arg a[N];
    cio_task *t[N];
    for (int i = 0; i < N; i++) {
        a[i] = (free_arg){.p = p};
        t[i] = cio_spawn(free_acquirer, &a[i]);
    }
    CIO_ASSERT_OK(cio_yield());
    cio_pg_pool_stats st;
    cio_pg_pool_stats_get(p, &st);
    CIO_ASSERT_EQ(st.waiting, N);
    cio_pg_pool_free(p);
    join_promptly(t, N);
    for (int i = 0; i < N; i++)
        expect_shutdown(&a[i]);
    /* The held connection still works; acquiring again is refused. */
    CIO_ASSERT_EQ(pg_int(held, "SELECT 5"), 5);
    cio_pg_conn *c = NULL;
    CIO_ASSERT_ERR(cio_pg_pool_acquire(p, &c), -ESHUTDOWN);
    CIO_ASSERT(strstr(cio_task_message(cio_current()), "acquire after cio_pg_pool_free") != NULL);
    CIO_ASSERT(c == NULL);
    cio_pg_pool_free(p); /* a second free while a connection is out: nothing */
    CIO_ASSERT_OK(cio_pg_pool_release(p, held)); /* closes it; the pool goes */

    /* A connection handed to a waiter that has not run yet when the pool is
     * freed: the waiter gets -ESHUTDOWN, the connection is closed. */
    cio_pg_pool_opts o = {.max_size = 1, .conn = {.application_name = "cio-pool-free"}};
    CIO_ASSERT_OK(cio_pg_pool_new(&p, pgfx.dsn_unix, &o));
    CIO_ASSERT_OK(cio_pg_pool_acquire(p, &held));
    a[0] = (free_arg){.p = p};
    t[0] = cio_spawn(free_acquirer, &a[0]);
    CIO_ASSERT_OK(cio_yield());
    CIO_ASSERT_OK(cio_pg_pool_release(p, held)); /* to the waiter */
    cio_pg_pool_free(p);
    join_promptly(t, 1);
    expect_shutdown(&a[0]);
    /* No backend of that pool is left on the server. */
    cio_pg_conn *admin = pg_connect_ok(NULL);
    int64_t left = 1;
    for (int i = 0; i < 200 && left; i++) {
        left = pg_int(admin, "SELECT count(*) FROM pg_stat_activity "
                             "WHERE application_name = 'cio-pool-free'");
        if (left)
            CIO_ASSERT_OK(cio_sleep(0.01)); /* a backend exits after its socket closes */
    }
    CIO_ASSERT_EQ(left, 0);
    cio_pg_close(admin);

    /* A task connecting to a host that never answers (connect_timeout 30 s). */
    int port = 0;
    int silent = pg_silent_listener(&port);
    char dsn[256];
    snprintf(dsn, sizeof dsn, "host=127.0.0.1 port=%d user=postgres dbname=postgres", port);
    cio_pg_pool_opts so = {.max_size = 2, .conn = {.connect_timeout = 30}};
    CIO_ASSERT_OK(cio_pg_pool_new(&p, dsn, &so));
    a[0] = (free_arg){.p = p};
    a[1] = (free_arg){.p = p};
    t[0] = cio_spawn(free_acquirer, &a[0]);
    t[1] = cio_spawn(free_acquirer, &a[1]);
    CIO_ASSERT_OK(cio_yield());
    cio_pg_pool_free(p);
    join_promptly(t, 2);
    expect_shutdown(&a[0]);
    expect_shutdown(&a[1]);
    close(silent);
    return 0;
}

static void test_free_wakes(void)
{
    CIO_ASSERT_OK(cio_test_run(t_free_wakes_main, NULL));
}

typedef struct release_arg {
    cio_pg_pool *p;
    cio_pg_conn *c;
    int err;
} release_arg;

static int releaser(void *arg)
{
    release_arg *r = arg;
    r->err = cio_pg_pool_release(r->p, r->c);
    return 0;
}

static int t_release_misuse_main(void *arg)
{
    (void)arg;
    cio_pg_pool *p = new_pool(0, 2), *other = new_pool(0, 1);
    cio_pg_conn *c;
    CIO_ASSERT_OK(cio_pg_pool_acquire(p, &c));
    CIO_ASSERT_ERR(cio_pg_pool_release(other, c), -EINVAL); /* not this pool's */
    CIO_ASSERT(strstr(cio_task_message(cio_current()), "not out of this pool") != NULL);
    CIO_ASSERT_OK(cio_pg_pool_release(p, c));
    CIO_ASSERT_ERR(cio_pg_pool_release(p, c), -EINVAL); /* twice: nothing done */
    cio_pg_pool_stats st;
    cio_pg_pool_stats_get(p, &st);
    CIO_ASSERT_EQ(st.size, 1);
    CIO_ASSERT_EQ(st.idle, 1);
    cio_pg_conn *c1, *c2;
    CIO_ASSERT_OK(cio_pg_pool_acquire(p, &c1));
    CIO_ASSERT_OK(cio_pg_pool_acquire(p, &c2));
    CIO_ASSERT(c1 != c2); /* the idle stack held it once */
    CIO_ASSERT_OK(cio_pg_pool_release(p, c2));
    /* A release paying a reset when the pool is freed: the reset is cut
     * short and the connection closed. */
    CIO_ASSERT_OK(cio_pg_execute(c1, "SET work_mem = '9MB'", NULL, 0, NULL));
    release_arg r = {p, c1, 1};
    cio_task *t = cio_spawn(releaser, &r);
    CIO_ASSERT_OK(cio_yield()); /* the reset is on its way */
    cio_pg_pool_free(p);
    join_promptly(&t, 1);
    CIO_ASSERT_OK(r.err);
    cio_pg_pool_free(other);
    return 0;
}

static void test_release_misuse(void)
{
    CIO_ASSERT_OK(cio_test_run(t_release_misuse_main, NULL));
}

static const cio_test_case tests[] = {
    CIO_TEST(test_basic, "min_size opens connections, max_size bounds them, counters add up, "
                         "no reset when nothing changed"),
    CIO_TEST(test_fifo, "waiters get connections in strict FIFO order; a cancelled waiter "
                        "leaves the queue and loses nothing"),
    CIO_TEST(test_limits, "acquire fails with -ETIMEDOUT after the default deadline and with "
                          "-EAGAIN past max_waiters"),
    CIO_TEST(test_release_rules,
             "a changed session (SET, advisory lock, set_config) is reset once and kept; "
             "a connection in a transaction is discarded; one killed while "
             "idle is replaced before the acquire returns (no error); one "
             "idle past health_check_idle is checked"),
    CIO_TEST(test_cancel_points, "1,000 operations under random bounds (cut anywhere in acquire, "
                                 "query, transaction, release) between 1,000 that must finish: "
                                 "they do, and the pool ends full and clean"),
    CIO_TEST(test_free_wakes, "cio_pg_pool_free wakes every task in acquire (queued, handed a "
                              "connection, connecting to a silent host) with -ESHUTDOWN naming "
                              "the pool, within 1 s; acquire after the free fails the same way; "
                              "a connection still out works and is closed on release"),
    CIO_TEST(test_release_misuse, "release to the wrong pool or twice is refused with -EINVAL and "
                                  "changes nothing; a release resetting when the pool is freed "
                                  "closes the connection"),
};

PG_TEST_MAIN(tests)
