/* 08 — task.cancel() and CancelledError: cancel a task; it cleans up.
 *
 *     async def long_running():
 *         try:
 *             print("Starting long task...")
 *             await asyncio.sleep(10)
 *             print("Finished long task!")
 *         except asyncio.CancelledError:
 *             print("Task was cancelled — running cleanup")
 *             raise                       # always re-raise CancelledError
 *
 *     task = asyncio.create_task(long_running())
 *     await asyncio.sleep(0.5)
 *     task.cancel()
 *     try:
 *         await task
 *     except asyncio.CancelledError:
 *         print("Main: confirmed task cancelled")
 *
 * In cio the suspending call returns -ECANCELED instead of raising. The
 * cancellation is level-triggered: it cannot be swallowed, because every later
 * suspending call of the task returns -ECANCELED at once too. Cleanup that must
 * still wait (flush a log, say goodbye to a peer) runs inside a shield scope. */
#include "example.h"

typedef struct connection {
    char *buffer; /* something to release on the way out */
} connection;

static int long_running(void *arg)
{
    connection *c = arg;
    printf("Starting long task...\n");
    int err = cio_sleep(S(10));
    if (err == 0) {
        printf("Finished long task!\n");
        return 0;
    }
    printf("Task was cancelled — running cleanup (%s at %.2f s)\n", errname(err), elapsed());

    /* The task is still cancelled: an ordinary wait returns at once. */
    int again = cio_sleep(S(1));
    printf("  an unshielded sleep in cleanup returns %s at once\n", errname(again));

    /* A wait that cleanup needs goes inside a shield scope. */
    cio_scope shield;
    cio_shield_enter(&shield);
    double t0 = cio_now();
    int flushed = cio_sleep(S(0.2)); /* flush the log: really waits */
    cio_shield_exit(&shield);
    printf("  shielded flush returned %s after %.2f s\n", errname(flushed), cio_now() - t0);

    free(c->buffer);
    c->buffer = NULL;
    printf("  cleanup finished\n");
    return err; /* `raise`: report the cancellation as the task's status */
}

/* A task that owns its argument: it must free it however it ends. */
static int owns_its_arg(void *arg)
{
    char *request = arg;
    printf("body runs although cancelled before it started; cio_cancelled() = %s\n",
           errname(cio_cancelled()));
    int err = cio_sleep(S(1)); /* returns -ECANCELED at once */
    printf("its sleep returned %s; freeing its argument \"%s\"\n", errname(err), request);
    free(request);
    return err;
}

/* async def background_job(): while True: print("Working..."); await asyncio.sleep(5) */
static int background_job(void *arg)
{
    (void)arg;
    for (;;) {
        printf("Working... (%.2f s)\n", elapsed());
        int err = cio_sleep(S(1));
        if (err)
            return err;
    }
}

static int story(void *arg)
{
    (void)arg;
    printf("== cancel a task; it cleans up ==\n");
    connection conn = {malloc(4096)};
    cio_task *task = cio_spawn(long_running, &conn);
    if (!task)
        return -ENOMEM;
    int err = cio_sleep(S(0.5)); /* let it start */
    if (err)
        return err;
    cio_cancel(task);
    int status = cio_join(task); /* waits for the cleanup too */
    if (status == -ECANCELED)
        printf("Main: confirmed task cancelled (status %s, %.2f s)\n", errname(status), elapsed());
    printf("connection buffer released: %s\n", conn.buffer ? "no" : "yes");

    printf("== cancelled before it starts, a task still runs its body ==\n");
    char *request = strdup("GET /index.html");
    task = cio_spawn(owns_its_arg, request);
    if (!task) {
        free(request);
        return -ENOMEM;
    }
    cio_cancel(task); /* asyncio would never start the coroutine */
    status = cio_join(task);
    printf("joined: %s\n", errname(status));

    printf("== fire and forget, cancelled later ==\n");
    task = cio_spawn(background_job, NULL);
    if (!task)
        return -ENOMEM;
    err = cio_sleep(S(2.5));
    cio_cancel(task);
    status = cio_join(task);
    printf("background job cancelled: %s\n", errname(status));
    return err;
}

int main(int argc, char **argv)
{
    example_init(argc, argv);
    int err = cio_run(story, NULL);
    if (err)
        fprintf(stderr, "failed: %s\n", cio_strerror(err));
    return err ? 1 : 0;
}
