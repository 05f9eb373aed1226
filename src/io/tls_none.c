/* Builds without OpenSSL (CMakeLists.txt compiles this file instead of
 * tls.c): every TLS call says so with -ENOTSUP. */
#include "net_internal.h"

int cio_stream_start_tls(cio_stream *s, cio_tls_config *cfg, const char *server_hostname)
{
    (void)s, (void)cfg, (void)server_hostname;
    return -ENOTSUP;
}

int cio__tls_start(cio_stream *s, cio_tls_config *cfg, const char *server_hostname)
{
    return cio_stream_start_tls(s, cfg, server_hostname);
}

int cio__tls_config_is_server(const cio_tls_config *cfg)
{
    (void)cfg;
    return 0;
}

void cio__tls_config_ref(cio_tls_config *cfg)
{
    (void)cfg;
}

int cio_tls_client_config_new(cio_tls_config **out)
{
    if (out)
        *out = NULL;
    return -ENOTSUP;
}

int cio_tls_server_config_new(cio_tls_config **out, const char *cert_file, const char *key_file)
{
    (void)cert_file, (void)key_file;
    if (out)
        *out = NULL;
    return -ENOTSUP;
}

int cio_tls_config_set_cert(cio_tls_config *cfg, const char *cert_file, const char *key_file)
{
    (void)cfg, (void)cert_file, (void)key_file;
    return -ENOTSUP;
}

int cio_tls_config_load_ca(cio_tls_config *cfg, const char *ca_file)
{
    (void)cfg, (void)ca_file;
    return -ENOTSUP;
}

int cio_tls_config_set_verify(cio_tls_config *cfg, int verify)
{
    (void)cfg, (void)verify;
    return -ENOTSUP;
}

int cio_tls_config_set_timeouts(cio_tls_config *cfg, double handshake, double shutdown)
{
    (void)cfg, (void)handshake, (void)shutdown;
    return -ENOTSUP;
}

int cio_tls_config_set_alpn(cio_tls_config *cfg, const char *protocols)
{
    (void)cfg, (void)protocols;
    return -ENOTSUP;
}

void cio_tls_config_free(cio_tls_config *cfg)
{
    (void)cfg;
}

const char *cio_stream_tls_version(const cio_stream *s)
{
    (void)s;
    return NULL;
}

const char *cio_stream_tls_alpn(const cio_stream *s)
{
    (void)s;
    return NULL;
}
