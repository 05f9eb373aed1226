/* libcio-http's server: reading requests. llhttp's callbacks gather the
 * head; the request accessors, the query, and the body read on demand. */
#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/alloc.h"
#include "server_internal.h"

/* ---- parser callbacks ---- */

static cio_http_req *req_of(llhttp_t *p)
{
    return &((conn *)p->data)->req;
}

static const cio_http_server_opts *opts_of(const cio_http_req *r)
{
    return &r->c->srv->app->o;
}

/* Fails the request with `status`; the parse stops with an error. */
static int reject(cio_http_req *r, int status, const char *why)
{
    if (!r->reject) {
        r->reject = status;
        r->why = why;
    }
    return -1;
}

/* Counts n bytes of the head (or of the trailers) against max_header_bytes. */
static int count_head(cio_http_req *r, size_t n)
{
    size_t *used = r->headers_done ? &r->trailer_bytes : &r->head_bytes;
    *used += n;
    if (*used > opts_of(r)->max_header_bytes)
        return reject(r, 431,
                      r->headers_done ? "trailers over max_header_bytes"
                                      : "headers over max_header_bytes");
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
    cio_http_req *r = req_of(p);
    if (count_head(r, n))
        return -1;
    return cio__http_buf_append(&r->url, &r->url_len, &r->url_cap, at, n) < 0 ? -1 : 0;
}

/* llhttp hands a name or value in pieces when it spans the bytes fed: both
 * are gathered until their _complete callback. */
static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
    cio_http_req *r = req_of(p);
    if (count_head(r, n))
        return -1;
    return cio__http_buf_append(&r->field, &r->field_len, &r->field_cap, at, n) < 0 ? -1 : 0;
}

/* Whether the bytes before `at`, past spaces and tabs, end a line: then a
 * value's first piece starts on a line of its own (the fold of an empty
 * value, "X:\r\n b"). Looks back into the previous bytes fed when needed. */
static int after_newline(const conn *c, const char *at)
{
    const char *p = at;
    while (p > c->feed_beg && (p[-1] == ' ' || p[-1] == '\t'))
        p--;
    return p > c->feed_beg ? p[-1] == '\n' : c->tail_newline;
}

/* llhttp accepts obs-fold (a value continued on a line starting with a space
 * or tab) and hands the continuation as one more piece of the value. A piece
 * is a true continuation only when the one before ended where the bytes fed
 * ended and this one starts where the next bytes start; and a value's first
 * piece never starts with whitespace (llhttp skips it). Anything else is a
 * fold: 400, as RFC 9112 section 5.2 allows and nginx does. */
static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
    cio_http_req *r = req_of(p);
    conn *c = r->c;
    int split = r->value_open && at == c->feed_beg;
    if ((r->value_len && !split) || (!split && n && (at[0] == ' ' || at[0] == '\t')) ||
        (!r->value_len && after_newline(c, at)))
        return reject(r, 400, "obs-fold (a header value continued on the next line)");
    r->value_open = at + n == c->feed_end;
    if (count_head(r, n))
        return -1;
    return cio__http_buf_append(&r->value, &r->value_len, &r->value_cap, at, n) < 0 ? -1 : 0;
}

static int on_header_value_complete(llhttp_t *p)
{
    cio_http_req *r = req_of(p);
    const cio_http_server_opts *o = opts_of(r);
    cio__http_headers *h = r->headers_done ? &r->trailers : &r->headers;
    if (h->n >= o->max_headers)
        return reject(r, 431,
                      r->headers_done ? "more trailers than max_headers"
                                      : "more headers than max_headers");
    if (count_head(r, CIO_HTTP_HEADER_COST))
        return -1;
    int err = cio__http_headers_add(h, r->field ? r->field : "", r->field_len,
                                    r->value ? r->value : "", r->value_len);
    r->field_len = r->value_len = 0;
    r->value_open = 0;
    return err < 0 ? -1 : 0;
}

/* The checks llhttp leaves to the server, before any handler runs. */
static int check_head(llhttp_t *p, cio_http_req *r)
{
    if (p->http_major != 1 || p->http_minor > 1)
        return reject(r, 505, "HTTP version not 1.0 or 1.1");
    size_t hosts = 0, tes = 0;
    const char *te = NULL;
    for (size_t i = 0; i < r->headers.n; i++) {
        const cio__http_header *h = &r->headers.v[i];
        if (strcasecmp(h->name, "Host") == 0)
            hosts++;
        else if (strcasecmp(h->name, "Transfer-Encoding") == 0 && ++tes)
            te = h->value;
    }
    if (hosts > 1)
        return reject(r, 400, "two Host headers");
    if (!hosts && p->http_minor == 1)
        return reject(r, 400, "no Host header in an HTTP/1.1 request");
    if (tes > 1)
        return reject(r, 400, "two Transfer-Encoding headers");
    if (te && p->http_minor == 0)
        return reject(r, 400, "Transfer-Encoding in an HTTP/1.0 request");
    if (te && strcasecmp(te, "chunked") != 0)
        return reject(r, 501, "Transfer-Encoding other than chunked");
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > opts_of(r)->max_body_bytes)
        return reject(r, 413, "Content-Length over max_body_bytes");
    return 0;
}

static int on_message_begin(llhttp_t *p)
{
    req_of(p)->started = 1;
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    cio_http_req *r = req_of(p);
    if (check_head(p, r))
        return -1;
    r->headers_done = 1;
    snprintf(r->method, sizeof(r->method), "%s", llhttp_method_name(p->method));
    return HPE_PAUSED; /* hand over to the handler before the body */
}

/* A chunk's size is known before its data: over the limit, 413 at once. */
static int on_chunk_header(llhttp_t *p)
{
    cio_http_req *r = req_of(p);
    if (p->content_length > opts_of(r)->max_body_bytes - r->body_seen)
        return reject(r, 413, "chunk over max_body_bytes");
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    cio_http_req *r = req_of(p);
    r->body_seen += n; /* within the limit: Content-Length and chunks were checked */
    if (r->body_discard)
        return 0;
    return cio__http_buf_append(&r->body, &r->body_len, &r->body_cap, at, n) < 0 ? -1 : 0;
}

static int on_message_complete(llhttp_t *p)
{
    cio_http_req *r = req_of(p);
    r->message_done = 1;
    return HPE_PAUSED; /* keep pipelined requests for the next round */
}

const llhttp_settings_t cio__http_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_chunk_header = on_chunk_header,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- reading ---- */

/* Parses the bytes the stream holds, straight from its buffer, and consumes
 * what llhttp took. Returns 0 or -EBADMSG (the connection is broken). A
 * request llhttp takes for a protocol switch (Upgrade, CONNECT) stops it
 * after its message: c->upgraded is set and nothing more is parsed. */
static int feed(conn *c)
{
    if (c->upgraded || c->broken)
        return c->broken ? -EBADMSG : 0;
    size_t avail = cio_stream_read_buffered(c->s);
    const void *data = "";
    if (avail) {
        ssize_t n = cio_stream_peek(c->s, &data, avail); /* buffered: no wait */
        if (n < 0)
            return (int)n;
        avail = (size_t)n;
    }
    /* Even with no bytes: a paused parser may have a step left that needs
     * none (the end of a message without a body). */
    c->feed_beg = data;
    c->feed_end = (const char *)data + avail;
    llhttp_errno_t e = llhttp_execute(&c->parser, data, avail);
    size_t used = avail;
    if (e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE) {
        used = (size_t)(llhttp_get_error_pos(&c->parser) - (const char *)data);
        if (e == HPE_PAUSED)
            llhttp_resume(&c->parser);
        else
            c->upgraded = 1;
        e = HPE_OK;
    }
    /* What after_newline needs of these bytes when the next ones come. */
    const char *p = (const char *)data + used;
    while (p > (const char *)data && (p[-1] == ' ' || p[-1] == '\t'))
        p--;
    if (p > (const char *)data)
        c->tail_newline = p[-1] == '\n';
    c->feed_beg = c->feed_end = NULL;
    if (used)
        cio_stream_consume(c->s, used);
    if (e != HPE_OK) {
        c->broken = 1;
        return -EBADMSG;
    }
    return 0;
}

/* Waits for at least one more byte, for up to `wait` seconds (0: no bound of
 * its own). Returns 0, -EPIPE at EOF, -ETIMEDOUT or another error. */
static int more(conn *c, double wait)
{
    size_t have = cio_stream_read_buffered(c->s);
    const void *data;
    cio_scope sc;
    int err = wait > 0 ? cio_timeout_enter(&sc, wait) : 0;
    if (err)
        return err;
    ssize_t n = cio_stream_peek(c->s, &data, have + 1);
    if (wait > 0)
        cio_timeout_exit(&sc);
    if (n < 0)
        return (int)n;
    return (size_t)n > have ? 0 : -EPIPE;
}

int cio__http_parse_until(conn *c, const int *flag, double wait)
{
    for (;;) {
        int err = feed(c);
        if (err || *flag)
            return err;
        if (c->upgraded)
            return -EPROTO; /* cannot happen: an upgrade completes the message */
        if (cio_stream_read_buffered(c->s))
            continue; /* paused with bytes left: go on from there */
        if (wait < 0)
            return -EAGAIN;
        err = more(c, wait);
        if (err)
            return err;
    }
}

int cio__http_error_status(conn *c, const char **why)
{
    cio_http_req *r = &c->req;
    if (r->reject) {
        *why = r->why;
        return r->reject;
    }
    llhttp_errno_t e = llhttp_get_errno(&c->parser);
    *why = llhttp_get_error_reason(&c->parser);
    if (!*why)
        *why = llhttp_errno_name(e);
    /* A version llhttp does not know (HTTP/1.2, HTTP/3.0) is 505; a request
     * line broken around it ("HTTP/1.1\r" without LF) is 400. */
    return e == HPE_INVALID_VERSION && !strstr(*why, "CRLF") ? 505 : 400;
}

/* ---- requests ---- */

int cio_http_req_hijack(cio_http_req *r, cio_http_resp *resp, cio_stream **s, const void **early,
                        size_t *nearly)
{
    if (!r || !resp || !s || !early || !nearly)
        return -EINVAL;
    if (resp->head_sent || r->hijacked)
        return -EALREADY;
    conn *c = r->c;
    /* The parser stopped right after the head (on_headers_complete pauses
     * it), so what the stream holds is what came after the head. It moves
     * out of the stream, whose next reads then give what follows. */
    size_t n = cio_stream_read_buffered(c->s);
    free(r->early);
    if (!(r->early = cio__malloc(n ? n : 1)))
        return -ENOMEM;
    ssize_t got = n ? cio_stream_read(c->s, r->early, n) : 0; /* buffered: no wait */
    if (got != (ssize_t)n)
        return got < 0 ? (int)got : -EIO;
    r->hijacked = 1;
    /* The head is parsed: the header name and value scratch buffers are not
     * needed again, and a long-lived hijacked connection would keep them. */
    free(r->field);
    free(r->value);
    r->field = r->value = NULL;
    r->field_len = r->field_cap = r->value_len = r->value_cap = 0;
    /* Nor the URL buffer's spare room (it starts at 1 KiB: W21 counted it in
     * every idle WebSocket); path and query point into it and move with it. */
    if (r->url && r->url_cap > r->url_len + 1) {
        size_t po = (size_t)(r->path - r->url), qo = (size_t)(r->query - r->url);
        char *u = cio__realloc(r->url, r->url_len + 1);
        if (u) { /* else it stays as it is */
            r->url = u;
            r->url_cap = r->url_len + 1;
            r->path = u + po;
            r->query = u + qo;
        }
    }
    *s = c->s;
    *early = r->early;
    *nearly = n;
    return 0;
}

const char *cio_http_req_method(const cio_http_req *r)
{
    return r ? r->method : NULL;
}

const char *cio_http_req_path(const cio_http_req *r)
{
    return r ? r->path : NULL;
}

const char *cio_http_req_query(const cio_http_req *r)
{
    return r ? r->query : NULL;
}

const char *cio_http_req_header(const cio_http_req *r, const char *name)
{
    return r ? cio__http_headers_get(&r->headers, name) : NULL;
}

const char *cio_http_req_trailer(const cio_http_req *r, const char *name)
{
    return r ? cio__http_headers_get(&r->trailers, name) : NULL;
}

const char *cio_http_req_param(const cio_http_req *r, const char *name)
{
    if (!r || !name)
        return NULL;
    for (size_t i = 0; i < r->nparams; i++) {
        const char *pn = r->param_names[i];
        size_t len = strlen(pn);
        if (len - 2 == strlen(name) && strncmp(pn + 1, name, len - 2) == 0)
            return r->param_values[i];
    }
    return NULL;
}

static int hexval(int ch)
{
    return isdigit(ch) ? ch - '0' : isxdigit(ch) ? (tolower(ch) - 'a' + 10) : -1;
}

/* Percent-decodes [s, s+n) ('+' is a space in a query). */
static char *url_decode(const char *s, size_t n)
{
    char *out = cio__malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 &&
            hexval((unsigned char)s[i + 2]) >= 0) {
            *o++ = (char)(hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]));
            i += 2;
        } else {
            *o++ = s[i] == '+' ? ' ' : s[i];
        }
    }
    *o = 0;
    return out;
}

const char *cio_http_req_query_param(cio_http_req *r, const char *name)
{
    if (!r || !name)
        return NULL;
    size_t nl = strlen(name);
    const char *q = r->query;
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        const char *eq = memchr(q, '=', len);
        size_t kl = eq ? (size_t)(eq - q) : len;
        char *key = url_decode(q, kl);
        int match = key && strlen(key) == nl && memcmp(key, name, nl) == 0;
        free(key);
        if (match) {
            char **d = cio__realloc(r->decoded, (r->ndecoded + 1) * sizeof(*d));
            if (!d)
                return NULL;
            r->decoded = d;
            char *v = eq ? url_decode(eq + 1, len - kl - 1) : cio__strdup("");
            if (!v)
                return NULL;
            d[r->ndecoded++] = v;
            return v;
        }
        q = amp ? amp + 1 : NULL;
    }
    return NULL;
}

/* Sends "100 Continue" if the client waits for it before sending a body. */
static int maybe_continue(cio_http_req *r)
{
    if (r->sent_continue || r->message_done)
        return 0;
    const char *expect = cio_http_req_header(r, "Expect");
    r->sent_continue = 1;
    if (expect && strcasecmp(expect, "100-continue") == 0)
        return cio__http_write(r->c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    return 0;
}

/* A body call failed: the connection cannot go on; the error is kept for
 * the response (400, 408, 413, 431) and the message for the handler. */
static int body_failed(cio_http_req *r, int err)
{
    conn *c = r->c;
    c->broken = 1;
    if (!r->body_err)
        r->body_err = err;
    const char *why = "";
    if (err == -EBADMSG) {
        int status = cio__http_error_status(c, &why);
        if (status == 413 || status == 431)
            err = -EMSGSIZE;
        return cio_fail(err, "request body: %s", why);
    }
    if (err == -ETIMEDOUT)
        return cio_fail(err, "request body: nothing for body_timeout (%g s)",
                        opts_of(r)->body_timeout);
    return err;
}

int cio_http_req_body(cio_http_req *r, const char **body, size_t *len)
{
    if (!r || !body || !len)
        return -EINVAL;
    if (r->body_err)
        return r->body_err == -EBADMSG && (r->reject == 413 || r->reject == 431) ? -EMSGSIZE
                                                                                 : r->body_err;
    if (!r->body_whole) {
        if (r->body_pos) /* part of it was streamed out already */
            return -EINVAL;
        r->body_whole = 1;
        int err = maybe_continue(r);
        if (!err)
            err = cio__http_parse_until(r->c, &r->message_done, opts_of(r)->body_timeout);
        if (err)
            return body_failed(r, err);
    }
    *body = r->body ? r->body : "";
    *len = r->body_len;
    return 0;
}

ssize_t cio_http_req_read(cio_http_req *r, void *buf, size_t cap)
{
    if (!r || (!buf && cap) || r->body_whole)
        return -EINVAL;
    if (r->body_err)
        return r->body_err == -EBADMSG && (r->reject == 413 || r->reject == 431) ? -EMSGSIZE
                                                                                 : r->body_err;
    conn *c = r->c;
    for (;;) {
        if (r->body_pos < r->body_len) {
            size_t n = r->body_len - r->body_pos < cap ? r->body_len - r->body_pos : cap;
            memcpy(buf, r->body + r->body_pos, n);
            r->body_pos += n;
            if (r->body_pos == r->body_len)
                r->body_pos = r->body_len = 0;
            return (ssize_t)n;
        }
        if (r->message_done)
            return 0;
        int err = maybe_continue(r);
        /* Parse what is buffered or read more, until some body or the end. */
        if (!err)
            err = feed(c);
        if (!err && !r->body_len && !r->message_done && !cio_stream_read_buffered(c->s))
            err = more(c, opts_of(r)->body_timeout);
        if (err)
            return body_failed(r, err);
    }
}

int cio_http_req_json(cio_http_req *r, json_t **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    const char *body;
    size_t len;
    int err = cio_http_req_body(r, &body, &len);
    if (err)
        return err;
    json_error_t jerr;
    *out = json_loadb(body, len, 0, &jerr);
    return *out ? 0 : cio_fail(-EBADMSG, "request body is not JSON: %s", jerr.text);
}

void cio__http_req_reset(cio_http_req *r, conn *c)
{
    free(r->url);
    free(r->field);
    free(r->value);
    free(r->body);
    free(r->early);
    cio__http_headers_clear(&r->headers);
    cio__http_headers_clear(&r->trailers);
    for (size_t i = 0; i < r->ndecoded; i++)
        free(r->decoded[i]);
    free(r->decoded);
    memset(r, 0, sizeof(*r));
    r->c = c;
}

/* Splits the URL into path and query, in place. An absolute-form target
 * ("http://host/path?q", RFC 9112 section 3.2.2) is routed by its path. */
void cio__http_split_url(cio_http_req *r)
{
    if (!r->url && !(r->url = cio__strdup("/"))) {
        r->path = "/";
        r->query = "";
        return;
    }
    char *u = r->url;
    size_t scheme = strncasecmp(u, "http://", 7) == 0    ? 7
                    : strncasecmp(u, "https://", 8) == 0 ? 8
                                                         : 0;
    if (scheme)
        u += scheme + strcspn(u + scheme, "/?");
    if (*u != '/' && strcmp(u, "*") != 0) { /* no path at all: "/" */
        char *p;
        if (cio__asprintf(&p, "/%s", u) < 0)
            p = NULL;
        free(r->url);
        r->url = u = p;
        r->url_len = r->url_cap = 0;
        if (!u) {
            r->path = "/";
            r->query = "";
            return;
        }
    }
    r->path = u;
    char *q = strchr(u, '?');
    if (q) {
        *q = 0;
        r->query = q + 1;
    } else {
        r->query = u + strlen(u);
    }
}
