/* Opening connections (asyncio.open_connection, open_unix_connection): resolve,
 * try each address in turn, wrap the socket in a stream, and run the TLS
 * handshake when asked. */
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

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

    attempt tried[MAX_TRIED];
    size_t ntried = 0, total = 0;
    int fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = cio_socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd >= 0) {
            err = cio_connect(fd, ai->ai_addr, ai->ai_addrlen);
            if (!err)
                break;
            close(fd);
            fd = -1;
        } else {
            err = fd;
        }
        if (cio_cancelled())
            break;
        attempt *a = &tried[ntried < MAX_TRIED ? ntried++ : MAX_TRIED - 1];
        cio__addr_str(ai->ai_addr, a->addr, sizeof(a->addr));
        a->err = err;
        total++;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        int reason = cio_cancelled();
        if (reason)
            return reason;
        return total ? connect_failed(host, port, tried, ntried, total)
                     : cio_fail(-ENOENT, "connect to %s:%d: no address", host, port);
    }
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
        return -EINVAL;
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
