/* Executors: worker threads for blocking functions (run_in_executor,
 * to_thread, files on epoll).
 *
 * A job lives on the waiting task's stack. The task puts it in its thread's
 * outbox and parks; a call_soon callback, scheduled by the first job put
 * there, queues every job of the outbox under the executor's mutex at once
 * and wakes as many workers. A worker runs a job and pushes it onto the inbox
 * of the task's loop thread, a lock-free stack of finished jobs. Only the
 * worker that finds the inbox empty calls cio_call_soon_threadsafe (a mutex
 * and an eventfd write); that callback takes every job in the inbox at once
 * and wakes their tasks. So a busy loop pays one lock and one wakeup per
 * batch each way instead of per job (W10: about half the CPU time of
 * libuv's uv_queue_work). While a job is out, the loop holds a reference
 * (cio_loop_ref), so a loop whose only task waits for a thread is not taken
 * for deadlocked.
 *
 * Worker threads block every signal: signals are for the program's threads
 * (and a signal set, cio/signal.h, needs them blocked everywhere else). */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "../core/alloc.h"
#include "io_internal.h"

struct inbox;

typedef struct job {
    struct job *next;
    cio_fn fn;
    void *arg;
    int status;
    int err; /* it could not be queued */
    cio_loop *loop;
    cio_task *task;
    cio_executor *ex;
    struct inbox *inbox;
} job;

/* Finished jobs of one loop thread, pushed by workers. A loop thread's jobs
 * all belong to its running loop: a loop cannot close while a task waits for
 * a job (the wait is uncancellable). */
typedef struct inbox {
    job *head;
} inbox;

static __thread inbox thread_inbox;

/* Jobs submitted during this step of the loop, queued together by one
 * call_soon callback: the tasks that one drain wakes submit their next jobs
 * with one lock and one wakeup of the workers between them. */
typedef struct outbox {
    job *head, *tail;
    int scheduled;
} outbox;

static __thread outbox thread_outbox;

struct cio_executor {
    pthread_mutex_t lock;
    pthread_cond_t work;
    job *head, *tail;
    size_t max_threads, nthreads, idle;
    pthread_t *threads;
    int stopping;
};

/* On the loop: wakes the tasks of every finished job, first finished first. */
static void inbox_drain(void *arg)
{
    inbox *in = arg;
    job *j = __atomic_exchange_n(&in->head, NULL, __ATOMIC_ACQUIRE);
    job *fifo = NULL;
    while (j) {
        job *next = j->next;
        j->next = fifo;
        fifo = j;
        j = next;
    }
    while (fifo) {
        job *next = fifo->next;
        cio_loop_unref();
        cio__wake(fifo->task, 0);
        fifo = next;
    }
}

/* On a worker: hands a finished job back to its loop. The job belongs to its
 * task again once pushed: nothing here touches it after that. */
static void job_finished(job *j)
{
    inbox *in = j->inbox;
    cio_loop *l = j->loop;
    job *old = __atomic_load_n(&in->head, __ATOMIC_RELAXED);
    do {
        j->next = old;
    } while (
        !__atomic_compare_exchange_n(&in->head, &old, j, 1, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
    if (old)
        return; /* the drain scheduled by the push that found it empty takes this one too */
    /* The loop outlives the job: it holds a reference until the drain. If the
     * call cannot be queued (out of memory), retry: the task must not be left
     * parked. */
    while (cio_call_soon_threadsafe(l, inbox_drain, in) == -ENOMEM)
        usleep(1000);
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
        job_finished(j);
        pthread_mutex_lock(&ex->lock);
    }
    pthread_mutex_unlock(&ex->lock);
    return NULL;
}

int cio_executor_new(cio_executor **out, size_t threads)
{
    if (!out)
        return cio__invalid(__func__);
    *out = NULL;
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (size_t)n : 1;
    }
    cio_executor *ex = cio__calloc(1, sizeof(*ex));
    if (!ex)
        return cio_fail(-ENOMEM, "cio_executor_new: out of memory");
    ex->threads = cio__calloc(threads, sizeof(*ex->threads));
    if (!ex->threads) {
        free(ex);
        return cio_fail(-ENOMEM, "cio_executor_new: out of memory for %zu threads", threads);
    }
    ex->max_threads = threads;
    pthread_mutex_init(&ex->lock, NULL);
    pthread_cond_init(&ex->work, NULL);
    *out = ex;
    return 0;
}

/* Starts a worker thread with every signal blocked (it inherits the mask). */
static int start_worker(cio_executor *ex)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = pthread_create(&ex->threads[ex->nthreads], NULL, worker, ex);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err;
}

/* Queues j (ex->lock held); starts a thread if none is idle and the limit
 * allows. Returns 0, -ESHUTDOWN, or -EAGAIN when no thread could start. */
static int enqueue_locked(cio_executor *ex, job *j)
{
    if (ex->stopping)
        return -ESHUTDOWN;
    if (ex->idle == 0 && ex->nthreads < ex->max_threads && start_worker(ex) == 0)
        ex->nthreads++;
    if (ex->nthreads == 0)
        return -EAGAIN;
    j->next = NULL;
    if (ex->tail)
        ex->tail->next = j;
    else
        ex->head = j;
    ex->tail = j;
    return 0;
}

/* On the loop: queues the jobs of the outbox, one lock per run of jobs for
 * the same executor. A job that cannot be queued wakes its task at once. */
static void outbox_flush(void *arg)
{
    outbox *o = arg;
    job *j = o->head, *failed = NULL;
    o->head = o->tail = NULL;
    o->scheduled = 0;
    while (j) {
        cio_executor *ex = j->ex;
        size_t queued = 0;
        pthread_mutex_lock(&ex->lock);
        while (j && j->ex == ex) {
            job *next = j->next;
            j->err = enqueue_locked(ex, j);
            if (j->err) {
                j->next = failed;
                failed = j;
            } else {
                queued++;
            }
            j = next;
        }
        if (queued >= ex->idle)
            pthread_cond_broadcast(&ex->work);
        else
            while (queued--)
                pthread_cond_signal(&ex->work);
        pthread_mutex_unlock(&ex->lock);
    }
    while (failed) {
        job *next = failed->next;
        cio_loop_unref();
        cio__wake(failed->task, 0);
        failed = next;
    }
}

/* A job that no thread took: says why. Returns err. */
static int queue_failed(int err)
{
    return cio_fail(err, "executor: %s",
                    err == -ESHUTDOWN ? "it is being freed"
                    : err == -EAGAIN  ? "no worker thread could start"
                                      : cio_strerror(err));
}

int cio_executor_run(cio_executor *ex, cio_fn fn, void *arg)
{
    if (!ex || !fn)
        return cio__invalid(__func__);
    cio_task *self;
    int reason = cio__checkpoint(&self);
    if (!self)
        return -EPERM;
    if (reason)
        return reason;
    job j = {
        .fn = fn, .arg = arg, .loop = self->loop, .task = self, .ex = ex, .inbox = &thread_inbox};
    cio_loop_ref();
    outbox *o = &thread_outbox;
    j.next = NULL;
    if (o->tail)
        o->tail->next = &j;
    else
        o->head = &j;
    o->tail = &j;
    if (!o->scheduled) {
        if (cio_call_soon(outbox_flush, o)) {
            o->scheduled = 1;
        } else {
            outbox_flush(o); /* no memory for the callback: queue now */
            if (j.err)
                return queue_failed(j.err); /* (the flush dropped the reference) */
        }
    }
    /* Uncancellable: the thread may still be using arg. */
    cio__park(self, "executor", ex, NULL, NULL);
    if (j.err)
        return queue_failed(j.err);
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

/* ---- process-wide executors ----
 *
 * to_thread's pool and the file pool are made on first use and torn down
 * (their threads joined) when the last loop of the process closes, so a
 * program that returns from cio_run leaves no thread behind: LeakSanitizer
 * then sees no thread-local state (OpenSSL's, say) of idle workers, and an
 * exit does not race them. A later loop makes them again. */

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static cio_executor *default_executor, *file_executor;
static size_t open_loops;

static void free_shared(void)
{
    pthread_mutex_lock(&shared_lock);
    cio_executor *d = default_executor, *f = file_executor;
    default_executor = file_executor = NULL;
    pthread_mutex_unlock(&shared_lock);
    cio_executor_free(d);
    cio_executor_free(f);
}

/* A forked child has none of the parent's worker threads, and its loops none
 * of the parent's jobs: the shared executors start afresh there. (Without
 * this, a child's first to_thread waited forever for threads that exist only
 * in the parent.) */
static void reset_in_child(cio_executor *ex)
{
    if (!ex)
        return;
    pthread_mutex_init(&ex->lock, NULL);
    pthread_cond_init(&ex->work, NULL);
    ex->head = ex->tail = NULL;
    ex->nthreads = ex->idle = 0;
    ex->stopping = 0;
}

static void shared_after_fork(void)
{
    pthread_mutex_init(&shared_lock, NULL);
    reset_in_child(default_executor);
    reset_in_child(file_executor);
}

static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

static void register_hooks(void)
{
    pthread_atfork(NULL, NULL, shared_after_fork);
    atexit(free_shared); /* threads outside any loop's life: a loop still open at exit */
}

/* The executor in *slot, made with `threads` threads on first use. */
static cio_executor *shared(cio_executor **slot, size_t threads)
{
    pthread_once(&hooks_once, register_hooks);
    pthread_mutex_lock(&shared_lock);
    if (!*slot)
        cio_executor_new(slot, threads);
    cio_executor *ex = *slot;
    pthread_mutex_unlock(&shared_lock);
    return ex;
}

void cio__executors_loop_opened(void)
{
    pthread_mutex_lock(&shared_lock);
    open_loops++;
    pthread_mutex_unlock(&shared_lock);
}

void cio__executors_loop_closed(void)
{
    pthread_mutex_lock(&shared_lock);
    int last = --open_loops == 0;
    pthread_mutex_unlock(&shared_lock);
    if (last)
        free_shared();
}

int cio_to_thread(cio_fn fn, void *arg)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    cio_executor *ex = shared(&default_executor, n > 4 ? (size_t)n : 4);
    if (!ex)
        return cio_fail(-ENOMEM, "cio_to_thread: out of memory for its pool");
    return cio_executor_run(ex, fn, arg);
}

cio_executor *cio__file_executor(void)
{
    return shared(&file_executor, 4);
}
