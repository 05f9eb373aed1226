/* 07 — asyncio.as_completed: handle results in the order they finish.
 *
 *     tasks = [task_x(), task_y(), task_z()]
 *     for fut in asyncio.as_completed(tasks):
 *         result = await fut
 *         print('Got:', result)
 *
 *     for fut in asyncio.as_completed(tasks, timeout=0.5):   # raises TimeoutError
 *         ...
 *
 * cio_as_completed is an iterator embedded in the caller: init it over the
 * handles, call next until -ENOENT, destroy it. It never releases or cancels
 * the handles: each delivered task is joined (returns at once), and tasks left
 * over after a timeout are the caller's to cancel and join. */
#include "example.h"

typedef struct job {
    const char *name;
    double delay;
    char result[32];
} job;

static int run_job(void *arg)
{
    job *j = arg;
    int err = cio_sleep(S(j->delay));
    if (err)
        return err;
    snprintf(j->result, sizeof(j->result), "%s (slept %.2f s)", j->name, S(j->delay));
    return 0;
}

static int spawn_jobs(cio_task **t, job *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int err = cio_spawn_opts(&t[i], run_job, &jobs[i], &(cio_task_opts){.name = jobs[i].name});
        if (err)
            return err; /* (a real program would cancel and join t[0..i)) */
    }
    return 0;
}

static job *job_of(job *jobs, size_t n, cio_task *t)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(jobs[i].name, cio_task_name(t)))
            return &jobs[i];
    return NULL;
}

static int story(void *arg)
{
    (void)arg;
    printf("== completion order, not submission order ==\n");
    job a[3] = {{"task_x", 0.3, ""}, {"task_y", 0.1, ""}, {"task_z", 0.2, ""}};
    cio_task *t[3];
    int err = spawn_jobs(t, a, 3);
    if (err)
        return err;
    cio_as_completed ac;
    err = cio_as_completed_init(&ac, t, 3, CIO_FOREVER);
    if (err)
        return err;
    cio_task *done;
    for (;;) {
        err = cio_as_completed_next(&ac, &done);
        if (err)
            break;
        job *j = job_of(a, 3, done);
        int status = cio_join(done); /* `await fut`: finished, so at once */
        printf("Got: %s (status %s)\n", j->result, errname(status));
    }
    cio_as_completed_destroy(&ac);
    if (err != -ENOENT) /* -ENOENT: every task was delivered */
        return err;

    printf("== as_completed(timeout=0.5) ==\n");
    job b[3] = {{"fast", 0.2, ""}, {"medium", 0.4, ""}, {"slow", 2.0, ""}};
    double t0 = cio_now();
    err = spawn_jobs(t, b, 3);
    if (!err)
        err = cio_as_completed_init(&ac, t, 3, S(0.5));
    if (err)
        return err;
    for (;;) {
        err = cio_as_completed_next(&ac, &done);
        if (err)
            break;
        printf("Got: %s\n", job_of(b, 3, done)->result);
        /* Leave the handle in t[]; it is released below with the rest. */
    }
    cio_as_completed_destroy(&ac);
    printf("next returned %s after %.2f s: TimeoutError\n", errname(err), cio_now() - t0);
    for (int i = 0; i < 3; i++) {
        if (!cio_task_done(t[i])) {
            printf("cancelling %s, still running\n", cio_task_name(t[i]));
            cio_cancel(t[i]);
        }
        cio_join(t[i]);
    }
    return err == -ETIMEDOUT ? 0 : err;
}

int main(int argc, char **argv)
{
    example_init(argc, argv);
    int err = example_run(story, NULL);
    if (err)
        fprintf(stderr, "failed: %s\n", cio_strerror(err));
    return err ? 1 : 0;
}
