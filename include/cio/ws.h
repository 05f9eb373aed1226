/* libcio-ws: WebSockets (RFC 6455), client and server, with permessage-deflate
 * (RFC 7692). Python's `websockets` and aiohttp's WebSocketResponse for cio.
 *
 * A server handler upgrades a request of cio's HTTP server and runs its loop:
 *
 *     static int chat(cio_http_req *req, cio_http_resp *resp, void *arg) {
 *         cio_ws *ws;
 *         int err = cio_ws_accept(req, resp, &ws, NULL);
 *         if (err)
 *             return 0;                 // the refusal (400/403/426) is sent
 *         cio_ws_msg m;
 *         while (cio_ws_recv(ws, &m) == 0) {
 *             cio_ws_send(ws, m.type, m.data, m.len);
 *             cio_ws_msg_free(&m);
 *         }
 *         return cio_ws_close(ws, CIO_WS_NORMAL, NULL);
 *     }
 *
 * and a client connects with cio_ws_connect(&ws, "wss://host/path", &opts).
 *
 * What a connection does by itself, in tasks of its own:
 *   - reads frames all the time: pings are answered even while the
 *     application does not read, messages wait in a bounded receive queue
 *     (reading stops while it is full: TCP pushes back on the peer);
 *   - sends keepalive pings (every 20 s by default) and fails the connection
 *     (1011, -ETIMEDOUT) when a pong does not come within the ping timeout;
 *     the last round-trip time is cio_ws_rtt;
 *   - writes queued frames in order. Any task may send; one task reads.
 *
 * Limits: a message over max_message (1 MiB) is refused with 1009 from the
 * frame header that announces it, before anything is allocated (and while
 * inflating, for compressed ones); text must be UTF-8, checked as it arrives
 * (1007 at the first bad byte); the send queue is bounded in bytes: a send
 * waits above write_high until it falls to write_low, cio_ws_send_nowait
 * returns -EAGAIN instead, and a connection whose queue would pass write_cap
 * (a peer that stopped reading) is closed with 1008.
 *
 * Closing: cio_ws_close runs the close handshake, bounded by ONE deadline
 * (close_timeout, 5 s) whatever the peer does, then releases the connection.
 * Errors are negative errnos with a cio_fail message naming the peer's close
 * code and reason where there is one:
 *   -EPIPE        the connection was closed with a close handshake (the
 *                 peer's code: cio_ws_close_code, 1000 or any other);
 *   -ECONNRESET   the peer vanished without a close frame (1006);
 *   -EPROTO       the peer broke the protocol (1002; 1003 for a bad opcode);
 *   -EILSEQ       invalid UTF-8 in a text message or close reason (1007);
 *   -EMSGSIZE     a message over max_message (1009);
 *   -ETIMEDOUT    no pong within the ping timeout, or a close that passed its
 *                 deadline;
 *   -ENOBUFS      the send queue passed write_cap (1008: slow consumer).
 */
#ifndef CIO_WS_H
#define CIO_WS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core.h"
#include "http_server.h"
#include "stream.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_ws cio_ws;

/* Message types (the frame opcodes). */
typedef enum cio_ws_type {
    CIO_WS_TEXT = 1,
    CIO_WS_BINARY = 2,
} cio_ws_type;

/* Close codes of RFC 6455 section 7.4.1 that applications use. */
enum {
    CIO_WS_NORMAL = 1000,
    CIO_WS_GOING_AWAY = 1001,
    CIO_WS_PROTOCOL_ERROR = 1002,
    CIO_WS_UNSUPPORTED = 1003,
    CIO_WS_NO_STATUS = 1005, /* received no code (never sent) */
    CIO_WS_ABNORMAL = 1006,  /* the connection dropped without a close frame (never sent) */
    CIO_WS_INVALID_DATA = 1007,
    CIO_WS_POLICY = 1008,
    CIO_WS_TOO_BIG = 1009,
    CIO_WS_INTERNAL_ERROR = 1011,
};

/* Options for clients and servers; zero-initialise for the defaults. */
typedef struct cio_ws_opts {
    size_t max_message;   /* bytes of one received message (inflated); 0: 1 MiB */
    size_t max_queue;     /* received frames waiting for cio_ws_recv; 0: 16 */
    size_t write_high;    /* send queue high-water mark in bytes; 0: 64 KiB */
    size_t write_low;     /* low-water mark; 0: write_high / 4 */
    size_t write_cap;     /* per-connection cap: past it, close 1008; 0: 64 * write_high */
    double ping_interval; /* keepalive; 0: 20 s; CIO_FOREVER: none */
    double ping_timeout;  /* pong within; 0: 20 s */
    double close_timeout; /* the whole close handshake; 0: 5 s */
    double open_timeout;  /* client: connect + TLS + handshake; 0: 10 s */
    /* Subprotocols in order of preference, NULL-terminated. The server picks
     * the first of its own that the client offers; a client fails with
     * -EPROTO when the server picks one it did not offer. */
    const char *const *subprotocols;
    /* Server: the Origin values allowed ("https://example.org"), NULL-
     * terminated; {"*", NULL} allows any. NULL: same origin only (the Origin's
     * host and port must equal the Host header); a request without Origin
     * (not a browser) is allowed. Refused origins get 403. */
    const char *const *origins;
    /* Client: extra request header lines ("Authorization: Bearer x"),
     * NULL-terminated. Client: the Origin header to send, or NULL. */
    const char *const *headers;
    const char *origin;
    /* permessage-deflate (RFC 7692): 1 offers it (client) or accepts an offer
     * (server). The other fields are this side's wishes: no_context_takeover
     * for our compressor (server_no_context_takeover when we are the server),
     * asking the peer to reset its own (peer_no_context_takeover), and the
     * window bits (8..15; 0: 15) for the peer's compressor. cio compresses
     * with at least 9 window bits (zlib refuses 8) and inflates 8 with 9. */
    int deflate;
    int deflate_no_context_takeover;
    int deflate_peer_no_context_takeover;
    int deflate_peer_max_window_bits;
    size_t deflate_min_size; /* messages shorter than this go uncompressed; 0: 64 */
    cio_stream_opts stream;  /* client: TLS (stream.tls; wss:// uses a default
                                verifying config when NULL), buffer sizes */
} cio_ws_opts;

/* A received message (or part of one, for cio_ws_recv_part). data is
 * NUL-terminated (not counted in len) so text prints as is. Release with
 * cio_ws_msg_free. */
typedef struct cio_ws_msg {
    cio_ws_type type;
    char *data;
    size_t len;
    void *priv;
} cio_ws_msg;

/* ---- opening ---- */

/* Client: connects to a ws:// or wss:// URL (host, optional port, path and
 * query), runs the opening handshake (a random key, the accept hash checked,
 * subprotocols and extensions checked against what was offered), all within
 * opts->open_timeout. A redirect is refused (-EPROTO, the message names the
 * Location). Returns 0 and *out, or -errno: -EINVAL (bad URL), what
 * cio_open_connection returns, -EPROTO (not a WebSocket answer; the message
 * says what was wrong, with the status), -ETIMEDOUT. Suspends: yes.
 * Cancellation: returns the reason; nothing is left open. */
CIO_API int cio_ws_connect(cio_ws **out, const char *url, const cio_ws_opts *opts);

/* Server: upgrades the request a route handler of cio's HTTP server got
 * (aiohttp's WebSocketResponse.prepare). Checks the method (GET), the
 * version (13), the key, the Upgrade and Connection tokens and the Origin,
 * negotiates the subprotocol and permessage-deflate, answers 101 and takes
 * the connection over (cio_http_req_hijack); bytes the client sent after its
 * head reach the WebSocket. The connection must be closed (cio_ws_close)
 * before the handler returns. On a bad request it sets resp to 400 (426 with
 * Sec-WebSocket-Version for a wrong version, 403 for a refused Origin) and
 * returns -EPROTO / -EPERM: return 0 from the handler to send that answer.
 * Suspends: yes (writes the 101). Cancellation: returns the reason; the
 * connection is the server's again, to close. */
CIO_API int cio_ws_accept(cio_http_req *req, cio_http_resp *resp, cio_ws **out,
                          const cio_ws_opts *opts);

/* ---- receiving (one task at a time) ---- */

/* Receives one whole message (fragments joined, inflated, UTF-8 checked for
 * text). Returns 0 and *msg (release it with cio_ws_msg_free), -EBUSY while
 * another task receives, or the connection's error (see the top: -EPIPE once
 * closed cleanly) after the messages that arrived before it.
 * Suspends: yes while the queue is empty.
 * Cancellation: returns the reason; fragments already taken stay with the
 * connection and the next call completes that message. */
CIO_API int cio_ws_recv(cio_ws *ws, cio_ws_msg *msg);

/* Receives the next part of a message as it arrives (a frame, or up to
 * 256 KiB of it): *fin says whether it ends the message; type is the
 * message's. For large messages: with max_message set to SIZE_MAX no limit
 * applies. Do not mix with cio_ws_recv inside one message (-EBUSY).
 * Returns as cio_ws_recv. Suspends: yes while nothing has arrived.
 * Cancellation: as cio_ws_recv: returns the reason; nothing is lost, the next
 * call returns the next part. */
CIO_API int cio_ws_recv_part(cio_ws *ws, cio_ws_msg *part, int *fin);

/* Releases a message's memory; msg is zeroed. NULL is a no-op. Suspends: no. */
CIO_API void cio_ws_msg_free(cio_ws_msg *msg);

/* ---- sending (any task; messages go out whole and in order) ---- */

/* Sends a message (copied). Text must be valid UTF-8 (-EILSEQ otherwise).
 * Waits while the send queue is above write_high, until it falls to
 * write_low (a message larger than the mark is queued whole once the queue
 * is below it: memory stays within write_high plus the caller's message).
 * Returns 0 once queued, -EINVAL, -EILSEQ, or the connection's error once it
 * failed or closed (-EPIPE after a close).
 * Suspends: yes, above the high-water mark (or while another task streams a
 * fragmented message).
 * Cancellation: returns the reason and nothing was queued; a message queued
 * before goes out in the background (bounded by the close deadline).
 * Cost: one copy into the queue (none when the socket takes it at once). */
CIO_API int cio_ws_send(cio_ws *ws, cio_ws_type type, const void *data, size_t len);

/* cio_ws_send of a NUL-terminated string as text. Suspends: yes, as
 * cio_ws_send. Cancellation: as cio_ws_send (nothing queued). */
CIO_API int cio_ws_send_text(cio_ws *ws, const char *text);

/* Queues a message without waiting: -EAGAIN when the queue is above
 * write_high (or a fragmented message is being streamed), else as
 * cio_ws_send. Works outside tasks too. Suspends: no. */
CIO_API int cio_ws_send_nowait(cio_ws *ws, cio_ws_type type, const void *data, size_t len);

/* Streams a message in fragments: the first call opens a message of `type`,
 * later calls continue it (type ignored), the call with fin=1 ends it.
 * Meanwhile other tasks' sends wait. Text may split UTF-8 sequences between
 * fragments (checked across them). Never compressed. Returns as cio_ws_send.
 * Suspends: yes, as cio_ws_send.
 * Cancellation: a fragment queued goes out; a cancelled fragment that was not
 * queued leaves the message unfinishable, so the connection fails with 1011
 * (-ECANCELED for later calls). */
CIO_API int cio_ws_send_part(cio_ws *ws, cio_ws_type type, const void *data, size_t len, int fin);

/* Queues a message to each of n connections without ever waiting (past
 * write_high too): a connection whose queue would pass its write_cap is
 * closed with 1008 (a member that stopped reading), closed ones and ones
 * streaming a fragmented message are skipped. The payload is copied once and
 * shared (a member with deflate gets its own compressed copy); the
 * connections' writer tasks deliver it, so the call itself does no socket
 * write. Returns the number of connections it was queued to, or -EINVAL /
 * -EILSEQ / -ENOMEM. Suspends: no. Works outside tasks too.
 * Cost: one small allocation per connection, O(n). */
CIO_API ssize_t cio_ws_broadcast(cio_ws *const *conns, size_t n, cio_ws_type type, const void *data,
                                 size_t len);

/* Bytes queued and not yet handed to the socket. Suspends: no. */
CIO_API size_t cio_ws_send_buffered(const cio_ws *ws);

/* Sends a ping (payload up to 125 bytes) and waits for its pong. Returns 0
 * and, if rtt is not NULL, the round-trip time in seconds; -EINVAL, or the
 * connection's error. The pong is read in turn with the peer's messages:
 * while max_queue received messages wait for cio_ws_recv, nothing is read
 * (backpressure), so a peer that keeps sending holds the pong back until some
 * task receives; bound the wait (a timeout scope) or receive meanwhile.
 * Suspends: yes. Cancellation: returns the reason; the ping may still go
 * out. */
CIO_API int cio_ws_ping(cio_ws *ws, const void *data, size_t len, double *rtt);

/* The round-trip time of the last answered ping (keepalive or cio_ws_ping),
 * in seconds, or -1 before any. Suspends: no. */
CIO_API double cio_ws_rtt(const cio_ws *ws);

/* ---- closing ---- */

/* Closes: sends a close frame with code (0: 1000) and reason (UTF-8, up to
 * 123 bytes, may be NULL) after the frames already queued, waits for the
 * peer's close frame, then for the end of TCP (clients: the server closes
 * first), all within close_timeout; past it, the connection is dropped. Then
 * releases ws: calls other tasks are making on it end with -EPIPE or
 * -ECONNABORTED; the memory goes when the last returns. Returns 0 after a
 * clean handshake (also one the peer started), -ETIMEDOUT past the deadline,
 * -ECONNRESET when the peer vanished, -EINVAL for a code that may not be sent.
 * Suspends: yes. Cancellation: returns the reason; the connection is dropped
 * and released all the same. NULL is a no-op. */
CIO_API int cio_ws_close(cio_ws *ws, int code, const char *reason);

/* Waits until the connection is closed (the peer's close frame came, or it
 * failed or vanished) without reading messages. Returns 0 once closed.
 * Suspends: yes. Cancellation: returns the reason. */
CIO_API int cio_ws_wait_closed(cio_ws *ws);

/* The close code the peer sent (1005 if its close frame had none, 1006 while
 * none came), and its reason ("" if none). Suspends: no. */
CIO_API int cio_ws_close_code(const cio_ws *ws);
CIO_API const char *cio_ws_close_reason(const cio_ws *ws);

/* The negotiated subprotocol, or NULL. Suspends: no. */
CIO_API const char *cio_ws_subprotocol(const cio_ws *ws);

/* 1 if permessage-deflate was negotiated. Suspends: no. */
CIO_API int cio_ws_deflate(const cio_ws *ws);

/* 1 while messages can be sent and received (open, no close begun).
 * Suspends: no. */
CIO_API int cio_ws_is_open(const cio_ws *ws);

/* The underlying stream (for addresses). Valid until cio_ws_close.
 * Suspends: no. */
CIO_API cio_stream *cio_ws_stream(const cio_ws *ws);

#ifdef __cplusplus
}
#endif
#endif
