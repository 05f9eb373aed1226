/* 05 — asyncio.TaskGroup: structured concurrency.
 *
 *     async def worker(name, seconds):
 *         await asyncio.sleep(seconds)
 *         print(f"{name} completed")
 *         return f"{name}-result"
 *
 *     try:
 *         async with asyncio.TaskGroup() as tg:
 *             t1 = tg.create_task(worker('Task1', 1))
 *             t2 = tg.create_task(worker('Task2', 2))
 *     except* Exception as eg:
 *         print(f"Error: {eg.exceptions}")
 *     else:
 *         print(f"All succeeded: {t1.result()}, {t2.result()}")
 *
 * cio_group_new enters the group (`async with`), cio_group_spawn is
 * tg.create_task, and cio_group_wait is the end of the `async with` block: it
 * waits for every child. The first child that fails cancels its siblings and
 * interrupts the body's own suspending calls; every failure stays readable
 * (the ExceptionGroup) until cio_group_free. */
#include "example.h"

typedef struct work {
    const char *name;
    double seconds;
    int fail; /* 0, or the error this worker fails with */
    char result[32];
    double start; /* cio_now() when its group started: one for all, so equal
                     durations end on one deadline, in one loop turn */
} work;

static int worker(void *arg)
{
    work *w = arg;
    int err = cio_sleep(w->start + S(w->seconds) - cio_now());
    if (err) {
        printf("%s cancelled (%s)\n", w->name, errname(err));
        return err;
    }
    if (w->fail)
        return cio_fail(w->fail, "%s could not finish", w->name); /* raise ... */
    printf("%s completed\n", w->name);
    snprintf(w->result, sizeof(w->result), "%s-result", w->name);
    return 0;
}

/* Spawns a named child for each work item. */
static int spawn_workers(cio_group *g, work *w, size_t n)
{
    double start = cio_now();
    for (size_t i = 0; i < n; i++) {
        w[i].start = start;
        int err = cio_group_spawn_opts(g, NULL, worker, &w[i], &(cio_task_opts){.name = w[i].name});
        if (err)
            return err;
    }
    return 0;
}

static void report(const cio_group *g)
{
    printf("Error: %zu failure(s):\n", cio_group_nfailed(g));
    for (size_t i = 0; i < cio_group_nfailed(g); i++) {
        int status;
        const char *name, *message;
        cio_group_failure(g, i, &status, &name, &message);
        printf("  %s: %s: %s\n", name, errname(status), message ? message : "(no message)");
    }
}

static int story(void *arg)
{
    (void)arg;
    printf("== every child succeeds ==\n");
    work ok[2] = {{"Task1", 1, 0, "", 0}, {"Task2", 2, 0, "", 0}};
    cio_group *g;
    int err = cio_group_new(&g); /* async with asyncio.TaskGroup() as tg: */
    if (err)
        return err;
    err = spawn_workers(g, ok, 2);
    if (err)
        cio_group_cancel(g);
    int status = cio_group_wait(g); /* the end of the block: waits for both */
    if (status || err)
        report(g);
    else
        printf("All succeeded: %s, %s (%.2f s)\n", ok[0].result, ok[1].result, elapsed());
    cio_group_free(g);
    if (status || err)
        return status ? status : err;

    printf("== two children fail: the siblings and the body are cancelled ==\n");
    work bad[4] = {{"Task1", 1, 0, "", 0},
                   {"fetch-a", 0.5, -ECONNREFUSED, "", 0},
                   {"fetch-b", 0.5, -EIO, "", 0},
                   {"Task2", 2, 0, "", 0}};
    double t0 = cio_now();
    err = cio_group_new(&g);
    if (err)
        return err;
    err = spawn_workers(g, bad, 4);
    if (err)
        cio_group_cancel(g);
    /* The body goes on with its own work; the group interrupts it too. */
    int body = cio_sleep(S(3));
    printf("body: its own sleep returned %s after %.2f s\n", errname(body), cio_now() - t0);
    status = cio_group_wait(g);
    printf("cio_group_wait returned %s (the first failure) after %.2f s\n", errname(status),
           cio_now() - t0);
    /* fetch-a and fetch-b fail in the same loop turn, before the cancellation
     * could reach fetch-b, so both are reported, as in an ExceptionGroup. */
    report(g);
    cio_group_free(g);
    return 0;
}

int main(int argc, char **argv)
{
    example_init(argc, argv);
    int err = example_run(story, NULL);
    if (err)
        fprintf(stderr, "failed: %s\n", cio_strerror(err));
    return err ? 1 : 0;
}
