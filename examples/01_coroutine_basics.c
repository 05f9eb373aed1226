/* 01 — coroutines: `async def`, `await`, asyncio.run().
 *
 *     async def greet():
 *         print("Hello")
 *         await asyncio.sleep(1)
 *         print("World")
 *
 *     asyncio.run(greet())
 *
 * In cio a coroutine is an ordinary C function `int fn(void *arg)` run as a
 * task. A suspending call (cio_sleep here) parks the task and lets the loop run
 * others; there is no `await` keyword because the task has its own stack.
 * "Awaiting a coroutine" from another one (`data = await fetch_data()`) is
 * therefore just a function call: it runs inline, in the caller's task. */
#include "example.h"

static int greet(void *arg)
{
    (void)arg;
    printf("Hello\n");
    int err = cio_sleep(S(1)); /* await asyncio.sleep(1) */
    if (err)
        return err;
    printf("World (after %.2f s)\n", elapsed());
    return 0;
}

/* async def fetch_data(): await asyncio.sleep(2); return "Data Received"
 * The result travels through an out-parameter; the return value is the status. */
static int fetch_data(char *out, size_t size)
{
    int err = cio_sleep(S(2));
    if (err)
        return err;
    snprintf(out, size, "Data Received");
    return 0;
}

/* async def process_data(): data = await fetch_data(); print(f"Result: {data}") */
static int process_data(void *arg)
{
    (void)arg;
    printf("Fetching...\n");
    char data[32];                            /* a stack buffer is safe: it outlives every wait */
    int err = fetch_data(data, sizeof(data)); /* `await fetch_data()`: a call */
    if (err)
        return err;
    printf("Result: %s (after %.2f s)\n", data, elapsed());
    return 0;
}

/* async def compute(n): await asyncio.sleep(n * 0.1); return n * n */
static int compute(int n, int *result)
{
    int err = cio_sleep(S(n * 0.1));
    if (err)
        return err;
    *result = n * n;
    return 0;
}

static int inline_call(void *arg)
{
    (void)arg;
    int r = 0;
    int err = compute(2, &r); /* result_inline = await compute(2) */
    printf("compute(2) called inline -> %d, status %s\n", r, errname(err));
    return err;
}

int main(int argc, char **argv)
{
    example_init(argc, argv);

    printf("== asyncio.run(greet()) ==\n");
    int err = cio_run(greet, NULL); /* a loop, the task, then the loop closes */

    printf("== awaiting a coroutine is a function call ==\n");
    if (!err)
        err = cio_run(process_data, NULL); /* asyncio.run may run again, so may cio_run */
    if (!err)
        err = cio_run(inline_call, NULL);

    if (err) {
        fprintf(stderr, "failed: %s\n", cio_strerror(err));
        return 1;
    }
    printf("done in %.2f s\n", elapsed());
    return 0;
}
