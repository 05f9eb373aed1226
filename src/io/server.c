/* Servers (asyncio.start_server): listening sockets, a task per listening
 * socket that accepts, and a task per connection that runs the handler.
 *
 * The server owns its tasks the way a task group owns its children: closing
 * it stops the acceptors, waits for the handlers up to the grace period,
 * cancels the rest and waits for them. It keeps its own list of live
 * connections instead of a cio_group because a group keeps every finished
 * child's record until it is waited, and a server is waited only when it
 * closes: a long-running server would grow by a task record per connection
 * it ever served. Handler tasks are detached; each one unlinks itself when it
 * ends, so the list only holds live tasks, which close may cancel.
 *
 * Accepting goes on through resource exhaustion (EMFILE, ENFILE, ENOBUFS,
 * ENOMEM): the acceptor pauses 100 ms, says so on stderr at most once a
 * second, and tries again, while the connections it has go on. */
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../core/alloc.h"
#include "../core/vec.h"
#include "../core/waitq.h"
#include "net_internal.h"

#define MAX_LISTENERS 8
#define BACKOFF 0.1 /* seconds between accepts after EMFILE and the like */

typedef struct listener {
    cio_server *srv;
    int fd;
    cio_task *task;
    /* io_uring: one multishot accept stays in flight; the connections it
     * delivers wait here for the acceptor task to start them. */
    cio__op op;
    int *ready;
    size_t nready, cap;
    int final;           /* the result that ended the op (0: it just stopped) */
    uint8_t armed;       /* op in flight */
    uint8_t parked;      /* the acceptor waits for op */
    uint8_t cancel_sent; /* op's cancellation was asked for */
} listener;

struct cio_server {
    listener ls[MAX_LISTENERS];
    size_t nls;
    int port;
    char *unix_path;
    dev_t unix_dev;
    ino_t unix_ino;
    cio_conn_fn handler;
    void *arg;
    cio_stream_opts opts;
    cio_tls_config *tls;
    cio_stream *conns;
    size_t nconns;
    cio_task *closer;   /* waits for nconns to reach 0 */
    cio__waitq forever; /* tasks in serve_forever */
    int closing;
    double grace;
    double last_msg;
};

/* ---- connections ---- */

static void report_failure(cio_stream *s, int err)
{
    struct sockaddr_storage peer;
    socklen_t plen;
    char who[80] = "?";
    if (cio_stream_peer_addr(s, &peer, &plen) == 0 && peer.ss_family != AF_UNIX)
        cio__addr_str((struct sockaddr *)&peer, who, sizeof(who));
    else if (s->fd >= 0)
        snprintf(who, sizeof(who), "unix socket");
    const char *msg = cio_task_message(cio_current());
    fprintf(stderr, "cio: connection handler (peer %s) failed: %s%s%s\n", who, cio_strerror(err),
            msg ? ": " : "", msg ? msg : "");
}

static int conn_main(void *arg)
{
    cio_stream *s = arg;
    cio_server *srv = s->server;
    s->busy++; /* the server's hold: the handler may close s */
    int err = 0;
    if (srv->tls)
        err = cio__tls_start(s, srv->tls, NULL); /* a failure's alert goes out at close */
    if (!err) {
        err = srv->handler(s, srv->arg);
        if (err < 0 && !cio__peer_gone(err) && !cio_cancelled())
            report_failure(s, err);
    }
    cio__stream_close_impl(s);
    if (s->sprev)
        s->sprev->snext = s->snext;
    else
        srv->conns = s->snext;
    if (s->snext)
        s->snext->sprev = s->sprev;
    srv->nconns--;
    if (!srv->nconns && srv->closer) {
        cio__wake(srv->closer, 0);
        srv->closer = NULL;
    }
    s->server = NULL;
    cio__stream_release(s);
    return 0;
}

static void conn_start(cio_server *srv, int fd)
{
    cio_stream *s;
    if (cio__stream_new(&s, fd, &srv->opts, srv->unix_path ? CIO__FD_UNIX : CIO__FD_SOCKET))
        return; /* out of memory: fd is closed, the client sees a reset */
    s->server = srv;
    cio_task *t;
    if (cio_spawn_opts(&t, conn_main, s, NULL)) {
        s->server = NULL;
        cio_stream_close(s);
        return;
    }
    s->task = t;
    s->snext = srv->conns;
    if (srv->conns)
        srv->conns->sprev = s;
    srv->conns = s;
    srv->nconns++;
    cio_detach(t);
}

/* ---- accepting ---- */

static int resource_shortage(int err)
{
    return err == -EMFILE || err == -ENFILE || err == -ENOBUFS || err == -ENOMEM;
}

static int transient(int err)
{
    return err == -ECONNABORTED || err == -EINTR || err == -EPROTO || err == -EPERM ||
           err == -EAGAIN || err == -ENETDOWN || err == -ENOPROTOOPT || err == -EHOSTDOWN ||
           err == -ENONET || err == -EHOSTUNREACH || err == -EOPNOTSUPP || err == -ENETUNREACH ||
           err == -ETIMEDOUT;
}

static const char *server_name(const cio_server *srv, char *buf, size_t len)
{
    if (srv->unix_path)
        snprintf(buf, len, "%s", srv->unix_path);
    else
        snprintf(buf, len, "port %d", srv->port);
    return buf;
}

/* Starts a handler for an accepted connection, or closes it once the server
 * (or its acceptor) is being stopped. Never suspends. */
static void take_connection(cio_server *srv, int fd)
{
    if (srv->closing || cio_cancelled())
        close(fd);
    else
        conn_start(srv, fd);
}

/* Handles an accept error: after a resource shortage, says so (at most once
 * a second) and pauses; after a transient error, goes on; after any other,
 * says the socket stops accepting. Returns 0 to go on accepting, 1 to stop
 * (also when the pause is cancelled). */
static int accept_failed(cio_server *srv, int err)
{
    char name[128];
    if (resource_shortage(err)) {
        double now = cio_now();
        if (srv->last_msg == 0 || now - srv->last_msg >= 1.0) {
            srv->last_msg = now;
            fprintf(stderr,
                    "cio: server on %s: accept: %s; pausing %.0f ms (open connections go on)\n",
                    server_name(srv, name, sizeof(name)), cio_strerror(err), BACKOFF * 1000);
        }
        return cio_sleep(BACKOFF) != 0;
    }
    if (transient(err))
        return 0;
    fprintf(stderr, "cio: server on %s: accept: %s; this socket stops accepting\n",
            server_name(srv, name, sizeof(name)), cio_strerror(err));
    return 1;
}

static void multi_done(cio__op *op)
{
    listener *l = op->data;
    if (op->res >= 0) {
        if (cio__vec_room(l->ready, l->nready, l->cap, 16) == 0)
            l->ready[l->nready++] = op->res;
        else
            close(op->res); /* out of memory: the client sees a reset */
    }
    if (!op->more) {
        l->armed = 0;
        l->final = op->res < 0 ? op->res : 0;
    }
    if (l->parked) {
        l->parked = 0;
        cio__wake(l->task, 0);
    }
}

/* Cancelled while parked: ask the kernel to stop, and wait for its last
 * completion (the op lives in the listener). */
static int multi_unpark(cio_task *t, void *data)
{
    listener *l = data;
    cio__backend *b = &t->loop->backend;
    b->vt->cancel(b, &l->op);
    l->cancel_sent = 1;
    return 0;
}

/* Accepts through one multishot operation, re-armed whenever the kernel ends
 * it. Returns 1 when the kernel lacks multishot accept (use accept), else 0
 * once the acceptor is cancelled or the socket fails for good. */
static int accept_multishot(listener *l)
{
    cio_server *srv = l->srv;
    cio_task *self = cio__self();
    cio__backend *b = &self->loop->backend;
    int accepted = 0, armed_before = 0;
    for (;;) {
        for (size_t i = 0; i < l->nready; i++) { /* starting one never suspends */
            accepted = 1;
            take_connection(srv, l->ready[i]);
        }
        l->nready = 0;
        if (!l->armed) {
            if (cio_cancelled())
                return 0;
            int err = armed_before ? l->final : 0; /* why the kernel ended the last one */
            if (err == -EINVAL && !accepted)
                return 1;
            if (err && accept_failed(srv, err))
                return 0;
            l->op = (cio__op){.kind = CIO__OP_ACCEPT_MULTI,
                              .fd = l->fd,
                              .flags = SOCK_NONBLOCK | SOCK_CLOEXEC,
                              .done = multi_done,
                              .data = l};
            l->armed = 1;
            l->final = 0;
            armed_before = 1;
            cio__backend_submit(b, &l->op);
            continue; /* it may have completed at once */
        }
        if (cio_cancelled() && !l->cancel_sent) {
            b->vt->cancel(b, &l->op);
            l->cancel_sent = 1;
        }
        l->parked = 1;
        cio__park(self, "accept", l, l->cancel_sent ? NULL : multi_unpark, l);
    }
}

static int acceptor(void *arg)
{
    listener *l = arg;
    cio_server *srv = l->srv;
    if (cio__self()->loop->backend.vt->native_io && accept_multishot(l) == 0)
        return 0;
    for (;;) {
        int fd = cio_accept(l->fd, NULL, NULL);
        if (fd >= 0)
            take_connection(srv, fd);
        else if (cio_cancelled() || accept_failed(srv, fd))
            return 0;
    }
}

/* ---- starting ---- */

static void server_free(cio_server *srv)
{
    for (size_t i = 0; i < srv->nls; i++) {
        if (srv->ls[i].fd >= 0)
            close(srv->ls[i].fd);
        free(srv->ls[i].ready);
    }
    free(srv->unix_path);
    cio_tls_config_free(srv->tls);
    free(srv);
}

static int server_new(cio_server **out, cio_conn_fn handler, void *arg, const cio_stream_opts *opts)
{
    if (opts && opts->tls && !cio__tls_config_is_server(opts->tls))
        return cio_fail(-EINVAL, "start_server: the TLS config is not a server config");
    if (cio__check_opts(opts))
        return -EINVAL; /* (the check named the option) */
    cio_server *srv = cio__calloc(1, sizeof(*srv));
    if (!srv)
        return cio_fail(-ENOMEM, "start_server: out of memory");
    srv->handler = handler;
    srv->arg = arg;
    if (opts)
        srv->opts = *opts;
    srv->opts.tls = NULL;
    srv->opts.server_hostname = NULL;
    if (opts && opts->tls) {
        cio__tls_config_ref(opts->tls);
        srv->tls = opts->tls;
    }
    *out = srv;
    return 0;
}

/* Binds and listens on one address. Returns 0 or -errno. */
static int listen_on(cio_server *srv, const struct sockaddr *addr, socklen_t alen)
{
    int fd = cio_socket(addr->sa_family, SOCK_STREAM, 0);
    if (fd < 0)
        return fd;
    int one = 1;
    if (addr->sa_family != AF_UNIX)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (addr->sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (srv->opts.reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
        goto fail;
    int backlog = srv->opts.backlog > 0 ? srv->opts.backlog : SOMAXCONN;
    if (bind(fd, addr, alen) < 0 || listen(fd, backlog) < 0)
        goto fail;
    srv->ls[srv->nls++] = (listener){.srv = srv, .fd = fd};
    return 0;
fail:;
    int err = -errno;
    close(fd);
    return err;
}

static int start_acceptors(cio_server *srv)
{
    for (size_t i = 0; i < srv->nls; i++) {
        int err = cio_spawn_opts(&srv->ls[i].task, acceptor, &srv->ls[i], NULL);
        if (err) {
            for (size_t j = 0; j < i; j++) {
                cio_cancel(srv->ls[j].task);
                cio_join(srv->ls[j].task);
            }
            return err;
        }
    }
    return 0;
}

static void set_port(struct sockaddr *a, int port)
{
    if (a->sa_family == AF_INET)
        ((struct sockaddr_in *)a)->sin_port = htons((uint16_t)port);
    else if (a->sa_family == AF_INET6)
        ((struct sockaddr_in6 *)a)->sin6_port = htons((uint16_t)port);
}

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

int cio_start_server(cio_server **out, const char *host, int port, cio_conn_fn handler, void *arg,
                     const cio_stream_opts *opts)
{
    if (out)
        *out = NULL;
    if (!out || !handler)
        return cio_fail(-EINVAL, "start_server: %s is NULL", out ? "handler" : "out");
    if (port < 0 || port > 65535)
        return cio_fail(-EINVAL, "start_server on %s: bad port %d", host ? host : "(any)", port);
    cio_task *self;
    int err = cio__checkpoint(&self);
    if (err)
        return err;
    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%d", port);
    struct addrinfo hints = {.ai_flags = AI_PASSIVE, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    struct sockaddr_in any4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct sockaddr_in6 any6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
    struct addrinfo all6 = {
        .ai_family = AF_INET6, .ai_addr = (struct sockaddr *)&any6, .ai_addrlen = sizeof(any6)};
    struct addrinfo all = {.ai_family = AF_INET,
                           .ai_addr = (struct sockaddr *)&any4,
                           .ai_addrlen = sizeof(any4),
                           .ai_next = &all6};
    if (host) {
        err = cio_getaddrinfo(host, portstr, &hints, &res);
        if (err)
            return err;
    }
    cio_server *srv;
    err = server_new(&srv, handler, arg, opts);
    if (err) {
        if (res)
            freeaddrinfo(res);
        return err;
    }
    for (struct addrinfo *ai = host ? res : &all; ai && srv->nls < MAX_LISTENERS;
         ai = ai->ai_next) {
        if (port == 0 && srv->nls)
            set_port(ai->ai_addr, srv->port);
        int e = listen_on(srv, ai->ai_addr, ai->ai_addrlen);
        if (e && !host && ai->ai_family == AF_INET6 && (e == -EAFNOSUPPORT || e == -EADDRNOTAVAIL))
            continue; /* no IPv6 here */
        if (e) {
            char a[64];
            err = cio_fail(e, "start_server on %s:%d (%s): %s", host ? host : "(any)", port,
                           cio__addr_str(ai->ai_addr, a, sizeof(a)), cio_strerror(e));
            break;
        }
        if (srv->nls == 1)
            srv->port = bound_port(srv->ls[0].fd);
    }
    if (res)
        freeaddrinfo(res);
    if (!err && !srv->nls)
        err = cio_fail(-EADDRNOTAVAIL, "start_server on %s:%d: no address", host, port);
    if (!err)
        err = start_acceptors(srv);
    if (err) {
        server_free(srv);
        return err;
    }
    *out = srv;
    return 0;
}

int cio_start_unix_server(cio_server **out, const char *path, cio_conn_fn handler, void *arg,
                          const cio_stream_opts *opts)
{
    if (out)
        *out = NULL;
    if (!out || !handler || !path) {
        const char *what = !out ? "out" : (!handler ? "handler" : "path");
        return cio_fail(-EINVAL, "start_unix_server: %s is NULL", what);
    }
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    size_t len = strlen(path);
    if (!len)
        return cio_fail(-EINVAL, "start_unix_server: empty path");
    if (len >= sizeof(sun.sun_path))
        return cio_fail(-ENAMETOOLONG, "start_unix_server: path longer than %zu bytes: %s",
                        sizeof(sun.sun_path) - 1, path);
    memcpy(sun.sun_path, path, len + 1);
    if (!cio__self())
        return cio__not_in_task("cio_start_unix_server");
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return cio_fail(-EADDRINUSE, "start_unix_server: %s exists and is not a socket", path);
        unlink(path); /* a stale socket file, as asyncio does */
    }
    cio_server *srv;
    int err = server_new(&srv, handler, arg, opts);
    if (err)
        return err;
    srv->unix_path = cio__strdup(path);
    err = srv->unix_path ? listen_on(srv, (struct sockaddr *)&sun, sizeof(sun)) : -ENOMEM;
    if (err) {
        server_free(srv);
        return cio_fail(err, "start_unix_server on %s: %s", path, cio_strerror(err));
    }
    if (stat(path, &st) == 0) {
        srv->unix_dev = st.st_dev;
        srv->unix_ino = st.st_ino;
    }
    err = start_acceptors(srv);
    if (err) {
        unlink(path);
        server_free(srv);
        return err;
    }
    *out = srv;
    return 0;
}

int cio_server_port(const cio_server *srv)
{
    return srv ? srv->port : -EINVAL;
}

size_t cio_server_connections(const cio_server *srv)
{
    return srv ? srv->nconns : 0;
}

/* ---- serving and closing ---- */

int cio_server_serve_forever(cio_server *srv)
{
    if (!srv)
        return cio__invalid(__func__);
    cio_task *self;
    int err = cio__checkpoint(&self);
    if (err)
        return err;
    return cio__waitq_wait(&srv->forever, self, "serve_forever", srv);
}

static int closer_unpark(cio_task *t, void *data)
{
    (void)t;
    cio_server *srv = data;
    srv->closer = NULL;
    return 1;
}

/* Waits until every handler has ended. Returns 0 or the cancel reason. */
static int wait_handlers(cio_server *srv, cio_task *self, int cancellable)
{
    while (srv->nconns) {
        int r = cancellable ? cio__cancel_reason(self) : 0;
        if (r)
            return r; /* a grace of 0 s has expired before any wait */
        srv->closer = self;
        r = cio__park(self, "server close", srv, cancellable ? closer_unpark : NULL, srv);
        if (r)
            return r;
    }
    return 0;
}

static int do_close(cio_server *srv, cio_task *self)
{
    for (size_t i = 0; i < srv->nls; i++) {
        listener *l = &srv->ls[i];
        if (l->task) {
            cio_join(l->task); /* cancelled already; returns once its accept is gone */
            l->task = NULL;
        }
        close(l->fd);
        l->fd = -1;
    }
    struct stat st;
    if (srv->unix_path && stat(srv->unix_path, &st) == 0 && st.st_dev == srv->unix_dev &&
        st.st_ino == srv->unix_ino)
        unlink(srv->unix_path);
    if (srv->nconns && !cio_cancelled()) {
        cio_scope sc;
        if (cio_timeout_enter(&sc, srv->grace) == 0) {
            wait_handlers(srv, self, 1);
            cio_timeout_exit(&sc);
        }
    }
    if (srv->nconns) {
        for (cio_stream *s = srv->conns; s; s = s->snext)
            cio_cancel(s->task);
        wait_handlers(srv, self, 0);
    }
    int reason = cio_cancelled();
    cio__waitq_wake_all(&srv->forever, 0);
    server_free(srv);
    return reason;
}

static int closer_main(void *arg)
{
    return do_close(arg, cio__self());
}

int cio_server_close(cio_server *srv, double grace)
{
    if (!srv)
        return 0;
    if (!(grace >= 0))
        return cio__invalid(__func__);
    cio_task *self = cio__self();
    if (!self)
        return cio__not_in_task(__func__);
    if (srv->closing) {
        char name[128];
        return cio_fail(-EALREADY, "cio_server_close: the server on %s is already closing",
                        server_name(srv, name, sizeof(name)));
    }
    srv->closing = 1;
    srv->grace = grace;
    for (size_t i = 0; i < srv->nls; i++)
        if (srv->ls[i].task)
            cio_cancel(srv->ls[i].task);
    for (cio_stream *s = srv->conns; s; s = s->snext) {
        if (s->task == self) {
            /* A handler cannot wait for itself: finish in a task of its own. */
            cio_task *t;
            if (cio_spawn_opts(&t, closer_main, srv, NULL) == 0) {
                cio_detach(t);
                return 0;
            }
            break;
        }
    }
    return do_close(srv, self);
}
