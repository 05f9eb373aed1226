/* The connection pool (asyncpg.create_pool).
 *
 * Waiters queue in strict FIFO order on their own stacks. A release hands the
 * connection straight to the first waiter; a closed connection hands its
 * place (the right to open a new one) the same way. A waiter that wakes
 * cancelled with something handed to it passes it on, so nothing leaks and
 * nobody is skipped. Acquire runs under the pool's default deadline.
 *
 * Release keeps a connection whose cancelled query is still draining: its
 * driver cleans it before serving the next user. It closes one that is
 * broken, has requests of its own still queued, or sits in a transaction,
 * and pays a reset round trip only when the session was changed.
 *
 * Acquire checks an idle connection with a round trip before handing it out
 * when it idled past health_check_idle or when its socket is readable while
 * no request runs (the server closed it: pg_terminate_backend, a restart, an
 * idle timeout); one that fails the check is closed and the next one tried,
 * so the caller gets a working connection, not the dead one's error. */
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "pg_internal.h"

typedef struct waiter {
    struct waiter *next, *prev;
    cio_event ev;
    cio_pg_conn *conn; /* handed over */
    int slot;          /* allowed to open a connection (counted in size) */
} waiter;

struct cio_pg_pool {
    char *dsn;
    cio_pg_pool_opts o;
    cio_pg_conn *idle; /* LIFO: the warmest first */
    size_t size, nidle, nused;
    waiter *wq_head, *wq_tail;
    size_t nwaiting;
    int closing;
    uint64_t acquired, discarded, resets, checks;
    double wait_time;
};

static void wq_remove(cio_pg_pool *p, waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        p->wq_head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        p->wq_tail = w->prev;
    w->next = w->prev = NULL;
    p->nwaiting--;
}

static waiter *wq_pop(cio_pg_pool *p)
{
    waiter *w = p->wq_head;
    if (w)
        wq_remove(p, w);
    return w;
}

/* A connection becomes free: to the first waiter, else to the idle stack. */
static void put_back(cio_pg_pool *p, cio_pg_conn *c)
{
    waiter *w = wq_pop(p);
    if (w) {
        w->conn = c;
        cio_event_set(&w->ev);
        return;
    }
    c->idle_since = cio_now();
    c->pool_next = p->idle;
    p->idle = c;
    p->nidle++;
}

/* A place becomes free (a connection closed or never opened): the first
 * waiter may open one. */
static void free_slot(cio_pg_pool *p)
{
    waiter *w = wq_pop(p);
    if (w) {
        w->slot = 1; /* size stays: the place is the waiter's now */
        cio_event_set(&w->ev);
        return;
    }
    p->size--;
}

static void discard(cio_pg_pool *p, cio_pg_conn *c)
{
    cio_pg_close(c);
    p->discarded++;
    free_slot(p);
}

static int expired(const cio_pg_pool *p, const cio_pg_conn *c, double now)
{
    if (p->o.max_lifetime > 0 && now - c->created > p->o.max_lifetime)
        return 1;
    if (p->o.max_idle > 0 && now - c->idle_since > p->o.max_idle && p->size > p->o.min_size)
        return 1;
    return cio_pg_is_broken(c);
}

static int open_conn(cio_pg_pool *p, cio_pg_conn **out)
{
    int err = cio_pg_connect(out, p->dsn, &p->o.conn);
    if (err)
        free_slot(p);
    return err;
}

int cio_pg_pool_new(cio_pg_pool **out, const char *dsn, const cio_pg_pool_opts *opts)
{
    if (!out || !dsn)
        return -EINVAL;
    *out = NULL;
    cio_pg_pool *p = cio__calloc(1, sizeof *p);
    if (!p || !(p->dsn = cio__strdup(dsn))) {
        free(p);
        return -ENOMEM;
    }
    if (opts)
        p->o = *opts;
    if (!p->o.max_size)
        p->o.max_size = 10;
    if (p->o.acquire_timeout <= 0)
        p->o.acquire_timeout = 30;
    if (p->o.min_size > p->o.max_size)
        p->o.min_size = p->o.max_size;
    for (size_t i = 0; i < p->o.min_size; i++) {
        cio_pg_conn *c;
        p->size++;
        int err = open_conn(p, &c);
        if (err) {
            cio_pg_pool_free(p);
            return err;
        }
        put_back(p, c);
    }
    *out = p;
    return 0;
}

static void pool_destroy(cio_pg_pool *p)
{
    free(p->dsn);
    free(p);
}

void cio_pg_pool_free(cio_pg_pool *p)
{
    if (!p)
        return;
    p->closing = 1;
    while (p->idle) {
        cio_pg_conn *c = p->idle;
        p->idle = c->pool_next;
        p->nidle--;
        p->size--;
        cio_pg_close(c);
    }
    if (p->nused == 0)
        pool_destroy(p);
}

/* Whether an idle connection needs a round trip before reuse. A readable
 * socket on an idle connection means the server said something unasked: most
 * likely a FATAL error and the end of the connection. Cost: one poll(2). */
static int needs_check(const cio_pg_pool *p, const cio_pg_conn *c, double now)
{
    double limit = p->o.health_check_idle ? p->o.health_check_idle : 30;
    if (limit > 0 && now - c->idle_since > limit)
        return 1;
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    return poll(&pfd, 1, 0) > 0;
}

/* The check: an empty query. 0 when the connection works; otherwise it is
 * closed and the cancel reason (if the acquire was cancelled) or 1 returned. */
static int check(cio_pg_pool *p, cio_pg_conn *c)
{
    p->checks++;
    p->nused++; /* the pool must outlive the round trip */
    int err = cio__pg_run(c, "", NULL, 0, 0, NULL);
    p->nused--;
    if (!err && !p->closing)
        return 0;
    int reason = cio_cancelled();
    if (p->closing) { /* freed meanwhile: the last user destroys it */
        cio_pg_close(c);
        p->size--;
        if (p->nused == 0)
            pool_destroy(p);
        return -ECANCELED;
    }
    discard(p, c);
    return reason ? reason : 1;
}

/* One attempt: an idle connection, a new one, or a place in the queue. */
static int take(cio_pg_pool *p, cio_pg_conn **out)
{
    double now = cio_now();
    while (p->idle) {
        cio_pg_conn *c = p->idle;
        p->idle = c->pool_next;
        p->nidle--;
        if (expired(p, c, now)) {
            discard(p, c);
            continue;
        }
        if (needs_check(p, c, now)) {
            int err = check(p, c);
            if (err > 0)
                continue;
            if (err)
                return err;
        }
        *out = c;
        return 0;
    }
    if (p->size < p->o.max_size && !p->wq_head) {
        p->size++;
        return open_conn(p, out);
    }
    if (p->o.max_waiters && p->nwaiting >= p->o.max_waiters)
        return cio_fail(-EAGAIN, "PostgreSQL pool: %zu tasks already wait (max_waiters)",
                        p->nwaiting);
    waiter w = {0};
    cio_event_init(&w.ev);
    w.prev = p->wq_tail;
    if (p->wq_tail)
        p->wq_tail->next = &w;
    else
        p->wq_head = &w;
    p->wq_tail = &w;
    p->nwaiting++;
    double t0 = cio_now();
    int err = cio_event_wait(&w.ev);
    p->wait_time += cio_now() - t0;
    if (!w.conn && !w.slot)
        wq_remove(p, &w); /* nothing was handed: still queued */
    cio_event_destroy(&w.ev);
    if (w.conn) {
        if (err) {
            put_back(p, w.conn); /* cancelled at the instant of the hand-over */
            return err;
        }
        *out = w.conn;
        return 0;
    }
    if (w.slot) {
        if (err) {
            free_slot(p);
            return err;
        }
        return open_conn(p, out);
    }
    return err;
}

int cio_pg_pool_acquire(cio_pg_pool *p, cio_pg_conn **out)
{
    if (!p || !out || p->closing)
        return -EINVAL;
    *out = NULL;
    int err = cio_cancelled();
    if (err)
        return err;
    cio_scope sc;
    err = cio_timeout_enter(&sc, p->o.acquire_timeout);
    if (err)
        return err;
    err = take(p, out);
    int ex = cio_timeout_exit(&sc);
    if (err == -ETIMEDOUT && ex == -ETIMEDOUT)
        cio_fail(err, "PostgreSQL pool: no connection within %g s (acquire_timeout; %zu in use)",
                 p->o.acquire_timeout, p->nused);
    if (err)
        return err;
    p->nused++;
    p->acquired++;
    return 0;
}

static int needs_discard(const cio_pg_conn *c)
{
    if (cio_pg_is_broken(c) || c->tx_depth > 0)
        return 1;
    /* Requests of some task still queued or running; the library's own
     * (a ROLLBACK after a cancel) and abandoned ones are the driver's. */
    for (const pg_req *r = c->pend_head; r; r = r->next)
        if (!r->internal)
            return 1;
    for (const pg_req *r = c->infl_head; r; r = r->next)
        if (!r->abandoned && !r->internal)
            return 1;
    if (!c->infl_head && !c->pend_head && !c->abandoned_inflight) {
        PGTransactionStatusType t = PQtransactionStatus(c->pg);
        if (t != PQTRANS_IDLE)
            return 1;
    }
    return 0;
}

static const char RESET_SQL[] =
    "CLOSE ALL; UNLISTEN *; RESET ALL; SELECT pg_advisory_unlock_all(); "
    "DISCARD TEMP; DISCARD SEQUENCES; DEALLOCATE ALL";

void cio_pg_pool_release(cio_pg_pool *p, cio_pg_conn *c)
{
    if (!p || !c)
        return;
    p->nused--;
    if (p->closing) {
        cio_pg_close(c);
        p->size--;
        if (p->nused == 0)
            pool_destroy(p);
        return;
    }
    if (needs_discard(c) || (p->o.max_lifetime > 0 && cio_now() - c->created > p->o.max_lifetime)) {
        discard(p, c);
        return;
    }
    if (c->dirty) {
        if (cio_cancelled() || cio__pg_script(c, RESET_SQL) != 0) {
            discard(p, c);
            return;
        }
        cio__pg_stmt_clear(c);
        c->dirty = 0;
        p->resets++;
    }
    put_back(p, c);
}

void cio_pg_pool_stats_get(const cio_pg_pool *p, cio_pg_pool_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!p)
        return;
    out->size = p->size;
    out->idle = p->nidle;
    out->waiting = p->nwaiting;
    out->acquired = p->acquired;
    out->discarded = p->discarded;
    out->resets = p->resets;
    out->checks = p->checks;
    out->wait_time = p->wait_time;
}
