/* Executors: worker threads for blocking functions (run_in_executor,
 * to_thread, files on epoll).
 *
 * A job lives on the waiting task's stack. The task queues it under the
 * executor's mutex and parks; a worker runs it and hands it back to the
 * task's loop with cio_call_soon_threadsafe, whose callback wakes the task.
 * While a job is out, the loop holds a reference (cio_loop_ref), so a loop
 * whose only task waits for a thread is not taken for deadlocked. */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "io_internal.h"

typedef struct job {
    struct job *next;
    cio_fn fn;
    void *arg;
    int status;
    cio_loop *loop;
    cio_task *task;
} job;

struct cio_executor {
    pthread_mutex_t lock;
    pthread_cond_t work;
    job *head, *tail;
    size_t max_threads, nthreads, idle;
    pthread_t *threads;
    int stopping;
};

static void job_done(void *arg)
{
    job *j = arg;
    cio_loop_unref();
    cio__wake(j->task, 0);
}

static void *worker(void *arg)
{
    cio_executor *ex = arg;
    pthread_mutex_lock(&ex->lock);
    for (;;) {
        while (!ex->head && !ex->stopping) {
            ex->idle++;
            pthread_cond_wait(&ex->work, &ex->lock);
            ex->idle--;
        }
        job *j = ex->head;
        if (!j)
            break; /* stopping and drained */
        ex->head = j->next;
        if (!ex->head)
            ex->tail = NULL;
        pthread_mutex_unlock(&ex->lock);
        j->status = j->fn(j->arg);
        /* The loop outlives the job: it holds a reference until job_done. If
         * the hand-off cannot be queued (out of memory), retry: the task must
         * not be left parked. */
        while (cio_call_soon_threadsafe(j->loop, job_done, j) == -ENOMEM)
            usleep(1000);
        pthread_mutex_lock(&ex->lock);
    }
    pthread_mutex_unlock(&ex->lock);
    return NULL;
}

int cio_executor_new(cio_executor **out, size_t threads)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (size_t)n : 1;
    }
    cio_executor *ex = calloc(1, sizeof(*ex));
    if (!ex)
        return -ENOMEM;
    ex->threads = calloc(threads, sizeof(*ex->threads));
    if (!ex->threads) {
        free(ex);
        return -ENOMEM;
    }
    ex->max_threads = threads;
    pthread_mutex_init(&ex->lock, NULL);
    pthread_cond_init(&ex->work, NULL);
    *out = ex;
    return 0;
}

/* Queues j; starts a thread if none is idle and the limit allows. */
static int enqueue(cio_executor *ex, job *j)
{
    int err = 0;
    pthread_mutex_lock(&ex->lock);
    if (ex->stopping) {
        err = -ESHUTDOWN;
    } else {
        j->next = NULL;
        if (ex->tail)
            ex->tail->next = j;
        else
            ex->head = j;
        ex->tail = j;
        if (ex->idle == 0 && ex->nthreads < ex->max_threads &&
            pthread_create(&ex->threads[ex->nthreads], NULL, worker, ex) == 0)
            ex->nthreads++;
        if (ex->nthreads == 0) { /* could not start any thread */
            ex->head = ex->tail = NULL;
            err = -EAGAIN;
        } else {
            pthread_cond_signal(&ex->work);
        }
    }
    pthread_mutex_unlock(&ex->lock);
    return err;
}

int cio_executor_run(cio_executor *ex, cio_fn fn, void *arg)
{
    if (!ex || !fn)
        return -EINVAL;
    cio_task *self;
    int reason = cio__checkpoint(&self);
    if (!self)
        return -EPERM;
    if (reason)
        return reason;
    job j = {.fn = fn, .arg = arg, .loop = self->loop, .task = self};
    cio_loop_ref();
    int err = enqueue(ex, &j);
    if (err) {
        cio_loop_unref();
        return err;
    }
    /* Uncancellable: the thread may still be using arg. */
    cio__park(self, "executor", ex, NULL, NULL);
    reason = cio__cancel_reason(self);
    return reason ? reason : j.status;
}

void cio_executor_free(cio_executor *ex)
{
    if (!ex)
        return;
    pthread_mutex_lock(&ex->lock);
    ex->stopping = 1;
    pthread_cond_broadcast(&ex->work);
    pthread_mutex_unlock(&ex->lock);
    for (size_t i = 0; i < ex->nthreads; i++)
        pthread_join(ex->threads[i], NULL);
    pthread_mutex_destroy(&ex->lock);
    pthread_cond_destroy(&ex->work);
    free(ex->threads);
    free(ex);
}

/* ---- process-wide executors ---- */

static cio_executor *default_executor, *file_executor;
static pthread_once_t default_once = PTHREAD_ONCE_INIT, file_once = PTHREAD_ONCE_INIT;

static void free_shared(void)
{
    cio_executor_free(default_executor);
    cio_executor_free(file_executor);
    default_executor = file_executor = NULL;
}

static void make_default(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    size_t threads = n > 4 ? (size_t)n : 4;
    if (cio_executor_new(&default_executor, threads) == 0)
        atexit(free_shared);
}

static void make_file(void)
{
    if (cio_executor_new(&file_executor, 4) == 0 && !default_executor)
        atexit(free_shared);
}

int cio_to_thread(cio_fn fn, void *arg)
{
    pthread_once(&default_once, make_default);
    if (!default_executor)
        return -ENOMEM;
    return cio_executor_run(default_executor, fn, arg);
}

cio_executor *cio__file_executor(void)
{
    pthread_once(&file_once, make_file);
    return file_executor;
}
