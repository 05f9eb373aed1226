/* Tests of task groups: structured waiting, failure propagation, cancellation. */
#include "cio_test.h"

typedef struct child {
    double secs;
    int fail_with;
    int cancelled;
    int finished;
} child;

static int run_child(void *arg)
{
    child *c = arg;
    int err = cio_sleep(c->secs);
    if (err) {
        c->cancelled = 1;
        return err;
    }
    c->finished = 1;
    return c->fail_with ? cio_fail(c->fail_with, "child of %.0f s failed", c->secs) : 0;
}

static int main_group_ok(void *arg)
{
    (void)arg;
    child c[3] = {{1, 0, 0, 0}, {3, 0, 0, 0}, {2, 0, 0, 0}};
    cio_group *g;
    CIO_ASSERT_OK(cio_group_new(&g));
    for (int i = 0; i < 3; i++)
        CIO_ASSERT(cio_group_spawn(g, run_child, &c[i]) != NULL);
    CIO_ASSERT_OK(cio_group_wait(g));
    CIO_ASSERT_CMP(cio_now(), ==, 3.0);
    CIO_ASSERT(c[0].finished && c[1].finished && c[2].finished);
    CIO_ASSERT_EQ(cio_group_nfailed(g), 0);
    CIO_ASSERT_ERR(cio_group_wait(g), -EINVAL); /* once */
    CIO_ASSERT(cio_group_spawn(g, run_child, &c[0]) == NULL);
    cio_group_free(g);
    return 0;
}

static void test_group_waits_for_all(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_group_ok, NULL));
}

static int main_group_failure(void *arg)
{
    (void)arg;
    child c[4] = {{1, 0, 0, 0}, {2, -EIO, 0, 0}, {2, -EPROTO, 0, 0}, {10, 0, 0, 0}};
    cio_group *g;
    CIO_ASSERT_OK(cio_group_new(&g));
    for (int i = 0; i < 4; i++)
        cio_group_spawn(g, run_child, &c[i]);
    /* The body is interrupted by the first failure too. */
    CIO_ASSERT_ERR(cio_sleep(100), -ECANCELED);
    CIO_ASSERT_CMP(cio_now(), ==, 2.0);
    CIO_ASSERT_ERR(cio_group_wait(g), -EIO);
    CIO_ASSERT(c[0].finished && c[3].cancelled);
    /* Both failures at 2 s are recorded: they finished in the same turn. */
    CIO_ASSERT_EQ(cio_group_nfailed(g), 2);
    int status;
    const char *name, *msg;
    CIO_ASSERT_OK(cio_group_failure(g, 0, &status, &name, &msg));
    CIO_ASSERT_ERR(status, -EIO);
    CIO_ASSERT_STR_EQ(msg, "child of 2 s failed");
    CIO_ASSERT(strncmp(name, "Task-", 5) == 0);
    CIO_ASSERT_OK(cio_group_failure(g, 1, &status, NULL, NULL));
    CIO_ASSERT_ERR(status, -EPROTO);
    CIO_ASSERT_ERR(cio_group_failure(g, 2, &status, NULL, NULL), -ERANGE);
    cio_group_free(g);
    CIO_ASSERT_OK(cio_sleep(1)); /* out of the group: the body runs normally */
    return 0;
}

static void test_group_failure_cancels_siblings_and_body(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_group_failure, NULL));
}

static int group_body(void *arg)
{
    child *c = arg;
    cio_group *g;
    CIO_ASSERT_OK(cio_group_new(&g));
    cio_group_spawn(g, run_child, &c[0]);
    cio_group_spawn(g, run_child, &c[1]);
    int err = cio_group_wait(g);
    cio_group_free(g);
    return err;
}

static int main_group_outer_cancel(void *arg)
{
    (void)arg;
    child c[2] = {{5, 0, 0, 0}, {6, 0, 0, 0}};
    cio_task *t = cio_spawn(group_body, c);
    CIO_ASSERT_OK(cio_sleep(1));
    cio_cancel(t);
    CIO_ASSERT_ERR(cio_join(t), -ECANCELED);
    CIO_ASSERT(c[0].cancelled && c[1].cancelled);
    return 0;
}

static void test_group_outer_cancel(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_group_outer_cancel, NULL));
}

static int main_group_timeout(void *arg)
{
    (void)arg;
    child c[2] = {{5, 0, 0, 0}, {6, 0, 0, 0}};
    cio_scope s;
    CIO_ASSERT_OK(cio_timeout_enter(&s, 2.0));
    int err = group_body(c);
    CIO_ASSERT_ERR(cio_timeout_exit(&s), -ETIMEDOUT);
    CIO_ASSERT_ERR(err, -ETIMEDOUT);
    CIO_ASSERT_CMP(cio_now(), ==, 2.0);
    CIO_ASSERT(c[0].cancelled && c[1].cancelled);
    return 0;
}

static void test_group_under_timeout(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_group_timeout, NULL));
}

/* Nested groups: a failure deep inside reaches the top. */
static int nested_level(void *arg)
{
    int depth = *(int *)arg;
    if (depth == 0) {
        cio_sleep(1);
        return cio_fail(-ENOSPC, "leaf failed");
    }
    int next = depth - 1;
    cio_group *g;
    cio_group_new(&g);
    cio_group_spawn(g, nested_level, &next);
    cio_group_spawn(g, nested_level, &next);
    int err = cio_group_wait(g);
    cio_group_free(g);
    return err;
}

static void test_nested_groups(void)
{
    int depth = 3;
    CIO_ASSERT_ERR(cio_test_run_virtual(nested_level, &depth), -ENOSPC);
}

static int main_group_cancel_and_bad(void *arg)
{
    (void)arg;
    child c = {5, 0, 0, 0};
    cio_group *g;
    CIO_ASSERT_ERR(cio_group_new(NULL), -EINVAL);
    CIO_ASSERT_OK(cio_group_new(&g));
    cio_task *t;
    CIO_ASSERT_ERR(cio_group_spawn_opts(g, &t, NULL, NULL, NULL), -EINVAL);
    CIO_ASSERT_OK(cio_group_spawn_opts(g, &t, run_child, &c, &(cio_task_opts){.name = "kid"}));
    CIO_ASSERT_STR_EQ(cio_task_name(t), "kid");
    CIO_ASSERT_ERR(cio_join(t), -EINVAL); /* the group owns it */
    cio_group_cancel(g);
    CIO_ASSERT_ERR(cio_group_spawn_opts(g, &t, run_child, &c, NULL), -ESHUTDOWN);
    CIO_ASSERT_OK(cio_group_wait(g)); /* its own cancel is not a failure (Trio) */
    CIO_ASSERT_EQ(c.cancelled, 1);
    cio_group_free(g);
    cio_group_free(NULL);
    return 0;
}

static void test_group_cancel_and_bad_input(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_group_cancel_and_bad, NULL));
    cio_group *g;
    CIO_ASSERT_ERR(cio_group_new(&g), -EPERM);
}

/* Issue 14: the body's own error and an inner group's failures could not join
 * the children's in the group's list (asyncio's ExceptionGroup holds them all). */
static int main_group_aggregate(void *arg)
{
    (void)arg;
    child c[3] = {{1, -EIO, 0, 0}, {2, -EPIPE, 0, 0}, {10, 0, 0, 0}};
    cio_group *outer, *inner;
    CIO_ASSERT_OK(cio_group_new(&outer));
    CIO_ASSERT(cio_group_spawn(outer, run_child, &c[2]) != NULL);
    /* An inner group whose two children both fail at once. */
    c[1].secs = 1;
    CIO_ASSERT_OK(cio_group_new(&inner));
    CIO_ASSERT(cio_group_spawn(inner, run_child, &c[0]) != NULL);
    CIO_ASSERT(cio_group_spawn(inner, run_child, &c[1]) != NULL);
    int err = cio_group_wait(inner);
    CIO_ASSERT(err == -EIO || err == -EPIPE);
    CIO_ASSERT_EQ(cio_group_nfailed(inner), 2);
    CIO_ASSERT_ERR(cio_group_absorb(outer, inner), err);
    cio_group_free(inner);
    CIO_ASSERT_ERR(cio_yield(), -ECANCELED); /* the outer group was cancelled */
    /* The body fails too, with its own message. */
    cio_fail(-ENOSPC, "body ran out of room");
    CIO_ASSERT_ERR(cio_group_fail(outer, -ENOSPC), -ENOSPC);
    CIO_ASSERT_ERR(cio_group_wait(outer), err); /* the first failure */
    CIO_ASSERT_EQ(c[2].cancelled, 1);
    CIO_ASSERT_EQ(cio_group_nfailed(outer), 3);
    int st;
    const char *name, *msg;
    CIO_ASSERT_OK(cio_group_failure(outer, 2, &st, &name, &msg));
    CIO_ASSERT_ERR(st, -ENOSPC);
    CIO_ASSERT_STR_EQ(name, "main");
    CIO_ASSERT_STR_EQ(msg, "body ran out of room");
    CIO_ASSERT_OK(cio_group_failure(outer, 0, &st, NULL, &msg));
    CIO_ASSERT(strstr(msg, "child of 1 s failed") != NULL);
    CIO_ASSERT_ERR(cio_group_fail(outer, -EIO), -EINVAL); /* after the wait */
    CIO_ASSERT_ERR(cio_group_absorb(outer, outer), -EINVAL);
    cio_group_free(outer);
    return 0;
}

static void test_group_aggregate(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_group_aggregate, NULL));
}

CIO_TEST_MAIN(((cio_test_case[]){
    CIO_TEST(test_group_aggregate,
             "the body's failure and an inner group's failures join the group's list"),
    CIO_TEST(test_group_waits_for_all, "a group waits for every child; wait once"),
    CIO_TEST(test_group_failure_cancels_siblings_and_body,
             "the first failure cancels siblings and the body; all failures are kept"),
    CIO_TEST(test_group_outer_cancel, "cancelling the body's task cancels every child"),
    CIO_TEST(test_group_under_timeout, "a timeout around a group cancels its children"),
    CIO_TEST(test_nested_groups, "a failure in nested groups reaches the top"),
    CIO_TEST(test_group_cancel_and_bad_input, "cio_group_cancel, spawning after it, bad input"),
}))
