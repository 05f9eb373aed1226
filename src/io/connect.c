/* Opening connections (asyncio.open_connection, open_unix_connection): resolve,
 * try each address in turn (or race them, Happy Eyeballs), wrap the socket in
 * a stream, and run the TLS handshake when asked.
 *
 * The race (RFC 8305, as asyncio's happy_eyeballs_delay): each attempt is a
 * task of its own; the caller starts the next one when an attempt fails or
 * when the delay passes without a winner, and waits on an event the attempts
 * set as they end. The first to connect wins; the caller then cancels the
 * others and joins them all (shielded, since they point into its frame)
 * before it returns. */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "../core/alloc.h"
#include "cio/sync.h"
#include "net_internal.h"

#define MAX_TRIED 8 /* addresses named in a failure message */

typedef struct attempt {
    char addr[64];
    int err;
} attempt;

/* Names each address that failed, for the message of the last failure. */
static int connect_failed(const char *host, int port, const attempt *a, size_t n, size_t total)
{
    int err = a[n - 1].err;
    if (total == 1)
        return cio_fail(err, "connect to %s:%d (%s): %s", host, port, a[0].addr, cio_strerror(err));
    char list[MAX_TRIED * 96] = "";
    size_t used = 0;
    for (size_t i = 0; i < n && used < sizeof(list); i++) {
        int w = snprintf(list + used, sizeof(list) - used, "%s%s: %s", i ? "; " : "", a[i].addr,
                         cio_strerror(a[i].err));
        used += w > 0 ? (size_t)w : 0;
    }
    return cio_fail(err, "connect to %s:%d: every address failed (%s)", host, port, list);
}

/* Records a failed attempt for the message. */
static void note_failure(attempt *tried, size_t *ntried, size_t *total, const struct addrinfo *ai,
                         int err)
{
    attempt *a = &tried[*ntried < MAX_TRIED ? (*ntried)++ : MAX_TRIED - 1];
    cio__addr_str(ai->ai_addr, a->addr, sizeof(a->addr));
    a->err = err;
    (*total)++;
}

/* A socket for ai, connected, or -errno. */
static int connect_one(const struct addrinfo *ai)
{
    int fd = cio_socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0)
        return fd;
    int err = cio_connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (err) {
        close(fd);
        return err;
    }
    return fd;
}

struct addrinfo *cio__interleave_addrinfo(struct addrinfo *list, int first)
{
    enum { MAX_FAMILIES = 4 };
    struct addrinfo *head[MAX_FAMILIES] = {0}, **tail[MAX_FAMILIES];
    int family[MAX_FAMILIES], nfam = 0;
    struct addrinfo *rest = NULL, **rest_tail = &rest; /* families past the fourth */
    for (struct addrinfo *ai = list, *next; ai; ai = next) {
        next = ai->ai_next;
        ai->ai_next = NULL;
        int f = 0;
        while (f < nfam && family[f] != ai->ai_family)
            f++;
        if (f == nfam && nfam < MAX_FAMILIES) {
            family[nfam] = ai->ai_family;
            tail[nfam] = &head[nfam];
            nfam++;
        }
        if (f < nfam) {
            *tail[f] = ai;
            tail[f] = &ai->ai_next;
        } else {
            *rest_tail = ai;
            rest_tail = &ai->ai_next;
        }
    }
    struct addrinfo *out = NULL, **out_tail = &out;
    for (int k = 1; k < first && head[0]; k++) { /* the first family's head start */
        struct addrinfo *ai = head[0];
        head[0] = ai->ai_next;
        *out_tail = ai;
        out_tail = &ai->ai_next;
    }
    for (int more = 1; more;) { /* then one of each family in turn */
        more = 0;
        for (int f = 0; f < nfam; f++) {
            if (!head[f])
                continue;
            struct addrinfo *ai = head[f];
            head[f] = ai->ai_next;
            *out_tail = ai;
            out_tail = &ai->ai_next;
            more = 1;
        }
    }
    *out_tail = rest;
    return out;
}

/* ---- the race ---- */

typedef struct race race;

typedef struct racer {
    race *r;
    const struct addrinfo *ai;
    cio_task *task;
    int fd; /* the winner's connected socket, for the caller */
    int err;
    int done;
} racer;

struct race {
    cio_event ended; /* set by each attempt as it ends */
    int winner;      /* index of the first to connect, or -1 */
    racer *racers;
};

static int racer_main(void *arg)
{
    racer *a = arg;
    race *r = a->r;
    int fd = connect_one(a->ai);
    a->done = 1;
    if (fd >= 0 && r->winner < 0) {
        r->winner = (int)(a - r->racers);
        a->fd = fd;
    } else if (fd >= 0) {
        close(fd); /* another address won meanwhile */
    } else {
        a->err = fd;
    }
    cio_event_set(&r->ended);
    return 0;
}

static int connect_race(const char *host, int port, struct addrinfo *list, double delay)
{
    size_t n = 0;
    for (struct addrinfo *ai = list; ai; ai = ai->ai_next)
        n++;
    race r = {.winner = -1, .racers = cio__calloc(n ? n : 1, sizeof(racer))};
    if (!r.racers)
        return cio_fail(-ENOMEM, "connect to %s:%d: out of memory", host, port);
    cio_event_init(&r.ended);
    struct addrinfo *ai = list;
    size_t started = 0;
    int waited = 0; /* the last wait ended by the delay */
    int err = 0;
    for (;;) {
        cio_event_clear(&r.ended);
        size_t running = 0;
        for (size_t i = 0; i < started; i++)
            running += !r.racers[i].done;
        if (r.winner >= 0 || (!running && !ai))
            break;
        if (ai && (!running || waited)) { /* the next address's turn */
            racer *a = &r.racers[started];
            *a = (racer){.r = &r, .ai = ai, .fd = -1};
            if (cio_spawn_opts(&a->task, racer_main, a, NULL) < 0) {
                a->done = 1;
                a->err = -ENOMEM;
            }
            started++;
            ai = ai->ai_next;
            waited = 0;
            continue; /* look again: a failed spawn ended at once */
        }
        if (ai) {
            cio_scope sc;
            if ((err = cio_timeout_enter(&sc, delay)) < 0)
                break;
            err = cio_event_wait(&r.ended);
            waited = cio_timeout_exit(&sc) == -ETIMEDOUT && err == -ETIMEDOUT;
            if (waited)
                err = 0;
        } else {
            err = cio_event_wait(&r.ended);
        }
        if (err)
            break; /* the caller is cancelled */
    }
    /* The rest are cancelled; all are joined before r goes away. */
    cio_scope sh;
    int shielded = cio_shield_enter(&sh) == 0; /* in a task: always */
    for (size_t i = 0; i < started; i++) {
        if (!r.racers[i].task)
            continue;
        if ((int)i != r.winner)
            cio_cancel(r.racers[i].task);
        cio_join(r.racers[i].task);
    }
    if (shielded)
        cio_shield_exit(&sh);
    cio_event_destroy(&r.ended);
    int fd = r.winner >= 0 ? r.racers[r.winner].fd : -1;
    int reason = cio_cancelled();
    if (fd >= 0 && reason) {
        close(fd);
        fd = -1;
    }
    attempt tried[MAX_TRIED];
    size_t ntried = 0, total = 0;
    if (fd < 0 && !reason)
        for (size_t i = 0; i < started; i++)
            if (r.racers[i].err)
                note_failure(tried, &ntried, &total, r.racers[i].ai, r.racers[i].err);
    free(r.racers);
    if (fd >= 0)
        return fd;
    if (reason)
        return reason;
    return total ? connect_failed(host, port, tried, ntried, total)
                 : cio_fail(-ENOENT, "connect to %s:%d: no address", host, port);
}

int cio__connect_addrs(const char *host, int port, struct addrinfo *list,
                       const cio_stream_opts *opts)
{
    double delay = opts ? opts->happy_eyeballs_delay : 0;
    if (delay > 0) /* NaN: no race */
        return connect_race(host, port, list, delay);
    attempt tried[MAX_TRIED];
    size_t ntried = 0, total = 0;
    for (struct addrinfo *ai = list; ai; ai = ai->ai_next) {
        int fd = connect_one(ai);
        if (fd >= 0)
            return fd;
        int reason = cio_cancelled();
        if (reason)
            return reason;
        note_failure(tried, &ntried, &total, ai, fd);
    }
    return total ? connect_failed(host, port, tried, ntried, total)
                 : cio_fail(-ENOENT, "connect to %s:%d: no address", host, port);
}

int cio_open_connection(cio_stream **out, const char *host, int port, const cio_stream_opts *opts)
{
    if (out)
        *out = NULL;
    if (!out || !host)
        return cio_fail(-EINVAL, "open_connection: %s is NULL", out ? "host" : "out");
    if (port <= 0 || port > 65535)
        return cio_fail(-EINVAL, "open_connection to %s: bad port %d", host, port);
    if (opts && opts->tls && cio__tls_config_is_server(opts->tls))
        return cio_fail(-EINVAL, "open_connection to %s:%d: a server TLS config", host, port);
    int err = cio__check_opts(opts);
    if (err)
        return err;
    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%d", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_protocol = IPPROTO_TCP};
    struct addrinfo *res;
    err = cio_getaddrinfo(host, portstr, &hints, &res);
    if (err)
        return err;
    int interleave = opts ? opts->interleave : 0;
    if (!interleave && opts && opts->happy_eyeballs_delay > 0)
        interleave = 1;
    if (interleave)
        res = cio__interleave_addrinfo(res, interleave);
    int fd = cio__connect_addrs(host, port, res, opts);
    freeaddrinfo(res);
    if (fd < 0)
        return fd;
    cio_stream *s;
    err = cio__stream_new(&s, fd, opts, CIO__FD_SOCKET);
    if (err)
        return err;
    if (opts && opts->tls) {
        const char *name = opts->server_hostname ? opts->server_hostname : host;
        err = cio__tls_start(s, opts->tls, name);
        if (err) {
            cio_stream_close(s); /* sends the alert, unless cancelled */
            return err;
        }
    }
    *out = s;
    return 0;
}

int cio_open_unix_connection(cio_stream **out, const char *path, const cio_stream_opts *opts)
{
    if (out)
        *out = NULL;
    if (!out || !path)
        return cio_fail(-EINVAL, "open_unix_connection: %s is NULL", out ? "path" : "out");
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    if (!len)
        return cio_fail(-EINVAL, "open_unix_connection: empty path");
    if (len >= sizeof(sun.sun_path))
        return cio_fail(-ENAMETOOLONG, "open_unix_connection: path longer than %zu bytes: %s",
                        sizeof(sun.sun_path) - 1, path);
    if (opts && opts->tls && cio__tls_config_is_server(opts->tls))
        return cio_fail(-EINVAL, "open_unix_connection to %s: a server TLS config", path);
    if (cio__check_opts(opts))
        return cio__invalid(__func__);
    memcpy(sun.sun_path, path, len + 1);
    int fd = cio_socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return cio_fail(fd, "open_unix_connection to %s: socket: %s", path, cio_strerror(fd));
    int err = cio_connect(fd, (struct sockaddr *)&sun, sizeof(sun));
    if (err) {
        close(fd);
        int reason = cio_cancelled();
        return reason ? reason : cio_fail(err, "connect to %s: %s", path, cio_strerror(err));
    }
    cio_stream *s;
    err = cio__stream_new(&s, fd, opts, CIO__FD_UNIX);
    if (err)
        return err;
    if (opts && opts->tls) {
        err = cio__tls_start(s, opts->tls, opts->server_hostname);
        if (err) {
            cio_stream_close(s);
            return err;
        }
    }
    *out = s;
    return 0;
}
