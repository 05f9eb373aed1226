/* UDP endpoints (include/cio/udp.h): a datagram socket a task calls.
 *
 * Each call is one system call's worth of work: native RECVMSG / SENDMSG on
 * io_uring; on epoll, a non-blocking attempt and a readiness wait on EAGAIN.
 * The operation in flight is published on the endpoint so that a close from
 * another task can cancel it; the memory goes when the last call returns. */
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/alloc.h"
#include "net_internal.h"

struct cio_udp {
    int fd;
    unsigned busy;
    int closing;
    cio__op *rop, *sop; /* the receiver's and the sender's operations */
};

static void release(cio_udp *u)
{
    if (--u->busy == 0 && u->closing)
        free(u);
}

static ssize_t udp_io(cio_udp *u, int out, void *buf, size_t len, struct sockaddr *addr,
                      socklen_t *alen, socklen_t sendlen)
{
    cio_task *self;
    int err = cio__checkpoint(&self);
    if (err)
        return err;
    if (u->closing)
        return cio_fail(-EBADF, "UDP socket fd %d is closing", u->fd);
    cio__op **slot = out ? &u->sop : &u->rop;
    if (*slot)
        return cio__fail_bare(-EBUSY);
    u->busy++;
    ssize_t r;
    if (self->loop->backend.vt->native_io) {
        struct iovec iov = {buf, len};
        struct msghdr msg = {.msg_name = addr,
                             .msg_namelen = out    ? sendlen
                                            : addr ? *alen
                                                   : 0,
                             .msg_iov = &iov,
                             .msg_iovlen = 1};
        cio__op op = {.kind = out ? CIO__OP_SENDMSG : CIO__OP_RECVMSG,
                      .fd = u->fd,
                      .msg = &msg,
                      .flags = out ? MSG_NOSIGNAL : MSG_TRUNC};
        *slot = &op;
        r = cio__op_run(self, &op, out ? "udp send" : "udp recv");
        *slot = NULL;
        if (!out && r >= 0 && addr)
            *alen = msg.msg_namelen;
    } else {
        for (;;) {
            r = out ? sendto(u->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL, addr, sendlen)
                    : recvfrom(u->fd, buf, len, MSG_DONTWAIT | MSG_TRUNC, addr, alen);
            if (r >= 0)
                break;
            r = -errno;
            if (r == -EINTR)
                continue;
            if (r != -EAGAIN && r != -EWOULDBLOCK)
                break;
            cio__op op = {.kind = CIO__OP_POLL, .fd = u->fd, .events = out ? POLLOUT : POLLIN};
            *slot = &op;
            r = cio__op_run(self, &op, out ? "udp send" : "udp recv");
            *slot = NULL;
            if (r < 0 || u->closing)
                break;
        }
    }
    if (u->closing)
        r = -ECONNABORTED;
    release(u);
    return r;
}

ssize_t cio_udp_send_to(cio_udp *u, const void *buf, size_t n, const struct sockaddr *addr,
                        socklen_t alen)
{
    if (!u || (!buf && n) || (addr && !alen))
        return cio__invalid(__func__);
    return udp_io(u, 1, (void *)buf, n, (struct sockaddr *)addr, NULL, addr ? alen : 0);
}

ssize_t cio_udp_send(cio_udp *u, const void *buf, size_t n)
{
    return cio_udp_send_to(u, buf, n, NULL, 0);
}

ssize_t cio_udp_recv_from(cio_udp *u, void *buf, size_t cap, struct sockaddr_storage *addr,
                          socklen_t *alen)
{
    if (!u || (!buf && cap))
        return cio__invalid(__func__);
    socklen_t room = sizeof(*addr);
    if (!alen)
        alen = &room;
    else if (addr && *alen == 0)
        *alen = sizeof(*addr);
    return udp_io(u, 0, buf, cap, (struct sockaddr *)addr, alen, 0);
}

ssize_t cio_udp_recv(cio_udp *u, void *buf, size_t cap)
{
    return cio_udp_recv_from(u, buf, cap, NULL, NULL);
}

int cio_udp_local_addr(const cio_udp *u, struct sockaddr_storage *addr, socklen_t *alen)
{
    if (!u || !addr || !alen)
        return cio__invalid(__func__);
    *alen = sizeof(*addr);
    return getsockname(u->fd, (struct sockaddr *)addr, alen) < 0 ? -errno : 0;
}

int cio_udp_port(const cio_udp *u)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int err = cio_udp_local_addr(u, &ss, &len);
    if (err)
        return err;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

int cio_udp_fd(const cio_udp *u)
{
    return u ? u->fd : -1;
}

int cio_udp_close(cio_udp *u)
{
    if (!u || u->closing)
        return 0;
    u->closing = 1;
    if (cio__loop) {
        cio__backend *b = &cio__loop->backend;
        if (u->rop)
            b->vt->cancel(b, u->rop);
        if (u->sop)
            b->vt->cancel(b, u->sop);
    }
    close(u->fd);
    u->fd = -1;
    if (!u->busy)
        free(u);
    return 0;
}

/* ---- opening ---- */

static int resolve(const char *host, int port, int passive, int family, struct addrinfo **res)
{
    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%d", port);
    struct addrinfo hints = {
        .ai_family = family, .ai_socktype = SOCK_DGRAM, .ai_flags = passive ? AI_PASSIVE : 0};
    return cio_getaddrinfo(host, portstr, &hints, res);
}

int cio_udp_open(cio_udp **out, const char *local_host, int local_port, const char *remote_host,
                 int remote_port, const cio_udp_opts *opts)
{
    if (out)
        *out = NULL;
    if (!out)
        return cio__invalid(__func__);
    if (!local_host && !local_port && !remote_host)
        return cio_fail(-EINVAL, "udp_open: neither a local nor a remote address");
    if (local_port < 0 || local_port > 65535)
        return cio_fail(-EINVAL, "udp_open: bad local port %d", local_port);
    if (remote_host && (remote_port <= 0 || remote_port > 65535))
        return cio_fail(-EINVAL, "udp_open to %s: bad port %d", remote_host, remote_port);
    struct addrinfo *remote = NULL, *local = NULL;
    int err = 0, fd = -1;
    if (remote_host && (err = resolve(remote_host, remote_port, 0, AF_UNSPEC, &remote)))
        return err;
    int family = remote ? remote->ai_family : AF_UNSPEC;
    if ((local_host || local_port) && (err = resolve(local_host, local_port, 1, family, &local)))
        goto done;
    const struct addrinfo *first = local ? local : remote;
    fd = cio_socket(first->ai_family, SOCK_DGRAM, 0);
    if (fd < 0) {
        err = cio_fail(fd, "udp_open: socket: %s", cio_strerror(fd));
        goto done;
    }
    int one = 1;
    if (opts && opts->reuse_port)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (opts && opts->broadcast)
        setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one));
    char a[64];
    if (local && bind(fd, local->ai_addr, local->ai_addrlen) < 0) {
        err = -errno;
        err = cio_fail(err, "udp_open: bind %s: %s", cio__addr_str(local->ai_addr, a, sizeof(a)),
                       cio_strerror(err));
        goto done;
    }
    if (remote && connect(fd, remote->ai_addr, remote->ai_addrlen) < 0) {
        err = -errno;
        err = cio_fail(err, "udp_open: connect %s:%d (%s): %s", remote_host, remote_port,
                       cio__addr_str(remote->ai_addr, a, sizeof(a)), cio_strerror(err));
        goto done;
    }
    cio_udp *u = cio__calloc(1, sizeof(*u));
    if (!u) {
        err = -ENOMEM;
        goto done;
    }
    u->fd = fd;
    fd = -1;
    *out = u;
done:
    if (fd >= 0)
        close(fd);
    if (remote)
        freeaddrinfo(remote);
    if (local)
        freeaddrinfo(local);
    return err;
}
