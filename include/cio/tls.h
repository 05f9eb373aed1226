/* cio TLS (OpenSSL 3): configurations for clients and servers. A TLS stream
 * is a plain cio_stream (cio/stream.h): the same read and write calls, the
 * same buffering. Put a config in cio_stream_opts.tls for cio_open_connection
 * or cio_start_server, or upgrade a connected stream with
 * cio_stream_start_tls.
 *
 *     cio_tls_config *tls;
 *     cio_tls_client_config_new(&tls);           // system trust store
 *     cio_stream_opts o = {.tls = tls};
 *     err = cio_open_connection(&s, "example.org", 443, &o);
 *     cio_tls_config_free(tls);                  // streams keep what they need
 *
 * Clients verify the server's certificate chain against the system's trust
 * store and its name against the host (or opts.server_hostname), and send
 * that name as SNI. Handshakes and shutdowns run under the config's timeouts
 * (asyncio's ssl_handshake_timeout 60 s and ssl_shutdown_timeout 30 s) and
 * under the caller's scopes, so they are cancellable like any read.
 *
 * Builds without OpenSSL have these functions; they return -ENOTSUP.
 */
#ifndef CIO_TLS_H
#define CIO_TLS_H

#include "core.h"
#include "stream.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The codes TLS calls return, CIO_ETLS and CIO_ECERT, are in cio/core.h
 * with cio's other codes. */

/* A client config: TLS 1.2 or newer, the system's trust store, peer
 * verification and host-name checks on. Returns 0, -ENOMEM, -ENOTSUP.
 * Suspends: no. */
CIO_API int cio_tls_client_config_new(cio_tls_config **out);

/* A server config with a certificate chain and private key (PEM files).
 * Returns 0, -ENOENT / -EINVAL (CIO_ETLS for a key that does not match) with
 * a cio_fail message, -ENOMEM, -ENOTSUP. Suspends: no (reads files). */
CIO_API int cio_tls_server_config_new(cio_tls_config **out, const char *cert_file,
                                      const char *key_file);

/* Sets the certificate chain and key this side presents: a client's for
 * servers that ask for one (mutual TLS). Returns 0 or -errno with a message,
 * as cio_tls_server_config_new. Suspends: no. */
CIO_API int cio_tls_config_set_cert(cio_tls_config *cfg, const char *cert_file,
                                    const char *key_file);

/* Trusts the CA certificates in ca_file (PEM), in addition to the system
 * store (clients) or for client certificates (servers). Returns 0 or -errno.
 * Suspends: no. */
CIO_API int cio_tls_config_load_ca(cio_tls_config *cfg, const char *ca_file);

/* Client: verify the server (1, the default) or not (0: insecure, for tests).
 * Server: require a client certificate signed by a loaded CA (1) or not (0,
 * the default). Returns 0 or -EINVAL. Suspends: no. */
CIO_API int cio_tls_config_set_verify(cio_tls_config *cfg, int verify);

/* Handshake and shutdown timeouts in seconds (CIO_FOREVER: none). Returns 0
 * or -EINVAL. Suspends: no. */
CIO_API int cio_tls_config_set_timeouts(cio_tls_config *cfg, double handshake, double shutdown);

/* ALPN protocols, comma-separated in preference order ("h2,http/1.1").
 * Returns 0, -EINVAL, -ENOMEM. Suspends: no. */
CIO_API int cio_tls_config_set_alpn(cio_tls_config *cfg, const char *protocols);

/* Releases the caller's reference; streams and servers made with cfg keep
 * their own. NULL is a no-op. Suspends: no. */
CIO_API void cio_tls_config_free(cio_tls_config *cfg);

/* The negotiated protocol version ("TLSv1.3") of a TLS stream, or NULL.
 * Suspends: no. */
CIO_API const char *cio_stream_tls_version(const cio_stream *s);

/* The negotiated ALPN protocol, or NULL. Suspends: no. */
CIO_API const char *cio_stream_tls_alpn(const cio_stream *s);

#ifdef __cplusplus
}
#endif
#endif
