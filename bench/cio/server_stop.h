/* For bench servers: serve until SIGTERM or SIGINT. A thread waits for the
 * signal with sigwait and asks the loop to cancel the main task through
 * cio_call_soon_threadsafe (the one cio call another thread may make). */
#ifndef CIO_BENCH_SERVER_STOP_H
#define CIO_BENCH_SERVER_STOP_H

#include <pthread.h>
#include <signal.h>

#include "cio.h"

static cio_loop *stop_loop;
static cio_task *stop_task;

static void stop_now(void *arg)
{
    (void)arg;
    cio_cancel(stop_task);
}

static void *stop_waiter(void *arg)
{
    sigset_t *set = arg;
    int sig;
    sigwait(set, &sig);
    cio_call_soon_threadsafe(stop_loop, stop_now, NULL);
    return NULL;
}

/* Call from the main task before serving; then wait (e.g. cio_sleep(CIO_FOREVER))
 * until cancelled. The loop is kept from looking deadlocked meanwhile. */
static inline void stop_on_signal(void)
{
    static sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    stop_loop = cio_loop_current();
    stop_task = cio_current();
    pthread_t t;
    pthread_create(&t, NULL, stop_waiter, &set);
    pthread_detach(t);
    cio_loop_ref();
}

#endif
