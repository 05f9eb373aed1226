/* sync_semaphore — asyncio.Semaphore limiting how many run at once.
 *
 *     sem = asyncio.Semaphore(3)   # at most 3 concurrent fetches
 *
 *     async def fetch(session_id):
 *         async with sem:
 *             print(f" Session {session_id}: fetching")
 *             await asyncio.sleep(0.5)
 *             return f"data-{session_id}"
 *
 *     results = await asyncio.gather(*[fetch(i) for i in range(10)])
 *     print(f"Total results: {len(results)}")
 *
 * Ten tasks start at once; the semaphore lets three in, and each release lets
 * the next waiter in, in order. The output counts who is inside: never more
 * than three, so the ten fetches take four rounds of 0.5 s. */
#include "example.h"

static cio_sem sem;
static int in_flight, peak;

typedef struct session {
    int id;
    char data[16];
} session;

static int fetch(void *arg)
{
    session *s = arg;
    int err = cio_sem_acquire(&sem);
    if (err)
        return err;
    in_flight++;
    if (in_flight > peak)
        peak = in_flight;
    printf(" Session %d: fetching (%d in flight, at %.2f s)\n", s->id, in_flight, elapsed());
    err = cio_sleep(S(0.5));
    snprintf(s->data, sizeof(s->data), "data-%d", s->id);
    in_flight--;
    cio_sem_release(&sem);
    return err;
}

static int story(void *arg)
{
    (void)arg;
    cio_sem_init(&sem, 3);
    session s[10];
    cio_task *t[10];
    for (int i = 0; i < 10; i++) {
        s[i].id = i;
        t[i] = cio_spawn(fetch, &s[i]);
    }
    int err = cio_gather(t, 10, 0);
    int n = 0;
    for (int i = 0; i < 10; i++)
        n += cio_join(t[i]) == 0;
    printf("Total results: %d (%s ... %s)\n", n, s[0].data, s[9].data);
    printf("At most %d at once; took %.2f s\n", peak, elapsed());
    cio_sem_destroy(&sem);
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
