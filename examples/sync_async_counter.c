/* sync_async_counter — an async iterator (__aiter__ / __anext__).
 *
 *     class AsyncCounter:
 *         def __init__(self, stop):
 *             self.current = 0
 *             self.stop = stop
 *         def __aiter__(self):
 *             return self
 *         async def __anext__(self) -> int:
 *             if self.current >= self.stop:
 *                 raise StopAsyncIteration
 *             await asyncio.sleep(0.1)  # simulate async data source
 *             value = self.current
 *             self.current += 1
 *             return value
 *
 *     async for value in AsyncCounter(5):
 *         print(value)
 *
 * In C an async iterator needs no machinery: a struct for its state and a
 * `next` function that may suspend, returning 0 with a value or -ENOENT at
 * the end — the same protocol as cio_gen_next. Other tasks run while it
 * sleeps, as the ticker shows. */
#include "example.h"

typedef struct async_counter {
    int current;
    int stop;
} async_counter;

/* __anext__: 0 and *value, -ENOENT at the end, or the cancel reason. */
static int async_counter_next(async_counter *c, int *value)
{
    if (c->current >= c->stop)
        return -ENOENT;          /* StopAsyncIteration */
    int err = cio_sleep(S(0.1)); /* simulate async data source */
    if (err)
        return err;
    *value = c->current++;
    return 0;
}

static int ticker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 2; i++) {
        if (cio_sleep(S(0.25)))
            return 0;
        printf("  (ticker: the loop is free while the counter waits, at %.2f s)\n", elapsed());
    }
    return 0;
}

static int story(void *arg)
{
    (void)arg;
    cio_task *t = cio_spawn(ticker, NULL);
    async_counter counter = {0, 5};
    int value, err;
    while ((err = async_counter_next(&counter, &value)) == 0)
        printf("%d (at %.2f s)\n", value, elapsed());
    printf("done: %s\n", errname(err));
    cio_join(t);
    return err == -ENOENT ? 0 : err;
}

int main(int argc, char **argv)
{
    example_init(argc, argv);
    int err = cio_run(story, NULL);
    if (err)
        fprintf(stderr, "failed: %s\n", cio_strerror(err));
    return err ? 1 : 0;
}
