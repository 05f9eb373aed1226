/* JSON helpers of libcio-http's client (jansson). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"

static int parse(const cio_http_response *r, json_t **out)
{
    size_t len;
    const char *body = cio_http_response_body(r, &len);
    json_error_t jerr;
    json_t *j = json_loadb(body, len, 0, &jerr);
    if (!j)
        return cio_fail(-EBADMSG, "%s: the body is not JSON: %s (line %d)",
                        cio_http_response_url(r), jerr.text, jerr.line);
    *out = j;
    return 0;
}

int cio_http_get_json(cio_http_session *s, const char *url, json_t **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    cio_http_response *r;
    int err = cio_http_get(s, url, &r);
    if (err)
        return err;
    err = cio_http_raise_for_status(r);
    if (!err)
        err = parse(r, out);
    cio_http_response_free(r);
    return err;
}

int cio_http_send_json(cio_http_session *s, const char *method, const char *url, const json_t *json,
                       int *status, json_t **out)
{
    if (out)
        *out = NULL;
    char *text = json ? json_dumps(json, JSON_COMPACT) : NULL;
    if (json && !text)
        return -ENOMEM;
    cio_http_request req = {.method = method,
                            .url = url,
                            .body = text,
                            .body_len = text ? strlen(text) : 0,
                            .content_type = "application/json",
                            .headers = (const char *const[]){"Accept: application/json", NULL}};
    cio_http_response *r;
    int err = cio_http_request_send(s, &req, &r);
    free(text);
    if (err)
        return err;
    if (status)
        *status = cio_http_response_status(r);
    size_t len;
    cio_http_response_body(r, &len);
    if (out && len)
        err = parse(r, out);
    cio_http_response_free(r);
    return err;
}
