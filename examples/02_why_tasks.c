/* 02 — why tasks: awaiting one after another is sequential; asyncio.create_task
 * makes the waits overlap.
 *
 *     # sequential: ~3 s
 *     r1 = await fetch("users"); r2 = await fetch("posts"); r3 = await fetch("comments")
 *     # concurrent: ~1 s
 *     t1 = asyncio.create_task(fetch("users")); ...
 *     r1, r2, r3 = await t1, await t2, await t3
 *
 * In cio, calling fetch() directly is the sequential `await fetch()`;
 * cio_spawn is create_task and cio_join is `await task`. */
#include "example.h"

typedef struct fetch_job {
    const char *what;
    char response[64];
} fetch_job;

/* async def fetch(url): print("-> Fetching"); await asyncio.sleep(1); return "Response" */
static int fetch(void *arg)
{
    fetch_job *job = arg;
    printf("  -> Fetching %s\n", job->what);
    int err = cio_sleep(S(1)); /* stands in for a network round trip */
    if (err)
        return err;
    snprintf(job->response, sizeof(job->response), "Response from /%s", job->what);
    printf("  <- Got %s\n", job->what);
    return 0;
}

static int story(void *arg)
{
    (void)arg;
    fetch_job jobs[3] = {{"users", ""}, {"posts", ""}, {"comments", ""}};

    printf("sequential: await fetch() three times\n");
    double t0 = cio_now();
    for (int i = 0; i < 3; i++) {
        int err = fetch(&jobs[i]); /* one finishes before the next starts */
        if (err)
            return err;
    }
    double sequential = cio_now() - t0;
    printf("sequential took %.3f s\n", sequential);

    printf("concurrent: create_task three times, then await each\n");
    t0 = cio_now();
    cio_task *t[3];
    for (int i = 0; i < 3; i++) {
        t[i] = cio_spawn(fetch, &jobs[i]); /* scheduled; starts when we suspend */
        if (!t[i])
            return -ENOMEM; /* (a real program would cancel and join t[0..i) first) */
    }
    int err = 0;
    for (int i = 0; i < 3; i++) {
        int status = cio_join(t[i]); /* await t: its status; releases the handle */
        if (status && !err)
            err = status;
    }
    double concurrent = cio_now() - t0;
    printf("concurrent took %.3f s\n", concurrent);
    for (int i = 0; i < 3; i++)
        printf("  %s\n", jobs[i].response);
    printf("tasks were %.1fx faster\n", sequential / concurrent);
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
