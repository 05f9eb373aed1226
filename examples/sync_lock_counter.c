/* sync_lock_counter — asyncio.Lock protecting a read-modify-write.
 *
 *     counter = 0
 *     lock = asyncio.Lock()
 *
 *     async def increment(name):
 *         global counter
 *         async with lock:
 *             current = counter
 *             await asyncio.sleep(0)   # simulate work between read and write
 *             counter = current + 1
 *             print(f"{name}: counter is now {counter}")
 *
 *     await asyncio.gather(*[increment(f"task-{i}") for i in range(5)])
 *     print(f"Final counter: {counter}")   # always 5
 *
 * `async with lock` is cio_lock_acquire ... cio_lock_release. The lock is
 * handed to waiters first come, first served, so the tasks update in the order
 * they were spawned. The same code without the lock shows the race it
 * prevents: every task reads 0 before any writes. */
#include "example.h"

static cio_lock lock;
static int counter;

typedef struct inc_job {
    char name[16];
    int use_lock;
} inc_job;

static int increment(void *arg)
{
    inc_job *job = arg;
    if (job->use_lock) {
        int err = cio_lock_acquire(&lock);
        if (err)
            return err;
    }
    int current = counter;
    cio_sleep(0); /* another task runs here: without the lock it reads the old value */
    counter = current + 1;
    printf("%s: counter is now %d\n", job->name, counter);
    if (job->use_lock)
        cio_lock_release(&lock);
    return 0;
}

static int run_five(int use_lock)
{
    counter = 0;
    inc_job jobs[5];
    cio_task *t[5];
    for (int i = 0; i < 5; i++) {
        snprintf(jobs[i].name, sizeof(jobs[i].name), "task-%d", i);
        jobs[i].use_lock = use_lock;
        t[i] = cio_spawn(increment, &jobs[i]);
        if (!t[i])
            return -ENOMEM;
    }
    int err = cio_gather(t, 5, 0);
    for (int i = 0; i < 5; i++)
        cio_join(t[i]);
    return err;
}

static int story(void *arg)
{
    (void)arg;
    cio_lock_init(&lock);
    printf("== with the lock ==\n");
    int err = run_five(1);
    printf("Final counter: %d\n", counter);
    if (err)
        return err;
    printf("== without it ==\n");
    err = run_five(0);
    printf("Final counter: %d (lost updates: %d)\n", counter, 5 - counter);
    cio_lock_destroy(&lock);
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
