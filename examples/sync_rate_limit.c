/* sync_rate_limit — rate-limited fetches with a semaphore.
 *
 *     MAX_CONCURRENT = 5
 *     DELAY_BETWEEN = 0.1  # seconds
 *     sem = asyncio.Semaphore(MAX_CONCURRENT)
 *
 *     async def rate_limited_fetch(url):
 *         async with sem:
 *             result = f"data from {url}"
 *             await asyncio.sleep(DELAY_BETWEEN)
 *             return result
 *
 *     urls = [f"https://api.example.com/item/{i}" for i in range(30)]
 *     start = time.perf_counter()
 *     results = await asyncio.gather(*[rate_limited_fetch(url) for url in urls])
 *     print(f"Fetched {len(results)} items in {time.perf_counter() - start:.2f}s")
 *
 * Thirty requests, five at a time, each holding its permit for 0.1 s: six
 * rounds, so about 0.6 s — at most 50 requests per second reach the API. */
#include "example.h"

#define MAX_CONCURRENT 5
#define DELAY_BETWEEN 0.1
#define NURLS 30

static cio_sem sem;

typedef struct request {
    char url[48];
    char result[64];
    double started;
} request;

static int rate_limited_fetch(void *arg)
{
    request *r = arg;
    int err = cio_sem_acquire(&sem);
    if (err)
        return err;
    r->started = elapsed();
    snprintf(r->result, sizeof(r->result), "data from %s", r->url);
    err = cio_sleep(S(DELAY_BETWEEN));
    cio_sem_release(&sem);
    return err;
}

static int story(void *arg)
{
    (void)arg;
    cio_sem_init(&sem, MAX_CONCURRENT);
    static request reqs[NURLS];
    cio_task *t[NURLS];
    double start = cio_now();
    for (int i = 0; i < NURLS; i++) {
        snprintf(reqs[i].url, sizeof(reqs[i].url), "https://api.example.com/item/%d", i);
        t[i] = cio_spawn(rate_limited_fetch, &reqs[i]);
    }
    int err = cio_gather(t, NURLS, 0);
    int n = 0;
    for (int i = 0; i < NURLS; i++)
        n += cio_join(t[i]) == 0;
    double took = cio_now() - start;
    for (int round = 0; round < NURLS / MAX_CONCURRENT; round++) {
        int first = round * MAX_CONCURRENT;
        printf("  round %d: items %d-%d started at %.2f s\n", round + 1, first,
               first + MAX_CONCURRENT - 1, reqs[first].started);
    }
    printf("%s\n", reqs[NURLS - 1].result);
    printf("Fetched %d items in %.2fs\n", n, took);
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
