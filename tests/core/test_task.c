/* Tests of tasks: spawn, join, detach, cancel, names, failure messages. */
#include "cio_test.h"

static int return_7(void *arg)
{
    (void)arg;
    return 7;
}

static int main_spawn_join(void *arg)
{
    (void)arg;
    cio_task *t = cio_spawn(return_7, NULL);
    CIO_ASSERT(t != NULL);
    CIO_ASSERT_EQ(cio_task_done(t), 0);
    CIO_ASSERT_ERR(cio_task_status(t), -EINPROGRESS);
    CIO_ASSERT_EQ(cio_join(t), 7);
    return 0;
}

static void test_spawn_join(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_spawn_join, NULL));
}

CIO_TEST_MAIN(((cio_test_case[]){
    CIO_TEST(test_spawn_join, "a spawned task runs and cio_join returns its status"),
}))
