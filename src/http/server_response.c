/* libcio-http's server: writing responses: heads, buffered, chunked and file
 * bodies, and the error responses that end a connection. */
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../core/alloc.h"
#include "server_internal.h"

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

int cio__http_keep_alive(const conn *c)
{
    return !c->srv->closing && !c->broken && !c->parser.upgrade &&
           llhttp_should_keep_alive(&c->parser);
}

/* ---- writing, bounded by send_timeout ---- */

#define SEND_PIECE ((size_t)64 * 1024) /* each piece has send_timeout to find room */

static size_t high_water(const conn *c)
{
    size_t hw = c->srv->app->o.stream.high_water;
    return hw ? hw : CIO_STREAM_HIGH_WATER;
}

/* A write or a drain ran out of time: the client does not read. */
static int send_failed(conn *c, int err)
{
    c->broken = 1;
    if (err == -ETIMEDOUT) {
        c->send_timed_out = 1;
        cio__http_log(c, 0, err, "send timeout: the client read nothing for %g s",
                      c->srv->app->o.send_timeout);
        return cio_fail(err, "send timeout (%g s)", c->srv->app->o.send_timeout);
    }
    return err;
}

int cio__http_write(conn *c, const void *p, size_t n)
{
    const char *b = p;
    while (n) {
        size_t piece = n < SEND_PIECE ? n : SEND_PIECE;
        int err;
        if (cio_stream_write_buffered(c->s) + piece <= high_water(c)) {
            err = cio_stream_write(c->s, b, piece); /* room: no wait, no timer */
        } else {
            cio_scope sc;
            if ((err = cio_timeout_enter(&sc, c->srv->app->o.send_timeout)) == 0) {
                err = cio_stream_write(c->s, b, piece);
                cio_timeout_exit(&sc);
            }
        }
        if (err)
            return send_failed(c, err);
        b += piece;
        n -= piece;
    }
    return 0;
}

int cio__http_drain(conn *c)
{
    if (!cio_stream_write_buffered(c->s))
        return 0;
    cio_scope sc;
    int err = cio_timeout_enter(&sc, c->srv->app->o.send_timeout);
    if (err)
        return err;
    err = cio_stream_drain(c->s);
    cio_timeout_exit(&sc);
    return err ? send_failed(c, err) : 0;
}

/* Waits until the socket takes more (sendfile), within send_timeout. */
static int wait_room(conn *c)
{
    cio_scope sc;
    int err = cio_timeout_enter(&sc, c->srv->app->o.send_timeout);
    if (err)
        return err;
    err = cio_wait_writable(cio_stream_fd(c->s));
    cio_timeout_exit(&sc);
    return err ? send_failed(c, err) : 0;
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
        char *h = o->p == o->stack ? cio__malloc(cap) : cio__realloc(o->p, cap);
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
static int out_send(outbuf *o, conn *c)
{
    int err = o->err ? o->err : o->len ? cio__http_write(c, o->p, o->len) : 0;
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
    if (!cio__http_keep_alive(r->c))
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
    /* Exactly the size asked for: a growable buffer would hold up to twice. */
    char *b = cio__malloc(len + 1);
    if (!b)
        return -ENOMEM;
    if (len)
        memcpy(b, data, len);
    b[len] = 0;
    free(r->body);
    r->body = b;
    r->len = len;
    return 0;
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
    int err = out_send(&o, r->c);
    if (!err && body && len > SMALL_BODY) {
        err = cio__http_write(r->c, data, len);
        if (!err)
            err = cio__http_write(r->c, "\r\n", 2);
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
    int err = out_send(&o, r->c);
    if (!err)
        err = cio__http_drain(r->c);
    off_t off = 0;
    int plain = !r->c->srv->app->o.stream.tls;
    char buf[16384];
    while (!err && off < st.st_size && !is_head(r)) {
        if (plain) {
            ssize_t n = sendfile(cio_stream_fd(r->c->s), fd, &off, (size_t)(st.st_size - off));
            if (n < 0 && errno == EAGAIN)
                err = wait_room(r->c);
            else if (n <= 0)
                err = n < 0 ? -errno : -EIO;
        } else {
            ssize_t n = cio_pread(fd, buf, sizeof(buf), off);
            if (n <= 0)
                err = n < 0 ? (int)n : -EIO;
            else if (!(err = cio__http_write(r->c, buf, (size_t)n)))
                off += n;
        }
    }
    cio_close(fd);
    if (err)
        r->failed = 1;
    return err;
}

/* Completes the response the handler built. */
int cio__http_finish_response(cio_http_resp *r)
{
    if (r->failed)
        return -EPIPE;
    if (r->chunked)
        return is_head(r) ? 0 : cio__http_write(r->c, "0\r\n\r\n", 5);
    if (r->head_sent)
        return 0;
    int body = r->len && !is_head(r);
    outbuf o;
    out_init(&o);
    put_head(&o, r, r->len);
    if (body && r->len <= SMALL_BODY)
        out_put(&o, r->body, r->len);
    int err = out_send(&o, r->c);
    if (!err && body && r->len > SMALL_BODY)
        err = cio__http_write(r->c, r->body, r->len);
    return err;
}

size_t cio__http_error_body(const cio_http_server_opts *o, int status, char *buf)
{
    const char *reason = cio__http_reason(status);
    if (o->error_body) {
        long n = o->error_body(o->error_body_arg, status, reason, buf, CIO_HTTP_ERROR_BODY_MAX);
        if (n >= 0 && n <= CIO_HTTP_ERROR_BODY_MAX)
            return (size_t)n;
    }
    const char *ct = o->error_content_type;
    int json = ct && strncmp(ct, "application/json", 16) == 0;
    int n = snprintf(buf, CIO_HTTP_ERROR_BODY_MAX + 1,
                     json ? "{\"status\":%d,\"error\":\"%s\"}\n" : "%d %s\n", status, reason);
    return n < 0 ? 0 : (size_t)n;
}

int cio__http_resp_error(cio_http_resp *r, int status)
{
    const cio_http_server_opts *o = &r->c->srv->app->o;
    char body[CIO_HTTP_ERROR_BODY_MAX + 1];
    size_t n = cio__http_error_body(o, status, body);
    cio_http_resp_status(r, status);
    int err = 0;
    if (o->error_content_type || o->error_body)
        err = cio_http_resp_header(r, "Content-Type",
                                   o->error_content_type ? o->error_content_type : "text/plain");
    return err ? err : cio_http_resp_body(r, body, n);
}

/* An error response that ends the connection. */
void cio__http_send_error(conn *c, int status)
{
    const cio_http_server_opts *o = &c->srv->app->o;
    c->broken = 1;
    c->linger = 1; /* the client may be sending still: let it read this */
    char body[CIO_HTTP_ERROR_BODY_MAX + 1];
    size_t n = cio__http_error_body(o, status, body);
    char line[256];
    outbuf ob;
    out_init(&ob); /* the head and the body, for one write */
    int h = snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: cio\r\n", status,
                     cio__http_reason(status), http_date());
    out_put(&ob, line, (size_t)h);
    out_str(&ob, "Content-Type: ");
    out_str(&ob, o->error_content_type ? o->error_content_type : "text/plain");
    h = snprintf(line, sizeof(line), "\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", n);
    out_put(&ob, line, (size_t)h);
    out_put(&ob, body, n);
    out_send(&ob, c);
}
