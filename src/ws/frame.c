/* The receive side's frame parser: a frame header's decoding and every check
 * RFC 6455 and RFC 7692 ask of it, and unmasking. Pure functions on the
 * parser state (no I/O, no allocation), so a test or a fuzzer can drive
 * them exactly as the connection does. Masking serves both directions:
 * send.c masks a client's payloads with it. */
#include <stdio.h>
#include <string.h>

#include "ws_internal.h"

#define BAD(code, ...)                                                                             \
    do {                                                                                           \
        *err = (code);                                                                             \
        snprintf(why, cap, __VA_ARGS__);                                                           \
        return (int)size;                                                                          \
    } while (0)

int cio__ws_rx_header(ws_rx *rx, const ws_rx_rules *r, const uint8_t *p, size_t n, int *err,
                      char *why, size_t cap)
{
    *err = 0;
    if (n < 2 || n < ws_header_size(p))
        return 0;
    size_t size = ws_header_size(p);
    uint8_t fin = p[0] >> 7, rsv = (p[0] >> 4) & 7, op = p[0] & 0x0f, masked = p[1] >> 7;
    uint64_t len = p[1] & 0x7f;
    size_t at = 2;
    if (len == 126) {
        len = (uint64_t)p[2] << 8 | p[3];
        at = 4;
        if (len < 126)
            return -EPROTO; /* not the shortest encoding (5.2: "the minimal number of bytes") */
    } else if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | p[2 + i];
        at = 10;
        if (len >> 63 || len <= 0xffff)
            return -EPROTO; /* the most significant bit must be 0; or not the shortest */
    }
    /* The frame can be framed: take it, whatever the checks below say. */
    rx->in_frame = 1;
    rx->f_op = op;
    rx->f_fin = fin;
    rx->f_rsv = rsv;
    rx->f_len = len;
    rx->f_got = 0;
    if (masked)
        memcpy(rx->key, p + at, 4);
    else
        memset(rx->key, 0, 4);
    if (masked != (r->server ? 1 : 0))
        BAD(-EPROTO, "%s frame from the %s", masked ? "a masked" : "an unmasked",
            r->server ? "client" : "server");
    int data = op == WS_OP_TEXT || op == WS_OP_BINARY;
    if (rsv && !(rsv == WS_RSV1 && data && r->deflate && !rx->in_msg))
        BAD(-EPROTO, "reserved bits 0x%x set", rsv);
    if (ws_is_control(op)) {
        if (op != WS_OP_PING && op != WS_OP_PONG && op != WS_OP_CLOSE)
            BAD(-EPROTO, "unknown opcode 0x%x", op);
        if (!fin)
            BAD(-EPROTO, "a fragmented control frame");
        if (len > 125)
            BAD(-EPROTO, "a control frame of %llu bytes (at most 125)", (unsigned long long)len);
        return (int)size;
    }
    if (op == WS_OP_CONT) {
        if (!rx->in_msg)
            BAD(-EPROTO, "a continuation frame outside a message");
    } else if (data) {
        if (rx->in_msg)
            BAD(-EPROTO, "a new message inside a fragmented one");
    } else {
        BAD(-EPROTO, "unknown opcode 0x%x", op);
    }
    /* The limit, from the header, before anything is allocated. A compressed
     * message may be a little longer on the wire than inflated. */
    int compressed = op == WS_OP_CONT ? rx->m_compressed : rsv != 0;
    uint64_t wire = op == WS_OP_CONT ? rx->m_wire : 0;
    uint64_t wire_max = r->max_message;
    if (compressed && wire_max < UINT64_MAX / 2)
        wire_max += wire_max / 64 + 1024;
    if (len > wire_max || wire + len > wire_max)
        BAD(-EMSGSIZE, "a frame of %llu bytes takes the message over the %zu-byte limit",
            (unsigned long long)len, r->max_message);
    if (op != WS_OP_CONT) {
        rx->m_type = op;
        rx->m_compressed = (uint8_t)compressed;
    }
    rx->in_msg = !fin;
    rx->m_wire = fin ? 0 : wire + len;
    return (int)size;
}

void cio__ws_mask(uint8_t *out, const uint8_t *in, size_t n, const uint8_t key[4], uint64_t phase)
{
    uint8_t k[8];
    for (int i = 0; i < 8; i++)
        k[i] = key[(phase + (uint64_t)i) & 3];
    uint64_t w8;
    memcpy(&w8, k, 8);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) { /* memcpy: in and out may be unaligned, and the same */
        uint64_t w;
        memcpy(&w, in + i, 8);
        w ^= w8;
        memcpy(out + i, &w, 8);
    }
    for (; i < n; i++)
        out[i] = in[i] ^ k[i & 7];
}
