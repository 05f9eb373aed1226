/* 09 — asyncio.wait_for, asyncio.timeout, Timeout.reschedule, asyncio.timeout_at.
 *
 *     async def slow_operation():
 *         await asyncio.sleep(5)
 *         return "finally done"
 *
 *     try:
 *         result = await asyncio.wait_for(slow_operation(), timeout=2.0)
 *     except asyncio.TimeoutError:
 *         print("Operation timed out after 2 seconds")
 *
 *     try:
 *         async with asyncio.timeout(2.0):
 *             result = await slow_operation()
 *     except asyncio.TimeoutError:
 *         print("Block timed out")
 *
 * cio_wait_for runs the function inline under a deadline (a stackful task needs
 * no new task for it). A timeout scope is a struct on the stack between
 * cio_timeout_enter and cio_timeout_exit; inside it, once the deadline passes,
 * every suspending call returns -ETIMEDOUT, and the exit says whether it fired. */
#include "example.h"

typedef struct op {
    double seconds;
    char result[32];
} op;

static int slow_operation(void *arg)
{
    op *o = arg;
    int err = cio_sleep(S(o->seconds));
    if (err)
        return err; /* -ETIMEDOUT: unwind */
    snprintf(o->result, sizeof(o->result), "finally done");
    return 0;
}

/* Works in steps; after each one it pushes the deadline back (a keep-alive). */
static int stepwise(cio_scope *deadline, int steps)
{
    for (int i = 1; i <= steps; i++) {
        int err = cio_sleep(S(0.4));
        if (err)
            return err;
        cio_timeout_reschedule(deadline, S(1)); /* another second from now */
        printf("  step %d done at %.2f s; deadline moved to now + 1 s\n", i, elapsed());
    }
    return 0;
}

static int story(void *arg)
{
    (void)arg;
    printf("== wait_for(slow_operation(), timeout=2.0) ==\n");
    op o = {5, ""};
    double t0 = cio_now();
    int err = cio_wait_for(slow_operation, &o, S(2));
    if (err == -ETIMEDOUT)
        printf("Operation timed out after 2 seconds (%.2f s)\n", cio_now() - t0);
    else if (err)
        return err;

    printf("== wait_for(fast_operation(), timeout=2.0) ==\n");
    op fast = {0.5, ""};
    err = cio_wait_for(slow_operation, &fast, S(2));
    printf("returned %s: \"%s\"\n", errname(err), fast.result);
    if (err)
        return err;

    printf("== async with asyncio.timeout(2.0) ==\n");
    t0 = cio_now();
    cio_scope s;
    err = cio_timeout_enter(&s, S(2));
    if (err)
        return err;
    int inner = slow_operation(&o); /* -ETIMEDOUT once the deadline passes */
    err = cio_timeout_exit(&s);     /* -ETIMEDOUT: the scope's deadline fired */
    if (err == -ETIMEDOUT)
        printf("Block timed out (%.2f s; inside it the sleep returned %s)\n", cio_now() - t0,
               errname(inner));
    else if (err)
        return err;

    printf("== reschedule: a 1 s deadline kept alive by progress ==\n");
    t0 = cio_now();
    err = cio_timeout_enter(&s, S(1));
    if (err)
        return err;
    inner = stepwise(&s, 4); /* 1.6 s in all, never 1 s without progress */
    err = cio_timeout_exit(&s);
    printf("finished %s after %.2f s (exit: %s)\n", inner ? "early" : "every step", cio_now() - t0,
           errname(err));
    if (err)
        return err;

    printf("== async with asyncio.timeout_at(loop.time() + 0.5) ==\n");
    t0 = cio_now();
    err = cio_timeout_at_enter(&s, cio_now() + S(0.5));
    if (err)
        return err;
    inner = slow_operation(&o);
    err = cio_timeout_exit(&s);
    printf("timeout_at: exit %s after %.2f s (sleep returned %s)\n", errname(err), cio_now() - t0,
           errname(inner));
    return err == -ETIMEDOUT ? 0 : -EPROTO;
}

int main(int argc, char **argv)
{
    example_init(argc, argv);
    int err = cio_run(story, NULL);
    if (err)
        fprintf(stderr, "failed: %s\n", cio_strerror(err));
    return err ? 1 : 0;
}
