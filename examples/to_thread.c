/* to_thread — running blocking code without freezing the loop.
 *
 *     def blocking_io():
 *         time.sleep(2)
 *         return 'result from blocking call'
 *
 *     async def main():
 *         print('Start async part')
 *         await asyncio.sleep(1)
 *         result = await asyncio.to_thread(blocking_io)
 *         print('Got:', result)
 *         print('Continue with other async work')
 *
 * cio_to_thread(fn, arg) is `await asyncio.to_thread(fn)`: fn runs on the
 * default worker pool and the task waits without blocking the loop, so
 * another task keeps doing its async work meanwhile (it prints a tick every
 * half second here).
 *
 * Then a difference from asyncio worth knowing: a thread cannot be
 * interrupted, and fn's argument usually lives on the waiting task's stack,
 * so a to_thread under a timeout still waits for fn to return before it
 * reports the timeout. asyncio's wait_for returns at the deadline and leaves
 * the thread running, unsupervised. */
#include <unistd.h>

#include "example.h"

typedef struct io_job {
    double seconds;
    char result[64];
} io_job;

/* def blocking_io(): time.sleep(2); return 'result from blocking call' */
static int blocking_io(void *arg)
{
    io_job *job = arg;
    usleep((useconds_t)(S(job->seconds) * 1e6));
    snprintf(job->result, sizeof(job->result), "result from blocking call");
    return 0;
}

static int ticks;

static int other_async_work(void *arg)
{
    (void)arg;
    while (cio_sleep(S(0.5)) == 0) {
        ticks++;
        printf("  other task: tick %d at %.3f s\n", ticks, elapsed());
    }
    return 0;
}

static int story(void *arg)
{
    (void)arg;
    cio_task *other = cio_spawn(other_async_work, NULL);
    if (!other)
        return -ENOMEM;
    printf("Start async part\n");
    int err = cio_sleep(S(1));
    if (err)
        return err;
    int ticks0 = ticks;
    io_job job = {2, ""};
    double t0 = cio_now();
    err = cio_to_thread(blocking_io, &job);
    if (err)
        return err;
    printf("Got: %s (to_thread took %.3f s, done at %.3f s)\n", job.result, cio_now() - t0,
           elapsed());
    printf("the other task ticked %d times while the thread blocked\n", ticks - ticks0);
    printf("Continue with other async work\n");

    printf("== to_thread under a 0.5 s timeout ==\n");
    io_job slow = {1, ""};
    cio_scope s;
    t0 = cio_now();
    err = cio_timeout_enter(&s, S(0.5));
    if (err)
        return err;
    int r = cio_to_thread(blocking_io, &slow);
    int expired = cio_timeout_exit(&s);
    printf("to_thread returned %s after %.3f s (timeout fired: %s); the function had "
           "finished: \"%s\"\n",
           errname(r), cio_now() - t0, expired ? "yes" : "no", slow.result);

    cio_cancel(other);
    cio_join(other);
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
