/* Connecting: parse the DSN, turn its hosts into targets (host names
 * resolved with cio's resolver, every address: libpq would block in
 * getaddrinfo), then race the targets (connect_race.c) with libpq's
 * non-blocking connect, and put the winner in pipeline mode under its
 * driver. */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "pg_internal.h"

typedef struct dsn {
    const char *keys[PG_CONNECT_KEYS + 1];
    const char *vals[PG_CONNECT_KEYS + 1];
    int n;
    PQconninfoOption *opts;
} dsn;

static const char *dsn_get(const dsn *d, const char *key)
{
    for (int i = 0; i < d->n; i++)
        if (strcmp(d->keys[i], key) == 0)
            return d->vals[i];
    return NULL;
}

static void dsn_set(dsn *d, const char *key, const char *val)
{
    for (int i = 0; i < d->n; i++) {
        if (strcmp(d->keys[i], key) == 0) {
            d->vals[i] = val;
            return;
        }
    }
    if (d->n < PG_CONNECT_KEYS) {
        d->keys[d->n] = key;
        d->vals[d->n++] = val;
    }
}

static int dsn_parse(dsn *d, const char *conninfo)
{
    char *errmsg = NULL;
    memset(d, 0, sizeof *d);
    d->opts = PQconninfoParse(conninfo, &errmsg);
    if (!d->opts) {
        int err = cio_fail(-EINVAL, "PostgreSQL DSN: %s", errmsg ? errmsg : "out of memory");
        PQfreemem(errmsg);
        return err;
    }
    for (PQconninfoOption *o = d->opts; o->keyword; o++)
        if (o->val && *o->val)
            dsn_set(d, o->keyword, o->val);
    return 0;
}

static int is_numeric_addr(const char *h)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
}

/* The DSN's comma-separated lists, split in place (the targets point into
 * them until the connect ends). */
typedef struct lists {
    char *buf[3]; /* host, port, hostaddr */
    char *item[3][PG_CONNECT_KEYS];
    size_t n[3];
} lists;

static int split(lists *l, int k, const char *text)
{
    l->n[k] = 0;
    if (!text)
        return 0;
    if (!(l->buf[k] = cio__strdup(text)))
        return -ENOMEM;
    for (char *p = l->buf[k], *comma;; p = comma + 1) {
        if (l->n[k] == PG_CONNECT_KEYS)
            return cio_fail(-EINVAL, "PostgreSQL DSN: more than %d hosts", PG_CONNECT_KEYS);
        l->item[k][l->n[k]++] = p;
        if (!(comma = strchr(p, ',')))
            return 0;
        *comma = 0;
    }
}

static int add_target(pg_connect_plan *p, size_t *cap, const char *host, const char *addr,
                      const char *port)
{
    for (size_t i = 0; i < p->ntargets; i++) /* a name listed twice, or two equal answers */
        if (p->targets[i].host == host && strcmp(p->targets[i].addr, addr) == 0)
            return 0;
    if (p->ntargets == *cap) {
        size_t ncap = *cap ? 2 * *cap : 8;
        pg_target *t = cio__realloc(p->targets, ncap * sizeof *t);
        if (!t)
            return -ENOMEM;
        p->targets = t;
        *cap = ncap;
    }
    pg_target *t = &p->targets[p->ntargets++];
    t->host = host;
    snprintf(t->addr, sizeof t->addr, "%s", addr);
    t->port = port && *port ? port : NULL;
    return 0;
}

/* Every address of a host name, resolved with cio (libpq would block in
 * getaddrinfo), within the per-attempt bound. */
static int resolve(pg_connect_plan *p, size_t *cap, const char *host, const char *port)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    cio_scope sc;
    int enter = p->attempt_timeout > 0 ? cio_timeout_enter(&sc, p->attempt_timeout) : 1;
    if (enter < 0)
        return enter;
    int err = cio_getaddrinfo(host, port && *port ? port : "5432", &hints, &res);
    int ex = enter == 0 ? cio_timeout_exit(&sc) : 0;
    if (err)
        return ex == -ETIMEDOUT && !cio_cancelled() ? -ETIMEDOUT : err;
    for (struct addrinfo *ai = res; ai && !err; ai = ai->ai_next) {
        char addr[INET6_ADDRSTRLEN];
        const void *a = ai->ai_family == AF_INET6
                            ? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
                            : (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
        if (inet_ntop(ai->ai_family, a, addr, sizeof addr))
            err = add_target(p, cap, host, addr, port);
    }
    freeaddrinfo(res);
    return err;
}

/* The targets of the DSN's host, port and hostaddr lists, in order: a host
 * name stands for each of its addresses. A name that does not resolve is
 * skipped (libpq does the same) unless no target is left. */
static int make_targets(pg_connect_plan *p, lists *l, const dsn *d)
{
    int err = split(l, 0, dsn_get(d, "host"));
    if (!err)
        err = split(l, 1, dsn_get(d, "port"));
    if (!err)
        err = split(l, 2, dsn_get(d, "hostaddr"));
    if (err)
        return err;
    size_t nhosts = l->n[0] > l->n[2] ? l->n[0] : l->n[2];
    if (nhosts == 0)
        nhosts = 1; /* libpq's default: the Unix socket */
    if ((l->n[1] > 1 && l->n[1] != nhosts) || (l->n[0] && l->n[2] && l->n[0] != l->n[2]))
        return cio_fail(-EINVAL, "PostgreSQL DSN: %zu hosts, %zu ports, %zu addresses do not match",
                        l->n[0], l->n[1], l->n[2]);
    size_t cap = 0;
    int failed = 0;
    for (size_t i = 0; i < nhosts && !err; i++) {
        const char *host = i < l->n[0] ? l->item[0][i] : "";
        const char *addr = i < l->n[2] ? l->item[2][i] : "";
        const char *port = l->n[1] == 1 ? l->item[1][0] : i < l->n[1] ? l->item[1][i] : NULL;
        if (*addr || !*host || *host == '/' || *host == '@')
            err = add_target(p, &cap, host, addr, port);
        else if (is_numeric_addr(host))
            err = add_target(p, &cap, host, host, port);
        else if ((err = resolve(p, &cap, host, port)) != 0 && !cio_cancelled() && err != -ENOMEM) {
            failed = failed ? failed : err;
            err = 0;
        }
    }
    if (!err && !p->ntargets)
        err = cio_fail(failed ? failed : -ENOENT, "PostgreSQL connect: cannot resolve %s",
                       dsn_get(d, "host"));
    return err;
}

static void on_notice(void *arg, const PGresult *res)
{
    cio_pg_conn *c = arg;
    if (!c->opts.notice_fn)
        return;
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY);
    const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    c->opts.notice_fn(c->opts.notice_arg, sev ? sev : "", st ? st : "", msg ? msg : "");
}

static void conn_free(cio_pg_conn *c)
{
    cio__pg_finish(c->pg);
    cio__pg_stmt_free(c);
    cio__pg_error_clear(c);
    cio__pg_req_free(c->spare);
    free(c);
}

/* The DSN without the keys each target sets for itself. */
static void plan_keys(pg_connect_plan *p, const dsn *d)
{
    static const char *const own[] = {"host", "hostaddr", "port", "target_session_attrs"};
    for (int i = 0; i < d->n; i++) {
        int skip = 0;
        for (size_t k = 0; k < sizeof own / sizeof own[0]; k++)
            skip |= strcmp(d->keys[i], own[k]) == 0;
        if (!skip) {
            p->keys[p->n] = d->keys[i];
            p->vals[p->n++] = d->vals[i];
        }
    }
}

/* Resolves, then connects to the first target that answers (racing them):
 * the PGconn, or an error with the task's message set. */
static int open_pg(const dsn *d, const cio_pg_opts *o, PGconn **out)
{
    pg_connect_plan p = {.attrs = dsn_get(d, "target_session_attrs")};
    plan_keys(&p, d);
    const char *ct = dsn_get(d, "connect_timeout");
    p.attempt_timeout = ct && atof(ct) > 0 ? atof(ct) : 0;
    p.stagger = o->host_race_delay < 0   ? CIO_FOREVER
                : o->host_race_delay > 0 ? o->host_race_delay
                                         : 0.25;
    /* The whole connect: the option, else the attempts' own bounds (the
     * DSN's connect_timeout), else 10 s. */
    double timeout = o->connect_timeout > 0  ? o->connect_timeout
                     : p.attempt_timeout > 0 ? CIO_FOREVER
                                             : 10;
    cio_scope sc;
    int err = cio_timeout_enter(&sc, timeout);
    if (err)
        return err;
    lists l;
    memset(&l, 0, sizeof l);
    err = make_targets(&p, &l, d);
    if (!err)
        err = cio__pg_connect_targets(&p, out);
    int ex = cio_timeout_exit(&sc);
    if (ex == -ETIMEDOUT && err) {
        const char *host = dsn_get(d, "host");
        err = cio_fail(-ETIMEDOUT, "PostgreSQL connect to %s: no answer within %g s",
                       host ? host : "(default)", timeout);
    }
    for (int k = 0; k < 3; k++)
        free(l.buf[k]);
    free(p.targets);
    return err;
}

int cio_pg_connect(cio_pg_conn **out, const char *conninfo, const cio_pg_opts *opts)
{
    if (!out || !conninfo)
        return -EINVAL;
    *out = NULL;
    int err = cio_cancelled();
    if (err)
        return err;
    cio_pg_conn *c = cio__calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    if (opts)
        c->opts = *opts;
    c->fd = -1;
    dsn d;
    err = dsn_parse(&d, conninfo);
    if (err) {
        free(c);
        return err;
    }
    if (c->opts.application_name)
        dsn_set(&d, "application_name", c->opts.application_name);
    err = open_pg(&d, &c->opts, &c->pg);
    PQconninfoFree(d.opts);
    if (!err && (PQsetnonblocking(c->pg, 1) != 0 || !PQenterPipelineMode(c->pg)))
        err = cio__pg_conn_error(c, -ECONNRESET, "pipeline mode");
    if (!err) {
        c->fd = PQsocket(c->pg);
        c->pid = PQbackendPID(c->pg);
        c->created = c->idle_since = cio_now();
        PQsetNoticeReceiver(c->pg, on_notice, c);
        err = cio__pg_driver_start(c);
    }
    if (err) {
        conn_free(c);
        return err;
    }
    *out = c;
    return 0;
}

void cio_pg_close(cio_pg_conn *c)
{
    if (!c)
        return;
    cio__pg_driver_stop(c);
    c->broken = 1;
    cio__pg_fail_all(c, -ECONNRESET);
    conn_free(c);
}

int cio_pg_is_broken(const cio_pg_conn *c)
{
    return !c || c->broken || !c->pg || PQstatus(c->pg) == CONNECTION_BAD;
}

int cio_pg_in_transaction(const cio_pg_conn *c)
{
    if (!c || !c->pg)
        return 0;
    PGTransactionStatusType t = PQtransactionStatus(c->pg);
    return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

int cio_pg_backend_pid(const cio_pg_conn *c)
{
    return c ? c->pid : 0;
}
