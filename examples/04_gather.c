/* 04 — asyncio.gather, with and without return_exceptions.
 *
 *     results = await asyncio.gather(
 *         fetch_data("users", 2), fetch_data("posts", 1), fetch_data("comments", 1.5))
 *     # ~2 s, not 4.5; results in the order given
 *
 *     async def risky(n):
 *         await asyncio.sleep(0.1)
 *         if n == 0:
 *             raise ValueError("Cannot process zero")
 *         return 100 // n
 *
 *     results = await asyncio.gather(risky(5), risky(0), risky(2), return_exceptions=True)
 *     # [20, ValueError('Cannot process zero'), 50]
 *
 * cio_gather waits for tasks already spawned. The handles stay valid after it
 * returns, so each task's status and cio_fail message can be read (the
 * "exception") before the handle is released with cio_join, which returns at
 * once. Without CIO_RETURN_EXCEPTIONS the first failure cancels the others and
 * is returned — asyncio's gather would leave them running unsupervised. */
#include "example.h"

typedef struct fetch_job {
    const char *name;
    double delay;
    char result[32];
} fetch_job;

static int fetch_data(void *arg)
{
    fetch_job *job = arg;
    printf("Fetching %s...\n", job->name);
    int err = cio_sleep(S(job->delay));
    if (err)
        return err;
    printf("Got %s!\n", job->name);
    snprintf(job->result, sizeof(job->result), "%s data", job->name);
    return 0;
}

typedef struct risky_job {
    int n;
    double delay;
    int result;
} risky_job;

static int risky(void *arg)
{
    risky_job *job = arg;
    int err = cio_sleep(S(job->delay));
    if (err)
        return err; /* cancelled: pass the reason on */
    if (job->n == 0)
        return cio_fail(-EINVAL, "Cannot process zero"); /* raise ValueError(...) */
    job->result = 100 / job->n;
    return 0;
}

/* Spawns n tasks of fn over args (each `size` bytes apart). */
static int spawn_all(cio_task **t, size_t n, cio_fn fn, void *args, size_t size)
{
    for (size_t i = 0; i < n; i++) {
        t[i] = cio_spawn(fn, (char *)args + i * size);
        if (!t[i]) {
            for (size_t j = 0; j < i; j++) {
                cio_cancel(t[j]);
                cio_join(t[j]);
            }
            return -ENOMEM;
        }
    }
    return 0;
}

/* Prints the list the way Python would: [20, error 'Cannot process zero', 50]. */
static void print_results(cio_task **t, risky_job *jobs, size_t n)
{
    printf("[");
    for (size_t i = 0; i < n; i++) {
        int status = cio_task_status(t[i]);
        const char *msg = cio_task_message(t[i]);
        if (status == 0)
            printf("%d", jobs[i].result);
        else if (msg)
            printf("error '%s'", msg);
        else
            printf("error %s", errname(status));
        printf(i + 1 < n ? ", " : "]\n");
    }
}

static int story(void *arg)
{
    (void)arg;
    printf("== gather: results in the order given ==\n");
    fetch_job f[3] = {{"users", 2, ""}, {"posts", 1, ""}, {"comments", 1.5, ""}};
    cio_task *t[3];
    double t0 = cio_now();
    int err = spawn_all(t, 3, fetch_data, f, sizeof(f[0]));
    if (err)
        return err;
    err = cio_gather(t, 3, 0);
    for (int i = 0; i < 3; i++)
        cio_join(t[i]); /* each is done: returns at once and releases it */
    if (err)
        return err;
    printf("Results: [\"%s\", \"%s\", \"%s\"]\n", f[0].result, f[1].result, f[2].result);
    printf("gather took %.3f s (the longest wait, not the sum)\n", cio_now() - t0);

    printf("== gather(..., return_exceptions=True) ==\n");
    risky_job r[3] = {{5, 0.1, 0}, {0, 0.1, 0}, {2, 0.1, 0}};
    err = spawn_all(t, 3, risky, r, sizeof(r[0]));
    if (err)
        return err;
    err = cio_gather(t, 3, CIO_RETURN_EXCEPTIONS); /* 0: every task ran to its end */
    print_results(t, r, 3);
    for (int i = 0; i < 3; i++)
        cio_join(t[i]);
    if (err)
        return err;

    printf("== gather without return_exceptions: the first failure cancels the rest ==\n");
    risky_job d[3] = {{5, 1.0, 0}, {0, 0.1, 0}, {2, 1.0, 0}};
    err = spawn_all(t, 3, risky, d, sizeof(d[0]));
    if (err)
        return err;
    t0 = cio_now();
    err = cio_gather(t, 3, 0);
    printf("gather returned %s after %.3f s: %s\n", errname(err), cio_now() - t0,
           cio_task_message(t[1]));
    print_results(t, d, 3);
    for (int i = 0; i < 3; i++)
        cio_join(t[i]);
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
