/* cio UDP endpoints (asyncio's create_datagram_endpoint, in the shape of a
 * socket a task calls rather than a protocol with callbacks).
 *
 *     cio_udp *u;
 *     cio_udp_open(&u, "127.0.0.1", 9999, NULL, 0, NULL);   // bound
 *     ssize_t n = cio_udp_recv_from(u, buf, sizeof(buf), &from, &fromlen);
 *     cio_udp_send_to(u, buf, (size_t)n, (struct sockaddr *)&from, fromlen);
 *     cio_udp_close(u);
 *
 * One datagram per call; nothing is buffered. One task may receive while
 * another sends; an endpoint closed by one task while another waits in a call
 * on it ends that call with -ECONNABORTED.
 */
#ifndef CIO_UDP_H
#define CIO_UDP_H

#include <sys/socket.h>
#include <sys/types.h>

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_udp cio_udp;

/* Options for cio_udp_open. Zero-initialise. */
typedef struct cio_udp_opts {
    int reuse_port; /* SO_REUSEPORT */
    int broadcast;  /* SO_BROADCAST */
} cio_udp_opts;

/* Opens a datagram endpoint bound to local_host:local_port (local_host NULL
 * with a port: every address; both NULL/0: an ephemeral port on connect)
 * and, with remote_host, connected to remote_host:remote_port so that
 * cio_udp_send needs no address and only that peer's datagrams arrive. At
 * least one side must be given. Host names are resolved (cio_getaddrinfo).
 * Returns 0 and *out, or -errno (-EINVAL, -ENOENT, -EADDRINUSE, ...) with a
 * cio_fail message. Suspends: yes (to resolve names).
 * Cancellation: returns the reason; nothing is left open. */
CIO_API int cio_udp_open(cio_udp **out, const char *local_host, int local_port,
                         const char *remote_host, int remote_port, const cio_udp_opts *opts);

/* Sends one datagram to addr / to the connected peer. Returns n or -errno
 * (-EMSGSIZE, -ECONNREFUSED after an ICMP error on a connected endpoint,
 * -EDESTADDRREQ without an address on an unconnected one). Suspends: yes,
 * while the socket's send buffer is full. Cancellation: returns the reason,
 * nothing sent (or, on io_uring, n when the send won the race). */
CIO_API ssize_t cio_udp_send_to(cio_udp *u, const void *buf, size_t n, const struct sockaddr *addr,
                                socklen_t alen);
CIO_API ssize_t cio_udp_send(cio_udp *u, const void *buf, size_t n);

/* Receives one datagram into buf and, if addr is not NULL, the sender's
 * address (*alen: in, the room; out, the length). Returns the datagram's full
 * length: more than cap means it was cut to cap bytes. Suspends: yes, until a
 * datagram arrives. Cancellation: returns the reason, nothing received. */
CIO_API ssize_t cio_udp_recv_from(cio_udp *u, void *buf, size_t cap, struct sockaddr_storage *addr,
                                  socklen_t *alen);
CIO_API ssize_t cio_udp_recv(cio_udp *u, void *buf, size_t cap);

/* The local address and port. Suspends: no. */
CIO_API int cio_udp_local_addr(const cio_udp *u, struct sockaddr_storage *addr, socklen_t *alen);
CIO_API int cio_udp_port(const cio_udp *u);

/* The descriptor (for setsockopt: multicast and the like). Suspends: no. */
CIO_API int cio_udp_fd(const cio_udp *u);

/* Closes the socket and frees the endpoint. Always releases. Returns 0.
 * NULL is a no-op. Suspends: no. */
CIO_API int cio_udp_close(cio_udp *u);

#ifdef __cplusplus
}
#endif
#endif
