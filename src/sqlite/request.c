/* The hop, on the loop: a task submits a request and waits for it.
 *
 * A request lives on the waiting task's stack. The task queues it under
 * db->mu and waits on the request's event. While a request is out the loop
 * holds a reference (cio_loop_ref), so a loop whose tasks wait only for
 * SQLite is not taken for deadlocked.
 *
 * A task cancelled while its request is still queued takes it out of the
 * queue and returns at once; one cancelled while it runs sets the request's
 * cancel flag (the progress and busy handlers see it, cancel.c) and waits in
 * a shield for the worker to let go of it: the request is on its stack.
 *
 * A request that is the database's only one out is polled rather than waited
 * for (poll_wait): the worker hands it over with a compare-and-swap on
 * r->handoff, which spares the loop an eventfd write and a wakeup. */
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "sqlite_internal.h"

uint64_t cio__sqlite_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h | 1; /* never 0: 0 marks an empty slot */
}

/* Wakes a closing database's close to look again at what is left. */
void cio__sqlite_kick(cio_sqlite *db)
{
    if (db->closing)
        cio_event_set(&db->idle);
}

static void track(cio_sqlite *db, request *r)
{
    r->all_prev = NULL;
    r->all_next = db->all;
    if (db->all)
        db->all->all_prev = r;
    db->all = r;
    db->outstanding++;
    cio_loop_ref();
}

void cio__sqlite_untrack(cio_sqlite *db, request *r)
{
    if (r->all_prev)
        r->all_prev->all_next = r->all_next;
    else
        db->all = r->all_next;
    if (r->all_next)
        r->all_next->all_prev = r->all_prev;
    db->outstanding--;
    cio__sqlite_kick(db);
}

/* Picks r's queue: its pinned worker, the writer, or the readers. */
static worker *route(cio_sqlite *db, request *r)
{
    if (r->pin)
        return r->pin;
    if (!db->writer)
        return NULL; /* read-only: readers only */
    if (r->to_writer || db->nreaders == 0)
        return db->writer;
    if (r->kind == REQ_QUERY && r->sql) {
        uint64_t h = cio__sqlite_hash(r->sql);
        if (db->hints[h % HINT_SLOTS] == h) {
            r->to_writer = 1;
            return db->writer;
        }
    }
    return NULL;
}

/* The class of r, for the polling policy: its SQL text's address (a
 * program passes the same string each time; a built one just starts a class
 * afresh), its kind and its transaction operation. */
static poll_class *class_of(cio_sqlite *db, const request *r)
{
    uint64_t h = (uint64_t)(uintptr_t)r->sql ^ ((uint64_t)(r->kind * 8 + r->tx_op) << 48);
    h *= 0x9E3779B97F4A7C15ull;
    return &db->polls[(h >> 40) % POLL_CLASSES];
}

/* Whether r's task polls for it: when it is the only request out (so the
 * loop has nothing else of ours to wake for) and polls for its class have
 * been paying. */
static int should_poll(cio_sqlite *db, poll_class *pc)
{
    if (!(db->opts.spin > 0) || db->outstanding != 1)
        return 0;
    if (pc->skip) {
        pc->skip--;
        return 0;
    }
    return 1;
}

/* How long to poll for a request of class pc: twice its usual time, at
 * least `spin` and at most POLL_MAX (or `spin` if longer). A statement that
 * usually takes 300 us (a batch of inserts) is polled to the end instead of
 * running out of time and paying a sleep and a wakeup. */
#define POLL_MAX 1e-3

static double poll_budget(const cio_sqlite *db, const poll_class *pc)
{
    double spin = db->opts.spin, b = 2 * pc->avg;
    double max = spin > POLL_MAX ? spin : POLL_MAX;
    return b < spin ? spin : b > max ? max : b;
}

/* A pause between looks at a flag another core writes. */
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Waits for a polled request: lets the other tasks run (cio_yield) between
 * looks at r->handoff, for up to poll_budget (spin to 1 ms, by what
 * requests of its class usually take); then claims the wait back
 * and sleeps on r->done. The first POLL_PAUSES looks pause the core (a short
 * statement on an idle machine is caught without a system call); later ones
 * sched_yield, so that on a busy machine the worker, which may share the
 * core, gets to run (measured on 2 cores, load 9-15, 7 paired rounds of W17
 * one task: pauses only 0.9x the unpolled median, sched_yield 1.8x). The
 * price on a busy machine: a thread that yields instead of sleeping waits
 * longer for the CPU when a timer comes due (the loop's lag). A poll that ran
 * out of time makes the next 16, 32, ... up to 1024 requests of its class
 * skip polling, so statements that are slow stop paying for it (and others
 * do not lose it: a batch of inserts that runs out of time leaves the
 * transaction's short BEGIN and COMMIT polled). Returns what
 * cio_event_wait would. */
#define POLL_PAUSES 32

static int poll_wait(cio_sqlite *db, request *r, poll_class *pc, double t0)
{
    double until = t0 + poll_budget(db, pc);
    int err = 0, looks = 0;
    for (;;) {
        if (__atomic_load_n(&r->handoff, __ATOMIC_ACQUIRE) == HANDOFF_TAKEN) {
            pc->misses = 0;
            cio_loop_unref(); /* the reference inbox_drain drops for the others */
            return 0;
        }
        if (err || cio__sqlite_mono() >= until)
            break;
        err = cio_yield();
        if (++looks < POLL_PAUSES)
            cpu_relax();
        else
            sched_yield();
    }
    int open = HANDOFF_OPEN;
    if (!__atomic_compare_exchange_n(&r->handoff, &open, HANDOFF_SLEEP, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        cio_loop_unref(); /* taken meanwhile: done */
        return 0;
    }
    if (!err) {
        unsigned m = pc->misses < 6 ? pc->misses : 6;
        pc->skip = 16u << m;
        pc->misses++;
    }
    return err ? err : cio_event_wait(&r->done);
}

/* The task waiting for r gave up (cancelled). Takes r back if no worker has
 * started it (returns 1: r is untracked, nothing more to do); otherwise
 * interrupts it and waits until the worker lets go of it, cancelled or not
 * (returns 0: r is done, its result still to finish). */
int cio__sqlite_withdraw(cio_sqlite *db, request *r)
{
    pthread_mutex_lock(&db->mu);
    if (r->state == RS_QUEUED) {
        cio__sqlite_unlink_queued(db, r, r->queue);
        r->state = RS_DONE;
        pthread_mutex_unlock(&db->mu);
        cio_loop_unref();
        cio__sqlite_untrack(db, r);
        return 1;
    }
    __atomic_store_n(&r->cancel, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&db->mu);
    /* A shield fails only outside a task, and this runs in one. */
    cio_scope sh;
    int shield_err = cio_shield_enter(&sh);
    while (cio_event_wait(&r->done) != 0)
        ;
    if (!shield_err)
        cio_shield_exit(&sh);
    return 0;
}

int cio__sqlite_submit_wait(cio_sqlite *db, request *r)
{
    cio_task *self = cio_current();
    if (!self)
        return -EPERM;
    int reason = cio_cancelled();
    if (reason)
        return reason;
    int ends_tx = r->kind == REQ_TX && r->tx_op != TX_BEGIN;
    if (db->closing && !ends_tx)
        return cio_fail(-ESHUTDOWN, "sqlite %s: the database is closing", db->path);
    if (db->tx && db->tx_task == self && !r->tx) {
        r->tx = db->tx; /* runs inside the task's transaction, on the writer */
        r->to_writer = 1;
    }
    cio_event_init(&r->done);
    r->state = RS_NEW;
    worker *qw = route(db, r);
    track(db, r);
    poll_class *pc = class_of(db, r);
    r->polled = should_poll(db, pc);
    r->handoff = HANDOFF_OPEN;
    double t0 = db->opts.spin > 0 ? cio__sqlite_mono() : 0;
    pthread_mutex_lock(&db->mu);
    worker *wake = cio__sqlite_enqueue_locked(db, r, qw);
    pthread_mutex_unlock(&db->mu);
    cio__sqlite_wake(wake);

    int err = r->polled ? poll_wait(db, r, pc, t0) : cio_event_wait(&r->done);
    if (err == 0) {
        if (db->opts.spin > 0) { /* learn how long this class takes */
            double took = cio__sqlite_mono() - t0;
            pc->avg = pc->avg > 0 ? 0.75 * pc->avg + 0.25 * took : took;
        }
        cio__sqlite_untrack(db, r);
        return cio__sqlite_finish(db, r);
    }
    if (cio__sqlite_withdraw(db, r))
        return err;
    cio__sqlite_untrack(db, r);
    cio__sqlite_finish(db, r);
    return err;
}

/* Sends r without waiting: its on_done runs on the loop when it finishes (or
 * its task waits on r->done). Counted as out, so close waits for it. */
void cio__sqlite_submit_start(cio_sqlite *db, request *r)
{
    cio_event_init(&r->done);
    r->state = RS_NEW;
    r->polled = 0;
    track(db, r);
    pthread_mutex_lock(&db->mu);
    worker *wake = cio__sqlite_enqueue_locked(db, r, route(db, r));
    pthread_mutex_unlock(&db->mu);
    cio__sqlite_wake(wake);
}

void cio__sqlite_submit_detached(cio_sqlite *db, request *r)
{
    pthread_mutex_lock(&db->mu);
    worker *wake = cio__sqlite_enqueue_locked(db, r, r->pin);
    pthread_mutex_unlock(&db->mu);
    cio__sqlite_wake(wake);
}

/* Maps a finished request to the caller's status, message and db's
 * per-call results. */
int cio__sqlite_finish(cio_sqlite *db, request *r)
{
    if (r->kind == REQ_QUERY && r->wrote && r->sql) {
        uint64_t h = cio__sqlite_hash(r->sql);
        db->hints[h % HINT_SLOTS] = h;
    }
    if (r->status == 0) {
        db->last_id = r->last_id;
        db->changes = r->changes;
        return 0;
    }
    int reason = cio_cancelled();
    if (reason && r->cancel)
        return reason;
    if (r->rc) {
        db->last_rc = r->rc;
        snprintf(db->last_msg, sizeof(db->last_msg), "%s", r->msg);
        return cio_fail(r->status, "sqlite %s: %s (%d %s)", db->path, r->msg, r->rc,
                        sqlite3_errstr(r->rc));
    }
    if (r->msg[0])
        return cio_fail(r->status, "sqlite %s: %s", db->path, r->msg);
    return r->status;
}
