/* TLS streams with OpenSSL 3 over memory BIOs.
 *
 * OpenSSL never touches the socket: wire bytes that arrive are written into
 * a memory BIO (rbio) and the bytes OpenSSL produces are taken out of another
 * (wbio) and queued on the stream's write buffer. So TLS works the same on
 * io_uring and epoll, reads and writes go through the stream's own machinery
 * (background flushing, water marks, close from another task), and a task
 * only ever waits in the stream's raw read. The stream sees payload through
 * a vtable (net_internal.h): tls_recv, tls_send, tls_shutdown.
 *
 * OpenSSL's error queue is per thread and shared by every task on it, so it
 * is cleared before each call whose errors are looked at.
 */
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/alloc.h"
#include "net_internal.h"

#define RAW_SIZE (16 * 1024 + 512) /* one full TLS record per read */

struct cio_tls_config {
    SSL_CTX *ctx;
    int server;
    int verify;
    int refs;
    double handshake_timeout, shutdown_timeout;
};

typedef struct tls_state {
    SSL *ssl;
    BIO *rbio, *wbio; /* network side: bytes in, bytes out */
    char *raw;        /* wire bytes read from the socket */
    int sent_shutdown;
    char peer[96]; /* for messages */
    char alpn[64]; /* the negotiated protocol, NUL-terminated */
} tls_state;

/* ---- configs ---- */

static int config_new(cio_tls_config **out, int server)
{
    cio_tls_config *c = cio__calloc(1, sizeof(*c));
    if (!c) {
        cio_fail(-ENOMEM, "TLS config: out of memory");
        return -ENOMEM;
    }
    c->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!c->ctx) {
        free(c);
        cio_fail(-ENOMEM, "TLS config: OpenSSL could not make a context");
        return -ENOMEM;
    }
    c->server = server;
    c->verify = !server;
    c->refs = 1;
    c->handshake_timeout = 60.0;
    c->shutdown_timeout = 30.0;
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(c->ctx, SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(c->ctx, SSL_MODE_RELEASE_BUFFERS);
    if (!server)
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    *out = c;
    return 0;
}

int cio_tls_client_config_new(cio_tls_config **out)
{
    if (!out)
        return cio__invalid(__func__);
    *out = NULL;
    cio_tls_config *c;
    int err = config_new(&c, 0);
    if (err)
        return err;
    /* A system without a trust store can still trust CAs loaded later. */
    SSL_CTX_set_default_verify_paths(c->ctx);
    ERR_clear_error();
    *out = c;
    return 0;
}

/* The reason of OpenSSL's last error, for messages. */
static const char *ssl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();
    if (!e)
        return "unknown error";
    const char *r = ERR_reason_error_string(e);
    snprintf(buf, len, "%s", r ? r : "unknown error");
    ERR_clear_error();
    return buf;
}

int cio_tls_config_set_cert(cio_tls_config *cfg, const char *cert_file, const char *key_file)
{
    if (!cfg)
        return cio__invalid(__func__);
    if (!cert_file || !key_file)
        return cio_fail(-EINVAL, "TLS config: %s file is NULL", cert_file ? "key" : "certificate");
    for (int i = 0; i < 2; i++) {
        const char *f = i ? key_file : cert_file;
        if (access(f, R_OK) < 0) {
            int e = -errno;
            return cio_fail(e, "TLS config: %s: %s", f, cio_strerror(e));
        }
    }
    char why[128];
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(cfg->ctx, cert_file) != 1)
        return cio_fail(-EINVAL, "TLS config: certificate %s: %s", cert_file,
                        ssl_reason(why, sizeof(why)));
    int used = SSL_CTX_use_PrivateKey_file(cfg->ctx, key_file, SSL_FILETYPE_PEM);
    if (used != 1 && ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH)
        return cio_fail(-EINVAL, "TLS config: key %s: %s", key_file, ssl_reason(why, sizeof(why)));
    if (used != 1 || SSL_CTX_check_private_key(cfg->ctx) != 1) {
        ERR_clear_error();
        return cio_fail(CIO_ETLS, "TLS config: key %s does not match certificate %s", key_file,
                        cert_file);
    }
    return 0;
}

int cio_tls_server_config_new(cio_tls_config **out, const char *cert_file, const char *key_file)
{
    if (!out)
        return cio__invalid(__func__);
    *out = NULL;
    cio_tls_config *c;
    int err = config_new(&c, 1);
    if (err)
        return err;
    err = cio_tls_config_set_cert(c, cert_file, key_file);
    if (err) {
        cio_tls_config_free(c);
        return err;
    }
    *out = c;
    return 0;
}

int cio_tls_config_load_ca(cio_tls_config *cfg, const char *ca_file)
{
    if (!cfg || !ca_file)
        return cio__invalid(__func__);
    if (access(ca_file, R_OK) < 0) {
        int e = -errno;
        return cio_fail(e, "TLS config: CA file %s: %s", ca_file, cio_strerror(e));
    }
    ERR_clear_error();
    if (SSL_CTX_load_verify_locations(cfg->ctx, ca_file, NULL) != 1) {
        char why[128];
        return cio_fail(-EINVAL, "TLS config: CA file %s: %s", ca_file,
                        ssl_reason(why, sizeof(why)));
    }
    return 0;
}

int cio_tls_config_set_verify(cio_tls_config *cfg, int verify)
{
    if (!cfg)
        return cio__invalid(__func__);
    cfg->verify = !!verify;
    int mode = SSL_VERIFY_NONE;
    if (verify)
        mode = cfg->server ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER;
    SSL_CTX_set_verify(cfg->ctx, mode, NULL);
    return 0;
}

int cio_tls_config_set_timeouts(cio_tls_config *cfg, double handshake, double shutdown)
{
    if (!cfg || !(handshake >= 0) || !(shutdown >= 0))
        return cio__invalid(__func__);
    cfg->handshake_timeout = handshake;
    cfg->shutdown_timeout = shutdown;
    return 0;
}

/* The server picks the first of its own protocols that the client offers. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    const unsigned char *mine = arg;
    unsigned char *sel;
    if (SSL_select_next_proto(&sel, outlen, mine + 1, mine[0], in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

static int alpn_index = -1;

static void alpn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    free(ptr);
}

int cio_tls_config_set_alpn(cio_tls_config *cfg, const char *protocols)
{
    if (!cfg || !protocols)
        return cio__invalid(__func__);
    size_t n = strlen(protocols);
    if (!n || n > 254)
        return cio__invalid(__func__);
    /* Wire format: a length byte before each name; one more byte in front
     * holds the total for the server's callback. */
    unsigned char *wire = cio__malloc(n + 2);
    if (!wire)
        return -ENOMEM;
    size_t w = 1, start = 1;
    for (const char *p = protocols;; p++) {
        if (*p == ',' || !*p) {
            size_t len = w - start;
            if (!len || len > 255) {
                free(wire);
                return cio__invalid(__func__);
            }
            memmove(wire + start + 1, wire + start, len);
            wire[start] = (unsigned char)len;
            w++;
            start = w;
            if (!*p)
                break;
        } else {
            wire[w++] = (unsigned char)*p;
        }
    }
    wire[0] = (unsigned char)(w - 1);
    if (cfg->server) {
        if (alpn_index < 0)
            alpn_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, alpn_free);
        free(SSL_CTX_get_ex_data(cfg->ctx, alpn_index));
        SSL_CTX_set_ex_data(cfg->ctx, alpn_index, wire);
        SSL_CTX_set_alpn_select_cb(cfg->ctx, alpn_select, wire);
        return 0;
    }
    int r = SSL_CTX_set_alpn_protos(cfg->ctx, wire + 1, (unsigned)(w - 1));
    free(wire);
    return r == 0 ? 0 : -ENOMEM;
}

void cio__tls_config_ref(cio_tls_config *cfg)
{
    __atomic_add_fetch(&cfg->refs, 1, __ATOMIC_RELAXED);
}

void cio_tls_config_free(cio_tls_config *cfg)
{
    if (!cfg || __atomic_sub_fetch(&cfg->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    SSL_CTX_free(cfg->ctx);
    free(cfg);
}

int cio__tls_config_is_server(const cio_tls_config *cfg)
{
    return cfg->server;
}

/* ---- moving bytes ---- */

/* Queues what OpenSSL wrote on the stream's write buffer. */
static int pump_out(cio_stream *s, tls_state *t)
{
    char *p;
    long n = BIO_get_mem_data(t->wbio, &p);
    if (n <= 0)
        return 0;
    int err = cio__stream_queue(s, p, (size_t)n);
    (void)BIO_reset(t->wbio);
    return err;
}

/* Reads wire bytes into rbio. Returns the count, 0 at EOF, or -errno. */
static ssize_t pump_in(cio_stream *s, tls_state *t)
{
    if (!t->raw && !(t->raw = cio__malloc(RAW_SIZE)))
        return -ENOMEM;
    ssize_t r = cio__stream_raw_recv(s, t->raw, RAW_SIZE);
    if (r > 0 && BIO_write(t->rbio, t->raw, (int)r) != (int)r)
        return -ENOMEM;
    return r;
}

/* An OpenSSL failure as a cio code with a message. */
static int tls_failure(cio_stream *s, tls_state *t, int ret, const char *what)
{
    int e = SSL_get_error(t->ssl, ret);
    long vr = SSL_get_verify_result(t->ssl);
    if (vr != X509_V_OK) {
        ERR_clear_error();
        return cio_fail(CIO_ECERT, "TLS %s with %s: certificate verification failed: %s", what,
                        t->peer, X509_verify_cert_error_string(vr));
    }
    if (e == SSL_ERROR_SYSCALL && !ERR_peek_error())
        return cio_fail(-ECONNRESET, "TLS %s with %s: connection closed", what, t->peer);
    char why[160];
    int err = cio_fail(CIO_ETLS, "TLS %s with %s failed: %s", what, t->peer,
                       ssl_reason(why, sizeof(why)));
    (void)s;
    return err;
}

/* ---- the stream vtable ---- */

static ssize_t tls_recv(cio_stream *s, void *dst, size_t cap)
{
    tls_state *t = s->tls;
    for (;;) {
        size_t got = 0;
        ERR_clear_error();
        int ret = SSL_read_ex(t->ssl, dst, cap, &got);
        int err = pump_out(s, t);
        if (ret == 1)
            return (ssize_t)got;
        if (err)
            return err;
        int e = SSL_get_error(t->ssl, ret);
        if (e == SSL_ERROR_ZERO_RETURN)
            return 0; /* close_notify */
        if (e != SSL_ERROR_WANT_READ)
            return tls_failure(s, t, ret, "read");
        ssize_t r = pump_in(s, t);
        if (r == 0)
            return 0; /* the peer closed without close_notify: EOF all the same */
        if (r < 0)
            return r;
    }
}

static int tls_send(cio_stream *s, const void *src, size_t n)
{
    tls_state *t = s->tls;
    if (!n)
        return 0;
    size_t done = 0;
    ERR_clear_error();
    int ret = SSL_write_ex(t->ssl, src, n, &done);
    int err = pump_out(s, t);
    if (ret != 1)
        return tls_failure(s, t, ret, "write");
    return err;
}

static int tls_shutdown(cio_stream *s)
{
    tls_state *t = s->tls;
    if (t->sent_shutdown || !SSL_is_init_finished(t->ssl))
        return 0;
    t->sent_shutdown = 1;
    ERR_clear_error();
    SSL_shutdown(t->ssl); /* queues close_notify; the peer's is not awaited */
    ERR_clear_error();
    return pump_out(s, t);
}

static void tls_destroy(cio_stream *s)
{
    tls_state *t = s->tls;
    if (!t)
        return;
    SSL_free(t->ssl); /* and the BIOs */
    free(t->raw);
    free(t);
    s->tls = NULL;
}

static const cio__stream_vt tls_vt = {
    .recv = tls_recv,
    .send = tls_send,
    .shutdown = tls_shutdown,
    .destroy = tls_destroy,
};

/* ---- handshake ---- */

static int handshake(cio_stream *s, tls_state *t)
{
    for (;;) {
        ERR_clear_error();
        int ret = SSL_do_handshake(t->ssl);
        int err = pump_out(s, t);
        if (err)
            return err;
        if (ret == 1) {
            const unsigned char *p;
            unsigned len;
            SSL_get0_alpn_selected(t->ssl, &p, &len);
            if (len && len < sizeof(t->alpn)) {
                memcpy(t->alpn, p, len);
                t->alpn[len] = 0;
            }
            return 0;
        }
        if (SSL_get_error(t->ssl, ret) != SSL_ERROR_WANT_READ)
            return tls_failure(s, t, ret, "handshake");
        ssize_t r = pump_in(s, t);
        if (r == 0)
            return cio_fail(-ECONNRESET, "TLS handshake with %s: connection closed by the peer",
                            t->peer);
        if (r < 0)
            return (int)r;
    }
}

static int is_ip(const char *name)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

static void describe_peer(cio_stream *s, tls_state *t, const char *name)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char addr[64] = "";
    if (cio_stream_peer_addr(s, &ss, &len) == 0 && ss.ss_family != AF_UNIX)
        cio__addr_str((struct sockaddr *)&ss, addr, sizeof(addr));
    if (name && *addr)
        snprintf(t->peer, sizeof(t->peer), "%s (%s)", name, addr);
    else
        snprintf(t->peer, sizeof(t->peer), "%s", name ? name : *addr ? addr : "peer");
}

int cio__tls_start(cio_stream *s, cio_tls_config *cfg, const char *name)
{
    if (!cfg->server && cfg->verify && !name)
        return cio_fail(-EINVAL, "start_tls: a client that verifies needs a server hostname");
    tls_state *t = cio__calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    describe_peer(s, t, cfg->server ? NULL : name);
    t->ssl = SSL_new(cfg->ctx);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->rbio || !t->wbio) {
        SSL_free(t->ssl);
        BIO_free(t->rbio);
        BIO_free(t->wbio);
        free(t);
        return -ENOMEM;
    }
    BIO_set_mem_eof_return(t->rbio, -1); /* empty means "want more", not EOF */
    SSL_set_bio(t->ssl, t->rbio, t->wbio);
    int err = 0;
    if (cfg->server) {
        SSL_set_accept_state(t->ssl);
    } else {
        SSL_set_connect_state(t->ssl);
        if (name && is_ip(name)) {
            if (cfg->verify && X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), name) != 1)
                err = -EINVAL;
        } else if (name) {
            if (SSL_set_tlsext_host_name(t->ssl, name) != 1 ||
                (cfg->verify && SSL_set1_host(t->ssl, name) != 1))
                err = cio_fail(-EINVAL, "start_tls: bad server hostname \"%s\"", name);
        }
    }
    /* Bytes read ahead of the upgrade belong to the handshake. */
    if (!err && s->rb.len) {
        if (BIO_write(t->rbio, s->rb.p + s->rb.off, (int)s->rb.len) != (int)s->rb.len)
            err = -ENOMEM;
        s->rb.off = s->rb.len = 0;
    }
    if (err) {
        SSL_free(t->ssl);
        free(t);
        return err;
    }
    s->tls = t;
    s->vt = &tls_vt;
    s->wdirect = 0;
    s->close_timeout = cfg->shutdown_timeout;

    cio_scope sc;
    int timed = cfg->handshake_timeout < CIO_FOREVER;
    if (timed && (err = cio_timeout_enter(&sc, cfg->handshake_timeout)) != 0)
        return err;
    err = handshake(s, t);
    if (timed && cio_timeout_exit(&sc) == -ETIMEDOUT && err == -ETIMEDOUT)
        err = cio_fail(-ETIMEDOUT, "TLS handshake with %s: no answer within %g s", t->peer,
                       cfg->handshake_timeout);
    return err;
}

int cio_stream_start_tls(cio_stream *s, cio_tls_config *cfg, const char *server_hostname)
{
    if (!s || !cfg)
        return cio__invalid(__func__);
    cio_task *self;
    int err = cio__checkpoint(&self);
    if (err)
        return err;
    if (s->closestarted)
        return cio_fail(-EBADF, "cio_stream_start_tls: stream fd %d is closing or closed", s->fd);
    if (s->tls)
        return cio_fail(-EALREADY, "cio_stream_start_tls: stream fd %d is TLS already", s->fd);
    if (s->rbusy || s->busy > (s->server ? 1u : 0u))
        return cio_fail(-EBUSY, "cio_stream_start_tls: stream fd %d is being read or written",
                        s->fd);
    s->busy++;
    err = cio__stream_wait_level(s, 0); /* plaintext written before the upgrade goes first */
    if (!err)
        err = cio__tls_start(s, cfg, server_hostname);
    cio__stream_release(s);
    return err;
}

const char *cio_stream_tls_version(const cio_stream *s)
{
    if (!s || !s->tls)
        return NULL;
    return SSL_get_version(((tls_state *)s->tls)->ssl);
}

const char *cio_stream_tls_alpn(const cio_stream *s)
{
    if (!s || !s->tls)
        return NULL;
    tls_state *t = s->tls;
    return t->alpn[0] ? t->alpn : NULL;
}
