/* libcio-pg cancellation: a task cancelled or timed out mid-query returns at
 * once; the driver cancels the query on the server, drains the connection and
 * serves the next request cleanly; nothing keeps running on the server. */
#include "pg_fixture.h"

/* Active queries of backend pid other than the asking one's own. */
static int64_t active_on(cio_pg_conn *admin, int pid)
{
    cio_pg_param p[] = {cio_pg_int4(pid)};
    int64_t n = -1;
    CIO_ASSERT_OK(cio_pg_fetchval_int(admin, &n,
                                      "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND "
                                      "state <> 'idle'",
                                      p, 1));
    return n;
}

enum { API_EXECUTE, API_FETCH, API_FETCHROW, API_FETCHVAL, API_SCRIPT, API_TX, API_N };

static int call_api(cio_pg_conn *c, int api)
{
    cio_pg_result *r = NULL;
    int64_t v;
    cio_pg_param p[] = {cio_pg_float8(10)};
    int err = 0;
    switch (api) {
    case API_EXECUTE:
        err = cio_pg_execute(c, "SELECT pg_sleep($1)", p, 1, NULL);
        break;
    case API_FETCH:
        err = cio_pg_fetch(c, &r, "SELECT pg_sleep(10)", NULL, 0);
        break;
    case API_FETCHROW:
        err = cio_pg_fetchrow(c, &r, "SELECT 1 FROM pg_sleep($1)", p, 1);
        break;
    case API_FETCHVAL:
        err = cio_pg_fetchval_int(c, &v, "SELECT 1 FROM pg_sleep(10)", NULL, 0);
        break;
    case API_SCRIPT:
        err = cio_pg_execute(c, "SELECT 1; SELECT pg_sleep(10)", NULL, 0, NULL);
        break;
    case API_TX: {
        cio_pg_tx tx;
        err = cio_pg_tx_begin(&tx, c, NULL);
        if (err)
            break;
        err = cio_pg_execute(c, "INSERT INTO marks VALUES (1)", NULL, 0, NULL);
        if (!err)
            err = cio_pg_execute(c, "SELECT pg_sleep(10)", NULL, 0, NULL);
        err = cio_pg_tx_end(&tx, err);
        break;
    }
    }
    cio_pg_result_free(r);
    return err;
}

static int t_timeout_each_api_main(void *arg)
{
    (void)arg;
    cio_pg_conn *admin = pg_connect_ok(NULL);
    CIO_ASSERT_OK(cio_pg_execute(admin, "CREATE TABLE marks (a int)", NULL, 0, NULL));
    cio_pg_conn *c = pg_connect_ok(NULL);
    for (int api = 0; api < API_N; api++) {
        cio_scope s;
        double t0 = cio_now();
        CIO_ASSERT_OK(cio_timeout_enter(&s, 0.2));
        int err = call_api(c, api);
        CIO_ASSERT_ERR(cio_timeout_exit(&s), -ETIMEDOUT);
        CIO_ASSERT_ERR(err, -ETIMEDOUT);
        /* Returned within the scope's bound, not after the server. */
        CIO_ASSERT_CMP(cio_now() - t0, <, 0.6);
        /* Reused at once: the next query waits only for the drain. */
        CIO_ASSERT_EQ(pg_int(c, "SELECT 11"), 11);
        CIO_ASSERT_CMP(cio_now() - t0, <, 1.2);
        CIO_ASSERT_EQ(cio_pg_in_transaction(c), 0);
        CIO_ASSERT_EQ(active_on(admin, cio_pg_backend_pid(c)), 0);
    }
    /* The transaction's insert was rolled back. */
    CIO_ASSERT_EQ(pg_int(admin, "SELECT count(*) FROM marks"), 0);
    cio_pg_close(c);
    cio_pg_close(admin);
    return 0;
}

static void test_timeout_each_api(void)
{
    CIO_ASSERT_OK(cio_test_run(t_timeout_each_api_main, NULL));
}

typedef struct job {
    cio_pg_conn *c;
    int api;
    int err;
    const char *sql;
    int64_t val;
    const cio_pg_param *params; /* one parameter, or NULL */
} job;

static int run_api(void *arg)
{
    job *j = arg;
    j->err = call_api(j->c, j->api);
    return 0;
}

static int t_cancel_task_main(void *arg)
{
    (void)arg;
    cio_pg_conn *admin = pg_connect_ok(NULL);
    cio_pg_conn *c = pg_connect_ok(NULL);
    for (int api = 0; api < API_N; api++) {
        if (api == API_TX)
            CIO_ASSERT_OK(
                cio_pg_execute(admin, "CREATE TABLE IF NOT EXISTS marks (a int)", NULL, 0, NULL));
        job j = {.c = c, .api = api};
        cio_task *t = cio_spawn(run_api, &j);
        /* Cancel once the query runs on the server. */
        while (active_on(admin, cio_pg_backend_pid(c)) == 0)
            CIO_ASSERT_OK(cio_sleep(0.01));
        double t0 = cio_now();
        cio_cancel(t);
        CIO_ASSERT_OK(cio_join(t));
        CIO_ASSERT_ERR(j.err, -ECANCELED);
        CIO_ASSERT_CMP(cio_now() - t0, <, 0.3);
        CIO_ASSERT_EQ(pg_int(c, "SELECT 12"), 12);
        CIO_ASSERT_CMP(cio_now() - t0, <, 1.0);
        CIO_ASSERT_EQ(active_on(admin, cio_pg_backend_pid(c)), 0);
        CIO_ASSERT_EQ(cio_pg_in_transaction(c), 0);
    }
    CIO_ASSERT_EQ(pg_int(admin, "SELECT count(*) FROM marks"), 0);
    cio_pg_close(c);
    cio_pg_close(admin);
    return 0;
}

static void test_cancel_task(void)
{
    CIO_ASSERT_OK(cio_test_run(t_cancel_task_main, NULL));
}

static int query_task(void *arg)
{
    job *j = arg;
    j->err = cio_pg_fetchval_int(j->c, &j->val, j->sql, j->params, j->params ? 1 : 0);
    return 0;
}

/* A query queued behind a cancelled one (same connection) is never hit by
 * the CancelRequest: it runs after the drain and returns its own answer. */
static int t_next_query_safe_main(void *arg)
{
    (void)arg;
    cio_pg_conn *c = pg_connect_ok(NULL);
    for (int round = 0; round < 20; round++) {
        job a = {.c = c, .sql = "SELECT 1 FROM pg_sleep(10)"};
        job b = {.c = c, .sql = "SELECT 2 FROM pg_sleep(0.01)"};
        cio_task *ta = cio_spawn(query_task, &a);
        CIO_ASSERT_OK(cio_yield()); /* a's request is queued and sent */
        CIO_ASSERT_OK(cio_sleep(0.005 * (round % 4)));
        cio_cancel(ta);
        cio_task *tb = cio_spawn(query_task, &b);
        CIO_ASSERT_OK(cio_join(ta));
        CIO_ASSERT_OK(cio_join(tb));
        CIO_ASSERT_ERR(a.err, -ECANCELED);
        CIO_ASSERT_OK(b.err);
        CIO_ASSERT_EQ(b.val, 2);
    }
    /* Pipelined behind it before the cancel: waits its turn, then runs; the
     * cancelled query is not cancelled on the server (that could hit b) and
     * simply finishes. */
    job a = {.c = c, .sql = "SELECT 1 FROM pg_sleep(0.3)"};
    job b = {.c = c, .sql = "SELECT 2"};
    cio_task *ta = cio_spawn(query_task, &a);
    cio_task *tb = cio_spawn(query_task, &b);
    CIO_ASSERT_OK(cio_sleep(0.05));
    cio_cancel(ta);
    CIO_ASSERT_OK(cio_join(ta));
    CIO_ASSERT_OK(cio_join(tb));
    CIO_ASSERT_ERR(a.err, -ECANCELED);
    CIO_ASSERT_OK(b.err);
    CIO_ASSERT_EQ(b.val, 2);
    cio_pg_close(c);
    return 0;
}

static void test_next_query_safe(void)
{
    CIO_ASSERT_OK(cio_test_run(t_next_query_safe_main, NULL));
}

/* Past the grace period the connection is closed, not waited on. */
static int t_grace_main(void *arg)
{
    (void)arg;
    cio_pg_opts o = {.cancel_grace = 0.3};
    cio_pg_conn *c = pg_connect_ok(&o);
    /* Both statements known beforehand (a new one is described first, a
     * round trip): the two queries go out at once, b pipelined behind a. */
    cio_pg_param zero[] = {cio_pg_float8(0)}, ten[] = {cio_pg_float8(10)};
    int64_t v;
    CIO_ASSERT_OK(cio_pg_fetchval_int(c, &v, "SELECT 1 FROM pg_sleep($1)", zero, 1));
    CIO_ASSERT_OK(cio_pg_fetchval_int(c, &v, "SELECT 2", NULL, 0));
    job a = {.c = c, .sql = "SELECT 1 FROM pg_sleep($1)", .params = ten};
    job b = {.c = c, .sql = "SELECT 2"};
    cio_task *ta = cio_spawn(query_task, &a);
    cio_task *tb = cio_spawn(query_task, &b); /* pipelined behind: no CancelRequest */
    CIO_ASSERT_OK(cio_sleep(0.05));
    double t0 = cio_now();
    cio_cancel(ta);
    CIO_ASSERT_OK(cio_join(ta));
    CIO_ASSERT_OK(cio_join(tb));
    CIO_ASSERT_ERR(a.err, -ECANCELED);
    CIO_ASSERT_ERR(b.err, -ECONNRESET);
    CIO_ASSERT_CMP(cio_now() - t0, <, 2.0);
    CIO_ASSERT_EQ(cio_pg_is_broken(c), 1);
    CIO_ASSERT_ERR(cio_pg_fetchval_int(c, &v, "SELECT 1", NULL, 0), -ECONNRESET);
    cio_pg_close(c);
    return 0;
}

static void test_grace(void)
{
    CIO_ASSERT_OK(cio_test_run(t_grace_main, NULL));
}

/* The server ends the backend mid-query: the query fails, the connection is
 * broken, nothing hangs. */
static int t_terminated_main(void *arg)
{
    (void)arg;
    cio_pg_conn *admin = pg_connect_ok(NULL);
    cio_pg_conn *c = pg_connect_ok(NULL);
    job a = {.c = c, .sql = "SELECT 1 FROM pg_sleep(10)"};
    cio_task *ta = cio_spawn(query_task, &a);
    while (active_on(admin, cio_pg_backend_pid(c)) == 0)
        CIO_ASSERT_OK(cio_sleep(0.01));
    cio_pg_param p[] = {cio_pg_int4(cio_pg_backend_pid(c))};
    CIO_ASSERT_OK(cio_pg_execute(admin, "SELECT pg_terminate_backend($1)", p, 1, NULL));
    CIO_ASSERT_OK(cio_join(ta));
    CIO_ASSERT_ERR(a.err, -ECONNRESET);
    CIO_ASSERT_EQ(cio_pg_is_broken(c), 1);
    cio_pg_close(c);
    cio_pg_close(admin);
    return 0;
}

static void test_terminated(void)
{
    CIO_ASSERT_OK(cio_test_run(t_terminated_main, NULL));
}

/* An executemany cut short while its rows still go out (the server takes
 * 1 ms a row, so most of the 50,000 are still queued on the client): the
 * rows sent are rolled back, the rest are never sent, and the connection
 * answers the next query within a second. */
static int t_executemany_cut_main(void *arg)
{
    (void)arg;
    cio_pg_conn *c = pg_connect_ok(NULL);
    CIO_ASSERT_OK(cio_pg_execute(c, "CREATE TABLE cut (id int)", NULL, 0, NULL));
    enum { N = 50000 };
    cio_pg_param *rows = calloc(N, sizeof *rows);
    CIO_ASSERT(rows != NULL);
    for (int i = 0; i < N; i++)
        rows[i] = cio_pg_int4(i);
    cio_scope sc;
    CIO_ASSERT_OK(cio_timeout_enter(&sc, 0.2));
    double t0 = cio_now();
    int err = cio_pg_executemany(c, "INSERT INTO cut SELECT $1::int4 FROM pg_sleep(0.001)", rows, 1,
                                 N, NULL);
    cio_timeout_exit(&sc);
    CIO_ASSERT_ERR(err, -ETIMEDOUT);
    CIO_ASSERT_CMP(cio_now() - t0, <, 1.0);
    free(rows); /* the driver must not read them any more */
    CIO_ASSERT_OK(cio_timeout_enter(&sc, 1.0));
    int64_t n = -1;
    err = cio_pg_fetchval_int(c, &n, "SELECT count(*) FROM cut", NULL, 0);
    CIO_ASSERT_OK(cio_timeout_exit(&sc));
    CIO_ASSERT_OK(err);
    CIO_ASSERT_EQ(n, 0);
    CIO_ASSERT_EQ(cio_pg_in_transaction(c), 0);
    cio_pg_close(c);
    return 0;
}

static void test_executemany_cut(void)
{
    CIO_ASSERT_OK(cio_test_run(t_executemany_cut_main, NULL));
}

static const cio_test_case tests[] = {
    CIO_TEST(test_timeout_each_api, "each API timed out during pg_sleep(10) returns within its "
                                    "bound; the connection answers within a second, nothing "
                                    "runs on the server, the transaction was rolled back"),
    CIO_TEST(test_cancel_task, "each API in a task cancelled mid-query: the same, by cio_cancel"),
    CIO_TEST(test_next_query_safe, "a query queued after (or pipelined before) a cancelled one "
                                   "is never cancelled and gets its own answer"),
    CIO_TEST(test_grace, "a drain past the grace period closes the connection; waiting requests "
                         "fail with -ECONNRESET"),
    CIO_TEST(test_terminated, "pg_terminate_backend mid-query fails the query, marks the "
                              "connection broken"),
    CIO_TEST(test_executemany_cut, "an executemany timed out while its rows still go out "
                                   "commits nothing, sends no more rows (their memory is "
                                   "freed) and the connection answers within a second"),
};

PG_TEST_MAIN(tests)
