/* 10 — asyncio.shield: the outer wait gives up, the commit completes.
 *
 *     async def commit_transaction():
 *         print("Committing transaction...")
 *         await asyncio.sleep(1)
 *         print("Transaction committed.")
 *
 *     task = asyncio.create_task(commit_transaction())
 *     try:
 *         # Timeout cancels the outer wait, but the inner task keeps going
 *         await asyncio.wait_for(asyncio.shield(task), timeout=0.3)
 *     except asyncio.TimeoutError:
 *         print("Timed out waiting — but commit is still running!")
 *     await task  # wait for it to actually finish
 *
 * cio has the shield in two forms.
 *   - cio_shield(task) waits for a task like cio_join, but the waiter's
 *     cancellation (here wait_for's deadline) does not reach the task. When the
 *     waiter gives up, the task goes on detached: the loop owns it, cio_run
 *     waits for it, and a failure of it is reported.
 *   - A shield scope (cio_shield_enter/exit) protects a stretch of code. The
 *     commit below uses one, so that not even the final cancellation that
 *     cio_run sends to leftover tasks can cut a commit in half.
 * When the waiter wants to keep the handle and await the task afterwards, as
 * the Python code does, cio_wait with a timeout is the exact equivalent: it
 * never cancels what it waits for. Both ways are shown. */
#include "example.h"

static int commit_transaction(void *arg)
{
    const char *name = arg;
    cio_scope shield;
    cio_shield_enter(&shield); /* nothing outside may interrupt a commit */
    printf("Committing transaction %s...\n", name);
    int err = cio_sleep(S(1));
    if (!err)
        printf("Transaction %s committed (%.2f s).\n", name, elapsed());
    cio_shield_exit(&shield);
    return err;
}

/* The function wait_for runs: `asyncio.shield(task)`. */
static int await_shielded(void *task)
{
    return cio_shield(task);
}

static int story(void *arg)
{
    (void)arg;
    printf("== wait with a timeout, then await the task ==\n");
    cio_task *task = cio_spawn(commit_transaction, "A");
    if (!task)
        return -ENOMEM;
    size_t ndone;
    int err = cio_wait(&task, 1, CIO_ALL_COMPLETED, S(0.3), &ndone);
    if (err)
        return err;
    if (ndone == 0)
        printf("Timed out waiting (%.2f s) — but commit is still running!\n", elapsed());
    err = cio_join(task); /* await task */
    printf("awaited the commit: %s\n", errname(err));
    if (err)
        return err;

    printf("== wait_for(shield(task), timeout=0.3) ==\n");
    task = cio_spawn(commit_transaction, "B");
    if (!task)
        return -ENOMEM;
    double t0 = cio_now();
    err = cio_wait_for(await_shielded, task, S(0.3));
    if (err == -ETIMEDOUT)
        printf("Timed out waiting (%.2f s) — but commit is still running!\n", cio_now() - t0);
    else if (err)
        return err;
    /* The handle went to the loop with the timeout; main is done. cio_run now
     * cancels the leftover commit, whose shield scope lets it finish, and waits. */
    printf("main returns; cio_run waits for the commit\n");
    return 0;
}

int main(int argc, char **argv)
{
    example_init(argc, argv);
    int err = cio_run(story, NULL);
    printf("loop closed after %.2f s\n", elapsed());
    if (err)
        fprintf(stderr, "failed: %s\n", cio_strerror(err));
    return err ? 1 : 0;
}
