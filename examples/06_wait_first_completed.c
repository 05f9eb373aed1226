/* 06 — asyncio.wait: FIRST_COMPLETED, a timeout, FIRST_EXCEPTION.
 *
 *     tasks = {create_task(job("A", 1.0)), create_task(job("B", 0.3)),
 *              create_task(job("C", 1.5))}
 *     done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
 *     for t in done: print("First done:", t.result())
 *     for t in pending: t.cancel()
 *
 *     done, pending = await asyncio.wait(tasks, timeout=2.5)
 *     print(f"Completed: {len(done)}; still pending: {len(pending)}")
 *
 * cio_wait reorders the array instead of returning two sets: tasks[0 .. ndone)
 * are done, the rest are pending. Like asyncio.wait it never cancels anything,
 * and a timeout is not an error: it returns 0 and ndone says what finished. */
#include "example.h"

typedef struct job {
    const char *name;
    double delay;
    int fail;
    char result[32];
} job;

static int run_job(void *arg)
{
    job *j = arg;
    int err = cio_sleep(S(j->delay));
    if (err)
        return err;
    if (j->fail)
        return cio_fail(j->fail, "%s broke", j->name);
    snprintf(j->result, sizeof(j->result), "%s finished", j->name);
    return 0;
}

/* Spawns one task per job, named after it. */
static int spawn_jobs(cio_task **t, job *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int err = cio_spawn_opts(&t[i], run_job, &jobs[i], &(cio_task_opts){.name = jobs[i].name});
        if (err)
            return err; /* (a real program would cancel and join t[0..i)) */
    }
    return 0;
}

/* cio_wait reorders the handles: find a task's job again by its name. */
static job *job_of(job *jobs, size_t n, cio_task *t)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(jobs[i].name, cio_task_name(t)))
            return &jobs[i];
    return NULL;
}

/* Cancels the pending tasks and releases every handle. */
static void cancel_and_join(cio_task **t, size_t n, size_t ndone)
{
    for (size_t i = ndone; i < n; i++)
        cio_cancel(t[i]);
    for (size_t i = 0; i < n; i++)
        cio_join(t[i]);
}

static int story(void *arg)
{
    (void)arg;
    printf("== FIRST_COMPLETED, then cancel the rest ==\n");
    job a[3] = {{"A", 1.0, 0, ""}, {"B", 0.3, 0, ""}, {"C", 1.5, 0, ""}};
    cio_task *t[4];
    double t0 = cio_now();
    int err = spawn_jobs(t, a, 3);
    size_t ndone = 0;
    if (!err)
        err = cio_wait(t, 3, CIO_FIRST_COMPLETED, CIO_FOREVER, &ndone);
    if (err)
        return err;
    for (size_t i = 0; i < ndone; i++)
        printf("First done: %s (after %.2f s)\n", job_of(a, 3, t[i])->result, cio_now() - t0);
    printf("pending: %zu, cancelling them\n", 3 - ndone);
    cancel_and_join(t, 3, ndone);

    printf("== ALL_COMPLETED with a timeout of 2.5 s ==\n");
    job w[4] = {{"worker-1", 1, 0, ""},
                {"worker-2", 2, 0, ""},
                {"worker-3", 3, 0, ""},
                {"worker-4", 4, 0, ""}};
    t0 = cio_now();
    err = spawn_jobs(t, w, 4);
    if (!err)
        err = cio_wait(t, 4, CIO_ALL_COMPLETED, S(2.5), &ndone);
    if (err)
        return err;
    printf("Completed: %zu; still pending: %zu (after %.2f s)\n", ndone, 4 - ndone, cio_now() - t0);
    cancel_and_join(t, 4, ndone);

    printf("== FIRST_EXCEPTION ==\n");
    job x[3] = {{"ok", 0.2, 0, ""}, {"broken", 0.5, -EIO, ""}, {"slow", 2, 0, ""}};
    t0 = cio_now();
    err = spawn_jobs(t, x, 3);
    if (!err)
        err = cio_wait(t, 3, CIO_FIRST_EXCEPTION, CIO_FOREVER, &ndone);
    if (err)
        return err;
    for (size_t i = 0; i < ndone; i++)
        printf("done: %s, status %s%s%s\n", cio_task_name(t[i]), errname(cio_task_status(t[i])),
               cio_task_message(t[i]) ? ": " : "",
               cio_task_message(t[i]) ? cio_task_message(t[i]) : "");
    printf("returned after %.2f s with %zu still pending\n", cio_now() - t0, 3 - ndone);
    cancel_and_join(t, 3, ndone);
    return 0;
}

int main(int argc, char **argv)
{
    example_init(argc, argv);
    int err = cio_run(story, NULL);
    if (err)
        fprintf(stderr, "failed: %s\n", cio_strerror(err));
    return err ? 1 : 0;
}
