/* Stress: 100,000 tasks in nested groups with random sleeps, timeouts,
 * failures and cancels from a chaos task. Checks that every task ended and
 * that every status is what its cause says. Leaks are caught by ASan/LSan in
 * the sanitizer run. Deterministic: a seeded PRNG and the virtual clock. */
#include "cio_test.h"

#define GROUPS 100
#define LEAVES_PER_GROUP 999 /* + 1 manager each: 100,000 tasks with main's group */

enum { PLAN_OK, PLAN_FAIL, PLAN_TIMEOUT };

typedef struct leaf {
    int group;
    int plan;
    double secs;
    int status;
    int ended;
    int chaos_cancelled;
    cio_task *handle; /* NULL once ended: the chaos task only cancels live leaves */
} leaf;

static leaf *leaves;
static int group_result[GROUPS];
static int manager_ended[GROUPS];
static size_t nleaves = (size_t)GROUPS * LEAVES_PER_GROUP;
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int sleep_for(void *arg)
{
    return cio_sleep(*(double *)arg);
}

static int run_leaf(void *arg)
{
    leaf *l = arg;
    int status;
    if (l->plan == PLAN_TIMEOUT) {
        double long_sleep = l->secs * 10;
        status = cio_wait_for(sleep_for, &long_sleep, l->secs);
        if (status == -ETIMEDOUT)
            status = 0; /* handled locally */
    } else {
        status = cio_sleep(l->secs);
        if (!status && l->plan == PLAN_FAIL)
            status = cio_fail(-EIO, "leaf failed on purpose");
    }
    l->status = status;
    l->ended = 1;
    l->handle = NULL;
    return status;
}

static int run_manager(void *arg)
{
    int gi = (int)(intptr_t)arg;
    cio_group *g;
    CIO_ASSERT_OK(cio_group_new(&g));
    for (size_t i = 0; i < LEAVES_PER_GROUP; i++) {
        leaf *l = &leaves[(size_t)gi * LEAVES_PER_GROUP + i];
        CIO_ASSERT((l->handle = cio_group_spawn(g, run_leaf, l)) != NULL);
    }
    int err = cio_group_wait(g);
    cio_group_free(g);
    group_result[gi] = err;
    manager_ended[gi] = 1;
    return 0; /* failures are checked per group, not propagated */
}

static int chaos(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20000; i++) {
        if (cio_sleep((double)(next_random() % 1000) / 1e6))
            return 0;
        leaf *l = &leaves[next_random() % nleaves];
        if (l->handle) {
            l->chaos_cancelled = 1;
            cio_cancel(l->handle);
        }
    }
    return 0;
}

static int main_stress(void *arg)
{
    (void)arg;
    cio_task *chaos_task = cio_spawn(chaos, NULL);
    cio_group *top;
    CIO_ASSERT_OK(cio_group_new(&top));
    for (int gi = 0; gi < GROUPS; gi++)
        CIO_ASSERT(cio_group_spawn(top, run_manager, (void *)(intptr_t)gi) != NULL);
    CIO_ASSERT_OK(cio_group_wait(top));
    cio_group_free(top);
    cio_cancel(chaos_task);
    cio_join(chaos_task);
    return 0;
}

static void test_stress(void)
{
    leaves = calloc(nleaves, sizeof(*leaves));
    for (size_t i = 0; i < nleaves; i++) {
        leaf *l = &leaves[i];
        l->group = (int)(i / LEAVES_PER_GROUP);
        uint64_t r = next_random() % 1000;
        l->plan = r < 2 ? PLAN_FAIL : r < 200 ? PLAN_TIMEOUT : PLAN_OK;
        l->secs = (double)(next_random() % 10000) / 1000.0; /* 0 .. 10 s */
    }
    CIO_ASSERT_OK(cio_test_run_virtual(main_stress, NULL));
    int failed_in[GROUPS] = {0};
    size_t counts[4] = {0};
    for (size_t i = 0; i < nleaves; i++) {
        leaf *l = &leaves[i];
        CIO_ASSERT_EQ(l->ended, 1);
        if (l->status == -EIO) {
            CIO_ASSERT_EQ(l->plan, PLAN_FAIL);
            failed_in[l->group] = 1;
            counts[1]++;
        } else if (l->status == -ECANCELED) {
            counts[2]++;
        } else {
            CIO_ASSERT_ERR(l->status, 0);
            CIO_ASSERT(l->plan != PLAN_FAIL);
            counts[0]++;
        }
    }
    for (size_t i = 0; i < nleaves; i++) {
        leaf *l = &leaves[i];
        if (l->status == -ECANCELED) /* a cancel always has a cause */
            CIO_ASSERT(l->chaos_cancelled || failed_in[l->group]);
    }
    for (int gi = 0; gi < GROUPS; gi++) {
        CIO_ASSERT_EQ(manager_ended[gi], 1);
        CIO_ASSERT_ERR(group_result[gi], failed_in[gi] ? -EIO : 0);
    }
    /* The mix really happened. */
    CIO_ASSERT(counts[0] > 1000 && counts[1] > 10 && counts[2] > 1000);
    printf("  ok=%zu failed=%zu cancelled=%zu\n", counts[0], counts[1], counts[2]);
    free(leaves);
}

CIO_TEST_MAIN(((cio_test_case[]){
    CIO_TEST(test_stress, "100,000 tasks, nested groups, random sleeps, timeouts, failures and "
                          "cancels: every task ends with the status its cause says"),
}))
