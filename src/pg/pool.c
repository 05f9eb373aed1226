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
 * so the caller gets a working connection, not the dead one's error.
 *
 * Freeing the pool while tasks are inside it: every acquire in progress
 * (waiting, connecting, checking) and every reset of a release has its scope
 * registered in `ops`; cio_pg_pool_free cancels them all, so they return
 * -ESHUTDOWN at once instead of waiting for a connection that will never
 * come. The pool's memory lives on until the last of them has left and the
 * last connection acquired before the free is released. */
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "pg_internal.h"

/* A task inside the pool (acquiring, or resetting on release): its scope is
 * what cio_pg_pool_free cancels. */
typedef struct pool_op {
    struct pool_op *next, *prev;
    cio_scope sc;
} pool_op;

typedef struct waiter {
    struct waiter *next, *prev;
    cio_event ev;
    cio_pg_conn *conn; /* handed over */
    int slot;          /* allowed to open a connection (counted in size) */
} waiter;

struct cio_pg_pool {
    char *dsn;
    char *label; /* user@host:port/db, for messages (never the password) */
    cio_pg_pool_opts o;
    cio_pg_conn *idle; /* LIFO: the warmest first */
    size_t size, nidle, nused;
    waiter *wq_head, *wq_tail;
    size_t nwaiting;
    pool_op *ops; /* tasks inside acquire or a release's reset */
    size_t inside;
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
    if (p->closing) { /* freed meanwhile: nobody may take it */
        cio_pg_close(c);
        p->size--;
        return;
    }
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
    waiter *w = p->closing ? NULL : wq_pop(p);
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

/* The pool as messages name it: user@host:port/dbname from the DSN. */
static int make_label(cio_pg_pool *p)
{
    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(p->dsn, &errmsg);
    if (!opts) {
        int err = cio_fail(-EINVAL, "PostgreSQL pool: DSN: %s", errmsg ? errmsg : "out of memory");
        PQfreemem(errmsg);
        return err;
    }
    const char *user = "", *host = "", *port = "", *db = "";
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        const char *v = o->val ? o->val : "";
        if (strcmp(o->keyword, "user") == 0)
            user = v;
        else if (strcmp(o->keyword, "host") == 0)
            host = v;
        else if (strcmp(o->keyword, "port") == 0)
            port = v;
        else if (strcmp(o->keyword, "dbname") == 0)
            db = v;
    }
    int n = cio__asprintf(&p->label, "%s%s%s%s%s/%s", user, *user ? "@" : "",
                          *host ? host : "(default)", *port ? ":" : "", port, db);
    PQconninfoFree(opts);
    if (n < 0) {
        p->label = NULL;
        return -ENOMEM;
    }
    return 0;
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
    int err = make_label(p);
    if (err) {
        free(p->dsn);
        free(p);
        return err;
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
        err = open_conn(p, &c);
        if (err) {
            cio_pg_pool_free(p);
            return err;
        }
        put_back(p, c);
    }
    *out = p;
    return 0;
}

/* Frees the pool once it is closing and nothing refers to it any more: no
 * connection acquired before the free is out, no task is inside. */
static void maybe_destroy(cio_pg_pool *p)
{
    if (!p->closing || p->nused || p->inside)
        return;
    free(p->label);
    free(p->dsn);
    free(p);
}

static void op_link(cio_pg_pool *p, pool_op *op)
{
    op->prev = NULL;
    op->next = p->ops;
    if (p->ops)
        p->ops->prev = op;
    p->ops = op;
}

static void op_unlink(cio_pg_pool *p, pool_op *op)
{
    if (op->prev)
        op->prev->next = op->next;
    else
        p->ops = op->next;
    if (op->next)
        op->next->prev = op->prev;
}

void cio_pg_pool_free(cio_pg_pool *p)
{
    if (!p || p->closing)
        return; /* a second free while connections are still out */
    p->closing = 1;
    /* Waiting, connecting, checking and resetting tasks leave now. */
    for (pool_op *op = p->ops; op; op = op->next)
        cio_scope_cancel(&op->sc);
    p->inside++; /* closing suspends: the pool must outlive the loop */
    while (p->idle) {
        cio_pg_conn *c = p->idle;
        p->idle = c->pool_next;
        p->nidle--;
        p->size--;
        cio_pg_close(c);
    }
    p->inside--;
    maybe_destroy(p);
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
    int err = cio__pg_run(c, "", NULL, 0, 0, NULL);
    if (!err && !p->closing)
        return 0;
    int reason = cio_cancelled();
    discard(p, c);
    return reason ? reason : p->closing ? -ESHUTDOWN : 1;
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
        return cio_fail(-EAGAIN, "PostgreSQL pool %s: %zu tasks already wait (max_waiters)",
                        p->label, p->nwaiting);
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
    if (p->closing && !err)
        err = -ESHUTDOWN; /* handed over just before the free */
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

static int shut_down(const cio_pg_pool *p, const char *when)
{
    return cio_fail(-ESHUTDOWN, "PostgreSQL pool %s: %s", p->label, when);
}

/* The common case: the warmest idle connection needs no check, so nothing
 * suspends and the acquire deadline is not armed (entering and leaving its
 * timeout scope cost ~550 instructions per acquire, W14). NULL otherwise:
 * take() decides under the deadline. */
static cio_pg_conn *take_ready(cio_pg_pool *p)
{
    cio_pg_conn *c = p->idle;
    if (!c)
        return NULL;
    double now = cio_now();
    if (expired(p, c, now) || needs_check(p, c, now))
        return NULL;
    p->idle = c->pool_next;
    p->nidle--;
    return c;
}

static void hand_out(cio_pg_pool *p, cio_pg_conn *c)
{
    c->pool_owner = p;
    p->nused++;
    p->acquired++;
}

int cio_pg_pool_acquire(cio_pg_pool *p, cio_pg_conn **out)
{
    if (!p || !out)
        return -EINVAL;
    *out = NULL;
    if (p->closing)
        return shut_down(p, "acquire after cio_pg_pool_free");
    int err = cio_cancelled();
    if (err)
        return err;
    if ((*out = take_ready(p))) {
        hand_out(p, *out);
        return 0;
    }
    pool_op op;
    err = cio_timeout_enter(&op.sc, p->o.acquire_timeout);
    if (err)
        return err;
    p->inside++;
    op_link(p, &op);
    err = take(p, out);
    op_unlink(p, &op);
    int ex = cio_timeout_exit(&op.sc);
    if (p->closing) {
        /* Freed while this task was inside: what it got is closed. */
        if (!err) {
            cio_pg_close(*out);
            *out = NULL;
            p->size--;
        }
        int reason = cio_cancelled();
        err = reason ? reason : shut_down(p, "freed while this task was in acquire");
    } else if (err == -ETIMEDOUT && ex == -ETIMEDOUT) {
        cio_fail(err, "PostgreSQL pool %s: no connection within %g s (acquire_timeout; %zu in use)",
                 p->label, p->o.acquire_timeout, p->nused);
    }
    p->inside--;
    if (err) {
        maybe_destroy(p);
        return err;
    }
    hand_out(p, *out);
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

/* The reset round trip, in a scope cio_pg_pool_free cancels. 0 or an error
 * (then the connection is to be discarded). */
static int reset(cio_pg_pool *p, cio_pg_conn *c)
{
    pool_op op;
    if (cio_cancelled() || cio_scope_enter(&op.sc) != 0)
        return -ECANCELED;
    op_link(p, &op);
    int err = cio__pg_script(c, RESET_SQL);
    op_unlink(p, &op);
    cio_scope_exit(&op.sc);
    if (err)
        return err;
    cio__pg_stmt_clear(c);
    c->dirty = 0;
    p->resets++;
    return 0;
}

int cio_pg_pool_release(cio_pg_pool *p, cio_pg_conn *c)
{
    if (!p || !c)
        return -EINVAL;
    if (c->pool_owner != p)
        return cio_fail(-EINVAL,
                        "PostgreSQL pool %s: release of a connection that is not out of this "
                        "pool (released twice, or from another pool?)",
                        p->label);
    c->pool_owner = NULL;
    p->nused--;
    p->inside++; /* closing a connection suspends */
    if (p->closing)
        put_back(p, c); /* closes it */
    else if (needs_discard(c) ||
             (p->o.max_lifetime > 0 && cio_now() - c->created > p->o.max_lifetime))
        discard(p, c);
    else if (c->dirty && reset(p, c) != 0)
        discard(p, c);
    else
        put_back(p, c);
    p->inside--;
    maybe_destroy(p);
    return 0;
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
