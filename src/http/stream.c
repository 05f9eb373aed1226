/* Streaming responses: the body is read as it arrives. libcurl is paused
 * while the reader lags more than CIO__HTTP_STREAM_BUFFER bytes behind, so a
 * slow reader never makes memory grow. */
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "http_internal.h"

struct cio_http_stream {
    cio__http_xfer x;
};

static void resume_if_drained(cio__http_xfer *x)
{
    if (x->paused && x->len - x->read_pos < CIO__HTTP_STREAM_BUFFER / 2) {
        x->paused = 0;
        curl_easy_pause(x->easy, CURLPAUSE_CONT); /* may deliver data right away */
    }
}

int cio_http_stream_open(cio_http_session *s, const cio_http_request *req, cio_http_stream **out,
                         int *status)
{
    if (!s || !req || !out)
        return -EINVAL;
    *out = NULL;
    cio_http_stream *st = cio__calloc(1, sizeof(*st));
    if (!st)
        return -ENOMEM;
    cio__http_xfer *x = &st->x;
    int err = cio__http_xfer_start(x, s, req, 1);
    /* Wait for the final response's head (or the end of the transfer). */
    while (!err && !x->headers_done && !x->got_body && !x->done && !x->aborted) {
        cio_event_clear(&x->data_ev);
        err = cio_event_wait(&x->data_ev);
    }
    if (!err && (x->done || x->aborted))
        err = cio__http_xfer_result(x);
    if (err) {
        cio__http_xfer_free(x);
        free(st);
        return err;
    }
    if (status) {
        long code = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
        *status = (int)code;
    }
    *out = st;
    return 0;
}

ssize_t cio_http_stream_read(cio_http_stream *st, void *buf, size_t cap)
{
    if (!st || (!buf && cap))
        return -EINVAL;
    cio__http_xfer *x = &st->x;
    for (;;) {
        if (x->read_pos < x->len) {
            size_t n = x->len - x->read_pos < cap ? x->len - x->read_pos : cap;
            memcpy(buf, x->body + x->read_pos, n);
            x->read_pos += n;
            resume_if_drained(x);
            return (ssize_t)n;
        }
        if (x->done || x->aborted)
            return cio__http_xfer_result(x);
        resume_if_drained(x);
        if (x->read_pos < x->len)
            continue; /* unpausing delivered data */
        cio_event_clear(&x->data_ev);
        int err = cio_event_wait(&x->data_ev);
        if (err)
            return err;
    }
}

const char *cio_http_stream_header(const cio_http_stream *st, const char *name)
{
    return st ? cio__http_headers_get(&st->x.headers, name) : NULL;
}

void cio_http_stream_close(cio_http_stream *st)
{
    if (!st)
        return;
    cio__http_xfer_free(&st->x); /* an unfinished transfer's connection is closed */
    free(st);
}
