/* libcio-ws internals: the connection record shared by the files of src/ws.
 * Never installed. See docs/internals/ws.md for how the pieces fit. */
#ifndef CIO_WS_INTERNAL_H
#define CIO_WS_INTERNAL_H

#include <stdint.h>
#include <zlib.h>

#include "cio.h"
#include "../core/checked.h"
#include "cio/ws.h"

#define WS_PART_MAX ((size_t)256 * 1024) /* a received part is split past this */
#define WS_DEFAULT_MAX_MESSAGE ((size_t)1024 * 1024)
#define WS_FRAME_OVERHEAD 14 /* the largest frame header */

/* Opcodes and the reserved bit permessage-deflate uses (RFC 6455 5.2). */
enum {
    WS_OP_CONT = 0,
    WS_OP_TEXT = 1,
    WS_OP_BINARY = 2,
    WS_OP_CLOSE = 8,
    WS_OP_PING = 9,
    WS_OP_PONG = 10,
};
#define WS_RSV1 4 /* in the 3-bit rsv field: RSV1 RSV2 RSV3 */
static inline int ws_is_control(uint8_t opcode)
{
    return (opcode & 8) != 0;
}

/* UTF-8, checked incrementally (a sequence may split across frames). */
typedef struct ws_utf8 {
    uint8_t need, lo, hi;
} ws_utf8;

/* Feeds n bytes; returns 0, or -1 at the first byte that cannot be UTF-8. */
int cio__ws_utf8_feed(ws_utf8 *st, const uint8_t *p, size_t n);
/* 1 when the bytes fed so far end on a whole character. */
static inline int cio__ws_utf8_complete(const ws_utf8 *st)
{
    return st->need == 0;
}
/* Whole-buffer check: 1 if valid. */
int cio__ws_utf8_valid(const void *p, size_t n);

/* The receive side's frame and message state (recv.c): what the frame
 * parser keeps between reads, so a read cancelled anywhere loses nothing. */
typedef struct ws_rx {
    uint8_t hbuf[WS_FRAME_OVERHEAD]; /* a header split across reads, gathered */
    uint8_t hlen;
    uint8_t in_frame; /* inside a frame's payload */
    uint8_t f_op, f_fin, f_rsv;
    uint8_t key[4]; /* the frame's masking key (all zero: not masked) */
    uint8_t in_msg; /* inside a fragmented message */
    uint8_t m_type, m_compressed;
    uint64_t f_len, f_got;
    uint64_t m_wire; /* the message's bytes on the wire so far */
} ws_rx;

/* A frame header's size (2 to 14) from its first two bytes. */
static inline size_t ws_header_size(const uint8_t *p)
{
    size_t len7 = p[1] & 0x7f;
    return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (p[1] & 0x80 ? 4 : 0);
}

/* What the header checks depend on. */
typedef struct ws_rx_rules {
    int server;         /* frames must come masked */
    int deflate;        /* RSV1 allowed on a message's first frame */
    size_t max_message; /* the limit a header may not announce past */
} ws_rx_rules;

/* Takes a frame header from p[0, n) (RFC 6455 5.2 and the checks of 5.1, 5.4,
 * 5.5 and RFC 7692 6): returns its size once it is whole and rx starts the
 * frame, 0 while more bytes are needed (nothing taken), or -EPROTO when the
 * length is encoded wrongly (nothing after it can be framed). A header that
 * breaks a rule but can be framed is taken all the same (its payload can be
 * skipped) and *err says why: -EPROTO (1002) or -EMSGSIZE (1009), with a
 * message in why (cap bytes). The message state (in_msg) follows only valid
 * headers. No allocation: checked before anything of the payload is read. */
int cio__ws_rx_header(ws_rx *rx, const ws_rx_rules *r, const uint8_t *p, size_t n, int *err,
                      char *why, size_t cap);
/* Masks or unmasks (the same XOR, RFC 6455 5.3) n bytes from `in` into `out`,
 * eight at a time; out == in works in place. `phase` is the payload offset
 * of in[0] (the key byte it starts with is key[phase % 4]). */
void cio__ws_mask(uint8_t *out, const uint8_t *in, size_t n, const uint8_t key[4], uint64_t phase);

/* A received part: one frame's data (or WS_PART_MAX of it), inflated. */
typedef struct ws_part {
    struct ws_part *next; /* in the receive queue */
    uint8_t type;         /* the message's type (TEXT or BINARY) */
    uint8_t fin;          /* ends the message */
    size_t len, cap;
    char data[]; /* cap + 1 bytes (NUL after len) */
} ws_part;

/* A payload shared by the frames of a broadcast. */
typedef struct ws_payload {
    size_t refs;
    size_t len;
    uint8_t data[];
} ws_payload;

/* A frame waiting in the send queue. */
typedef struct ws_frame {
    struct ws_frame *next;
    uint8_t opcode, fin, rsv;
    size_t len;
    const uint8_t *data; /* into shared or the inline bytes */
    ws_payload *shared;
    uint8_t bytes[];
} ws_frame;

/* A ping waiting for its pong (on the pinging task's stack, or the
 * connection's own for keepalive). */
typedef struct ws_ping {
    struct ws_ping *next;
    const uint8_t *data; /* the caller's bytes (valid for its call), or ka_data */
    size_t len;
    double sent;
    int done;
    cio_event ev;
} ws_ping;

/* permessage-deflate, negotiated. */
typedef struct ws_deflate_params {
    int enabled;
    int our_no_context_takeover;  /* reset our compressor after each message */
    int peer_no_context_takeover; /* the peer resets its own: reset our inflater */
    int our_window_bits;          /* 8..15: 8 means we never compress */
    int peer_window_bits;         /* 8..15 (inflate with at least 9) */
} ws_deflate_params;

typedef struct ws_deflate {
    ws_deflate_params p;
    z_stream def, inf;
    int def_ready, inf_ready;
} ws_deflate;

enum { WS_OPEN, WS_CLOSING, WS_CLOSED };

struct cio_ws {
    int server;
    cio_stream *s;
    int own_stream; /* client: the stream is ours to close */
    cio_ws_opts o;  /* copy (the pointer arrays are not kept) */
    char *subprotocol;
    uint8_t *early; /* bytes that came with the handshake, read first */
    size_t nearly, early_off;
    int plain; /* not TLS: idle waits are for readiness, with no buffer */

    int calls;    /* public calls in progress (the memory stays while > 0) */
    int released; /* cio_ws_close was called */
    int state;
    int err;           /* the first error, what calls return once closing */
    char errmsg[200];  /* its message */
    int close_queued;  /* our close frame is in the queue */
    int close_written; /* ... and handed to the stream */
    int close_rcvd;    /* the peer's close frame came */
    int lost;          /* the transport broke (EOF without close, read or write error) */
    int rd_done;       /* the reader has ended */
    int peer_code;     /* 1006 until a close frame comes */
    char peer_reason[124];
    cio_event closed_ev; /* close frame received, or the connection failed */
    cio_event eof_ev;    /* the reader has ended */
    cio_event written_ev;

    /* receiving (recv.c): whoever reads (a task in cio_ws_recv, else the
     * reader task) parses frames and queues parts in rxq */
    cio_task *reader;        /* reads while no task is in cio_ws_recv */
    cio_handle *reader_cb;   /* starts the reader a loop turn after recv left */
    cio_task *rd_task;       /* the task reading inline (in cio_ws_recv) */
    cio_scope *rd_scope;     /* ... its wait, cancelled by cio_ws_close */
    ws_part *rxq, *rxq_tail; /* received parts, in order */
    size_t rxq_len;
    unsigned rx_pushed;   /* parts queued so far (a counter) */
    int rx_shut;          /* no more parts will come (closing, failed, ended) */
    cio_event rx_room_ev; /* the reader may read again (rxq_len fell) */
    int receiving;        /* a task is in cio_ws_recv */
    ws_part *rx_asm;      /* cio_ws_recv's message being joined (survives cancellation) */
    int rx_streaming;     /* cio_ws_recv_part inside a message */
    ws_rx rx;
    uint8_t ctl[125];
    uint64_t m_len; /* the message's bytes delivered (inflated) so far */
    ws_utf8 m_utf8;
    ws_part *cur;

    /* sending */
    ws_frame *q_head, *q_tail;
    size_t queued;      /* bytes in the queue */
    int above_high;     /* set past write_high, cleared at write_low */
    int writing;        /* a frame is being written (the direct path waits) */
    cio_task *writer;   /* runs while the queue holds frames */
    int writer_exited;  /* ... and has ended (its handle not yet released) */
    cio_event room_ev;  /* senders may try again */
    cio_task *streamer; /* the task streaming a fragmented message */
    size_t direct_max;  /* a frame this size goes straight to the stream */
    uint8_t s_type;
    ws_utf8 s_utf8;

    /* pings */
    ws_ping *pings;
    ws_ping keepalive;
    uint8_t ka_data[7]; /* keepalive's payload: "cio" and a sequence number */
    int keepalive_out;
    uint32_t ping_seq;
    cio_handle *ka_timer;
    double rtt;

    ws_deflate *dfl;
};

/* conn.c */
int cio__ws_wait(cio_event *e);
void cio__ws_wake_all(cio_ws *ws);
int cio__ws_close_code_valid(int code);
int cio__ws_enter(cio_ws *ws);
int cio__ws_leave(cio_ws *ws, int err);
/* Closes s, flushing for at most `seconds` (0: drops what is queued). */
void cio__ws_close_stream(cio_stream *s, double seconds);
int cio__ws_closed_error(cio_ws *ws);
int cio__ws_new(cio_ws **out, int server, cio_stream *s, const cio_ws_opts *opts, const void *early,
                size_t nearly);
void cio__ws_fail(cio_ws *ws, int code, int err, const char *fmt, ...) CIO_PRINTF(4, 5);
int cio__ws_start(cio_ws *ws);
void cio__ws_keepalive_answered(cio_ws *ws);
void cio__ws_free(cio_ws *ws);

/* recv.c */
/* Makes sure someone reads: starts the reader task a loop turn from now
 * unless a task reads inline by then. */
void cio__ws_want_reader(cio_ws *ws);
void cio__ws_drain_rxq(cio_ws *ws);
/* cio_ws_close's part: ends the reading (the reader task, an inline read in
 * another task) before the stream goes. Suspends. */
void cio__ws_stop_reading(cio_ws *ws);

/* send.c */
int cio__ws_queue_control(cio_ws *ws, uint8_t opcode, const void *data, size_t len, int front);
int cio__ws_writer_main(void *arg);
void cio__ws_drop_data(cio_ws *ws);
void cio__ws_free_queue(cio_ws *ws);
void cio__ws_frame_free(ws_frame *f);

/* handshake.c */
int cio__ws_accept_key(const char *key, char out[29]);
int cio__ws_has_token(const char *list, const char *token);

/* deflate.c */
int cio__ws_deflate_server(const char *offers, const cio_ws_opts *o, ws_deflate_params *p,
                           char *answer, size_t cap);
int cio__ws_deflate_offer(const cio_ws_opts *o, char *out, size_t cap);
int cio__ws_deflate_client(const char *answer, const cio_ws_opts *o, ws_deflate_params *p);
int cio__ws_deflate_new(ws_deflate **out, const ws_deflate_params *p);
void cio__ws_deflate_free(ws_deflate *d);
/* Compresses a whole message into *out (malloc'd); returns 0, 1 when it is
 * better sent as it is, or -ENOMEM. */
int cio__ws_deflate_message(ws_deflate *d, const void *in, size_t n, uint8_t **out, size_t *outlen);
/* Inflates a piece of a message, handing the output to sink (which may
 * refuse with a negative error, returned). last: the message ends here. */
typedef int (*ws_sink_fn)(cio_ws *ws, const uint8_t *p, size_t n);
int cio__ws_inflate(cio_ws *ws, const uint8_t *in, size_t n, int last, ws_sink_fn sink);

#endif
