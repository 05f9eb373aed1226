/* The demo: three one-second waits, awaited one after another and then as
 * concurrent tasks. The HTTP issue replaces this with the API-client demo. */
#include <stdio.h>

#include "cio.h"

static int wait_one_second(void *arg)
{
    printf("  %s: waiting 1 s\n", (const char *)arg);
    int err = cio_sleep(1.0);
    printf("  %s: done\n", (const char *)arg);
    return err;
}

static int demo(void *arg)
{
    (void)arg;
    const char *names[] = {"users", "posts", "comments"};
    printf("one after another:\n");
    double t0 = cio_now();
    for (int i = 0; i < 3; i++)
        wait_one_second((void *)names[i]);
    double sequential = cio_now() - t0;
    printf("took %.2f s\n\nas three tasks, gathered:\n", sequential);
    t0 = cio_now();
    cio_task *tasks[3];
    for (int i = 0; i < 3; i++)
        tasks[i] = cio_spawn(wait_one_second, (void *)names[i]);
    int err = cio_gather(tasks, 3, 0);
    for (int i = 0; i < 3; i++)
        cio_join(tasks[i]);
    double concurrent = cio_now() - t0;
    printf("took %.2f s (%.1fx faster)\n", concurrent, sequential / concurrent);
    return err;
}

int main(void)
{
    int err = cio_run(demo, NULL);
    if (err)
        fprintf(stderr, "demo failed: %s\n", cio_strerror(err));
    return err ? 1 : 0;
}
