/* sync_queue_join — a bounded queue with task_done and join.
 *
 *     async def producer(queue, items):
 *         for item in items:
 *             await asyncio.sleep(0.2)
 *             await queue.put(item)
 *             print(f"Produced: {item}")
 *         await queue.put(None)  # sentinel to signal done
 *
 *     async def consumer(queue, name):
 *         while True:
 *             item = await queue.get()
 *             if item is None:
 *                 queue.task_done()
 *                 break
 *             await asyncio.sleep(0.3)  # simulate processing
 *             print(f"{name} consumed: {item}")
 *             queue.task_done()
 *
 *     queue = asyncio.Queue(maxsize=3)
 *     await asyncio.gather(producer(queue, items), consumer(queue, "Consumer-A"))
 *
 * Here the producer is faster than the consumer, so the queue fills up to its
 * maxsize of 3 and the producer's put waits for room: the producer is paced by
 * the consumer (back-pressure). Then, instead of a sentinel, a second round
 * uses cio_queue_join (wait until every item was marked done) and Python
 * 3.13's shutdown, which ends the consumer's get with -ESHUTDOWN. */
#include "example.h"

static cio_queue queue;
static const char *items[] = {"job-1", "job-2", "job-3", "job-4", "job-5", "job-6", "job-7"};
#define NITEMS 7

static int producer(void *arg)
{
    int sentinel = *(int *)arg;
    for (int i = 0; i < NITEMS; i++) {
        int err = cio_sleep(S(0.1));
        if (!err)
            err = cio_queue_put(&queue, (void *)items[i]);
        if (err)
            return err;
        printf("Produced: %s (at %.2f s, %zu queued)\n", items[i], elapsed(),
               cio_queue_qsize(&queue));
    }
    return sentinel ? cio_queue_put(&queue, NULL) : 0;
}

static int consumer(void *arg)
{
    const char *name = arg;
    for (;;) {
        void *item;
        int err = cio_queue_get(&queue, &item);
        if (err == -ESHUTDOWN) {
            printf("%s: the queue was shut down (at %.2f s)\n", name, elapsed());
            return 0;
        }
        if (err)
            return err;
        if (!item) {
            cio_queue_task_done(&queue);
            break;
        }
        err = cio_sleep(S(0.3)); /* simulate processing */
        if (err)
            return err;
        printf("%s consumed: %s (at %.2f s)\n", name, (const char *)item, elapsed());
        cio_queue_task_done(&queue);
    }
    return 0;
}

static int story(void *arg)
{
    (void)arg;
    int err = cio_queue_init(&queue, 3);
    if (err)
        return err;
    printf("== maxsize=3, a sentinel ends the consumer ==\n");
    int sentinel = 1;
    cio_task *t[2] = {cio_spawn(producer, &sentinel), cio_spawn(consumer, "Consumer-A")};
    err = cio_gather(t, 2, 0);
    cio_join(t[0]);
    cio_join(t[1]);
    if (err)
        return err;

    printf("== join, then shutdown ==\n");
    double t0 = cio_now();
    sentinel = 0;
    t[0] = cio_spawn(producer, &sentinel);
    t[1] = cio_spawn(consumer, "Consumer-B");
    err = cio_join(t[0]);
    printf("main: producer done at %.2f s; joining the queue\n", elapsed());
    if (!err)
        err = cio_queue_join(&queue);
    printf("main: all %d jobs processed (join returned after %.2f s)\n", NITEMS, cio_now() - t0);
    cio_queue_shutdown(&queue, 0);
    cio_join(t[1]);
    cio_queue_destroy(&queue);
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
