/* run_in_executor — blocking calls on a thread pool while the loop goes on.
 *
 *     def blocking_task(n: int) -> int:
 *         time.sleep(n)              # a blocking library call we cannot change
 *         return n * n
 *
 *     async def main():
 *         loop = asyncio.get_running_loop()
 *         with ThreadPoolExecutor(max_workers=4) as pool:
 *             results = await asyncio.gather(
 *                 loop.run_in_executor(pool, blocking_task, 1),
 *                 loop.run_in_executor(pool, blocking_task, 2),
 *             )
 *         print(results)  # [1, 4]
 *         result = await loop.run_in_executor(None, blocking_task, 3)  # the default pool
 *
 * cio_executor_new(&pool, 4) is ThreadPoolExecutor(max_workers=4), and
 * cio_executor_run(pool, fn, arg) is `await loop.run_in_executor(pool, fn, arg)`;
 * the default pool is cio_to_thread. Arguments and results travel through
 * `arg`. A heartbeat task ticks every 0.1 s all along: it keeps ticking while
 * threads sleep, and stops dead while a blocking call runs on the loop itself,
 * which is the mistake executors exist to avoid. */
#include <unistd.h>

#include "example.h"

typedef struct blocking_job {
    int n;
    int result;
} blocking_job;

/* def blocking_task(n): time.sleep(n); return n * n — runs on a worker thread. */
static int blocking_task(void *arg)
{
    blocking_job *job = arg;
    usleep((useconds_t)(S(job->n) * 1e6));
    job->result = job->n * job->n;
    return 0;
}

static int ticks;

static int heartbeat(void *arg)
{
    (void)arg;
    while (cio_sleep(S(0.1)) == 0)
        ticks++;
    return 0;
}

typedef struct pool_call {
    cio_executor *pool;
    blocking_job job;
} pool_call;

/* `await loop.run_in_executor(pool, blocking_task, n)` as a task of its own,
 * so that two of them can be gathered. */
static int run_in_pool(void *arg)
{
    pool_call *c = arg;
    return cio_executor_run(c->pool, blocking_task, &c->job);
}

static int story(void *arg)
{
    (void)arg;
    cio_task *hb = cio_spawn(heartbeat, NULL);
    if (!hb)
        return -ENOMEM;

    printf("== gather two run_in_executor calls on a pool of 4 threads ==\n");
    cio_executor *pool;
    int err = cio_executor_new(&pool, 4);
    if (err)
        return err;
    pool_call calls[2] = {{pool, {1, 0}}, {pool, {2, 0}}};
    cio_task *t[2];
    int ticks0 = ticks;
    double t0 = cio_now();
    for (int i = 0; i < 2; i++)
        t[i] = cio_spawn(run_in_pool, &calls[i]);
    err = cio_gather(t, 2, 0);
    for (int i = 0; i < 2; i++)
        cio_join(t[i]);
    cio_executor_free(pool); /* leaving the `with` block: the threads stop */
    if (err)
        return err;
    printf("[%d, %d]\n", calls[0].job.result, calls[1].job.result);
    printf("pool took %.3f s (the longest call, 2 s, not the sum, 3 s)\n", cio_now() - t0);
    printf("heartbeat ticked %d times meanwhile\n", ticks - ticks0);

    printf("== run_in_executor(None, ...): the default executor (cio_to_thread) ==\n");
    blocking_job job = {3, 0};
    ticks0 = ticks;
    t0 = cio_now();
    err = cio_to_thread(blocking_task, &job);
    if (err)
        return err;
    printf("blocking_task(3) = %d after %.3f s\n", job.result, cio_now() - t0);
    printf("heartbeat ticked %d times meanwhile\n", ticks - ticks0);

    printf("== the mistake: calling blocking_task(1) on the loop ==\n");
    job.n = 1;
    ticks0 = ticks;
    t0 = cio_now();
    blocking_task(&job); /* no other task runs until it returns */
    printf("blocking_task(1) = %d after %.3f s\n", job.result, cio_now() - t0);
    printf("heartbeat ticked %d times meanwhile: the whole loop was frozen\n", ticks - ticks0);

    cio_cancel(hb);
    cio_join(hb);
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
