/* LISTEN/NOTIFY: a listener owns its own connection. The driver hands each
 * notification to the listener's queue; when the connection breaks, the
 * listener reconnects (with backoff, until it succeeds or its reader is
 * cancelled), LISTENs again on every channel, and hands the reader a "gap"
 * notification: anything sent meanwhile is lost, as PostgreSQL does not keep
 * notifications for absent listeners. */
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "pg_internal.h"

typedef struct note {
    struct note *next;
    cio_pg_notification n;
} note;

struct cio_pg_listener {
    char *dsn;
    cio_pg_opts opts;
    cio_pg_conn *conn;
    char **channels;
    size_t nchannels;
    note *head, *tail;
    cio_event ev;
    int broken;
    note *last; /* returned by the previous next, freed by the following */
};

static void push_note(cio_pg_listener *l, const char *channel, const char *payload, int pid,
                      int gap)
{
    size_t lc = channel ? strlen(channel) + 1 : 0, lp = payload ? strlen(payload) + 1 : 0;
    note *n = cio__calloc(1, sizeof *n + lc + lp);
    if (!n)
        return; /* dropped, like a notification sent while disconnected */
    char *p = (char *)(n + 1);
    n->n.channel = channel ? memcpy(p, channel, lc) : NULL;
    n->n.payload = payload ? memcpy(p + lc, payload, lp) : NULL;
    n->n.pid = pid;
    n->n.gap = gap;
    if (l->tail)
        l->tail->next = n;
    else
        l->head = n;
    l->tail = n;
    cio_event_set(&l->ev);
}

static void on_notify(void *arg, const char *channel, const char *payload, int pid)
{
    cio_pg_listener *l = arg;
    if (!channel) {
        l->broken = 1;
        cio_event_set(&l->ev);
        return;
    }
    push_note(l, channel, payload, pid, 0);
}

static int listen_on(cio_pg_conn *c, const char *channel)
{
    char *q = PQescapeIdentifier(c->pg, channel, strlen(channel));
    if (!q)
        return -ENOMEM;
    char *sql = cio__malloc(strlen(q) + 8);
    int err = sql ? 0 : -ENOMEM;
    if (sql) {
        strcpy(sql, "LISTEN ");
        strcat(sql, q);
        err = cio__pg_run(c, sql, NULL, 0, 0, NULL);
    }
    free(sql);
    PQfreemem(q);
    return err;
}

static int open_conn(cio_pg_listener *l)
{
    int err = cio_pg_connect(&l->conn, l->dsn, &l->opts);
    if (err)
        return err;
    l->conn->notify_fn = on_notify;
    l->conn->notify_arg = l;
    l->broken = 0;
    for (size_t i = 0; !err && i < l->nchannels; i++)
        err = listen_on(l->conn, l->channels[i]);
    if (err) {
        cio_pg_close(l->conn);
        l->conn = NULL;
    }
    return err;
}

int cio_pg_listener_new(cio_pg_listener **out, const char *dsn, const cio_pg_opts *opts)
{
    if (!out || !dsn)
        return -EINVAL;
    *out = NULL;
    cio_pg_listener *l = cio__calloc(1, sizeof *l);
    if (!l || !(l->dsn = cio__strdup(dsn))) {
        free(l);
        return -ENOMEM;
    }
    if (opts)
        l->opts = *opts;
    cio_event_init(&l->ev);
    int err = open_conn(l);
    if (err) {
        cio_pg_listener_free(l);
        return err;
    }
    *out = l;
    return 0;
}

void cio_pg_listener_free(cio_pg_listener *l)
{
    if (!l)
        return;
    cio_pg_close(l->conn);
    for (note *n = l->head, *next; n; n = next) {
        next = n->next;
        free(n);
    }
    free(l->last);
    for (size_t i = 0; i < l->nchannels; i++)
        free(l->channels[i]);
    free(l->channels);
    cio_event_destroy(&l->ev);
    free(l->dsn);
    free(l);
}

int cio_pg_listen(cio_pg_listener *l, const char *channel)
{
    if (!l || !channel)
        return -EINVAL;
    char **ch = cio__realloc(l->channels, (l->nchannels + 1) * sizeof *ch);
    if (!ch)
        return -ENOMEM;
    l->channels = ch;
    if (!(ch[l->nchannels] = cio__strdup(channel)))
        return -ENOMEM;
    l->nchannels++;
    if (!l->conn || l->broken)
        return 0; /* LISTENed on reconnect */
    int err = listen_on(l->conn, channel);
    if (err && err != -ECONNRESET) {
        free(ch[--l->nchannels]);
        return err;
    }
    return 0;
}

/* Reconnects with backoff (50 ms doubling to 2 s) until it works. */
static int reconnect(cio_pg_listener *l)
{
    cio_pg_close(l->conn);
    l->conn = NULL;
    for (double pause = 0.05;; pause = pause < 2 ? pause * 2 : 2) {
        int err = open_conn(l);
        if (!err)
            break;
        err = cio_sleep(pause);
        if (err)
            return err;
    }
    push_note(l, NULL, NULL, 0, 1);
    return 0;
}

int cio_pg_listener_next(cio_pg_listener *l, const cio_pg_notification **out)
{
    if (!l || !out)
        return -EINVAL;
    free(l->last);
    l->last = NULL;
    for (;;) {
        note *n = l->head;
        if (n) {
            l->head = n->next;
            if (!l->head)
                l->tail = NULL;
            l->last = n;
            *out = &n->n;
            return 0;
        }
        if (l->broken || !l->conn || cio_pg_is_broken(l->conn)) {
            int err = reconnect(l);
            if (err)
                return err;
            continue;
        }
        cio_event_clear(&l->ev);
        int err = cio_event_wait(&l->ev);
        if (err)
            return err;
    }
}

int cio_pg_listener_backend_pid(const cio_pg_listener *l)
{
    return l && l->conn ? cio_pg_backend_pid(l->conn) : 0;
}
