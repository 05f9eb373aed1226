/* libcio-pg transactions as scopes: commit, rollback, options, savepoints, and
 * the rollback of a task that fails or is cancelled inside one. */
#include "pg_fixture.h"

static int64_t count_rows(cio_pg_conn *c)
{
    return pg_int(c, "SELECT count(*) FROM acc");
}

static int t_commit_rollback_main(void *arg)
{
    (void)arg;
    cio_pg_conn *c = pg_connect_ok(NULL);
    cio_pg_conn *other = pg_connect_ok(NULL);
    CIO_ASSERT_OK(
        cio_pg_execute(c, "DROP TABLE IF EXISTS acc; CREATE TABLE acc (id int)", NULL, 0, NULL));
    cio_pg_tx tx;
    CIO_ASSERT_OK(cio_pg_tx_begin(&tx, c, NULL));
    CIO_ASSERT_EQ(cio_pg_in_transaction(c), 1);
    CIO_ASSERT_OK(cio_pg_execute(c, "INSERT INTO acc VALUES (1)", NULL, 0, NULL));
    CIO_ASSERT_EQ(count_rows(other), 0); /* not visible before commit */
    CIO_ASSERT_OK(cio_pg_tx_commit(&tx));
    CIO_ASSERT_EQ(count_rows(other), 1);
    CIO_ASSERT_EQ(cio_pg_in_transaction(c), 0);

    CIO_ASSERT_OK(cio_pg_tx_begin(&tx, c, NULL));
    CIO_ASSERT_OK(cio_pg_execute(c, "INSERT INTO acc VALUES (2)", NULL, 0, NULL));
    CIO_ASSERT_OK(cio_pg_tx_rollback(&tx));
    CIO_ASSERT_EQ(count_rows(other), 1);
    CIO_ASSERT_ERR(cio_pg_tx_commit(&tx), -EINVAL); /* closed */

    /* Options reach the server. */
    cio_pg_tx_opts o = {.isolation = CIO_PG_SERIALIZABLE, .read_only = 1, .deferrable = 1};
    CIO_ASSERT_OK(cio_pg_tx_begin(&tx, c, &o));
    char *s = NULL;
    CIO_ASSERT_OK(cio_pg_fetchval_text(c, &s, "SHOW transaction_isolation", NULL, 0));
    CIO_ASSERT_STR_EQ(s, "serializable");
    free(s);
    CIO_ASSERT_ERR(cio_pg_execute(c, "INSERT INTO acc VALUES (3)", NULL, 0, NULL), -EINVAL);
    CIO_ASSERT_STR_EQ(cio_pg_last_error(c)->sqlstate, "25006");
    /* COMMIT of a failed transaction is an error, not a silent rollback. */
    CIO_ASSERT_ERR(cio_pg_tx_commit(&tx), -EIO);
    CIO_ASSERT_EQ(cio_pg_in_transaction(c), 0);

    /* tx_end: commit on 0, rollback on error. */
    CIO_ASSERT_OK(cio_pg_tx_begin(&tx, c, NULL));
    CIO_ASSERT_OK(cio_pg_execute(c, "INSERT INTO acc VALUES (4)", NULL, 0, NULL));
    CIO_ASSERT_ERR(cio_pg_tx_end(&tx, -EPROTO), -EPROTO);
    CIO_ASSERT_EQ(count_rows(other), 1);
    cio_pg_close(other);
    cio_pg_close(c);
    return 0;
}

static void test_commit_rollback(void)
{
    CIO_ASSERT_OK(cio_test_run(t_commit_rollback_main, NULL));
}

static int begin_elsewhere(void *arg)
{
    cio_pg_tx tx;
    return cio_pg_tx_begin(&tx, arg, NULL);
}

static int t_savepoints_main(void *arg)
{
    (void)arg;
    cio_pg_conn *c = pg_connect_ok(NULL);
    CIO_ASSERT_OK(
        cio_pg_execute(c, "DROP TABLE IF EXISTS acc; CREATE TABLE acc (id int)", NULL, 0, NULL));
    cio_pg_tx outer, inner, inner2;
    CIO_ASSERT_OK(cio_pg_tx_begin(&outer, c, NULL));
    CIO_ASSERT_OK(cio_pg_execute(c, "INSERT INTO acc VALUES (1)", NULL, 0, NULL));
    CIO_ASSERT_OK(cio_pg_tx_begin(&inner, c, NULL));
    CIO_ASSERT_OK(cio_pg_execute(c, "INSERT INTO acc VALUES (2)", NULL, 0, NULL));
    /* A failure inside the savepoint is undone without losing the outer work. */
    CIO_ASSERT_ERR(cio_pg_execute(c, "SELECT 1/0", NULL, 0, NULL), -EDOM);
    CIO_ASSERT_OK(cio_pg_tx_rollback(&inner));
    CIO_ASSERT_OK(cio_pg_tx_begin(&inner2, c, NULL));
    CIO_ASSERT_OK(cio_pg_execute(c, "INSERT INTO acc VALUES (3)", NULL, 0, NULL));
    CIO_ASSERT_OK(cio_pg_tx_commit(&inner2));
    /* Another task cannot begin on a connection inside this task's transaction. */
    cio_task *other = cio_spawn(begin_elsewhere, c);
    CIO_ASSERT_ERR(cio_join(other), -EBUSY);
    CIO_ASSERT_OK(cio_pg_tx_commit(&outer));
    CIO_ASSERT_EQ(pg_int(c, "SELECT sum(id) FROM acc"), 4);
    cio_pg_close(c);
    return 0;
}

static void test_savepoints(void)
{
    CIO_ASSERT_OK(cio_test_run(t_savepoints_main, NULL));
}

typedef struct body {
    cio_pg_conn *c;
    cio_event *inside;
    int fail;
} body;

/* Inserts, signals it is inside, then fails or blocks until cancelled. */
static int tx_body(void *arg)
{
    body *b = arg;
    cio_pg_tx tx;
    int err = cio_pg_tx_begin(&tx, b->c, NULL);
    if (err)
        return err;
    err = cio_pg_execute(b->c, "INSERT INTO acc VALUES (9)", NULL, 0, NULL);
    if (!err)
        cio_event_set(b->inside);
    if (!err && b->fail)
        err = cio_pg_execute(b->c, "SELECT nosuchcolumn FROM acc", NULL, 0, NULL);
    else if (!err)
        err = cio_sleep(CIO_FOREVER);
    return cio_pg_tx_end(&tx, err);
}

static int t_task_rolls_back_main(void *arg)
{
    (void)arg;
    cio_pg_conn *c = pg_connect_ok(NULL);
    CIO_ASSERT_OK(
        cio_pg_execute(c, "DROP TABLE IF EXISTS acc; CREATE TABLE acc (id int)", NULL, 0, NULL));
    for (int fail = 0; fail < 2; fail++) {
        cio_event inside;
        cio_event_init(&inside);
        body b = {c, &inside, fail};
        cio_task *t = cio_spawn(tx_body, &b);
        CIO_ASSERT_OK(cio_event_wait(&inside));
        if (!fail)
            cio_cancel(t);
        CIO_ASSERT_ERR(cio_join(t), fail ? -ENOENT : -ECANCELED);
        /* The next user finds the connection clean, the insert undone. */
        CIO_ASSERT_EQ(pg_int(c, "SELECT count(*) FROM acc"), 0);
        CIO_ASSERT_EQ(cio_pg_in_transaction(c), 0);
        cio_event_destroy(&inside);
    }
    cio_pg_close(c);
    return 0;
}

static void test_task_rolls_back(void)
{
    CIO_ASSERT_OK(cio_test_run(t_task_rolls_back_main, NULL));
}

static const cio_test_case tests[] = {
    CIO_TEST(test_commit_rollback, "commit shows the work to others, rollback undoes it, "
                                   "isolation and read only reach the server, COMMIT of a "
                                   "failed transaction is an error, tx_end picks"),
    CIO_TEST(test_savepoints, "a nested begin is a savepoint: its rollback keeps the outer work; "
                              "another task cannot begin inside it (-EBUSY)"),
    CIO_TEST(test_task_rolls_back, "a task failing or cancelled inside a transaction leaves it "
                                   "rolled back and the connection clean"),
};

PG_TEST_MAIN(tests)
