/* libcio-http's server: routes, and one task per connection (from
 * cio_start_server) that parses requests with llhttp and runs handlers.
 *
 * The parser is paused at the end of each request's head and at the end of
 * each message, so a connection task handles one request at a time while
 * pipelined bytes wait in its buffer. The body is read only when the handler
 * asks for it (which is also when "100 Continue" goes out); a body the handler
 * did not read is drained afterwards, bounded by the body limit. */
#include <ctype.h>
#include <fcntl.h>
#include <jansson.h>
#include <llhttp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cio/http_server.h"
#include "http_internal.h"

#define IN_BUFFER 16384
#define MAX_PARAMS 8

typedef struct route {
    char method[16];
    char *pattern;
    char **segs;
    size_t nsegs;
    cio_http_handler fn;
    void *arg;
} route;

struct cio_http_app {
    cio_http_server_opts o;
    route *routes;
    size_t nroutes, cap;
};

typedef struct conn conn;

struct cio_http_server {
    cio_http_app *app;
    cio_server *listener;
    conn *conns;
    int closing;
};

struct cio_http_req {
    conn *c;
    char method[16];
    char *url;
    size_t url_len;
    char *path, *query;
    cio__http_headers headers;
    char *field, *value; /* header name and value being parsed */
    size_t field_len, value_len;
    size_t head_bytes;
    int head_too_big, body_too_big, headers_done, message_done, body_discard;
    char *body;
    size_t body_len, body_cap, body_pos;
    size_t body_streamed; /* bytes handed out by cio_http_req_read */
    int body_whole;       /* cio_http_req_body was called: body holds all of it */
    int sent_continue;
    int hijacked; /* cio_http_req_hijack: the handler owns the connection now */
    const char *param_names[MAX_PARAMS];
    char *param_values[MAX_PARAMS];
    size_t nparams;
    char **decoded; /* query values handed out */
    size_t ndecoded;
};

struct cio_http_resp {
    conn *c;
    int status;
    cio__http_headers headers;
    char *body;
    size_t len, cap;
    int head_sent, chunked, failed;
};

struct conn {
    cio_http_server *srv;
    cio_stream *s;
    llhttp_t parser;
    int upgraded; /* llhttp stopped after an Upgrade or CONNECT request */
    char in[IN_BUFFER];
    size_t beg, end;
    cio_scope *idle; /* set while waiting for a new request */
    unsigned served; /* requests answered on this connection */
    cio_http_req req;
    conn *next, *prev;
};

/* ---- apps and routes ---- */

int cio_http_app_new(cio_http_app **out, const cio_http_server_opts *opts)
{
    static const cio_http_server_opts defaults;
    if (!out)
        return -EINVAL;
    cio_http_app *app = calloc(1, sizeof(*app));
    if (!app)
        return -ENOMEM;
    app->o = opts ? *opts : defaults;
    if (!app->o.max_header_bytes)
        app->o.max_header_bytes = 16 * 1024;
    if (!app->o.max_body_bytes)
        app->o.max_body_bytes = 1024 * 1024;
    if (app->o.header_timeout <= 0)
        app->o.header_timeout = 10;
    if (app->o.idle_timeout <= 0)
        app->o.idle_timeout = 60;
    if (app->o.shutdown_grace <= 0)
        app->o.shutdown_grace = 5;
    *out = app;
    return 0;
}

static void route_free(route *r)
{
    for (size_t i = 0; i < r->nsegs; i++)
        free(r->segs[i]);
    free(r->segs);
    free(r->pattern);
}

void cio_http_app_free(cio_http_app *app)
{
    if (!app)
        return;
    for (size_t i = 0; i < app->nroutes; i++)
        route_free(&app->routes[i]);
    free(app->routes);
    free(app);
}

/* Splits "/a/{b}/c" into segments. */
static int split_path(const char *p, size_t len, char ***segs, size_t *n)
{
    *segs = NULL;
    *n = 0;
    size_t cap = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && p[i] == '/')
            i++;
        size_t start = i;
        while (i < len && p[i] != '/')
            i++;
        if (i == start)
            break;
        if (*n == cap) {
            cap = cap ? cap * 2 : 4;
            char **s = realloc(*segs, cap * sizeof(*s));
            if (!s)
                return -ENOMEM;
            *segs = s;
        }
        if (!((*segs)[(*n)++] = strndup(p + start, i - start)))
            return -ENOMEM;
    }
    return 0;
}

int cio_http_app_route(cio_http_app *app, const char *method, const char *pattern,
                       cio_http_handler handler, void *arg)
{
    if (!app || !method || !pattern || pattern[0] != '/' || !handler || strlen(method) >= 16)
        return -EINVAL;
    if (app->nroutes == app->cap) {
        size_t cap = app->cap ? app->cap * 2 : 8;
        route *r = realloc(app->routes, cap * sizeof(*r));
        if (!r)
            return -ENOMEM;
        app->routes = r;
        app->cap = cap;
    }
    route *r = &app->routes[app->nroutes];
    memset(r, 0, sizeof(*r));
    snprintf(r->method, sizeof(r->method), "%s", method);
    r->fn = handler;
    r->arg = arg;
    if (!(r->pattern = strdup(pattern)) ||
        split_path(pattern, strlen(pattern), &r->segs, &r->nsegs) < 0) {
        route_free(r);
        return -ENOMEM;
    }
    app->nroutes++;
    return 0;
}

/* Matches req's path against r; fills the path parameters on success. */
static int route_match(const route *r, cio_http_req *req, char **segs, size_t nsegs)
{
    if (r->nsegs != nsegs)
        return 0;
    size_t np = 0;
    for (size_t i = 0; i < nsegs; i++) {
        const char *pat = r->segs[i];
        size_t pl = strlen(pat);
        if (pl >= 2 && pat[0] == '{' && pat[pl - 1] == '}') {
            if (np < MAX_PARAMS) {
                req->param_names[np] = pat;
                req->param_values[np++] = segs[i];
            }
        } else if (strcmp(pat, segs[i]) != 0) {
            return 0;
        }
    }
    req->nparams = np;
    return 1;
}

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

static const llhttp_settings_t settings = {
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
static int feed(conn *c)
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
static ssize_t fill(conn *c)
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
static int parse_until(conn *c, const int *flag)
{
    for (;;) {
        int err = feed(c);
        if (err || *flag)
            return err;
        ssize_t n = fill(c);
        if (n == 0)
            return -EPIPE;
        if (n < 0)
            return (int)n;
        c->end += (size_t)n;
    }
}

/* ---- responses ---- */

static const char *http_date(void)
{
    static __thread char buf[64];
    static __thread time_t cached;
    time_t now = time(NULL);
    if (now != cached) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached = now;
    }
    return buf;
}

static int keep_alive(const conn *c)
{
    return !c->srv->closing && !c->parser.upgrade && llhttp_should_keep_alive(&c->parser);
}

/* A response's bytes on their way to the stream: the head and, when small,
 * the body go out in one cio_stream_write, so a small response is one send(2)
 * and one TCP segment instead of one per header. Starts on the stack; spills
 * to the heap for large heads. */
#define SMALL_BODY ((size_t)16 * 1024) /* larger bodies are sent from where they are */

typedef struct outbuf {
    char *p;
    size_t len, cap;
    int err;
    char stack[2048];
} outbuf;

static void out_init(outbuf *o)
{
    o->p = o->stack;
    o->len = 0;
    o->cap = sizeof(o->stack);
    o->err = 0;
}

static void out_put(outbuf *o, const void *data, size_t n)
{
    if (o->err)
        return;
    if (o->len + n > o->cap) {
        size_t cap = o->cap * 2;
        while (cap < o->len + n)
            cap *= 2;
        char *h = o->p == o->stack ? malloc(cap) : realloc(o->p, cap);
        if (!h) {
            o->err = -ENOMEM;
            return;
        }
        if (o->p == o->stack)
            memcpy(h, o->stack, o->len);
        o->p = h;
        o->cap = cap;
    }
    memcpy(o->p + o->len, data, n);
    o->len += n;
}

static void out_str(outbuf *o, const char *text)
{
    out_put(o, text, strlen(text));
}

/* Writes what was gathered and releases the buffer. */
static int out_send(outbuf *o, cio_stream *s)
{
    int err = o->err ? o->err : o->len ? cio_stream_write(s, o->p, o->len) : 0;
    if (o->p != o->stack)
        free(o->p);
    out_init(o);
    return err;
}

/* Puts the status line and headers: Content-Length `len`, or chunked when
 * len is (size_t)-1. */
static void put_head(outbuf *o, cio_http_resp *r, size_t len)
{
    char line[160];
    int n = snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: cio\r\n", r->status,
                     cio__http_reason(r->status), http_date());
    out_put(o, line, (size_t)n);
    for (size_t i = 0; i < r->headers.n; i++) {
        cio__http_header *h = &r->headers.v[i];
        out_str(o, h->name);
        out_put(o, ": ", 2);
        out_str(o, h->value);
        out_put(o, "\r\n", 2);
    }
    if (len == (size_t)-1)
        out_str(o, "Transfer-Encoding: chunked\r\n");
    else if (r->status >= 200 && r->status != 204 && r->status != 304) {
        n = snprintf(line, sizeof(line), "Content-Length: %zu\r\n", len);
        out_put(o, line, (size_t)n);
    }
    if (!keep_alive(r->c))
        out_str(o, "Connection: close\r\n");
    out_put(o, "\r\n", 2);
    r->head_sent = 1;
}

void cio_http_resp_status(cio_http_resp *r, int status)
{
    if (r && status >= 100 && status <= 999)
        r->status = status;
}

int cio_http_resp_header(cio_http_resp *r, const char *name, const char *value)
{
    if (!r || !name || !value || strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
        return -EINVAL;
    if (r->head_sent)
        return -EALREADY;
    return cio__http_headers_add(&r->headers, name, strlen(name), value, strlen(value));
}

int cio_http_resp_body(cio_http_resp *r, const void *data, size_t len)
{
    if (!r || (!data && len))
        return -EINVAL;
    if (r->head_sent)
        return -EALREADY;
    r->len = 0;
    return cio__http_buf_append(&r->body, &r->len, &r->cap, data ? data : "", len);
}

int cio_http_resp_json(cio_http_resp *r, const json_t *json)
{
    if (!r || !json)
        return -EINVAL;
    char *text = json_dumps(json, JSON_COMPACT);
    if (!text)
        return -ENOMEM;
    int err = cio_http_resp_header(r, "Content-Type", "application/json");
    if (!err)
        err = cio_http_resp_body(r, text, strlen(text));
    free(text);
    return err;
}

static int is_head(const cio_http_resp *r)
{
    return strcmp(r->c->req.method, "HEAD") == 0;
}

int cio_http_resp_write(cio_http_resp *r, const void *data, size_t len)
{
    if (!r || (!data && len))
        return -EINVAL;
    outbuf o;
    out_init(&o);
    if (!r->head_sent) {
        r->chunked = 1;
        put_head(&o, r, (size_t)-1);
    }
    int body = len && !is_head(r);
    if (body) {
        char size[32];
        int n = snprintf(size, sizeof(size), "%zx\r\n", len);
        out_put(&o, size, (size_t)n);
        if (len <= SMALL_BODY) {
            out_put(&o, data, len);
            out_put(&o, "\r\n", 2);
        }
    }
    int err = out_send(&o, r->c->s);
    if (!err && body && len > SMALL_BODY) {
        err = cio_stream_write(r->c->s, data, len);
        if (!err)
            err = cio_stream_write(r->c->s, "\r\n", 2);
    }
    if (err)
        r->failed = 1;
    return err;
}

int cio_http_resp_file(cio_http_resp *r, const char *path, const char *content_type)
{
    if (!r || !path)
        return -EINVAL;
    if (r->head_sent)
        return -EALREADY;
    int fd = cio_open(path, O_RDONLY, 0);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        int err = fd < 0 ? fd : -ENOENT;
        if (fd >= 0)
            cio_close(fd);
        cio_http_resp_status(r, 404);
        cio_http_resp_body(r, "Not Found\n", 10);
        return err;
    }
    if (content_type)
        cio_http_resp_header(r, "Content-Type", content_type);
    outbuf o;
    out_init(&o);
    put_head(&o, r, (size_t)st.st_size);
    int err = out_send(&o, r->c->s);
    if (!err)
        err = cio_stream_drain(r->c->s);
    off_t off = 0;
    int plain = !r->c->srv->app->o.stream.tls;
    char buf[16384];
    while (!err && off < st.st_size && !is_head(r)) {
        if (plain) {
            ssize_t n = sendfile(cio_stream_fd(r->c->s), fd, &off, (size_t)(st.st_size - off));
            if (n < 0 && errno == EAGAIN)
                err = cio_wait_writable(cio_stream_fd(r->c->s));
            else if (n <= 0)
                err = n < 0 ? -errno : -EIO;
        } else {
            ssize_t n = cio_pread(fd, buf, sizeof(buf), off);
            if (n <= 0)
                err = n < 0 ? (int)n : -EIO;
            else if (!(err = cio_stream_write(r->c->s, buf, (size_t)n)))
                off += n;
        }
    }
    cio_close(fd);
    if (err)
        r->failed = 1;
    return err;
}

/* Completes the response the handler built. */
static int finish_response(cio_http_resp *r)
{
    if (r->failed)
        return -EPIPE;
    if (r->chunked)
        return is_head(r) ? 0 : cio_stream_write(r->c->s, "0\r\n\r\n", 5);
    if (r->head_sent)
        return 0;
    int body = r->len && !is_head(r);
    outbuf o;
    out_init(&o);
    put_head(&o, r, r->len);
    if (body && r->len <= SMALL_BODY)
        out_put(&o, r->body, r->len);
    int err = out_send(&o, r->c->s);
    if (!err && body && r->len > SMALL_BODY)
        err = cio_stream_write(r->c->s, r->body, r->len);
    return err;
}

/* An error response that ends the connection. */
static void send_error(conn *c, int status)
{
    char body[64];
    int n = snprintf(body, sizeof(body), "%d %s\n", status, cio__http_reason(status));
    char head[512]; /* the head (under 256 bytes) and the body, for one write */
    int h = snprintf(head, 256,
                     "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: cio\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %d\r\nConnection: close\r\n\r\n",
                     status, cio__http_reason(status), http_date(), n);
    if (h < 0 || h >= 256)
        return;
    memcpy(head + h, body, (size_t)n); /* one write: the head leaves room for it */
    cio_stream_write(c->s, head, (size_t)h + (size_t)n);
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
            err = parse_until(r->c, &r->message_done);
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
        err = feed(r->c);
        if (err)
            return err;
        if (r->body_len || r->message_done)
            continue;
        ssize_t n = fill(r->c);
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

static void req_reset(cio_http_req *r, conn *c)
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
static void split_url(cio_http_req *r)
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

/* Finds the route and runs its handler; 404 / 405 otherwise. */
static int dispatch(conn *c, cio_http_resp *resp)
{
    cio_http_req *r = &c->req;
    cio_http_app *app = c->srv->app;
    char **segs;
    size_t nsegs;
    if (split_path(r->path, strlen(r->path), &segs, &nsegs) < 0)
        return -ENOMEM;
    const route *hit = NULL;
    char allow[128] = "";
    for (size_t i = 0; i < app->nroutes && !hit; i++) {
        const route *rt = &app->routes[i];
        if (!route_match(rt, r, segs, nsegs))
            continue;
        if (strcmp(rt->method, "*") == 0 || strcmp(rt->method, r->method) == 0 ||
            (strcmp(r->method, "HEAD") == 0 && strcmp(rt->method, "GET") == 0))
            hit = rt;
        else if (strlen(allow) + strlen(rt->method) + 3 < sizeof(allow))
            snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), "%s%s",
                     allow[0] ? ", " : "", rt->method);
    }
    int err = 0;
    if (hit) {
        int status = hit->fn(r, resp, hit->arg);
        if (status < 0 && !resp->head_sent) {
            if (!r->body_too_big && !app->o.quiet) {
                const char *why = cio_task_message(cio_current());
                fprintf(stderr, "cio http: %s %s failed: %s%s%s\n", r->method, r->path,
                        cio_strerror(status), why ? ": " : "", why ? why : "");
            }
            int code = r->body_too_big ? 413 : 500;
            cio__http_headers_clear(&resp->headers);
            cio_http_resp_status(resp, code);
            char body[64];
            int n = snprintf(body, sizeof(body), "%d %s\n", code, cio__http_reason(code));
            cio_http_resp_body(resp, body, (size_t)n);
        } else if (status < 0) {
            err = status; /* the response is half sent: only closing is left */
        }
    } else {
        r->nparams = 0;
        cio_http_resp_status(resp, allow[0] ? 405 : 404);
        if (allow[0])
            cio_http_resp_header(resp, "Allow", allow);
        const char *text = allow[0] ? "405 Method Not Allowed\n" : "404 Not Found\n";
        cio_http_resp_body(resp, text, strlen(text));
    }
    /* r->param_values point into segs: the handler is done with them. */
    for (size_t i = 0; i < nsegs; i++)
        free(segs[i]);
    free(segs);
    r->nparams = 0;
    return err;
}

/* ---- connections ---- */

/* Waits for the next request's head. Returns 0, -EPIPE when the client closed
 * between requests, or another error (the caller answers 400/431/408 or just
 * closes). */
static int read_head(conn *c)
{
    cio_http_app *app = c->srv->app;
    int err = feed(c); /* pipelined bytes first */
    if (err || c->req.headers_done)
        return err;
    if (c->beg == c->end) {
        /* Between requests the idle timeout applies; a new connection must
         * start its first request within the header timeout. */
        cio_scope idle;
        cio_timeout_enter(&idle, c->served ? app->o.idle_timeout : app->o.header_timeout);
        c->idle = &idle;
        ssize_t n = c->srv->closing ? -ECANCELED : fill(c);
        c->idle = NULL;
        cio_timeout_exit(&idle);
        if (n <= 0) /* closed, idle too long, or shutting down: end quietly */
            return n == 0 || n == -ETIMEDOUT ? -EPIPE : (int)n;
        c->end += (size_t)n;
    }
    cio_scope head;
    cio_timeout_enter(&head, app->o.header_timeout);
    err = parse_until(c, &c->req.headers_done);
    cio_timeout_exit(&head);
    return err == -ENOBUFS ? -EMSGSIZE : err;
}

static int serve_one(conn *c)
{
    req_reset(&c->req, c);
    int err = read_head(c);
    if (err) {
        if (c->req.head_too_big || err == -EMSGSIZE)
            send_error(c, 431);
        else if (err == -EBADMSG)
            send_error(c, 400); /* malformed, or smuggling (CL with TE, two CLs) */
        else if (err == -ETIMEDOUT)
            send_error(c, 408); /* the head came too slowly (slowloris) */
        return err;
    }
    split_url(&c->req);
    cio_http_resp resp = {.c = c, .status = 200};
    err = dispatch(c, &resp);
    if (c->req.hijacked) { /* another protocol spoke on it: nothing more to say */
        cio__http_headers_clear(&resp.headers);
        free(resp.body);
        return -ECONNABORTED;
    }
    if (!err)
        err = finish_response(&resp);
    cio__http_headers_clear(&resp.headers);
    free(resp.body);
    if (!err && !c->req.message_done) {
        /* Skip a body the handler did not read, within the limit. */
        c->req.body_discard = 1;
        c->req.body_len = 0;
        cio_scope sc;
        cio_timeout_enter(&sc, c->srv->app->o.header_timeout);
        err = c->req.body_too_big ? -EMSGSIZE : parse_until(c, &c->req.message_done);
        cio_timeout_exit(&sc);
    }
    if (!err)
        err = cio_stream_drain(c->s);
    if (!err && !keep_alive(c))
        err = -ECONNABORTED; /* done with this connection */
    return err;
}

static int connection(cio_stream *s, void *arg)
{
    cio_http_server *srv = arg;
    conn *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->srv = srv;
    c->s = s;
    llhttp_init(&c->parser, HTTP_REQUEST, &settings);
    c->parser.data = c;
    c->req.c = c;
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    while (serve_one(c) == 0)
        c->served++;
    req_reset(&c->req, c);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
    return 0; /* a connection ending is not a server failure */
}

/* Serves one connection on an existing stream (fuzzing and tests). */
int cio__http_serve_stream(cio_http_app *app, cio_stream *s)
{
    cio_http_server srv = {.app = app};
    return connection(s, &srv);
}

/* ---- servers ---- */

int cio_http_serve(cio_http_server **out, cio_http_app *app, const char *host, int port)
{
    if (!out || !app)
        return -EINVAL;
    *out = NULL;
    cio_http_server *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return -ENOMEM;
    srv->app = app;
    int err = cio_start_server(&srv->listener, host, port, connection, srv, &app->o.stream);
    if (err) {
        free(srv);
        return err;
    }
    *out = srv;
    return 0;
}

int cio_http_server_port(const cio_http_server *srv)
{
    return srv ? cio_server_port(srv->listener) : -EINVAL;
}

int cio_http_server_close(cio_http_server *srv)
{
    if (!srv)
        return -EINVAL;
    srv->closing = 1;
    /* Idle keep-alive connections end now; busy ones finish their request. */
    for (conn *c = srv->conns; c; c = c->next)
        if (c->idle)
            cio_scope_cancel(c->idle);
    int err = cio_server_close(srv->listener, srv->app->o.shutdown_grace);
    free(srv);
    return err;
}
