/* libcio-pg LISTEN/NOTIFY: notifications in order, and a listener whose
 * connection the server kills reconnects, LISTENs again and reports the gap. */
#include "pg_fixture.h"

static void notify(cio_pg_conn *c, const char *channel, const char *payload)
{
    cio_pg_param p[] = {cio_pg_text(channel), cio_pg_text(payload)};
    CIO_ASSERT_OK(cio_pg_execute(c, "SELECT pg_notify($1, $2)", p, 2, NULL));
}

static int t_listen_main(void *arg)
{
    (void)arg;
    cio_pg_listener *l;
    CIO_ASSERT_OK(cio_pg_listener_new(&l, pgfx.dsn_unix, NULL));
    CIO_ASSERT_OK(cio_pg_listen(l, "jobs"));
    CIO_ASSERT_OK(cio_pg_listen(l, "Mixed Case"));
    cio_pg_conn *c = pg_connect_ok(NULL);
    notify(c, "jobs", "one");
    notify(c, "other", "ignored");
    notify(c, "Mixed Case", "two");
    const cio_pg_notification *n;
    CIO_ASSERT_OK(cio_pg_listener_next(l, &n));
    CIO_ASSERT_STR_EQ(n->channel, "jobs");
    CIO_ASSERT_STR_EQ(n->payload, "one");
    CIO_ASSERT_EQ(n->pid, cio_pg_backend_pid(c));
    CIO_ASSERT_EQ(n->gap, 0);
    CIO_ASSERT_OK(cio_pg_listener_next(l, &n));
    CIO_ASSERT_STR_EQ(n->channel, "Mixed Case");
    CIO_ASSERT_STR_EQ(n->payload, "two");
    /* Waiting with nothing to come: a timeout returns and loses nothing. */
    cio_scope s;
    cio_timeout_enter(&s, 0.1);
    CIO_ASSERT_ERR(cio_pg_listener_next(l, &n), -ETIMEDOUT);
    cio_timeout_exit(&s);

    /* The server kills the listener's backend: a gap, then it listens again. */
    cio_pg_param p[] = {cio_pg_int4(cio_pg_listener_backend_pid(l))};
    CIO_ASSERT_OK(cio_pg_execute(c, "SELECT pg_terminate_backend($1)", p, 1, NULL));
    CIO_ASSERT_OK(cio_pg_listener_next(l, &n));
    CIO_ASSERT_EQ(n->gap, 1);
    CIO_ASSERT(n->channel == NULL);
    notify(c, "jobs", "after");
    CIO_ASSERT_OK(cio_pg_listener_next(l, &n));
    CIO_ASSERT_STR_EQ(n->channel, "jobs");
    CIO_ASSERT_STR_EQ(n->payload, "after");
    cio_pg_close(c);
    cio_pg_listener_free(l);
    return 0;
}

static void test_listen(void)
{
    CIO_ASSERT_OK(cio_test_run(t_listen_main, NULL));
}

static const cio_test_case tests[] = {
    CIO_TEST(test_listen, "notifications arrive in order on their channels only; a timeout "
                          "loses nothing; a killed listener connection comes back with a gap "
                          "notice and its channels"),
};

PG_TEST_MAIN(tests)
