/* The demo: a short tour of cio through the asyncio guides' stories, in about
 * seven seconds. Each story has a full example of its own in this folder
 * (02_why_tasks.c, 04_gather.c, ...). Takes --scale S like the examples. */
#include "example.h"

/* ---- 1. why tasks: three 1 s waits, one after another, then as tasks ---- */

static int wait_one_second(void *arg)
{
    printf("   %s: waiting 1 s\n", (const char *)arg);
    int err = cio_sleep(S(1.0));
    printf("   %s: done\n", (const char *)arg);
    return err;
}

static int why_tasks(void)
{
    const char *names[] = {"users", "posts", "comments"};
    printf("1. Three 1 s waits, awaited one after another (02_why_tasks.c):\n");
    double t0 = cio_now();
    for (int i = 0; i < 3; i++)
        wait_one_second((void *)names[i]);
    double sequential = cio_now() - t0;
    printf("   took %.2f s\n   ... and as three tasks, gathered:\n", sequential);
    t0 = cio_now();
    cio_task *t[3];
    for (int i = 0; i < 3; i++) {
        t[i] = cio_spawn(wait_one_second, (void *)names[i]);
        if (!t[i])
            return -ENOMEM; /* (a real program would cancel and join t[0..i)) */
    }
    int err = cio_gather(t, 3, 0);
    for (int i = 0; i < 3; i++)
        cio_join(t[i]);
    double concurrent = cio_now() - t0;
    printf("   took %.2f s (%.1fx faster)\n\n", concurrent, sequential / concurrent);
    return err;
}

/* ---- 2. gather(return_exceptions=True): [20, error, 50] ---- */

typedef struct risky_job {
    int n, result;
} risky_job;

static int risky(void *arg)
{
    risky_job *j = arg;
    int err = cio_sleep(S(0.1));
    if (err)
        return err;
    if (j->n == 0)
        return cio_fail(-EINVAL, "Cannot process zero");
    j->result = 100 / j->n;
    return 0;
}

static int gather_exceptions(void)
{
    printf("2. gather(risky(5), risky(0), risky(2), return_exceptions=True) (04_gather.c):\n   [");
    risky_job j[3] = {{5, 0}, {0, 0}, {2, 0}};
    cio_task *t[3];
    for (int i = 0; i < 3; i++) {
        t[i] = cio_spawn(risky, &j[i]);
        if (!t[i])
            return -ENOMEM;
    }
    int err = cio_gather(t, 3, CIO_RETURN_EXCEPTIONS);
    for (int i = 0; i < 3; i++) {
        if (cio_task_status(t[i]) == 0)
            printf("%d", j[i].result);
        else
            printf("error '%s'", cio_task_message(t[i]));
        printf(i < 2 ? ", " : "]\n\n");
        cio_join(t[i]);
    }
    return err;
}

/* ---- 3. TaskGroup: a failing child cancels its siblings ---- */

typedef struct work {
    const char *name;
    double seconds;
    int fail;
} work;

static int worker(void *arg)
{
    work *w = arg;
    int err = cio_sleep(S(w->seconds));
    if (err) {
        printf("   %s: cancelled\n", w->name);
        return err;
    }
    if (w->fail)
        return cio_fail(w->fail, "connection refused by %s", w->name);
    printf("   %s: completed\n", w->name);
    return 0;
}

static int task_group(void)
{
    printf("3. TaskGroup with a child that fails after 0.5 s (05_taskgroup.c):\n");
    work w[3] = {{"fast", 0.2, 0}, {"flaky", 0.5, -ECONNREFUSED}, {"slow", 2.0, 0}};
    double t0 = cio_now();
    cio_group *g;
    int err = cio_group_new(&g);
    if (err)
        return err;
    for (int i = 0; i < 3; i++)
        cio_group_spawn_opts(g, NULL, worker, &w[i], &(cio_task_opts){.name = w[i].name});
    err = cio_group_wait(g);
    const char *name, *message;
    cio_group_failure(g, 0, NULL, &name, &message);
    printf("   the group failed after %.2f s with %s: %s: %s\n\n", cio_now() - t0, errname(err),
           name, message);
    cio_group_free(g);
    return 0;
}

/* ---- 4. timeouts ---- */

static int slow_operation(void *arg)
{
    (void)arg;
    return cio_sleep(S(5));
}

static int timeouts(void)
{
    printf("4. wait_for(slow_operation(), timeout=0.5) (09_wait_for_and_timeout.c):\n");
    double t0 = cio_now();
    int err = cio_wait_for(slow_operation, NULL, S(0.5));
    printf("   returned %s after %.2f s\n\n", errname(err), cio_now() - t0);
    return err == -ETIMEDOUT ? 0 : err;
}

/* ---- 5. cancellation with cleanup, 6. shield ---- */

static int long_running(void *arg)
{
    (void)arg;
    int err = cio_sleep(S(10));
    printf("   task: sleep returned %s; cleaning up\n", errname(err));
    printf("   task: another sleep returns %s at once: the cancellation stays\n",
           errname(cio_sleep(S(1))));
    cio_scope shield;
    cio_shield_enter(&shield);
    int flushed = cio_sleep(S(0.2));
    cio_shield_exit(&shield);
    printf("   task: a 0.2 s flush inside a shield scope returned %s\n", errname(flushed));
    return err;
}

static int cancellation(void)
{
    printf("5. task.cancel() after 0.5 s; the task cleans up (08_cancellation.c):\n");
    cio_task *t = cio_spawn(long_running, NULL);
    if (!t)
        return -ENOMEM;
    cio_sleep(S(0.5));
    cio_cancel(t);
    printf("   main: joined it: %s\n\n", errname(cio_join(t)));
    return 0;
}

static int commit_transaction(void *arg)
{
    (void)arg;
    printf("   Committing transaction...\n");
    int err = cio_sleep(S(1));
    printf("   Transaction committed.\n");
    return err;
}

static int shield(void)
{
    printf("6. A 1 s commit, waited on for at most 0.3 s (10_shield.c):\n");
    cio_task *t = cio_spawn(commit_transaction, NULL);
    if (!t)
        return -ENOMEM;
    size_t ndone;
    int err = cio_wait(&t, 1, CIO_ALL_COMPLETED, S(0.3), &ndone); /* never cancels t */
    if (!err && !ndone)
        printf("   Timed out waiting — but commit is still running!\n");
    int status = cio_join(t);
    printf("   awaited the commit: %s\n", errname(status));
    return err ? err : status;
}

static int demo(void *arg)
{
    (void)arg;
    int (*stories[])(void) = {why_tasks, gather_exceptions, task_group,
                              timeouts,  cancellation,      shield};
    for (size_t i = 0; i < sizeof(stories) / sizeof(stories[0]); i++) {
        int err = stories[i]();
        if (err)
            return err;
    }
    printf("\ntour finished in %.2f s\n", elapsed());
    return 0;
}

int main(int argc, char **argv)
{
    example_init(argc, argv);
    int err = cio_run(demo, NULL);
    if (err)
        fprintf(stderr, "demo failed: %s\n", cio_strerror(err));
    return err ? 1 : 0;
}
