/* libcio-http's native HTTP/1.1 client path: plain http:// requests on cio
 * streams, kept alive in a per-session pool, responses parsed by llhttp in
 * strict HTTP_RESPONSE mode. libcurl keeps everything this path does not do
 * (see cio__http_native_send and docs/internals/http.md). */
#include <errno.h>
#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "../core/alloc.h"
#include "http_internal.h"

/* ---- the pool ----
 * A heap object of its own, counted: a request waiting for a free connection
 * holds a reference, so closing the session under it is safe. */

struct cio__http_pool {
    cio__http_conn *conns; /* idle and busy, most recently used first */
    size_t nconns;
    cio_event freed; /* set when a connection is given back or closed */
    long max_total, max_host;
    int refs, closed;
};

struct cio__http_conn {
    struct cio__http_conn *next, *prev;
    cio__http_pool *pool; /* NULL once the session closed under a request */
    cio_stream *st;
    char key[280]; /* "host:port" */
    int idle;
};

cio__http_pool *cio__http_pool_new(long max_total, long max_host)
{
    cio__http_pool *p = cio__calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    cio_event_init(&p->freed);
    p->max_total = max_total ? max_total : 100;
    p->max_host = max_host;
    p->refs = 1;
    return p;
}

static void pool_unref(cio__http_pool *p)
{
    if (--p->refs == 0) {
        cio_event_destroy(&p->freed);
        free(p);
    }
}

static size_t count_key(cio__http_pool *p, const char *key)
{
    size_t n = 0;
    for (cio__http_conn *c = p->conns; c; c = c->next)
        n += strcmp(c->key, key) == 0;
    return n;
}

/* Closes and frees c (stream and record). */
static void conn_drop(cio__http_conn *c)
{
    cio__http_pool *p = c->pool;
    if (p) {
        if (c->prev)
            c->prev->next = c->next;
        else
            p->conns = c->next;
        if (c->next)
            c->next->prev = c->prev;
        p->nconns--;
        cio_event_set(&p->freed);
    }
    if (c->st)
        cio_stream_close(c->st);
    free(c);
}

/* Gives c back: to the pool's front when reusable, else closed. */
static void conn_release(cio__http_conn *c, int keep)
{
    cio__http_pool *p = c->pool;
    if (!keep || !p) {
        conn_drop(c);
        return;
    }
    c->idle = 1;
    if (c != p->conns) { /* most recently used first */
        c->prev->next = c->next;
        if (c->next)
            c->next->prev = c->prev;
        c->prev = NULL;
        c->next = p->conns;
        p->conns->prev = c;
        p->conns = c;
    }
    cio_event_set(&p->freed);
}

/* An idle connection to key (the most recent), or a new record within the
 * limits, waiting while they are reached; *fresh says which. `only_new`
 * skips idle ones (the retry after a stale connection). Returns 0, the
 * cancel reason, or -ESHUTDOWN if the session closed meanwhile. */
static int conn_acquire(cio__http_pool *p, const char *key, int only_new, cio__http_conn **out,
                        int *fresh)
{
    for (;;) {
        if (p->closed)
            return -ESHUTDOWN;
        if (!only_new)
            for (cio__http_conn *c = p->conns; c; c = c->next)
                if (c->idle && strcmp(c->key, key) == 0) {
                    c->idle = 0;
                    *out = c;
                    *fresh = 0;
                    return 0;
                }
        int full = (long)p->nconns >= p->max_total;
        if (full || (p->max_host > 0 && (long)count_key(p, key) >= p->max_host)) {
            /* Make room by closing the least recently used idle connection
             * that helps, else wait for one to be given back. */
            cio__http_conn *victim = NULL;
            for (cio__http_conn *c = p->conns; c; c = c->next)
                if (c->idle && (full || strcmp(c->key, key) == 0))
                    victim = c;
            if (victim) {
                conn_drop(victim);
                continue;
            }
            cio_event_clear(&p->freed);
            p->refs++;
            int err = cio_event_wait(&p->freed);
            int closed = p->closed;
            pool_unref(p);
            if (closed)
                return -ESHUTDOWN;
            if (err)
                return err;
            continue;
        }
        cio__http_conn *c = cio__calloc(1, sizeof(*c));
        if (!c)
            return -ENOMEM;
        c->pool = p;
        snprintf(c->key, sizeof(c->key), "%s", key);
        c->next = p->conns;
        if (p->conns)
            p->conns->prev = c;
        p->conns = c;
        p->nconns++;
        *out = c;
        *fresh = 1;
        return 0;
    }
}

void cio__http_pool_close(cio__http_pool *p)
{
    if (!p)
        return;
    /* Idle connections close; a request still using one finds its stream
     * gone (its calls end with -ECONNABORTED) and the record detached;
     * requests waiting for a connection wake to -ESHUTDOWN. */
    p->closed = 1;
    while (p->conns) {
        cio__http_conn *c = p->conns;
        p->conns = c->next;
        cio_stream *st = c->st;
        c->st = NULL;
        if (c->idle) {
            free(c);
        } else {
            c->pool = NULL;
            c->next = c->prev = NULL;
        }
        if (st)
            cio_stream_close(st);
    }
    p->nconns = 0;
    cio_event_set(&p->freed);
    pool_unref(p);
}

/* ---- URLs and eligibility ---- */

typedef struct target {
    char host[256];
    int port;
    const char *path; /* in the URL: from the first '/' or '?' */
    size_t path_len;  /* up to any '#' */
    char key[280];
} target;

/* Parses a plain http:// URL into t. Returns 0 for what the native path
 * does not take (userinfo, IPv6 literals, odd bytes, dot segments). */
static int parse_target(const char *url, target *t)
{
    if (strncasecmp(url, "http://", 7) != 0)
        return 0;
    const char *a = url + 7, *e = a;
    while (*e && *e != '/' && *e != '?' && *e != '#')
        e++;
    const char *colon = memchr(a, ':', (size_t)(e - a));
    if (memchr(a, '@', (size_t)(e - a)) || memchr(a, '[', (size_t)(e - a)))
        return 0;
    const char *hend = colon ? colon : e;
    if (hend == a || (size_t)(hend - a) >= sizeof(t->host))
        return 0;
    memcpy(t->host, a, (size_t)(hend - a));
    t->host[hend - a] = 0;
    t->port = 80;
    if (colon) {
        long p = 0;
        const char *d = colon + 1;
        if (d == e)
            return 0;
        for (; d < e; d++) {
            if (*d < '0' || *d > '9')
                return 0;
            p = p * 10 + (*d - '0');
            if (p > 65535)
                return 0;
        }
        if (p == 0)
            return 0;
        t->port = (int)p;
    }
    t->path = e;
    const char *f = e;
    while (*f && *f != '#') {
        unsigned char ch = (unsigned char)*f;
        if (ch <= ' ' || ch >= 0x7f)
            return 0;
        f++;
    }
    t->path_len = (size_t)(f - e);
    for (const char *p = e; p + 1 < f && *p != '?'; p++)
        if (p[0] == '/' && p[1] == '.')
            return 0; /* dot segments: libcurl normalises them */
    snprintf(t->key, sizeof(t->key), "%s:%d", t->host, t->port);
    return 1;
}

/* Headers whose meaning the native path would have to take over. */
static int reserved_header(const char *h)
{
    static const char *const names[] = {"host",       "accept",         "accept-encoding",
                                        "connection", "content-length", "transfer-encoding",
                                        "expect",     "content-type",   "te",
                                        "upgrade",    "proxy-",         NULL};
    const char *colon = strchr(h, ':');
    if (!colon || colon == h)
        return 1; /* libcurl's "Name;" and other forms */
    for (const char *const *n = names; *n; n++) {
        size_t l = strlen(*n);
        if (strncasecmp(h, *n, l) == 0 && ((*n)[l - 1] == '-' || h + l == colon))
            return 1;
    }
    return 0;
}

/* ---- the response ---- */

typedef struct nresp {
    int status;
    int head;     /* a HEAD request: no body */
    int complete; /* the final response is in */
    int keep_alive;
    int too_big;
    int bad_encoding;
    int inflating;
    z_stream z;
    size_t max_body, raw;
    char *body;
    size_t len, cap;
    cio__http_headers headers;
    char *field, *value; /* the header being read */
    size_t field_len, field_cap, value_len, value_cap;
    int in_value;
} nresp;

static nresp *nr(llhttp_t *p)
{
    return p->data;
}

static int on_message_begin(llhttp_t *p)
{
    nresp *r = nr(p);
    cio__http_headers_clear(&r->headers); /* after a 1xx */
    r->field_len = r->value_len = 0;
    r->in_value = 0;
    return 0;
}

static int add_pending(nresp *r)
{
    if (!r->in_value)
        return 0;
    r->in_value = 0;
    int err = cio__http_headers_add(&r->headers, r->field ? r->field : "", r->field_len,
                                    r->value ? r->value : "", r->value_len);
    r->field_len = r->value_len = 0;
    return err < 0 ? -1 : 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
    nresp *r = nr(p);
    if (add_pending(r))
        return -1;
    return cio__http_buf_append(&r->field, &r->field_len, &r->field_cap, at, n) < 0 ? -1 : 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
    nresp *r = nr(p);
    r->in_value = 1;
    return cio__http_buf_append(&r->value, &r->value_len, &r->value_cap, at, n) < 0 ? -1 : 0;
}

static int on_header_value_complete(llhttp_t *p)
{
    nresp *r = nr(p);
    r->in_value = 1; /* an empty value has no data callback */
    return add_pending(r);
}

static int on_headers_complete(llhttp_t *p)
{
    nresp *r = nr(p);
    r->status = p->status_code;
    if (r->status >= 200) {
        const char *ce = cio__http_headers_get(&r->headers, "content-encoding");
        if (ce && (strcasecmp(ce, "gzip") == 0 || strcasecmp(ce, "x-gzip") == 0 ||
                   strcasecmp(ce, "deflate") == 0)) {
            if (inflateInit2(&r->z, 15 + 32) != Z_OK) /* gzip or zlib, detected */
                return -1;
            r->inflating = 1;
        } else if (ce && strcasecmp(ce, "identity") != 0) {
            r->bad_encoding = 1;
            return -1;
        }
    }
    return r->head && r->status >= 200 ? 1 : 0; /* 1: no body follows */
}

static int body_append(nresp *r, const char *at, size_t n)
{
    if (r->len + n > r->max_body) {
        r->too_big = 1;
        return -1;
    }
    return cio__http_buf_append(&r->body, &r->len, &r->cap, at, n) < 0 ? -1 : 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    nresp *r = nr(p);
    r->raw += n;
    if (r->raw > r->max_body) {
        r->too_big = 1;
        return -1;
    }
    if (!r->inflating)
        return body_append(r, at, n);
    r->z.next_in = (Bytef *)at;
    r->z.avail_in = (uInt)n;
    char out[16384];
    while (r->z.avail_in) {
        r->z.next_out = (Bytef *)out;
        r->z.avail_out = sizeof(out);
        int zr = inflate(&r->z, Z_NO_FLUSH);
        if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
            r->bad_encoding = 1;
            return -1;
        }
        size_t got = sizeof(out) - r->z.avail_out;
        if (got && body_append(r, out, got))
            return -1;
        if (zr == Z_STREAM_END)
            break;
        if (!got && zr == Z_BUF_ERROR)
            break;
    }
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    nresp *r = nr(p);
    if (r->status < 200)
        return 0; /* an interim response: the final one follows */
    r->complete = 1;
    r->keep_alive = llhttp_should_keep_alive(p);
    llhttp_pause(p); /* bytes after the response stay in the stream */
    return 0;
}

static const llhttp_settings_t response_settings = {
    .on_message_begin = on_message_begin,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void nresp_free(nresp *r)
{
    if (r->inflating)
        inflateEnd(&r->z);
    free(r->body);
    free(r->field);
    free(r->value);
    cio__http_headers_clear(&r->headers);
}

/* ---- one exchange ---- */

/* Builds the request head (and small body) into *buf. */
static int build_request(cio_http_session *s, const cio_http_request *req, const target *t,
                         char **buf, size_t *len, size_t *cap)
{
    char line[600];
    int has_body = req->body || strcmp(req->method, "POST") == 0;
    if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0)
        has_body = 0;
    const char *path = t->path_len ? t->path : "/";
    size_t path_len = t->path_len ? t->path_len : 1;
    int extra = t->path_len && t->path[0] == '?'; /* "http://h?q": the path is "/?q" */
    int err = cio__http_buf_append(buf, len, cap, req->method, strlen(req->method));
    err = err ? err : cio__http_buf_append(buf, len, cap, extra ? " /" : " ", extra ? 2 : 1);
    err = err ? err : cio__http_buf_append(buf, len, cap, path, path_len);
    int n;
    if (t->port == 80)
        n = snprintf(line, sizeof(line), " HTTP/1.1\r\nHost: %s\r\n", t->host);
    else
        n = snprintf(line, sizeof(line), " HTTP/1.1\r\nHost: %s:%d\r\n", t->host, t->port);
    err = err ? err : cio__http_buf_append(buf, len, cap, line, (size_t)n);
    static const char fixed[] = "Accept: */*\r\nAccept-Encoding: gzip, deflate\r\n";
    err = err ? err : cio__http_buf_append(buf, len, cap, fixed, sizeof(fixed) - 1);
    for (struct curl_slist *h = s->headers; h && !err; h = h->next) {
        err = cio__http_buf_append(buf, len, cap, h->data, strlen(h->data));
        err = err ? err : cio__http_buf_append(buf, len, cap, "\r\n", 2);
    }
    for (const char *const *h = req->headers; h && *h && !err; h++) {
        err = cio__http_buf_append(buf, len, cap, *h, strlen(*h));
        err = err ? err : cio__http_buf_append(buf, len, cap, "\r\n", 2);
    }
    if (has_body) {
        const char *ct = req->content_type;
        if (!ct && strcmp(req->method, "POST") == 0)
            ct = "application/x-www-form-urlencoded"; /* libcurl's default */
        if (ct) {
            n = snprintf(line, sizeof(line), "Content-Type: %s\r\n", ct);
            if (n < 0 || (size_t)n >= sizeof(line))
                return -EINVAL;
            err = err ? err : cio__http_buf_append(buf, len, cap, line, (size_t)n);
        }
        n = snprintf(line, sizeof(line), "Content-Length: %zu\r\n", req->body_len);
        err = err ? err : cio__http_buf_append(buf, len, cap, line, (size_t)n);
    }
    err = err ? err : cio__http_buf_append(buf, len, cap, "\r\n", 2);
    if (!err && has_body && req->body && req->body_len <= 16384)
        err = cio__http_buf_append(buf, len, cap, req->body, req->body_len);
    return err;
}

/* Reads and parses until the final response is complete. Returns 0, or
 * -errno with r's flags saying why; *got says whether any byte came. */
static int read_response(cio_stream *st, llhttp_t *p, nresp *r, double idle, int *got)
{
    for (;;) {
        const void *data;
        cio_scope sc;
        int err = cio_timeout_enter(&sc, idle);
        if (err)
            return err;
        ssize_t n = cio_stream_peek(st, &data, 1);
        int te = cio_timeout_exit(&sc);
        if (te == -ETIMEDOUT)
            return -ETIMEDOUT;
        if (n < 0)
            return (int)n;
        if (n == 0) { /* EOF: a body "until close" ends here */
            if (!*got)
                return -ECONNRESET;
            llhttp_errno_t e = llhttp_finish(p);
            if (e != HPE_OK)
                return -EPROTO;
            return r->complete ? 0 : -ECONNRESET;
        }
        *got = 1;
        llhttp_errno_t e = llhttp_execute(p, data, (size_t)n);
        size_t used = (size_t)n;
        if (e == HPE_PAUSED) {
            used = (size_t)(llhttp_get_error_pos(p) - (const char *)data);
            e = HPE_OK;
        }
        cio_stream_consume(st, used);
        if (e != HPE_OK)
            return -EPROTO;
        if (r->complete)
            return 0;
    }
}

static int idempotent(const char *m)
{
    return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "PUT") == 0 ||
           strcmp(m, "DELETE") == 0 || strcmp(m, "OPTIONS") == 0;
}

/* One attempt on one connection. *retry is set when a reused connection
 * failed before any byte of the response (the server had closed it). */
static int exchange(cio_http_session *s, const cio_http_request *req, const target *t,
                    const char *url, int only_new, cio_http_response **out, int *retry,
                    int *redirect)
{
    cio__http_conn *c;
    int fresh;
    int err = conn_acquire(s->pool, t->key, only_new, &c, &fresh);
    if (err == -ESHUTDOWN)
        return cio_fail(err, "%s: the session was closed", url);
    if (err)
        return err;
    if (fresh) {
        cio_scope sc;
        err = cio_timeout_enter(&sc, s->o.connect_timeout > 0 ? s->o.connect_timeout : 10);
        if (!err) {
            err = cio_open_connection(&c->st, t->host, t->port, NULL);
            if (cio_timeout_exit(&sc) == -ETIMEDOUT)
                err = -ETIMEDOUT;
        }
        if (err) {
            conn_drop(c);
            return cio_fail(err, "%s: %s", url,
                            err == -ECONNREFUSED ? "could not connect: connection refused"
                            : err == -ETIMEDOUT  ? "connection timed out"
                            : err == -ENOENT     ? "could not resolve the host"
                                                 : cio_strerror(err));
        }
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    err = build_request(s, req, t, &buf, &len, &cap);
    if (!err)
        err = cio_stream_write(c->st, buf, len);
    if (!err && req->body && req->body_len > 16384)
        err = cio_stream_write(c->st, req->body, req->body_len);
    free(buf);
    nresp r = {.head = strcmp(req->method, "HEAD") == 0,
               .max_body = s->o.max_body ? s->o.max_body : (size_t)64 << 20};
    llhttp_t p;
    llhttp_init(&p, HTTP_RESPONSE, &response_settings);
    p.data = &r;
    int got = 0;
    double idle = s->o.read_idle_timeout > 0 ? (double)(long)(s->o.read_idle_timeout + 0.999) : 60;
    if (!err)
        err = read_response(c->st, &p, &r, idle, &got);
    if (err) {
        int stale = !fresh && !got;
        int aborted = !c->pool;
        conn_release(c, 0);
        if (aborted)
            err = cio_fail(-ESHUTDOWN, "%s: the session was closed", url);
        else if (cio_cancelled())
            ; /* the reason as it is */
        else if (stale && (err == -ECONNRESET || err == -EPIPE) && idempotent(req->method))
            *retry = 1;
        else if (r.too_big)
            err = cio_fail(-EMSGSIZE, "%s: the body is over the %zu-byte limit", url, r.max_body);
        else if (r.bad_encoding)
            err = cio_fail(-EPROTO, "%s: the body's Content-Encoding could not be decoded", url);
        else if (err == -EPROTO)
            err = cio_fail(-EPROTO, "%s: malformed response: %s", url,
                           llhttp_get_error_reason(&p) ? llhttp_get_error_reason(&p)
                                                       : llhttp_errno_name(llhttp_get_errno(&p)));
        else if (err == -ETIMEDOUT)
            err = cio_fail(-ETIMEDOUT, "%s: no data for %g s", url, idle);
        else if (err == -ECONNRESET)
            err = cio_fail(-ECONNRESET, "%s: the server closed the connection %s", url,
                           got ? "before the response ended" : "without a response");
        else
            err = cio_fail(err, "%s: %s", url, cio_strerror(err));
        nresp_free(&r);
        return err;
    }
    int keep = r.keep_alive && cio_stream_read_buffered(c->st) == 0;
    conn_release(c, keep);
    if (s->o.max_redirects >= 0 && r.status / 100 == 3 &&
        cio__http_headers_get(&r.headers, "location")) {
        *redirect = 1; /* libcurl follows it from the start */
        nresp_free(&r);
        return 0;
    }
    const char *version = p.http_major == 1 && p.http_minor == 0 ? "HTTP/1.0" : "HTTP/1.1";
    if (!r.body && cio__http_buf_append(&r.body, &r.len, &r.cap, "", 0) < 0) {
        nresp_free(&r);
        return -ENOMEM;
    }
    err = cio__http_response_new(out, r.status, r.body, r.len, &r.headers, url, version);
    if (!err)
        r.body = NULL; /* the response has it, and the headers */
    nresp_free(&r);
    return err;
}

int cio__http_native_send(cio_http_session *s, const cio_http_request *req, cio_http_response **out,
                          int *result)
{
    if (s->native_off || !req->url || !req->method)
        return 0;
    if (s->o.max_redirects >= 0 && strcmp(req->method, "GET") != 0 &&
        strcmp(req->method, "HEAD") != 0)
        return 0; /* a redirect would have to be followed with this body */
    for (struct curl_slist *h = s->headers; h; h = h->next)
        if (reserved_header(h->data))
            return 0;
    for (const char *const *h = req->headers; h && *h; h++)
        if (reserved_header(*h))
            return 0;
    if (strpbrk(req->method, " \r\n") || (req->content_type && strpbrk(req->content_type, "\r\n")))
        return 0;
    char *url = cio__http_build_url(s, NULL, req);
    if (!url) {
        *result = -ENOMEM;
        return 1;
    }
    target t;
    const char *proxy;
    if (!parse_target(url, &t) || !(proxy = cio__http_session_proxy(s, url)) || *proxy) {
        free(url);
        return 0;
    }
    double total = req->timeout > 0 ? req->timeout : s->o.total_timeout;
    cio_scope sc;
    if (total > 0 && (*result = cio_timeout_enter(&sc, total)) < 0) {
        free(url);
        return 1;
    }
    int retry = 0, redirect = 0;
    int err = exchange(s, req, &t, url, 0, out, &retry, &redirect);
    if (retry) /* once, on a new connection */
        err = exchange(s, req, &t, url, 1, out, &retry, &redirect);
    if (total > 0 && cio_timeout_exit(&sc) == -ETIMEDOUT) {
        if (!err)
            cio_http_response_free(*out), *out = NULL;
        err = cio_fail(-ETIMEDOUT, "%s: the request took over %g s", url, total);
    }
    free(url);
    if (!err && redirect)
        return 0;
    *result = err;
    return 1;
}
