/* permessage-deflate (RFC 7692): the negotiation of its parameters, and
 * compressing and inflating messages with zlib. cio never compresses with 8
 * window bits (zlib turns 8 into 9, which a peer that asked for 8 could not
 * read): when 8 is asked of us, our messages go uncompressed, which the RFC
 * allows message by message. Inflating always works with a window of at
 * least 9 (a larger window reads a smaller one's output). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/alloc.h"
#include "ws_internal.h"

typedef struct ext_params {
    int snct, cnct; /* server_ / client_no_context_takeover */
    int smwb, cmwb; /* server_ / client_max_window_bits: 0 absent, -1 without value */
    int bad;
} ext_params;

static int parse_bits(const char *v, size_t n)
{
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v++;
        n -= 2;
    }
    if (n == 1 && v[0] >= '8' && v[0] <= '9')
        return v[0] - '0';
    if (n == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5')
        return 10 + v[1] - '0';
    return 0;
}

/* Parses one extension "name; p; p=v" from [s, e): returns 1 if it is
 * permessage-deflate (params filled), 0 for another extension. */
static int parse_ext(const char *s, const char *e, ext_params *x)
{
    memset(x, 0, sizeof(*x));
    int first = 1;
    while (s < e) {
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        const char *pe = s;
        while (pe < e && *pe != ';')
            pe++;
        const char *t = pe;
        while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        const char *eq = NULL;
        for (const char *c = s; c < t && !eq; c++)
            if (*c == '=')
                eq = c;
        const char *ne = eq ? eq : t;
        while (ne > s && (ne[-1] == ' ' || ne[-1] == '\t'))
            ne--;
        size_t nl = (size_t)(ne - s);
        const char *v = NULL;
        size_t vl = 0;
        if (eq) {
            v = eq + 1;
            while (v < t && (*v == ' ' || *v == '\t'))
                v++;
            vl = (size_t)(t - v);
        }
        if (first) {
            if (nl != 18 || strncasecmp(s, "permessage-deflate", 18) != 0 || eq)
                return 0;
            first = 0;
        } else if (nl == 26 && !strncasecmp(s, "server_no_context_takeover", nl)) {
            x->bad |= x->snct || eq;
            x->snct = 1;
        } else if (nl == 26 && !strncasecmp(s, "client_no_context_takeover", nl)) {
            x->bad |= x->cnct || eq;
            x->cnct = 1;
        } else if (nl == 22 && !strncasecmp(s, "server_max_window_bits", nl)) {
            x->bad |= x->smwb != 0 || !eq;
            x->smwb = eq ? parse_bits(v, vl) : -1;
            x->bad |= x->smwb == 0;
        } else if (nl == 22 && !strncasecmp(s, "client_max_window_bits", nl)) {
            x->bad |= x->cmwb != 0;
            x->cmwb = eq ? parse_bits(v, vl) : -1;
            x->bad |= x->cmwb == 0;
        } else {
            x->bad = 1;
        }
        s = pe < e ? pe + 1 : e;
    }
    return !first;
}

int cio__ws_deflate_server(const char *offers, const cio_ws_opts *o, ws_deflate_params *p,
                           char *answer, size_t cap)
{
    memset(p, 0, sizeof(*p));
    const char *s = offers;
    while (*s) {
        const char *e = s + strcspn(s, ",");
        ext_params x;
        if (parse_ext(s, e, &x) && !x.bad) {
            int cbits = 15;
            if (x.cmwb && o->deflate_peer_max_window_bits >= 8 &&
                o->deflate_peer_max_window_bits < 15)
                cbits = o->deflate_peer_max_window_bits;
            if (x.cmwb > 0 && x.cmwb < cbits)
                cbits = x.cmwb;
            p->enabled = 1;
            p->our_no_context_takeover = x.snct || o->deflate_no_context_takeover;
            p->peer_no_context_takeover = x.cnct || o->deflate_peer_no_context_takeover;
            p->our_window_bits = x.smwb > 0 ? x.smwb : 15;
            p->peer_window_bits = cbits;
            int n = snprintf(answer, cap, "permessage-deflate%s%s",
                             p->our_no_context_takeover ? "; server_no_context_takeover" : "",
                             p->peer_no_context_takeover ? "; client_no_context_takeover" : "");
            if (x.smwb > 0)
                n += snprintf(answer + n, cap - (size_t)n, "; server_max_window_bits=%d", x.smwb);
            if (x.cmwb && cbits < 15)
                snprintf(answer + n, cap - (size_t)n, "; client_max_window_bits=%d", cbits);
            return 1;
        }
        s = *e ? e + 1 : e;
    }
    return 0;
}

int cio__ws_deflate_offer(const cio_ws_opts *o, char *out, size_t cap)
{
    int n = snprintf(out, cap, "permessage-deflate; client_max_window_bits");
    if (o->deflate_peer_max_window_bits >= 8 && o->deflate_peer_max_window_bits < 15)
        n += snprintf(out + n, cap - (size_t)n, "; server_max_window_bits=%d",
                      o->deflate_peer_max_window_bits);
    if (o->deflate_no_context_takeover)
        n += snprintf(out + n, cap - (size_t)n, "; client_no_context_takeover");
    if (o->deflate_peer_no_context_takeover)
        snprintf(out + n, cap - (size_t)n, "; server_no_context_takeover");
    return 0;
}

int cio__ws_deflate_client(const char *answer, const cio_ws_opts *o, ws_deflate_params *p)
{
    memset(p, 0, sizeof(*p));
    if (strchr(answer, ','))
        return -EPROTO; /* we offered one extension */
    ext_params x;
    if (!parse_ext(answer, answer + strlen(answer), &x) || x.bad || x.cmwb < 0 || x.smwb < 0)
        return -EPROTO;
    int asked = o->deflate_peer_max_window_bits >= 8 && o->deflate_peer_max_window_bits < 15
                    ? o->deflate_peer_max_window_bits
                    : 15;
    if (x.smwb > asked)
        return -EPROTO;
    if (o->deflate_peer_no_context_takeover && !x.snct)
        return -EPROTO;
    p->enabled = 1;
    p->our_no_context_takeover = x.cnct || o->deflate_no_context_takeover;
    p->peer_no_context_takeover = x.snct;
    p->our_window_bits = x.cmwb > 0 ? x.cmwb : 15;
    p->peer_window_bits = x.smwb > 0 ? x.smwb : 15;
    return 0;
}

int cio__ws_deflate_new(ws_deflate **out, const ws_deflate_params *p)
{
    ws_deflate *d = cio__calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->p = *p;
    *out = d;
    return 0;
}

static void deflate_end(ws_deflate *d)
{
    if (d->def_ready)
        deflateEnd(&d->def);
    d->def_ready = 0;
}

static void inflate_end(ws_deflate *d)
{
    if (d->inf_ready)
        inflateEnd(&d->inf);
    d->inf_ready = 0;
}

void cio__ws_deflate_free(ws_deflate *d)
{
    if (!d)
        return;
    deflate_end(d);
    inflate_end(d);
    free(d);
}

int cio__ws_deflate_message(ws_deflate *d, const void *in, size_t n, uint8_t **out, size_t *outlen)
{
    if (!d->def_ready) {
        if (deflateInit2(&d->def, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -d->p.our_window_bits, 8,
                         Z_DEFAULT_STRATEGY) != Z_OK)
            return -ENOMEM;
        d->def_ready = 1;
    }
    size_t cap = deflateBound(&d->def, (uLong)n) + 16;
    uint8_t *buf = cio__malloc(cap);
    if (!buf)
        return -ENOMEM;
    d->def.next_in = (Bytef *)(uintptr_t)in;
    d->def.avail_in = (uInt)n;
    d->def.next_out = buf;
    d->def.avail_out = (uInt)cap;
    int r = deflate(&d->def, Z_SYNC_FLUSH);
    size_t len = cap - d->def.avail_out;
    if (r != Z_OK || d->def.avail_in != 0 || len < 4) {
        free(buf);
        deflate_end(d);
        return -ENOMEM;
    }
    len -= 4; /* the 00 00 ff ff every sync flush ends with (RFC 7692 7.2.1) */
    if (d->p.our_no_context_takeover || len >= n) {
        /* Sent as it is, the message is not in the peer's window: forget it.
         * Nothing is left to keep, so the compressor goes (its hash table
         * alone is 64 KiB written): an idle connection holds none, and the
         * next message sets one up again. */
        deflate_end(d);
    }
    if (len >= n) {
        free(buf);
        return 1;
    }
    *out = buf;
    *outlen = len;
    return 0;
}

int cio__ws_inflate(cio_ws *ws, const uint8_t *in, size_t n, int last, ws_sink_fn sink)
{
    ws_deflate *d = ws->dfl;
    if (!d->inf_ready) {
        int bits = d->p.peer_window_bits < 9 ? 9 : d->p.peer_window_bits;
        if (inflateInit2(&d->inf, -bits) != Z_OK)
            return -ENOMEM;
        d->inf_ready = 1;
    }
    static const uint8_t tail[4] = {0, 0, 0xff, 0xff};
    /* One buffer a thread, not 16 KiB of every reading task's stack (pages
     * a stack touched once stay resident): nothing here suspends. */
    static __thread uint8_t buf[16384];
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            if (!last)
                break;
            in = tail;
            n = 4;
        }
        d->inf.next_in = (Bytef *)(uintptr_t)in;
        d->inf.avail_in = (uInt)n;
        do {
            d->inf.next_out = buf;
            d->inf.avail_out = sizeof(buf);
            int r = inflate(&d->inf, Z_SYNC_FLUSH);
            if (r != Z_OK && r != Z_BUF_ERROR && r != Z_STREAM_END)
                return -EBADMSG;
            size_t got = sizeof(buf) - d->inf.avail_out;
            if (got) {
                /* The limit is checked here, on inflated bytes, as they come. */
                int err = sink(ws, buf, got);
                if (err)
                    return err;
            }
            if (r == Z_STREAM_END) {
                /* A final block: the peer reset its stream; so do we. */
                inflateReset(&d->inf);
                if (d->inf.avail_in)
                    continue;
            }
            if (r == Z_BUF_ERROR && d->inf.avail_out)
                break;
        } while (d->inf.avail_in || d->inf.avail_out == 0);
    }
    /* The peer starts each message afresh: nothing to keep between them, so
     * an idle connection holds no inflater (nor its window). */
    if (last && d->p.peer_no_context_takeover)
        inflate_end(d);
    return 0;
}
