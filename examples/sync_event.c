/* sync_event — asyncio.Event as a start signal.
 *
 *     ready = asyncio.Event()
 *
 *     async def worker(name):
 *         print(f"{name}: waiting for start signal...")
 *         await ready.wait()
 *         print(f"{name}: got signal, starting work")
 *
 *     async def controller():
 *         await asyncio.sleep(1)
 *         print("Controller: signalling all workers")
 *         ready.set()
 *
 *     await asyncio.gather(worker("W1"), worker("W2"), worker("W3"), controller())
 *
 * One cio_event_set wakes every waiter, in the order they started waiting. */
#include "example.h"

static cio_event ready;

static int worker(void *arg)
{
    const char *name = arg;
    printf("%s: waiting for start signal...\n", name);
    int err = cio_event_wait(&ready);
    if (err)
        return err;
    printf("%s: got signal, starting work (at %.2f s)\n", name, elapsed());
    return 0;
}

static int controller(void *arg)
{
    (void)arg;
    int err = cio_sleep(S(1));
    if (err)
        return err;
    printf("Controller: signalling all workers (at %.2f s)\n", elapsed());
    return cio_event_set(&ready);
}

static int story(void *arg)
{
    (void)arg;
    cio_event_init(&ready);
    cio_task *t[4] = {cio_spawn(worker, "W1"), cio_spawn(worker, "W2"), cio_spawn(worker, "W3"),
                      cio_spawn(controller, NULL)};
    int err = cio_gather(t, 4, 0);
    for (int i = 0; i < 4; i++)
        cio_join(t[i]);
    cio_event_destroy(&ready);
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
