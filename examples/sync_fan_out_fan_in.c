/* sync_fan_out_fan_in — dispatch work to many tasks, collect results as they
 * arrive.
 *
 *     sem = asyncio.Semaphore(5)
 *
 *     async def process_item(item_id, results):       # fan-out
 *         async with sem:
 *             await asyncio.sleep(0.1 * (1 + item_id % 3))
 *         await results.put(ProcessedItem(item_id, f"result-{item_id}"))
 *
 *     async def consumer(results, total):              # fan-in
 *         for _ in range(total):
 *             item = await results.get()
 *             print(f"  [{item.id}] {item.value}")
 *             results.task_done()
 *
 *     results = asyncio.Queue()
 *     producers = [asyncio.create_task(process_item(i, results)) for i in range(20)]
 *     consumer_task = asyncio.create_task(consumer(results, 20))
 *     await asyncio.gather(*producers)
 *     await consumer_task
 *     print(f"Processed {len(summary)} items")
 *
 * The guide's batch pattern and its API-client project in one: twenty tasks
 * fan out (at most five at a time, through a semaphore), each puts its result
 * on a queue, and one consumer fans them in in the order they finish. */
#include "example.h"

#define NITEMS 20
#define MAX_CONCURRENT 5

typedef struct processed {
    int id;
    char value[24];
} processed;

static cio_sem sem;
static cio_queue results;
static processed items[NITEMS];

static int process_item(void *arg)
{
    processed *p = arg;
    int err = cio_sem_acquire(&sem);
    if (err)
        return err;
    err = cio_sleep(S(0.1 * (1 + p->id % 3)));
    cio_sem_release(&sem);
    if (err)
        return err;
    snprintf(p->value, sizeof(p->value), "result-%d", p->id);
    return cio_queue_put(&results, p);
}

static long id_sum;

static int consumer(void *arg)
{
    int total = *(int *)arg;
    for (int i = 0; i < total; i++) {
        void *v;
        int err = cio_queue_get(&results, &v);
        if (err)
            return err;
        processed *p = v;
        printf("  [%d] %s (at %.2f s)\n", p->id, p->value, elapsed());
        id_sum += p->id;
        cio_queue_task_done(&results);
    }
    return 0;
}

static int story(void *arg)
{
    (void)arg;
    cio_sem_init(&sem, MAX_CONCURRENT);
    int err = cio_queue_init(&results, 0);
    if (err)
        return err;
    cio_task *producers[NITEMS];
    for (int i = 0; i < NITEMS; i++) {
        items[i].id = i;
        producers[i] = cio_spawn(process_item, &items[i]);
    }
    int total = NITEMS;
    cio_task *c = cio_spawn(consumer, &total);
    err = cio_gather(producers, NITEMS, 0);
    for (int i = 0; i < NITEMS; i++)
        cio_join(producers[i]);
    int cerr = cio_join(c);
    printf("Processed %d items (ids sum to %ld) in %.2f s\n", NITEMS, id_sum, elapsed());
    cio_queue_destroy(&results);
    cio_sem_destroy(&sem);
    return err ? err : cerr;
}

int main(int argc, char **argv)
{
    example_init(argc, argv);
    int err = cio_run(story, NULL);
    if (err)
        fprintf(stderr, "failed: %s\n", cio_strerror(err));
    return err ? 1 : 0;
}
