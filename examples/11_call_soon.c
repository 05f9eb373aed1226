/* 11 — loop.call_soon, loop.call_later, loop.call_soon_threadsafe.
 *
 *     loop = asyncio.get_running_loop()
 *     loop.call_soon(callback, "first")
 *     loop.call_soon(callback, "second")
 *     loop.call_later(0.2, callback, "later")
 *     handle = loop.call_later(0.1, callback, "never"); handle.cancel()
 *
 *     def worker():                       # in another thread
 *         time.sleep(0.1)
 *         loop.call_soon_threadsafe(fut.set_result, 42)
 *     threading.Thread(target=worker).start()
 *     print(await fut)
 *
 * A callback runs on the loop outside any task: it must not suspend (a
 * suspending call in it returns -EPERM). Callbacks share the ready queue with
 * tasks, so they run in asyncio's order: after what was already ready.
 * cio_call_soon_threadsafe is the only cio call another thread may make.
 *
 * cio's core has no future object. To wait for the thread's answer, main waits
 * in a timeout scope that the callback cancels: woken by the answer the scope
 * exits with -ECANCELED, and if no answer came it exits with -ETIMEDOUT. (With
 * cio's sync module an event does the same job; see examples/sync_*.) */
#include <pthread.h>
#include <time.h>

#include "example.h"

static void say(void *arg)
{
    printf("callback: %s (%.2f s; in a task? %s)\n", (const char *)arg, elapsed(),
           cio_current() ? "yes" : "no");
}

typedef struct answer {
    cio_loop *loop; /* where to deliver the result */
    cio_scope wait; /* main waits in it; the delivery cancels it */
    int value;      /* written by the callback, on the loop's thread */
    int computed;   /* written by the thread, read by the callback */
} answer;

/* Runs on the loop's thread, called by the worker thread's request. */
static void deliver(void *arg)
{
    answer *a = arg;
    a->value = a->computed;
    printf("callback on the loop thread: the answer is %d (%.2f s)\n", a->value, elapsed());
    cio_scope_cancel(&a->wait); /* wake main */
}

static void *worker(void *arg)
{
    answer *a = arg;
    double d = S(0.1);
    struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
    nanosleep(&ts, NULL); /* blocking work: fine on its own thread */
    a->computed = 42;
    int err = cio_call_soon_threadsafe(a->loop, deliver, a);
    if (err)
        fprintf(stderr, "call_soon_threadsafe: %s\n", cio_strerror(err));
    return NULL;
}

static int story(void *arg)
{
    (void)arg;
    printf("== call_soon and call_later ==\n");
    cio_call_soon(say, "first");
    cio_call_soon(say, "second");
    cio_call_later(S(0.2), say, "later");
    cio_handle *never = cio_call_later(S(0.1), say, "never");
    cio_handle_cancel(never);
    printf("scheduled; they run once main suspends\n");
    int err = cio_sleep(S(0.3));
    if (err)
        return err;

    printf("== call_soon_threadsafe from a pthread ==\n");
    answer a = {.loop = cio_loop_current()};
    err = cio_timeout_enter(&a.wait, 5.0); /* at most 5 s (unscaled) for the answer */
    if (err)
        return err;
    cio_loop_ref(); /* a thread may still wake us: an idle loop is not a deadlock */
    pthread_t th;
    if (pthread_create(&th, NULL, worker, &a) != 0) {
        cio_loop_unref();
        cio_timeout_exit(&a.wait);
        return -EAGAIN;
    }
    printf("main waits for the thread's answer\n");
    cio_sleep(CIO_FOREVER);          /* until deliver() cancels the scope */
    err = cio_timeout_exit(&a.wait); /* -ECANCELED: answered; -ETIMEDOUT: not */
    cio_loop_unref();
    pthread_join(th, NULL); /* it has finished, or is about to */
    if (err != -ECANCELED) {
        printf("no answer: %s\n", errname(err));
        return err;
    }
    printf("main got %d from the thread\n", a.value);
    return 0;
}

int main(int argc, char **argv)
{
    example_init(argc, argv);
    int err = cio_run(story, NULL);
    if (err)
        fprintf(stderr, "failed: %s\n", cio_strerror(err));
    return err ? 1 : 0;
}
