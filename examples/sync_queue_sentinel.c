/* sync_queue_sentinel — producer/consumer over asyncio.Queue, ended by a
 * sentinel.
 *
 *     async def producer(queue):
 *         for i in range(5):
 *             await queue.put(f"item-{i}")
 *             await asyncio.sleep(0.5)
 *         await queue.put(None)  # Signal done
 *
 *     async def consumer(queue):
 *         while True:
 *             item = await queue.get()
 *             if item is None:
 *                 break
 *             print(f"Consumed: {item}")
 *
 *     queue = asyncio.Queue()
 *     await asyncio.gather(producer(queue), consumer(queue))
 *
 * A cio_queue carries `void *` items; NULL makes a natural sentinel. (The
 * queue can also be shut down instead: see sync_queue_join.) */
#include "example.h"

static cio_queue queue;

static int producer(void *arg)
{
    (void)arg;
    static char items[5][16];
    for (int i = 0; i < 5; i++) {
        snprintf(items[i], sizeof(items[i]), "item-%d", i);
        int err = cio_queue_put(&queue, items[i]);
        if (!err)
            err = cio_sleep(S(0.5));
        if (err)
            return err;
    }
    return cio_queue_put(&queue, NULL); /* signal done */
}

static int consumer(void *arg)
{
    (void)arg;
    for (;;) {
        void *item;
        int err = cio_queue_get(&queue, &item);
        if (err)
            return err;
        if (!item)
            break;
        printf("Consumed: %s (at %.2f s)\n", (const char *)item, elapsed());
    }
    printf("Consumer: got the sentinel, done (at %.2f s)\n", elapsed());
    return 0;
}

static int story(void *arg)
{
    (void)arg;
    int err = cio_queue_init(&queue, 0); /* unbounded, like asyncio.Queue() */
    if (err)
        return err;
    cio_task *t[2] = {cio_spawn(producer, NULL), cio_spawn(consumer, NULL)};
    err = cio_gather(t, 2, 0);
    cio_join(t[0]);
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
