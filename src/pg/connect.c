/* Connecting: parse the DSN, resolve host names with cio's resolver (libpq
 * would block in getaddrinfo), then PQconnectStartParams / PQconnectPoll with
 * the waits on the loop. libpq may replace the socket between polls (a new
 * address, a retry without TLS), so the descriptor is read on every round. */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "pg_internal.h"

#define MAX_KEYS 64

typedef struct dsn {
    const char *keys[MAX_KEYS + 1];
    const char *vals[MAX_KEYS + 1];
    int n;
    PQconninfoOption *opts;
    char *hostaddr; /* resolved, comma-separated */
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
    if (d->n < MAX_KEYS) {
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

/* Resolves every host of a comma-separated list that is a name (not a Unix
 * socket directory, not numeric) and sets hostaddr to match. */
static int resolve_hosts(dsn *d)
{
    const char *hosts = dsn_get(d, "host");
    if (!hosts || dsn_get(d, "hostaddr"))
        return 0;
    char *list = cio__strdup(hosts);
    size_t cap = strlen(hosts) * 4 + 64;
    char *out = cio__calloc(1, cap);
    int err = list && out ? 0 : -ENOMEM;
    int need = 0;
    char *save = NULL;
    for (char *h = list ? strtok_r(list, ",", &save) : NULL; h && !err;
         h = strtok_r(NULL, ",", &save)) {
        char addr[INET6_ADDRSTRLEN] = "";
        if (*h && *h != '/' && *h != '@' && !is_numeric_addr(h)) {
            struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
            err = cio_getaddrinfo(h, "5432", &hints, &res);
            if (err)
                break;
            const void *a = res->ai_family == AF_INET6
                                ? (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr
                                : (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr;
            inet_ntop(res->ai_family, a, addr, sizeof addr);
            freeaddrinfo(res);
            need = 1;
        } else if (*h && *h != '/' && *h != '@') {
            snprintf(addr, sizeof addr, "%s", h);
        }
        size_t used = strlen(out);
        if (used + strlen(addr) + 2 > cap) {
            err = -EINVAL;
            break;
        }
        snprintf(out + used, cap - used, "%s%s", used || out[0] ? "," : "", addr);
    }
    free(list);
    if (err || !need) {
        free(out);
        return err;
    }
    d->hostaddr = out;
    dsn_set(d, "hostaddr", out);
    return 0;
}

static int errno_of_connect(PGconn *pg)
{
    const char *m = PQerrorMessage(pg);
    /* The message lists every host tried: a host that answered the wrong
     * kind of session outranks one that refused. */
    if (strstr(m, "session is read-only") || strstr(m, "hot standby"))
        return -EROFS; /* target_session_attrs=read-write found no primary */
    if (strstr(m, "Connection refused") || strstr(m, "No such file"))
        return -ECONNREFUSED;
    if (strstr(m, "authentication failed") || strstr(m, "no pg_hba.conf entry") ||
        strstr(m, "password"))
        return -EACCES;
    if (strstr(m, "does not exist"))
        return -ENOENT;
    if (strstr(m, "timeout") || strstr(m, "timed out"))
        return -ETIMEDOUT;
    return -ECONNRESET;
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

/* Runs the PQconnectPoll state machine. */
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
            return errno_of_connect(pg);
    }
}

static void conn_free(cio_pg_conn *c)
{
    if (c->pg) {
        PQsetnonblocking(c->pg, 1); /* PQfinish's Terminate must not block */
        PQfinish(c->pg);
    }
    cio__pg_stmt_free(c);
    cio__pg_error_clear(c);
    cio__pg_req_free(c->spare);
    free(c);
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
    double timeout = c->opts.connect_timeout;
    const char *ct = dsn_get(&d, "connect_timeout");
    if (timeout <= 0 && ct && atof(ct) > 0)
        timeout = atof(ct);
    if (timeout <= 0)
        timeout = 10;
    if (c->opts.application_name)
        dsn_set(&d, "application_name", c->opts.application_name);
    cio_scope sc;
    int enter_err = cio_timeout_enter(&sc, timeout);
    err = enter_err ? enter_err : resolve_hosts(&d);
    /* A Unix socket whose listen backlog is full refuses with EAGAIN (the
     * postmaster is busy forking): try again shortly, within the timeout. */
    for (double pause = 0.005; !err; pause = pause < 0.1 ? pause * 2 : pause) {
        c->pg = PQconnectStartParams(d.keys, d.vals, 0);
        if (!c->pg)
            err = -ENOMEM;
        else if (PQstatus(c->pg) == CONNECTION_BAD)
            err = errno_of_connect(c->pg);
        else
            err = poll_connect(c->pg);
        if (!err || !c->pg || !strstr(PQerrorMessage(c->pg), "Resource temporarily unavailable"))
            break;
        PQfinish(c->pg);
        c->pg = NULL;
        err = cio_sleep(pause);
    }
    int ex = enter_err ? 0 : cio_timeout_exit(&sc);
    if (ex == -ETIMEDOUT && (err == -ETIMEDOUT || err == 0))
        err = -ETIMEDOUT;
    const char *host = dsn_get(&d, "host");
    if (err == -ETIMEDOUT)
        cio_fail(err, "PostgreSQL connect to %s: no answer within %g s", host ? host : "(default)",
                 timeout);
    else if (err && c->pg && err != -ECANCELED)
        cio__pg_conn_error(c, err, "connect");
    free(d.hostaddr);
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
