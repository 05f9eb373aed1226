/* Connecting to one of several hosts: every host of the DSN, and every
 * address a host name resolves to, is a target; attempts race with a
 * staggered start (Happy Eyeballs, RFC 8305, as cio's own stream connect
 * does).
 *
 * The first target's attempt starts at once; the next one starts when an
 * attempt fails or when the stagger delay passes with none finished. Each
 * attempt is a task running libpq's non-blocking connect for its one target
 * (PQconnectStartParams / PQconnectPoll, waits on the loop), bounded by the
 * DSN's connect_timeout, which libpq defines per host. libpq checks
 * target_session_attrs inside each attempt, so an attempt that reaches a
 * session of the wrong kind fails like a refused one; the first attempt to
 * end with a usable session wins, and the caller cancels and joins the rest
 * (their connections are closed) before it returns. prefer-standby is two
 * races: standbys only, then any.
 *
 * A target that blackholes the protocol (accepts, never answers) thus costs
 * the stagger delay, not its timeout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "pg_internal.h"

/* An attempt runs OpenSSL and libpq, as the driver does. */
#define ATTEMPT_STACK ((size_t)256 * 1024)

int cio__pg_connect_errno(const char *msg)
{
    if (strstr(msg, "session is read-only") || strstr(msg, "session is not read-only") ||
        strstr(msg, "hot standby mode"))
        return -EROFS; /* the session is not of the kind target_session_attrs asks */
    if (strstr(msg, "Connection refused") || strstr(msg, "No such file"))
        return -ECONNREFUSED;
    if (strstr(msg, "authentication failed") || strstr(msg, "no pg_hba.conf entry") ||
        strstr(msg, "password"))
        return -EACCES;
    if (strstr(msg, "does not exist"))
        return -ENOENT;
    if (strstr(msg, "timeout") || strstr(msg, "timed out"))
        return -ETIMEDOUT;
    return -ECONNRESET;
}

/* Runs the PQconnectPoll state machine; the socket may change between
 * polls (libpq retries without TLS on a new one). */
static int poll_connect(PGconn *pg)
{
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    for (;;) {
        int fd = PQsocket(pg);
        if (fd < 0)
            return -ECONNRESET;
        int err = st == PGRES_POLLING_READING ? cio_wait_readable(fd) : cio_wait_writable(fd);
        if (err)
            return err;
        st = PQconnectPoll(pg);
        if (st == PGRES_POLLING_OK)
            return 0;
        if (st == PGRES_POLLING_FAILED)
            return cio__pg_connect_errno(PQerrorMessage(pg));
    }
}

void cio__pg_finish(PGconn *pg)
{
    if (pg) {
        PQsetnonblocking(pg, 1); /* PQfinish's Terminate must not block */
        PQfinish(pg);
    }
}

/* One attempt on one target. Returns 0 and *out, or an error with *why
 * (libpq's first line, malloc'd; may stay NULL). */
static int attempt_connect(const pg_connect_plan *p, const pg_target *t, const char *attrs,
                           PGconn **out, char **why)
{
    const char *keys[PG_CONNECT_KEYS + 5], *vals[PG_CONNECT_KEYS + 5];
    int n = 0;
    for (; n < p->n; n++) {
        keys[n] = p->keys[n];
        vals[n] = p->vals[n];
    }
    keys[n] = "host", vals[n++] = t->host;
    if (t->addr[0])
        keys[n] = "hostaddr", vals[n++] = t->addr;
    if (t->port)
        keys[n] = "port", vals[n++] = t->port;
    if (attrs)
        keys[n] = "target_session_attrs", vals[n++] = attrs;
    keys[n] = vals[n] = NULL;
    *out = NULL;
    cio_scope sc;
    int enter = p->attempt_timeout > 0 ? cio_timeout_enter(&sc, p->attempt_timeout) : 1;
    if (enter < 0)
        return enter;
    PGconn *pg = NULL;
    int err = 0;
    /* A Unix socket whose listen backlog is full refuses with EAGAIN (the
     * postmaster is busy forking): try again shortly, within the bound. */
    for (double pause = 0.005;; pause = pause < 0.1 ? pause * 2 : pause) {
        pg = PQconnectStartParams(keys, vals, 0);
        if (!pg)
            err = -ENOMEM;
        else if (PQstatus(pg) == CONNECTION_BAD)
            err = cio__pg_connect_errno(PQerrorMessage(pg));
        else
            err = poll_connect(pg);
        if (!err || !pg || !strstr(PQerrorMessage(pg), "Resource temporarily unavailable"))
            break;
        cio__pg_finish(pg);
        pg = NULL;
        if ((err = cio_sleep(pause)) != 0)
            break;
    }
    int ex = enter == 0 ? cio_timeout_exit(&sc) : 0;
    if (ex == -ETIMEDOUT && err) {
        err = -ETIMEDOUT;
        cio__asprintf(why, "no answer within %g s (connect_timeout)", p->attempt_timeout);
    } else if (err && pg && *PQerrorMessage(pg)) {
        const char *m = PQerrorMessage(pg);
        /* libpq prefixes "connection to server at ... failed: ". */
        const char *f = strstr(m, "failed: ");
        m = f ? f + 8 : m;
        *why = cio__strndup(m, strcspn(m, "\n"));
    }
    if (err) {
        cio__pg_finish(pg);
        return err;
    }
    *out = pg;
    return 0;
}

/* "host (address)" for messages. */
static const char *target_name(const pg_target *t, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%s%s%s", *t->host ? t->host : "(default socket)", t->addr[0] ? " (" : "",
             t->addr, t->addr[0] ? ")" : "");
    return buf;
}

typedef struct race race;

typedef struct attempt {
    race *r;
    const pg_target *t;
    cio_task *task;
    int err;
    int done;
    char *why;
} attempt;

struct race {
    const pg_connect_plan *p;
    const char *attrs;
    cio_event ended; /* set by each attempt as it ends */
    PGconn *won;
    attempt *att;
};

static int attempt_main(void *arg)
{
    attempt *a = arg;
    race *r = a->r;
    PGconn *pg = NULL;
    a->err = attempt_connect(r->p, a->t, r->attrs, &pg, &a->why);
    a->done = 1;
    if (pg && !r->won)
        r->won = pg;
    else
        cio__pg_finish(pg); /* another target won meanwhile */
    cio_event_set(&r->ended);
    return 0;
}

/* Ranks an attempt's failure for the caller's errno: the most telling one
 * wins (a wrong kind of session over a refused login over a missing
 * database over a timeout over a refused connection). */
static int rank(int err)
{
    switch (err) {
    case -EROFS:
        return 6;
    case -EACCES:
        return 5;
    case -ENOENT:
        return 4;
    case -ECONNRESET:
        return 3;
    case -ETIMEDOUT:
        return 2;
    case -ECONNREFUSED:
        return 1;
    default:
        return 0;
    }
}

/* The combined failure: the best-ranked errno, and every attempt's cause. */
static int race_failed(const race *r, size_t started)
{
    int err = -ECONNREFUSED;
    char msg[1024];
    size_t len = 0;
    msg[0] = 0;
    for (size_t i = 0; i < started; i++) {
        const attempt *a = &r->att[i];
        if (i == 0 || rank(a->err) > rank(err))
            err = a->err;
        char name[128];
        if (len < sizeof msg)
            len += (size_t)snprintf(msg + len, sizeof msg - len, "%s%s: %s", i ? "; " : "",
                                    target_name(a->t, name, sizeof name),
                                    a->why ? a->why : cio_strerror(a->err));
    }
    return cio_fail(err, "PostgreSQL connect: %s", msg);
}

/* One race over every target with target_session_attrs attrs. Returns 0 and
 * *out, the cancel reason, or the combined failure. */
static int race_once(const pg_connect_plan *p, const char *attrs, PGconn **out)
{
    race r = {.p = p, .attrs = attrs, .att = cio__calloc(p->ntargets, sizeof(attempt))};
    if (!r.att)
        return -ENOMEM;
    cio_event_init(&r.ended);
    size_t started = 0;
    int waited = 0; /* the last wait ended by the stagger delay */
    int err = 0;
    for (;;) {
        cio_event_clear(&r.ended);
        size_t running = 0;
        for (size_t i = 0; i < started; i++)
            running += !r.att[i].done;
        if (r.won || (!running && started == p->ntargets))
            break;
        if (started < p->ntargets && (!running || waited)) { /* the next target's turn */
            attempt *a = &r.att[started++];
            a->r = &r;
            a->t = &p->targets[started - 1];
            cio_task_opts o = {.name = "pg-connect", .stack_size = ATTEMPT_STACK};
            if (cio_spawn_opts(&a->task, attempt_main, a, &o) < 0) {
                a->done = 1;
                a->err = -ENOMEM;
            }
            waited = 0;
            continue; /* look again: a failed spawn ended at once */
        }
        if (started < p->ntargets && p->stagger < CIO_FOREVER) {
            cio_scope sc;
            if ((err = cio_timeout_enter(&sc, p->stagger)) < 0)
                break;
            err = cio_event_wait(&r.ended);
            waited = cio_timeout_exit(&sc) == -ETIMEDOUT && err == -ETIMEDOUT;
            if (waited)
                err = 0;
        } else {
            err = cio_event_wait(&r.ended);
        }
        if (err)
            break; /* the caller is cancelled, or its bound passed */
    }
    /* The rest are cancelled; all are joined before r goes away. */
    cio_scope sh;
    int shielded = cio_shield_enter(&sh) == 0;
    for (size_t i = 0; i < started; i++) {
        if (!r.att[i].task)
            continue;
        if (!r.att[i].done)
            cio_cancel(r.att[i].task);
        cio_join(r.att[i].task);
    }
    if (shielded)
        cio_shield_exit(&sh);
    cio_event_destroy(&r.ended);
    if (r.won && err) { /* won at the instant the caller was cancelled */
        cio__pg_finish(r.won);
        r.won = NULL;
    }
    if (!r.won && !err)
        err = race_failed(&r, started);
    for (size_t i = 0; i < started; i++)
        free(r.att[i].why);
    free(r.att);
    *out = r.won;
    return r.won ? 0 : err;
}

int cio__pg_connect_targets(const pg_connect_plan *p, PGconn **out)
{
    *out = NULL;
    if (p->ntargets == 1) { /* nothing to race: on the caller's stack */
        char *why = NULL;
        int err = attempt_connect(p, &p->targets[0], p->attrs, out, &why);
        char name[128];
        if (err && err != cio_cancelled())
            err = cio_fail(err, "PostgreSQL connect: %s: %s",
                           target_name(&p->targets[0], name, sizeof name),
                           why ? why : cio_strerror(err));
        free(why);
        return err;
    }
    if (p->attrs && strcmp(p->attrs, "prefer-standby") == 0) {
        int err = race_once(p, "standby", out);
        if (err != -EROFS)
            return err; /* connected, cancelled, or no target answered at all */
        return race_once(p, "any", out);
    }
    return race_once(p, p->attrs, out);
}
