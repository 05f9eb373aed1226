/* libcio-http's server: reading requests. llhttp's callbacks gather the
 * head; the request accessors, the query, and the body read on demand. */
#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server_internal.h"

/* ---- parser callbacks ---- */

static cio_http_req *req_of(llhttp_t *p)
{
    return &((conn *)p->data)->req;
}

static int count_head(cio_http_req *r, size_t n)
{
    r->head_bytes += n;
    if (r->head_bytes > r->c->srv->app->o.max_header_bytes) {
        r->head_too_big = 1;
        return -1;
    }
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
    cio_http_req *r = req_of(p);
    if (count_head(r, n))
        return -1;
    return cio__http_buf_append(&r->url, &r->url_len, &(size_t){0}, at, n) < 0 ? -1 : 0;
}

/* llhttp hands a name or value in pieces when it spans reads: both are
 * gathered until their _complete callback. */
static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
    cio_http_req *r = req_of(p);
    if (count_head(r, n))
        return -1;
    size_t cap = 0;
    return cio__http_buf_append(&r->field, &r->field_len, &cap, at, n) < 0 ? -1 : 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
    cio_http_req *r = req_of(p);
    if (count_head(r, n))
        return -1;
    size_t cap = 0;
    return cio__http_buf_append(&r->value, &r->value_len, &cap, at, n) < 0 ? -1 : 0;
}

static int on_header_value_complete(llhttp_t *p)
{
    cio_http_req *r = req_of(p);
    int err = cio__http_headers_add(&r->headers, r->field ? r->field : "", r->field_len,
                                    r->value ? r->value : "", r->value_len);
    free(r->field);
    free(r->value);
    r->field = r->value = NULL;
    r->field_len = r->value_len = 0;
    return err < 0 ? -1 : 0;
}

static int on_headers_complete(llhttp_t *p)
{
    cio_http_req *r = req_of(p);
    r->headers_done = 1;
    snprintf(r->method, sizeof(r->method), "%s", llhttp_method_name(p->method));
    return HPE_PAUSED; /* hand over to the handler before the body */
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    cio_http_req *r = req_of(p);
    if (r->body_discard) { /* skipped, but not without end */
        r->body_len += n;
        if (r->body_len > r->c->srv->app->o.max_body_bytes) {
            r->body_too_big = 1;
            return -1;
        }
        return 0;
    }
    if (r->body_whole && r->body_len + n > r->c->srv->app->o.max_body_bytes) {
        r->body_too_big = 1;
        return -1;
    }
    return cio__http_buf_append(&r->body, &r->body_len, &r->body_cap, at, n) < 0 ? -1 : 0;
}

static int on_message_complete(llhttp_t *p)
{
    cio_http_req *r = req_of(p);
    r->message_done = 1;
    return HPE_PAUSED; /* keep pipelined requests for the next round */
}

const llhttp_settings_t cio__http_settings = {
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- reading ---- */

/* Feeds buffered bytes to the parser. Returns 0, or -EBADMSG for a parse
 * error (r->head_too_big / body_too_big tell the limits apart). A request
 * llhttp takes for a protocol switch (Upgrade, CONNECT) stops it after its
 * message: c->upgraded is set and nothing more is parsed. */
int cio__http_feed(conn *c)
{
    if (c->upgraded)
        return 0;
    /* Even with no bytes: a paused parser may have a step left that needs
     * none (the end of a message without a body). */
    const char *data = c->in + c->beg;
    llhttp_errno_t e = llhttp_execute(&c->parser, data, c->end - c->beg);
    if (e == HPE_OK) {
        c->beg = c->end;
        return 0;
    }
    if (e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE) {
        c->beg += (size_t)(llhttp_get_error_pos(&c->parser) - data);
        if (e == HPE_PAUSED)
            llhttp_resume(&c->parser);
        else
            c->upgraded = 1;
        return 0;
    }
    return -EBADMSG;
}

/* Reads more bytes into the buffer. Returns the count, 0 at EOF, -errno. */
ssize_t cio__http_fill(conn *c)
{
    if (c->beg > 0) {
        memmove(c->in, c->in + c->beg, c->end - c->beg);
        c->end -= c->beg;
        c->beg = 0;
    }
    if (c->end == sizeof(c->in))
        return -ENOBUFS;
    return cio_stream_read(c->s, c->in + c->end, sizeof(c->in) - c->end);
}

/* Advances the parser until `flag` is set. */
int cio__http_parse_until(conn *c, const int *flag)
{
    for (;;) {
        int err = cio__http_feed(c);
        if (err || *flag)
            return err;
        ssize_t n = cio__http_fill(c);
        if (n == 0)
            return -EPIPE;
        if (n < 0)
            return (int)n;
        c->end += (size_t)n;
    }
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
    r->hijacked = 1;
    *s = c->s;
    *early = c->in + c->beg;
    *nearly = c->end - c->beg;
    c->beg = c->end = 0; /* the bytes are the caller's now; the buffer stays valid */
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
    char *out = malloc(n + 1), *o = out;
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
            char **d = realloc(r->decoded, (r->ndecoded + 1) * sizeof(*d));
            if (!d)
                return NULL;
            r->decoded = d;
            char *v = eq ? url_decode(eq + 1, len - kl - 1) : strdup("");
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
        return cio_stream_write(r->c->s, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    return 0;
}

int cio_http_req_body(cio_http_req *r, const char **body, size_t *len)
{
    if (!r || !body || !len)
        return -EINVAL;
    if (!r->body_whole) {
        r->body_whole = 1;
        if (r->body_len > r->c->srv->app->o.max_body_bytes)
            r->body_too_big = 1;
        int err = r->body_too_big ? -EBADMSG : maybe_continue(r);
        if (!err)
            err = cio__http_parse_until(r->c, &r->message_done);
        if (err) {
            if (r->body_too_big)
                return cio_fail(-EMSGSIZE, "request body over the %zu-byte limit",
                                r->c->srv->app->o.max_body_bytes);
            return err;
        }
    }
    if (r->body_too_big)
        return -EMSGSIZE;
    *body = r->body ? r->body : "";
    *len = r->body_len;
    return 0;
}

ssize_t cio_http_req_read(cio_http_req *r, void *buf, size_t cap)
{
    if (!r || (!buf && cap) || r->body_whole)
        return -EINVAL;
    for (;;) {
        if (r->body_pos < r->body_len) {
            size_t n = r->body_len - r->body_pos < cap ? r->body_len - r->body_pos : cap;
            if (r->body_streamed + n > r->c->srv->app->o.max_body_bytes) {
                r->body_too_big = 1;
                return cio_fail(-EMSGSIZE, "request body over the %zu-byte limit",
                                r->c->srv->app->o.max_body_bytes);
            }
            r->body_streamed += n;
            memcpy(buf, r->body + r->body_pos, n);
            r->body_pos += n;
            if (r->body_pos == r->body_len)
                r->body_pos = r->body_len = 0;
            return (ssize_t)n;
        }
        if (r->message_done)
            return 0;
        int err = maybe_continue(r);
        if (err)
            return err;
        /* Parse what is buffered or read more, until some body or the end. */
        err = cio__http_feed(r->c);
        if (err)
            return err;
        if (r->body_len || r->message_done)
            continue;
        ssize_t n = cio__http_fill(r->c);
        if (n <= 0)
            return n == 0 ? -EPIPE : n;
        r->c->end += (size_t)n;
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
    cio__http_headers_clear(&r->headers);
    for (size_t i = 0; i < r->ndecoded; i++)
        free(r->decoded[i]);
    free(r->decoded);
    memset(r, 0, sizeof(*r));
    r->c = c;
}

/* Splits the URL into path and query, in place. */
void cio__http_split_url(cio_http_req *r)
{
    if (!r->url)
        r->url = strdup("/");
    r->path = r->url ? r->url : "/";
    char *q = strchr(r->path, '?');
    if (q) {
        *q = 0;
        r->query = q + 1;
    } else {
        r->query = r->path + strlen(r->path);
    }
}
