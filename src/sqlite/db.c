/* A database: its worker threads, their queues, and how a request travels.
 *
 * A request lives on the waiting task's stack. The task queues it under
 * db->mu (a worker's own queue, or the readers' shared one) and waits on the
 * request's event. The worker runs it and pushes it onto db->inbox, a
 * lock-free stack; only the push that finds the inbox empty calls
 * cio_call_soon_threadsafe, whose callback on the loop takes every finished
 * request at once and sets their events (one wakeup per batch, as
 * src/io/executor.c). While a request is out the loop holds a reference
 * (cio_loop_ref), so a loop whose tasks wait only for SQLite is not taken for
 * deadlocked.
 *
 * A task cancelled while its request is still queued takes it out of the
 * queue and returns at once; one cancelled while it runs sets the request's
 * cancel flag (the progress and busy handlers see it, cancel.c) and waits in
 * a shield for the worker to let go of it: the request is on its stack.
 *
 * Lifetime: the loop cannot end while a request is out (its task waits for
 * it), and a guard task per database closes one left open when cio_run
 * cancels the leftover tasks, so no worker ever posts to a closed loop and
 * the threads are joined before the loop closes. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sqlite_internal.h"

uint64_t cio__sqlite_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h | 1; /* never 0: 0 marks an empty slot */
}

/* ---- worker side ---- */

static void unlink_queued(cio_sqlite *db, request *r, worker *qw)
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
static void enqueue_locked(cio_sqlite *db, request *r, worker *qw)
{
    push_queue(db, r, qw);
    if (qw) {
        pthread_cond_signal(&qw->cond);
        return;
    }
    for (int i = 0; i < db->nreaders; i++) {
        if (db->readers[i].idle) {
            db->readers[i].idle = 0;
            pthread_cond_signal(&db->readers[i].cond);
            return;
        }
    }
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
            unlink_queued(db, r, w);
            return r;
        }
    }
    if (!w->is_writer && db->rhead) {
        request *r = db->rhead;
        unlink_queued(db, r, NULL);
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
        cio_event_set(&fifo->done);
        fifo = next;
    }
}

static void complete(cio_sqlite *db, request *r)
{
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

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Watches w's queues for up to db->opts.spin seconds without the lock.
 * Returns 1 when something was queued meanwhile. */
static int spin_for_work(worker *w)
{
    cio_sqlite *db = w->db;
    unsigned mine = __atomic_load_n(&w->queued, __ATOMIC_ACQUIRE);
    unsigned shared = __atomic_load_n(&db->rqueued, __ATOMIC_ACQUIRE);
    double until = mono() + db->opts.spin;
    do {
        for (int i = 0; i < 64; i++) {
            if (__atomic_load_n(&w->queued, __ATOMIC_ACQUIRE) != mine ||
                (!w->is_writer && __atomic_load_n(&db->rqueued, __ATOMIC_ACQUIRE) != shared))
                return 1;
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        }
    } while (mono() < until);
    return 0;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    cio_sqlite *db = w->db;
    int spun = 0;
    pthread_mutex_lock(&db->mu);
    for (;;) {
        request *r = take_locked(w);
        if (!r) {
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
        }
        spun = 0;
        r->state = RS_RUNNING;
        w->cur = r;
        pthread_mutex_unlock(&db->mu);
        int forwarded = 0;
        if (__atomic_load_n(&r->cancel, __ATOMIC_RELAXED) && r->kind != REQ_RESET) {
            r->rc = SQLITE_INTERRUPT;
            r->status = -ECANCELED;
        } else {
            forwarded = cio__sqlite_run(w, r);
        }
        pthread_mutex_lock(&db->mu);
        w->cur = NULL;
        if (r->kind == REQ_RESET) {
            free(r);
        } else if (!forwarded) { /* a forwarded request is the writer's now */
            r->ran_on = w;
            r->state = RS_DONE;
            complete(db, r);
        }
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
    enqueue_locked(db, r, db->writer);
    pthread_mutex_unlock(&db->mu);
}

/* ---- loop side ---- */

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

static void untrack(cio_sqlite *db, request *r)
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
    pthread_mutex_lock(&db->mu);
    enqueue_locked(db, r, qw);
    pthread_mutex_unlock(&db->mu);

    if (db->opts.spin > 0) {
        /* Let the loop's other work run while the request is out; a quick
         * request is then back before this task would have parked, and the
         * loop does not sleep on its eventfd meanwhile. */
        double until = mono() + db->opts.spin;
        while (!cio_event_is_set(&r->done) && mono() < until && cio_yield() == 0)
            ;
    }
    int err = cio_event_wait(&r->done);
    if (err == 0) {
        untrack(db, r);
        return cio__sqlite_finish(db, r);
    }
    pthread_mutex_lock(&db->mu);
    if (r->state == RS_QUEUED) {
        unlink_queued(db, r, r->queue);
        r->state = RS_DONE;
        pthread_mutex_unlock(&db->mu);
        cio_loop_unref();
        untrack(db, r);
        return err;
    }
    __atomic_store_n(&r->cancel, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&db->mu);
    cio_scope sh;
    cio_shield_enter(&sh);
    while (cio_event_wait(&r->done) != 0)
        ;
    cio_shield_exit(&sh);
    untrack(db, r);
    cio__sqlite_finish(db, r);
    return err;
}

void cio__sqlite_submit_detached(cio_sqlite *db, request *r)
{
    pthread_mutex_lock(&db->mu);
    enqueue_locked(db, r, r->pin);
    pthread_mutex_unlock(&db->mu);
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

/* ---- open and close ---- */

static int start_thread(worker *w)
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

static int join_threads(void *arg)
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

static void db_free(cio_sqlite *db)
{
    if (db->writer)
        pthread_cond_destroy(&db->writer->cond);
    for (int i = 0; i < db->nreaders; i++)
        pthread_cond_destroy(&db->readers[i].cond);
    pthread_mutex_destroy(&db->mu);
    cio_event_destroy(&db->idle);
    cio_event_destroy(&db->guard_stop);
    cio_event_destroy(&db->guard_done);
    free(db->writer);
    free(db->readers);
    free(db->path);
    free(db);
}

/* Stops the threads and frees db: joins on an executor thread (closing a
 * connection may checkpoint the WAL); falls back to joining here. */
static void stop_and_free(cio_sqlite *db)
{
    if (cio_to_thread(join_threads, db) != 0)
        join_threads(db);
    db_free(db);
}

static int open_conn(cio_sqlite *db, worker *w)
{
    request r = {0};
    r.kind = REQ_OPEN;
    r.pin = w;
    return cio__sqlite_submit_wait(db, &r);
}

static int guard_main(void *arg);

static int db_init(cio_sqlite *db, const char *path, const cio_sqlite_opts *opts)
{
    if (opts)
        db->opts = *opts;
    if (db->opts.readers == 0)
        db->opts.readers = 2;
    if (db->opts.busy_timeout == 0)
        db->opts.busy_timeout = 5.0;
    if (!db->opts.stmt_cache)
        db->opts.stmt_cache = 64;
    if (!db->opts.chunk_bytes)
        db->opts.chunk_bytes = 64 * 1024;
    if (!(db->opts.close_timeout > 0))
        db->opts.close_timeout = 5.0;
    db->opts.synchronous = NULL; /* the caller's string is not kept */
    db->memory = !strcmp(path, ":memory:") || !*path;
    db->nreaders = db->memory || db->opts.readers < 0 ? 0 : db->opts.readers;
    if (db->opts.read_only && db->nreaders == 0)
        db->nreaders = 1; /* a read-only database has readers only */
    db->path = strdup(path);
    db->loop = cio_loop_current();
    pthread_mutex_init(&db->mu, NULL);
    if (!db->opts.read_only) {
        db->writer = calloc(1, sizeof(*db->writer));
        if (!db->writer)
            return -ENOMEM;
        db->writer->is_writer = 1;
        db->writer->db = db;
        pthread_cond_init(&db->writer->cond, NULL);
    }
    if (db->nreaders) {
        db->readers = calloc((size_t)db->nreaders, sizeof(*db->readers));
        if (!db->readers) {
            db->nreaders = 0;
            return -ENOMEM;
        }
        for (int i = 0; i < db->nreaders; i++) {
            db->readers[i].db = db;
            pthread_cond_init(&db->readers[i].cond, NULL);
        }
    }
    return db->path ? 0 : -ENOMEM;
}

/* The synchronous mode named by the options, as a constant string. */
static const char *sync_mode(const char *mode)
{
    static const char *const modes[] = {"OFF", "NORMAL", "FULL", "EXTRA"};
    if (!mode)
        return "NORMAL";
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
        if (!strcasecmp(mode, modes[i]))
            return modes[i];
    return NULL;
}

int cio__sqlite_open(cio_sqlite **out, const char *path, const cio_sqlite_opts *opts,
                     const char *file, int line)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!path)
        return -EINVAL;
    if (!cio_current())
        return -EPERM;
    int err = cio_cancelled();
    if (err)
        return err;
    cio_sqlite *db = calloc(1, sizeof(*db));
    if (!db)
        return -ENOMEM;
    db->open_file = file;
    db->open_line = line;
    err = db_init(db, path, opts);
    db->sync = sync_mode(opts ? opts->synchronous : NULL);
    if (!err && !db->sync) {
        err = cio_fail(-EINVAL, "sqlite %s: synchronous=%s is not a mode", path, opts->synchronous);
        goto fail;
    }
    if (db->writer && !err)
        err = start_thread(db->writer);
    for (int i = 0; i < db->nreaders && !err; i++)
        err = start_thread(&db->readers[i]);
    if (err) {
        err = cio_fail(err == -ENOMEM ? err : -EAGAIN, "sqlite %s: cannot start its threads", path);
        goto fail;
    }
    /* The writer first: it creates the file and turns WAL on for all. */
    if (db->writer)
        err = open_conn(db, db->writer);
    for (int i = 0; i < db->nreaders && !err; i++)
        err = open_conn(db, &db->readers[i]);
    if (err)
        goto fail;
    cio_task_opts to = {.name = "sqlite-guard"};
    err = cio_spawn_opts(&db->guard, guard_main, db, &to);
    if (err)
        goto fail;
    cio_detach(db->guard);
    *out = db;
    return 0;
fail:
    /* Keep the message of the failure: the cleanup below must not replace it. */
    {
        cio_scope sh;
        cio_shield_enter(&sh);
        stop_and_free(db);
        cio_shield_exit(&sh);
    }
    return err;
}

/* Lets the work out finish (up to close_timeout), then interrupts it. */
static int drain(cio_sqlite *db)
{
    int err = 0;
    cio_scope t;
    cio_timeout_enter(&t, db->opts.close_timeout);
    while (db->outstanding || db->tx) {
        cio_event_clear(&db->idle);
        err = cio_event_wait(&db->idle);
        if (err)
            break;
    }
    cio_timeout_exit(&t);
    if (!err)
        return 0;
    for (request *r = db->all; r; r = r->all_next)
        __atomic_store_n(&r->cancel, 1, __ATOMIC_RELAXED);
    while (db->outstanding) {
        cio_event_clear(&db->idle);
        cio_event_wait(&db->idle);
    }
    return -ETIMEDOUT;
}

static int close_impl(cio_sqlite *db)
{
    db->closing = 1;
    int err = drain(db);
    if (err)
        cio_fail(err, "sqlite %s: work still running after %g s was interrupted at close", db->path,
                 db->opts.close_timeout);
    stop_and_free(db);
    return err;
}

int cio_sqlite_close(cio_sqlite *db)
{
    if (!db)
        return 0;
    if (!cio_current())
        return -EPERM;
    if (db->closing)
        return -EBUSY;
    cio_scope sh;
    cio_shield_enter(&sh);
    db->closing = 1;
    cio_event_set(&db->guard_stop);
    while (db->guard)
        cio_event_wait(&db->guard_done);
    int err = close_impl(db);
    cio_shield_exit(&sh);
    return err;
}

/* Waits for the database's close; closes it itself when cancelled first,
 * which cio_run does to every task left when its main task returns. */
static int guard_main(void *arg)
{
    cio_sqlite *db = arg;
    int err = cio_event_wait(&db->guard_stop);
    if (err && !db->closing) {
        fprintf(stderr,
                "cio-sqlite: database %s opened at %s:%d was still open when its loop "
                "ended; closing it\n",
                db->path, db->open_file, db->open_line);
        cio_scope sh;
        cio_shield_enter(&sh);
        db->guard = NULL;
        close_impl(db);
        cio_shield_exit(&sh);
        return 0;
    }
    /* cio_sqlite_close runs: tell it the guard is gone. */
    db->guard = NULL;
    cio_event_set(&db->guard_done);
    return 0;
}

const char *cio_sqlite_path(const cio_sqlite *db)
{
    return db ? db->path : NULL;
}

int64_t cio_sqlite_last_insert_id(const cio_sqlite *db)
{
    return db ? db->last_id : 0;
}

int64_t cio_sqlite_changes(const cio_sqlite *db)
{
    return db ? db->changes : 0;
}

int cio_sqlite_errcode(const cio_sqlite *db)
{
    return db ? db->last_rc : 0;
}

const char *cio_sqlite_errmsg(const cio_sqlite *db)
{
    return db ? db->last_msg : "";
}

int64_t cio_sqlite_wal_size(const cio_sqlite *db)
{
    if (!db)
        return -EINVAL;
    if (db->memory)
        return 0;
    char *wal = NULL;
    if (asprintf(&wal, "%s-wal", db->path) < 0)
        return -ENOMEM;
    struct stat st;
    int rc = stat(wal, &st);
    int e = errno;
    free(wal);
    if (rc != 0)
        return e == ENOENT ? 0 : -e;
    return (int64_t)st.st_size;
}
