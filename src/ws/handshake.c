/* The opening handshake (RFC 6455 section 4): the server's checks and its
 * 101 answer on cio's HTTP server, and the client's request and the checks
 * of the answer. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "../core/alloc.h"
#include "cio/tls.h"
#include "ws_internal.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define HEAD_MAX 16384

/* Appends the string s to buf (cap bytes, *n used) if it fits; returns 0 or
 * -1. The server's handshake builds its answer with this rather than
 * snprintf: it runs on the connection task's stack, and glibc's printf
 * family reaches kilobytes deep, a page that an idle connection would keep. */
static int append(char *buf, size_t cap, size_t *n, const char *s)
{
    size_t l = strlen(s);
    if (*n + l >= cap)
        return -1;
    memcpy(buf + *n, s, l + 1);
    *n += l;
    return 0;
}

int cio__ws_accept_key(const char *key, char out[29])
{
    char buf[128];
    size_t n = 0;
    if (append(buf, sizeof(buf), &n, key) || append(buf, sizeof(buf), &n, WS_GUID))
        return -EINVAL;
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)buf, n, md);
    EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH);
    return 0;
}

/* 1 if the comma-separated list holds token (case-insensitive). */
int cio__ws_has_token(const char *list, const char *token)
{
    size_t tl = strlen(token);
    const char *p = list;
    while (p && *p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t)(t - p) == tl && strncasecmp(p, token, tl) == 0)
            return 1;
        p = e;
    }
    return 0;
}

/* A Sec-WebSocket-Key: base64 of exactly 16 bytes. */
static int key_valid(const char *key)
{
    if (!key || strlen(key) != 24 || key[22] != '=' || key[23] != '=')
        return 0;
    unsigned char out[24];
    return EVP_DecodeBlock(out, (const unsigned char *)key, 24) == 18;
}

/* ---- server ---- */

static int refuse(cio_http_resp *resp, int status, int err, const char *why)
{
    cio_http_resp_status(resp, status);
    if (status == 426) {
        cio_http_resp_header(resp, "Upgrade", "websocket");
        cio_http_resp_header(resp, "Sec-WebSocket-Version", "13");
    }
    cio_http_resp_header(resp, "Content-Type", "text/plain");
    char body[160];
    int n = snprintf(body, sizeof(body), "WebSocket handshake refused: %s\n", why);
    cio_http_resp_body(resp, body, (size_t)n);
    return cio_fail(err, "WebSocket handshake refused (%d): %s", status, why);
}

/* host[:port] of an Origin "scheme://host[:port]", compared with Host with
 * default ports made explicit. */
static int same_origin(const char *origin, const char *host)
{
    const char *p = strstr(origin, "://");
    if (!p || !host)
        return 0;
    int https = strncasecmp(origin, "https://", 8) == 0;
    const char *dflt = https ? "443" : "80";
    char a[300], b[300];
    const char *ah = p + 3;
    snprintf(a, sizeof(a), "%s%s%s", ah, strrchr(ah, ':') && !strchr(ah, ']') ? "" : ":",
             strrchr(ah, ':') && !strchr(ah, ']') ? "" : dflt);
    snprintf(b, sizeof(b), "%s%s%s", host, strrchr(host, ':') && !strchr(host, ']') ? "" : ":",
             strrchr(host, ':') && !strchr(host, ']') ? "" : dflt);
    return strcasecmp(a, b) == 0;
}

static int origin_allowed(const char *origin, const char *host, const cio_ws_opts *o)
{
    if (!origin)
        return 1; /* not a browser: Origin protects browsers' users only */
    if (!o || !o->origins)
        return same_origin(origin, host);
    for (const char *const *a = o->origins; *a; a++)
        if (strcmp(*a, "*") == 0 || strcasecmp(*a, origin) == 0)
            return 1;
    return 0;
}

static const char *pick_subprotocol(const char *offered, const cio_ws_opts *o)
{
    if (!offered || !o || !o->subprotocols)
        return NULL;
    for (const char *const *p = o->subprotocols; *p; p++)
        if (cio__ws_has_token(offered, *p))
            return *p;
    return NULL;
}

int cio_ws_accept(cio_http_req *req, cio_http_resp *resp, cio_ws **out, const cio_ws_opts *opts)
{
    if (!req || !resp || !out)
        return -EINVAL;
    *out = NULL;
    const char *method = cio_http_req_method(req);
    const char *upgrade = cio_http_req_header(req, "Upgrade");
    const char *connection = cio_http_req_header(req, "Connection");
    const char *version = cio_http_req_header(req, "Sec-WebSocket-Version");
    const char *key = cio_http_req_header(req, "Sec-WebSocket-Key");
    if (!method || strcmp(method, "GET") != 0)
        return refuse(resp, 400, -EPROTO, "the method must be GET");
    if (!upgrade || !cio__ws_has_token(upgrade, "websocket"))
        return refuse(resp, 426, -EPROTO, "no Upgrade: websocket");
    if (!connection || !cio__ws_has_token(connection, "upgrade"))
        return refuse(resp, 400, -EPROTO, "no Connection: upgrade");
    if (!version || strcmp(version, "13") != 0)
        return refuse(resp, 426, -EPROTO, "Sec-WebSocket-Version must be 13");
    if (!key_valid(key))
        return refuse(resp, 400, -EPROTO, "Sec-WebSocket-Key is not 16 bytes in base64");
    if (!origin_allowed(cio_http_req_header(req, "Origin"), cio_http_req_header(req, "Host"), opts))
        return refuse(resp, 403, -EPERM, "this Origin is not allowed");
    const char *proto = pick_subprotocol(cio_http_req_header(req, "Sec-WebSocket-Protocol"), opts);
    ws_deflate_params dp = {0};
    char ext[256] = "";
    const char *offers = cio_http_req_header(req, "Sec-WebSocket-Extensions");
    if (opts && opts->deflate && offers)
        cio__ws_deflate_server(offers, opts, &dp, ext, sizeof(ext));

    char accept[29];
    cio__ws_accept_key(key, accept);
    char head[512];
    size_t n = 0;
    int bad = append(head, sizeof(head), &n,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: ") ||
              append(head, sizeof(head), &n, accept) || append(head, sizeof(head), &n, "\r\n");
    if (!bad && proto)
        bad = append(head, sizeof(head), &n, "Sec-WebSocket-Protocol: ") ||
              append(head, sizeof(head), &n, proto) || append(head, sizeof(head), &n, "\r\n");
    if (!bad && dp.enabled)
        bad = append(head, sizeof(head), &n, "Sec-WebSocket-Extensions: ") ||
              append(head, sizeof(head), &n, ext) || append(head, sizeof(head), &n, "\r\n");
    if (bad || append(head, sizeof(head), &n, "\r\n"))
        return refuse(resp, 400, -EPROTO, "a subprotocol too long");

    cio_stream *s;
    const void *early;
    size_t nearly;
    int err = cio_http_req_hijack(req, resp, &s, &early, &nearly);
    if (err)
        return cio_fail(err, "WebSocket accept: the connection cannot be taken over");
    /* The HTTP server (http-parser, paused at the end of the head) leaves the
     * head's last LF in the early bytes. No frame starts with LF or CR
     * (0x0a would be a pong without FIN, 0x0d a reserved opcode), so a
     * leading CR LF or LF is the head's and is skipped. */
    const char *e = early;
    if (nearly >= 2 && e[0] == '\r' && e[1] == '\n') {
        early = e + 2;
        nearly -= 2;
    } else if (nearly >= 1 && e[0] == '\n') {
        early = e + 1;
        nearly -= 1;
    }
    /* The buffer that held the request's head (4 KiB): an idle WebSocket
     * waits for readiness without one (recv.c). */
    cio_stream_release_read_buffer(s);
    cio_ws *ws;
    err = cio__ws_new(&ws, 1, s, opts, early, nearly);
    if (err)
        return cio_fail(err, "WebSocket accept: out of memory");
    if (proto && !(ws->subprotocol = cio__strdup(proto)))
        err = -ENOMEM;
    if (!err && dp.enabled)
        err = cio__ws_deflate_new(&ws->dfl, &dp);
    if (!err)
        err = cio_stream_write(s, head, n);
    if (!err)
        err = cio__ws_start(ws);
    if (err) {
        cio__ws_free(ws);
        return cio_fail(err, "WebSocket accept: %s", cio_strerror(err));
    }
    *out = ws;
    return 0;
}

/* ---- client ---- */

typedef struct ws_url {
    int tls;
    char host[256];
    int port;
    char hostport[300]; /* for the Host header */
    char target[2048];
} ws_url;

static int parse_url(const char *url, ws_url *u)
{
    const char *p;
    if (strncasecmp(url, "ws://", 5) == 0) {
        u->tls = 0;
        p = url + 5;
    } else if (strncasecmp(url, "wss://", 6) == 0) {
        u->tls = 1;
        p = url + 6;
    } else {
        return -EINVAL;
    }
    const char *hend;
    const char *h = p;
    if (*p == '[') {
        hend = strchr(p, ']');
        if (!hend)
            return -EINVAL;
        h = p + 1;
        p = hend + 1;
    } else {
        hend = p + strcspn(p, ":/?#");
        p = hend;
    }
    size_t hl = (size_t)(hend - h);
    if (hl == 0 || hl >= sizeof(u->host))
        return -EINVAL;
    memcpy(u->host, h, hl);
    u->host[hl] = 0;
    for (size_t i = 0; i < hl; i++)
        if (!isalnum((unsigned char)u->host[i]) && !strchr(".-_:", u->host[i]))
            return -EINVAL;
    u->port = u->tls ? 443 : 80;
    int explicit_port = 0;
    if (*p == ':') {
        char *end;
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port <= 0 || port > 65535)
            return -EINVAL;
        u->port = (int)port;
        explicit_port = 1;
        p = end;
    }
    if (*p && *p != '/' && *p != '?')
        return -EINVAL;
    const char *frag = strchr(p, '#');
    size_t tl = frag ? (size_t)(frag - p) : strlen(p);
    if (tl + 2 > sizeof(u->target))
        return -EINVAL;
    size_t o = 0;
    if (*p != '/')
        u->target[o++] = '/';
    memcpy(u->target + o, p, tl);
    u->target[o + tl] = 0;
    for (const char *c = u->target; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f)
            return -EINVAL;
    int v6 = strchr(u->host, ':') != NULL;
    snprintf(u->hostport, sizeof(u->hostport), "%s%s%s%s%.0d", v6 ? "[" : "", u->host,
             v6 ? "]" : "", explicit_port ? ":" : "", explicit_port ? u->port : 0);
    return 0;
}

static int header_ok(const char *line)
{
    const char *colon = strchr(line, ':');
    if (!colon || colon == line)
        return 0;
    for (const char *c = line; *c; c++)
        if (*c == '\r' || *c == '\n')
            return 0;
    return 1;
}

/* The answer's head, parsed strictly: the status line, then "Name: value"
 * lines ended by CRLF; no folding. */
typedef struct ws_answer {
    int status;
    const char *upgrade, *connection, *accept, *protocol, *extensions, *location;
    int dup;
} ws_answer;

static int parse_answer(char *head, ws_answer *a)
{
    memset(a, 0, sizeof(*a));
    char *line = head, *eol = strstr(line, "\r\n");
    if (!eol || strncmp(line, "HTTP/1.1 ", 9) != 0 || !isdigit((unsigned char)line[9]) ||
        !isdigit((unsigned char)line[10]) || !isdigit((unsigned char)line[11]) ||
        (line[12] != ' ' && line + 12 != eol))
        return -EPROTO;
    a->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    for (line = eol + 2; (eol = strstr(line, "\r\n")) && eol != line; line = eol + 2) {
        *eol = 0;
        char *colon = strchr(line, ':');
        if (!colon || colon == line || *line == ' ' || *line == '\t')
            return -EPROTO;
        for (char *c = line; c < colon; c++)
            if (!isgraph((unsigned char)*c))
                return -EPROTO;
        *colon = 0;
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        char *e = v + strlen(v);
        while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
            *--e = 0;
        const char **slot = NULL;
        if (!strcasecmp(line, "Upgrade"))
            slot = &a->upgrade;
        else if (!strcasecmp(line, "Connection"))
            slot = &a->connection;
        else if (!strcasecmp(line, "Sec-WebSocket-Accept"))
            slot = &a->accept;
        else if (!strcasecmp(line, "Sec-WebSocket-Protocol"))
            slot = &a->protocol;
        else if (!strcasecmp(line, "Sec-WebSocket-Extensions"))
            slot = &a->extensions;
        else if (!strcasecmp(line, "Location"))
            slot = &a->location;
        if (slot) {
            if (*slot)
                a->dup = 1;
            *slot = v;
        }
    }
    return 0;
}

static int send_request(cio_stream *s, const ws_url *u, const char *key, const cio_ws_opts *o)
{
    char *req = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&req, &len);
    if (!f)
        return -ENOMEM;
    fprintf(f,
            "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n",
            u->target, u->hostport, key);
    int err = 0;
    if (o->subprotocols && o->subprotocols[0]) {
        fputs("Sec-WebSocket-Protocol: ", f);
        for (const char *const *p = o->subprotocols; *p; p++) {
            if (strpbrk(*p, " ,\r\n\t;\"") || !**p)
                err = -EINVAL;
            fprintf(f, "%s%s", p == o->subprotocols ? "" : ", ", *p);
        }
        fputs("\r\n", f);
    }
    if (o->deflate) {
        char offer[160];
        cio__ws_deflate_offer(o, offer, sizeof(offer));
        fprintf(f, "Sec-WebSocket-Extensions: %s\r\n", offer);
    }
    if (o->origin) {
        if (strpbrk(o->origin, "\r\n"))
            err = -EINVAL;
        fprintf(f, "Origin: %s\r\n", o->origin);
    }
    for (const char *const *h = o->headers; h && *h; h++) {
        if (!header_ok(*h))
            err = -EINVAL;
        fprintf(f, "%s\r\n", *h);
    }
    fputs("\r\n", f);
    if (fclose(f) != 0) {
        free(req);
        return -ENOMEM;
    }
    if (err) {
        free(req);
        return cio_fail(err,
                        "WebSocket connect: a subprotocol, Origin or header line is malformed");
    }
    err = cio_stream_write(s, req, len);
    free(req);
    return err;
}

static int check_answer(cio_ws *ws, char *head, const char *key, const cio_ws_opts *o)
{
    ws_answer a;
    if (parse_answer(head, &a))
        return cio_fail(-EPROTO, "WebSocket connect: a malformed HTTP answer");
    if (a.status >= 300 && a.status < 400)
        return cio_fail(-EPROTO, "WebSocket connect: redirect (%d) to %s refused", a.status,
                        a.location ? a.location : "(no Location)");
    if (a.status != 101)
        return cio_fail(-EPROTO, "WebSocket connect: the server answered %d, not 101", a.status);
    if (a.dup)
        return cio_fail(-EPROTO, "WebSocket connect: a handshake header came twice");
    if (!a.upgrade || strcasecmp(a.upgrade, "websocket") != 0)
        return cio_fail(-EPROTO, "WebSocket connect: no Upgrade: websocket in the answer");
    if (!a.connection || !cio__ws_has_token(a.connection, "upgrade"))
        return cio_fail(-EPROTO, "WebSocket connect: no Connection: upgrade in the answer");
    char want[29];
    cio__ws_accept_key(key, want);
    if (!a.accept || strcmp(a.accept, want) != 0)
        return cio_fail(-EPROTO, "WebSocket connect: Sec-WebSocket-Accept is wrong");
    if (a.protocol) {
        int offered = 0;
        for (const char *const *p = o->subprotocols; p && *p; p++)
            if (strcmp(*p, a.protocol) == 0)
                offered = 1;
        if (!offered)
            return cio_fail(-EPROTO,
                            "WebSocket connect: the server chose subprotocol %s, not offered",
                            a.protocol);
        if (!(ws->subprotocol = cio__strdup(a.protocol)))
            return -ENOMEM;
    }
    if (a.extensions) {
        ws_deflate_params dp = {0};
        if (!o->deflate || cio__ws_deflate_client(a.extensions, o, &dp) != 0)
            return cio_fail(-EPROTO, "WebSocket connect: extensions not offered or malformed: %s",
                            a.extensions);
        int err = cio__ws_deflate_new(&ws->dfl, &dp);
        if (err)
            return err;
    }
    return 0;
}

static int connect_in_time(cio_ws **out, const char *url, const cio_ws_opts *o)
{
    ws_url u;
    if (parse_url(url, &u))
        return cio_fail(-EINVAL, "WebSocket connect: a malformed URL: %s", url);
    cio_stream_opts so = o->stream;
    cio_tls_config *tls = NULL;
    if (u.tls && !so.tls) {
        int err = cio_tls_client_config_new(&tls);
        if (err)
            return err;
        so.tls = tls;
    } else if (!u.tls) {
        so.tls = NULL;
    }
    cio_stream *s;
    int err = cio_open_connection(&s, u.host, u.port, &so);
    cio_tls_config_free(tls);
    if (err)
        return err;
    unsigned char raw[16];
    char key[25];
    RAND_bytes(raw, sizeof(raw));
    EVP_EncodeBlock((unsigned char *)key, raw, sizeof(raw));
    cio_ws *ws = NULL;
    char *head = cio__malloc(HEAD_MAX + 1);
    err = head ? send_request(s, &u, key, o) : -ENOMEM;
    if (!err) {
        ssize_t n = cio_stream_read_until(s, "\r\n\r\n", 4, head, HEAD_MAX);
        if (n == -ENOBUFS)
            err = cio_fail(-EPROTO, "WebSocket connect: the answer's head is over %d bytes",
                           HEAD_MAX);
        else if (n == -EPIPE || n == 0)
            err = cio_fail(-ECONNRESET, "WebSocket connect: %s closed during the handshake",
                           u.hostport);
        else if (n < 0)
            err = (int)n;
        else
            head[n] = 0;
    }
    if (!err)
        err = cio__ws_new(&ws, 0, s, o, NULL, 0);
    if (!err) {
        ws->own_stream = 1;
        err = check_answer(ws, head, key, o);
    }
    if (!err)
        err = cio__ws_start(ws);
    free(head);
    if (err) {
        cio__ws_free(ws);
        cio__ws_close_stream(s, 0); /* drop, no flush */
        return err;
    }
    *out = ws;
    return 0;
}

int cio_ws_connect(cio_ws **out, const char *url, const cio_ws_opts *opts)
{
    static const cio_ws_opts defaults;
    if (!out || !url)
        return -EINVAL;
    *out = NULL;
    const cio_ws_opts *o = opts ? opts : &defaults;
    cio_scope sc;
    int err = cio_timeout_enter(&sc, o->open_timeout > 0 ? o->open_timeout : 10);
    if (err)
        return err;
    err = connect_in_time(out, url, o);
    int terr = cio_timeout_exit(&sc);
    if (terr && !cio_cancelled()) {
        if (*out) { /* connected in the very last instant: keep it */
            return 0;
        }
        return cio_fail(-ETIMEDOUT, "WebSocket connect: %s: no handshake within %g s", url,
                        o->open_timeout > 0 ? o->open_timeout : 10);
    }
    return err;
}
