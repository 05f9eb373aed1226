/* Responses, header lists and buffers of libcio-http's client. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/alloc.h"
#include "http_internal.h"

struct cio_http_response {
    int status;
    char *body;
    size_t len;
    cio__http_headers headers;
    char *url;
    char version[16];
};

int cio__http_buf_append(char **buf, size_t *len, size_t *cap, const void *data, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 1024;
        while (c < *len + n + 1)
            c *= 2;
        char *b = cio__realloc(*buf, c);
        if (!b)
            return -ENOMEM;
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = 0;
    return 0;
}

int cio__http_headers_add(cio__http_headers *h, const char *name, size_t name_len,
                          const char *value, size_t value_len)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        cio__http_header *v = cio__realloc(h->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        h->v = v;
        h->cap = cap;
    }
    char *n = cio__strndup(name, name_len), *v = cio__strndup(value, value_len);
    if (!n || !v) {
        free(n);
        free(v);
        return -ENOMEM;
    }
    h->v[h->n++] = (cio__http_header){n, v};
    return 0;
}

const char *cio__http_headers_get(const cio__http_headers *h, const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = h->n; i-- > 0;)
        if (strcasecmp(h->v[i].name, name) == 0)
            return h->v[i].value;
    return NULL;
}

void cio__http_headers_clear(cio__http_headers *h)
{
    for (size_t i = 0; i < h->n; i++) {
        free(h->v[i].name);
        free(h->v[i].value);
    }
    free(h->v);
    memset(h, 0, sizeof(*h));
}

int cio__http_response_take(cio__http_xfer *x, cio_http_response **out)
{
    cio_http_response *r = cio__calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    long status = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    r->status = (int)status;
    char *url = NULL;
    curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &url);
    if (!(r->url = cio__strdup(url ? url : x->url))) {
        free(r);
        return -ENOMEM;
    }
    long version = 0;
    curl_easy_getinfo(x->easy, CURLINFO_HTTP_VERSION, &version);
    snprintf(r->version, sizeof(r->version), "%s",
             version == CURL_HTTP_VERSION_2_0   ? "HTTP/2"
             : version == CURL_HTTP_VERSION_1_0 ? "HTTP/1.0"
                                                : "HTTP/1.1");
    if (!x->body && cio__http_buf_append(&x->body, &x->len, &x->cap, "", 0) < 0) {
        free(r->url);
        free(r);
        return -ENOMEM;
    }
    r->body = x->body;
    r->len = x->len;
    x->body = NULL;
    x->len = x->cap = 0;
    r->headers = x->headers;
    memset(&x->headers, 0, sizeof(x->headers));
    *out = r;
    return 0;
}

int cio__http_response_new(cio_http_response **out, int status, char *body, size_t len,
                           cio__http_headers *headers, const char *url, const char *version)
{
    cio_http_response *r = cio__calloc(1, sizeof(*r));
    if (!r || !(r->url = cio__strdup(url))) {
        free(r);
        return -ENOMEM;
    }
    r->status = status;
    r->body = body;
    r->len = len;
    r->headers = *headers;
    memset(headers, 0, sizeof(*headers));
    snprintf(r->version, sizeof(r->version), "%s", version);
    *out = r;
    return 0;
}

int cio_http_response_status(const cio_http_response *r)
{
    return r ? r->status : -EINVAL;
}

const char *cio_http_response_body(const cio_http_response *r, size_t *len)
{
    if (len)
        *len = r ? r->len : 0;
    return r ? r->body : NULL;
}

const char *cio_http_response_header(const cio_http_response *r, const char *name)
{
    return r ? cio__http_headers_get(&r->headers, name) : NULL;
}

const char *cio_http_response_url(const cio_http_response *r)
{
    return r ? r->url : NULL;
}

const char *cio_http_response_version(const cio_http_response *r)
{
    return r ? r->version : NULL;
}

void cio_http_response_free(cio_http_response *r)
{
    if (!r)
        return;
    free(r->body);
    free(r->url);
    cio__http_headers_clear(&r->headers);
    free(r);
}

const char *cio__http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    }
    return status < 400 ? "OK" : status < 500 ? "Client Error" : "Server Error";
}

int cio_http_raise_for_status(const cio_http_response *r)
{
    if (!r)
        return -EINVAL;
    if (r->status < 400)
        return 0;
    int err = r->status == 404                         ? -ENOENT
              : (r->status == 401 || r->status == 403) ? -EACCES
                                                       : -EPROTO;
    return cio_fail(err, "%d %s for %s", r->status, cio__http_reason(r->status), r->url);
}
