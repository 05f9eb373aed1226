/* 03 — asyncio.create_task: start work now, await it later.
 *
 *     async def say_after(delay, what):
 *         await asyncio.sleep(delay)
 *         print(what)
 *
 *     async def main():
 *         task1 = asyncio.create_task(say_after(1, 'Hello'))
 *         task2 = asyncio.create_task(say_after(2, 'World'))
 *         print('Tasks created, main continues...')
 *         await task1
 *         await task2
 *         print('All tasks done!')
 *
 * cio_spawn schedules the task; like create_task it first runs when the
 * spawner next suspends, so "Tasks created" prints before either task starts.
 * cio_join is `await task`: it returns the task's status and releases the
 * handle. A value travels back through the argument, as C functions return
 * results through pointers. Tasks have names (asyncio's Task.get_name). */
#include "example.h"

typedef struct say_job {
    double delay;
    const char *what;
} say_job;

static int say_after(void *arg)
{
    say_job *job = arg;
    printf("%s started\n", cio_task_name(cio_current()));
    int err = cio_sleep(S(job->delay));
    if (err)
        return err;
    printf("%s (at %.2f s)\n", job->what, elapsed());
    return 0;
}

/* async def compute(n): await asyncio.sleep(n * 0.1); return n * n */
typedef struct square_job {
    int n;
    int result;
} square_job;

static int compute(void *arg)
{
    square_job *job = arg;
    int err = cio_sleep(S(job->n * 0.1));
    if (err)
        return err;
    job->result = job->n * job->n;
    return 0;
}

static int story(void *arg)
{
    (void)arg;
    say_job hello = {1, "Hello"}, world = {2, "World"};
    cio_task *task1 = cio_spawn(say_after, &hello);
    cio_task *task2 = cio_spawn(say_after, &world);
    if (!task1 || !task2)
        return -ENOMEM;
    printf("Tasks created, main continues...\n");
    int err1 = cio_join(task1); /* await task1 */
    int err2 = cio_join(task2); /* await task2 */
    printf("All tasks done! (%.2f s: the two waits overlapped)\n", elapsed());
    if (err1 || err2)
        return err1 ? err1 : err2;

    /* task = asyncio.create_task(compute(3), name="square-3"); result = await task */
    square_job sq = {3, 0};
    cio_task *t;
    int err = cio_spawn_opts(&t, compute, &sq, &(cio_task_opts){.name = "square-3"});
    if (err)
        return err;
    printf("spawned task %s\n", cio_task_name(t));
    err = cio_join(t);
    printf("awaited it: status %s, result %d\n", errname(err), sq.result);
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
