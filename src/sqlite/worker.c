/* The worker threads: their queues, how a worker takes a request, runs it
 * and hands it back to the loop, and how the threads start and stop.
 *
 * A worker pushes a finished request onto db->inbox, a lock-free stack;
 * only the push that finds the inbox empty calls cio_call_soon_threadsafe,
 * whose callback on the loop takes every finished request at once and sets
 * their events (one wakeup per batch, as src/io/executor.c). A request whose
 * task polls for it (request.c) is handed over by one compare-and-swap
 * instead: no inbox, no eventfd write, no wakeup of the loop. The writer takes
 * only the requests of the transaction that owns it while one does (see
 * tx.c). Worker threads block every signal. */
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "sqlite_internal.h"

void cio__sqlite_unlink_queued(cio_sqlite *db, request *r, worker *qw)
{
    request **head = qw ? &qw->head : &db->rhead;
    request **tail = qw ? &qw->tail : &db->rtail;
    if (r->prev)
        r->prev->next = r->next;
    else
        *head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        *tail = r->prev;
    r->next = r->prev = NULL;
}

static void push_queue(cio_sqlite *db, request *r, worker *qw)
{
    request **head = qw ? &qw->head : &db->rhead;
    request **tail = qw ? &qw->tail : &db->rtail;
    r->next = NULL;
    r->prev = *tail;
    if (*tail)
        (*tail)->next = r;
    else
        *head = r;
    *tail = r;
    r->state = RS_QUEUED;
    r->queue = qw;
    __atomic_add_fetch(qw ? &qw->queued : &db->rqueued, 1, __ATOMIC_RELEASE);
}

/* Queues r for qw (NULL: any reader) and wakes a worker (db->mu held). */
worker *cio__sqlite_enqueue_locked(cio_sqlite *db, request *r, worker *qw)
{
    push_queue(db, r, qw);
    if (qw)
        return qw;
    for (int i = 0; i < db->nreaders; i++) {
        if (db->readers[i].idle) {
            db->readers[i].idle = 0;
            return &db->readers[i];
        }
    }
    return NULL; /* every reader is busy: one takes it when it is done */
}

/* Wakes w (after db->mu is released: the woken thread needs it at once). */
void cio__sqlite_wake(worker *w)
{
    if (w)
        pthread_cond_signal(&w->cond);
}

/* The writer takes the first request the transaction that owns it allows:
 * while one owns it, only that transaction's requests (and resets). */
static int eligible(const worker *w, const request *r)
{
    return !w->owner || r->tx == w->owner || r->kind == REQ_RESET;
}

static request *take_locked(worker *w)
{
    cio_sqlite *db = w->db;
    for (request *r = w->head; r; r = r->next) {
        if (!w->is_writer || eligible(w, r)) {
            cio__sqlite_unlink_queued(db, r, w);
            return r;
        }
    }
    if (!w->is_writer && db->rhead) {
        request *r = db->rhead;
        cio__sqlite_unlink_queued(db, r, NULL);
        return r;
    }
    return NULL;
}

/* On the loop: sets the events of every finished request, first finished
 * first. Touches db before the last decrement only. */
static void inbox_drain(void *arg)
{
    cio_sqlite *db = arg;
    request *r = __atomic_exchange_n(&db->inbox, NULL, __ATOMIC_ACQUIRE);
    request *fifo = NULL;
    while (r) {
        request *next = r->done_next;
        r->done_next = fifo;
        fifo = r;
        r = next;
    }
    while (fifo) {
        request *next = fifo->done_next;
        cio_loop_unref();
        if (fifo->on_done)
            fifo->on_done(fifo); /* nobody waits for it yet: a prefetch */
        else
            cio_event_set(&fifo->done);
        fifo = next;
    }
}

static void complete(cio_sqlite *db, request *r)
{
    int open = HANDOFF_OPEN;
    if (r->polled && __atomic_compare_exchange_n(&r->handoff, &open, HANDOFF_TAKEN, 0,
                                                 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return; /* its task watches r and takes it from here: r may be gone now */
    request *old = __atomic_load_n(&db->inbox, __ATOMIC_RELAXED);
    do {
        r->done_next = old;
    } while (
        !__atomic_compare_exchange_n(&db->inbox, &old, r, 1, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
    if (old)
        return; /* the drain scheduled by the push that found it empty takes r too */
    /* The loop is alive: r's task waits for it and the loop holds a reference. */
    while (cio_call_soon_threadsafe(db->loop, inbox_drain, db) == -ENOMEM)
        usleep(1000);
}

static void worker_exit(worker *w)
{
    cio__sqlite_cache_free(w);
    if (!w->conn)
        return;
    sqlite3_stmt *s;
    while ((s = sqlite3_next_stmt(w->conn, NULL)))
        sqlite3_finalize(s); /* cursors never closed */
    if (!sqlite3_get_autocommit(w->conn))
        sqlite3_exec(w->conn, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close_v2(w->conn);
    w->conn = NULL;
}

double cio__sqlite_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Watches w's queues for up to db->opts.spin seconds without the lock,
 * yielding the CPU between looks: on an idle core that costs little, on a
 * busy machine it lets the loop's thread (or anyone) run. The request that
 * comes meanwhile then costs no futex wakeup. (Measured on a 2-core machine
 * with a load of 6: sequential lookups 2.5x faster; a pause-instruction spin
 * was 2x slower than none, and a spin of the waiting task too.) Returns 1 when
 * something was queued. */
static int spin_for_work(worker *w)
{
    cio_sqlite *db = w->db;
    unsigned mine = __atomic_load_n(&w->queued, __ATOMIC_ACQUIRE);
    unsigned shared = __atomic_load_n(&db->rqueued, __ATOMIC_ACQUIRE);
    double until = cio__sqlite_mono() + db->opts.spin;
    do {
        if (__atomic_load_n(&w->queued, __ATOMIC_ACQUIRE) != mine ||
            (!w->is_writer && __atomic_load_n(&db->rqueued, __ATOMIC_ACQUIRE) != shared))
            return 1;
        sched_yield();
    } while (cio__sqlite_mono() < until);
    return 0;
}

__thread worker *cio__sqlite_self;

/* Ends the request w ran (db->mu held): it is done, unless forwarded to the
 * writer (then it is the writer's). Returns the request to hand back, which
 * complete() does outside the lock (the loop takes it too). */
static request *finish_locked(worker *w, request *r, int forwarded)
{
    w->cur = NULL;
    if (!r || forwarded)
        return NULL;
    r->ran_on = w;
    r->state = RS_DONE;
    return r;
}

/* Runs r (db->mu not held); returns whether it was forwarded to the writer.
 * A reset request is freed here (nobody waits for it). */
static int run_one(worker *w, request **rp)
{
    request *r = *rp;
    int forwarded = 0;
    if (__atomic_load_n(&r->cancel, __ATOMIC_RELAXED) && r->kind != REQ_RESET) {
        r->rc = SQLITE_INTERRUPT;
        r->status = -ECANCELED;
    } else {
        forwarded = cio__sqlite_run(w, r);
    }
    if (r->kind == REQ_RESET) {
        free(r);
        *rp = NULL;
    }
    return forwarded;
}

/* The worker's loop. One lock acquisition both ends a request and takes the
 * next; the finished one is handed back (complete) before the next runs, so
 * its task does not wait for the next statement. */
static void *worker_main(void *arg)
{
    worker *w = arg;
    cio_sqlite *db = w->db;
    cio__sqlite_self = w;
    int spun = 0;
    request *done = NULL; /* finished, to hand back once the lock is released */
    pthread_mutex_lock(&db->mu);
    for (;;) {
        request *r = take_locked(w);
        if (r) {
            r->state = RS_RUNNING;
            w->cur = r;
        }
        if (done) {
            pthread_mutex_unlock(&db->mu);
            complete(db, done);
            done = NULL;
            if (!r) { /* look again: a request may have come meanwhile */
                pthread_mutex_lock(&db->mu);
                continue;
            }
        } else if (!r) {
            if (db->stopping)
                break;
            if (!spun && db->opts.spin > 0) {
                /* Requests often follow each other closely: watch for the
                 * next one a moment before sleeping (saves a wakeup). */
                spun = 1;
                pthread_mutex_unlock(&db->mu);
                spin_for_work(w);
                pthread_mutex_lock(&db->mu);
                continue;
            }
            w->idle = 1;
            pthread_cond_wait(&w->cond, &db->mu);
            w->idle = 0;
            continue;
        } else {
            pthread_mutex_unlock(&db->mu);
        }
        spun = 0;
        int forwarded = run_one(w, &r);
        pthread_mutex_lock(&db->mu);
        done = finish_locked(w, r, forwarded);
    }
    pthread_mutex_unlock(&db->mu);
    worker_exit(w);
    return NULL;
}

/* Called by cio__sqlite_run on a reader (db->mu not held): r writes, so the
 * writer runs it. */
void cio__sqlite_forward(worker *w, request *r)
{
    cio_sqlite *db = w->db;
    pthread_mutex_lock(&db->mu);
    r->to_writer = 1;
    worker *wake = cio__sqlite_enqueue_locked(db, r, db->writer);
    pthread_mutex_unlock(&db->mu);
    cio__sqlite_wake(wake);
}

int cio__sqlite_start_thread(worker *w)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = pthread_create(&w->thread, NULL, worker_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err == 0)
        w->started = 1;
    return -err;
}

int cio__sqlite_join_threads(void *arg)
{
    cio_sqlite *db = arg;
    pthread_mutex_lock(&db->mu);
    db->stopping = 1;
    if (db->writer)
        pthread_cond_signal(&db->writer->cond);
    for (int i = 0; i < db->nreaders; i++)
        pthread_cond_signal(&db->readers[i].cond);
    pthread_mutex_unlock(&db->mu);
    if (db->writer && db->writer->started)
        pthread_join(db->writer->thread, NULL);
    for (int i = 0; i < db->nreaders; i++)
        if (db->readers[i].started)
            pthread_join(db->readers[i].thread, NULL);
    return 0;
}
