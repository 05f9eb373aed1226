/* sync_lock_demo — who holds the lock, and in what order the others get it.
 *
 *     lock = asyncio.Lock()
 *
 *     async def worker(name, work):
 *         print(f"{name}: waiting for the lock")
 *         async with lock:
 *             print(f"{name}: acquired")
 *             await asyncio.sleep(work)
 *             print(f"{name}: released")
 *
 *     await asyncio.gather(worker("A", 0.5), worker("B", 0.3), worker("C", 0.2))
 *
 * One task holds the lock at a time; the others wait in line and get it in
 * the order they asked (cio hands it over on release: nobody can barge in).
 * cio adds what asyncio leaves to luck: releasing a lock you do not hold
 * fails with -EPERM, acquiring it twice with -EDEADLK instead of hanging, and a
 * waiter that is cancelled leaves the line without taking the lock along. */
#include "example.h"

static cio_lock lock;

typedef struct worker_job {
    const char *name;
    double work;
} worker_job;

static int worker(void *arg)
{
    worker_job *job = arg;
    printf("%s: waiting for the lock (at %.2f s)\n", job->name, elapsed());
    int err = cio_lock_acquire(&lock);
    if (err) {
        printf("%s: gave up waiting: %s (at %.2f s)\n", job->name, errname(err), elapsed());
        return err;
    }
    printf("%s: acquired (at %.2f s)\n", job->name, elapsed());
    err = cio_sleep(S(job->work));
    printf("%s: released (at %.2f s)\n", job->name, elapsed());
    cio_lock_release(&lock);
    return err;
}

static int intruder(void *arg)
{
    (void)arg;
    int err = cio_lock_release(&lock);
    printf("intruder: releasing a lock it does not hold -> %s\n",
           err == -EPERM ? "-EPERM" : errname(err));
    return 0;
}

static int story(void *arg)
{
    (void)arg;
    cio_lock_init(&lock);
    worker_job jobs[4] = {{"A", 0.5}, {"B", 0.3}, {"C", 0.2}, {"D", 0.1}};
    cio_task *t[4];
    for (int i = 0; i < 4; i++)
        t[i] = cio_spawn(worker, &jobs[i]);
    cio_sleep(S(0.1));
    printf("main: lock held? %s\n", cio_lock_locked(&lock) ? "yes" : "no");
    cio_join(cio_spawn(intruder, NULL));
    printf("main: cancelling D, which waits behind B and C\n");
    cio_cancel(t[3]);
    int err = cio_gather(t, 3, 0);
    cio_join(t[3]);
    for (int i = 0; i < 3; i++)
        cio_join(t[i]);
    printf("main: all done at %.2f s; lock held? %s\n", elapsed(),
           cio_lock_locked(&lock) ? "yes" : "no");
    cio_lock_acquire(&lock);
    err = cio_lock_acquire(&lock);
    printf("main: acquiring it twice -> %s (asyncio would hang)\n",
           err == -EDEADLK ? "-EDEADLK" : errname(err));
    cio_lock_release(&lock);
    cio_lock_destroy(&lock);
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
