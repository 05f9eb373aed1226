/* libcio-http's client: libcurl's multi-socket API driven by cio's loop.
 *
 * libcurl tells us which sockets to watch (on_socket) and when to call it back
 * (on_timer). Each watched socket gets a small record with two long-lived
 * watcher tasks, one per direction, that wait for readiness with
 * cio_wait_readable / cio_wait_writable and hand it to
 * curl_multi_socket_action; curl's timer becomes a cio_call_later callback.
 * A request's task adds its easy handle and waits on an event that is set
 * when curl reports the transfer done. Only public cio API is used: this
 * library links against libcio like any user of it. */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../core/alloc.h"
#include "http_internal.h"

/* ---- socket watchers ----
 *
 * A watcher belongs to a socket number, not to one of curl's assignments:
 * curl reports a kept-alive socket removed when a transfer ends and added
 * again when the next one starts on it, so a watcher whose tasks are parked
 * on their `wanted` events simply stays in the session's table (indexed by
 * fd) and serves the next transfer: no task is cancelled or spawned and no
 * memory moves per request. A watcher is retired (its tasks cancelled) when
 * curl closes its socket (on_close_socket), when a removal finds a task
 * parked on the socket's readiness, and when the session closes. */

typedef struct watcher {
    cio_http_session *s;
    curl_socket_t fd;
    int want;            /* CURL_POLL_IN / OUT / INOUT; 0 while curl does not watch */
    int retired;         /* out of the table: the tasks end */
    int refs;            /* the table's + live watcher tasks */
    int polling[2];      /* the task is parked on the socket's readiness */
    cio_task *task[2];   /* the watcher tasks while they run */
    cio_event wanted[2]; /* set when the direction becomes wanted */
} watcher;

static void watcher_release(watcher *w)
{
    if (--w->refs == 0) {
        cio_event_destroy(&w->wanted[0]);
        cio_event_destroy(&w->wanted[1]);
        free(w);
    }
}

static void check_done(cio_http_session *s)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(s->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        cio__http_xfer *x = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (!x)
            continue;
        x->done = 1;
        x->result = msg->data.result;
        cio_event_set(&x->done_ev);
        cio_event_set(&x->data_ev);
    }
}

static void socket_action(cio_http_session *s, curl_socket_t fd, int ev)
{
    int running;
    curl_multi_socket_action(s->multi, fd, ev, &running);
    check_done(s);
}

static int watch(watcher *w, int dir)
{
    int flag = dir ? CURL_POLL_OUT : CURL_POLL_IN;
    while (!w->retired) {
        if (!(w->want & flag)) {
            if (cio_event_wait(&w->wanted[dir]))
                break;
            cio_event_clear(&w->wanted[dir]);
            continue;
        }
        w->polling[dir] = 1;
        int err = dir ? cio_wait_writable(w->fd) : cio_wait_readable(w->fd);
        w->polling[dir] = 0;
        if (err == -EBUSY) { /* a cancelled wait on a reused fd is still draining */
            if (cio_yield())
                break;
            continue;
        }
        if (w->retired || (err < 0 && cio_cancelled()))
            break;
        if (w->want & flag)
            socket_action(w->s, w->fd,
                          err < 0 ? CURL_CSELECT_ERR
                          : dir   ? CURL_CSELECT_OUT
                                  : CURL_CSELECT_IN);
    }
    w->task[dir] = NULL;
    watcher_release(w);
    return 0;
}

static int watch_in(void *arg)
{
    return watch(arg, 0);
}

static int watch_out(void *arg)
{
    return watch(arg, 1);
}

static watcher *watcher_find(cio_http_session *s, curl_socket_t fd)
{
    return fd >= 0 && (size_t)fd < s->nwatchers ? s->watchers[fd] : NULL;
}

/* Takes w out of the table and stops both tasks, including one parked on
 * the socket's readiness (the socket may be closed right after). */
static void watcher_retire(watcher *w)
{
    cio_http_session *s = w->s;
    s->watchers[w->fd] = NULL;
    w->retired = 1;
    for (int dir = 0; dir < 2; dir++)
        if (w->task[dir])
            cio_cancel(w->task[dir]);
    watcher_release(w); /* the table's reference */
}

static watcher *watcher_new(cio_http_session *s, curl_socket_t fd)
{
    if ((size_t)fd >= s->nwatchers) {
        size_t n = s->nwatchers ? s->nwatchers : 64;
        while (n <= (size_t)fd)
            n *= 2;
        watcher **t = cio__realloc(s->watchers, n * sizeof(*t));
        if (!t)
            return NULL;
        memset(t + s->nwatchers, 0, (n - s->nwatchers) * sizeof(*t));
        s->watchers = t;
        s->nwatchers = n;
    }
    watcher *w = cio__calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->s = s;
    w->fd = fd;
    w->refs = 1;
    cio_event_init(&w->wanted[0]);
    cio_event_init(&w->wanted[1]);
    cio_task_opts o = {.name = "http-socket"};
    for (int dir = 0; dir < 2; dir++) {
        cio_task *t;
        if (cio_spawn_opts(&t, dir ? watch_out : watch_in, w, &o) == 0) {
            w->refs++;
            w->task[dir] = t;
            cio_detach(t);
        }
    }
    s->watchers[fd] = w;
    return w;
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    (void)socketp;
    cio_http_session *s = userp;
    watcher *w = watcher_find(s, fd);
    if (what == CURL_POLL_REMOVE) {
        /* Usually the socket goes back to curl's pool: the tasks stay parked
         * on their events for the next transfer. A task parked on the
         * socket itself is stopped, as curl may close it. */
        if (w) {
            w->want = 0;
            if (w->polling[0] || w->polling[1])
                watcher_retire(w);
        }
        return 0;
    }
    if (!w && !(w = watcher_new(s, fd)))
        return -1;
    w->want = what;
    if (what & CURL_POLL_IN)
        cio_event_set(&w->wanted[0]);
    if (what & CURL_POLL_OUT)
        cio_event_set(&w->wanted[1]);
    return 0;
}

/* curl closes a socket: its watcher goes with it. */
static int on_close_socket(void *userp, curl_socket_t fd)
{
    cio_http_session *s = userp;
    watcher *w = watcher_find(s, fd);
    if (w)
        watcher_retire(w);
    return close(fd);
}

static void timer_fired(void *arg)
{
    cio_http_session *s = arg;
    s->timer = NULL;
    socket_action(s, CURL_SOCKET_TIMEOUT, 0);
}

static int on_timer(CURLM *multi, long ms, void *userp)
{
    (void)multi;
    cio_http_session *s = userp;
    if (s->timer) {
        cio_handle_cancel(s->timer);
        s->timer = NULL;
    }
    if (ms >= 0) /* never call curl back from inside its own callback */
        s->timer = cio_call_later((double)ms / 1000.0, timer_fired, s);
    return 0;
}

/* Appends a header line to a libcurl list; the list stays whole on failure
 * (curl_slist_append returns NULL then, and the old list is still *l). */
CIO__MUST_CHECK static int append_header(struct curl_slist **l, const char *line)
{
    struct curl_slist *n = curl_slist_append(*l, line);
    if (!n)
        return -ENOMEM;
    *l = n;
    return 0;
}

static char *env_dup(const char *lower, const char *upper)
{
    const char *v = getenv(lower);
    if (!v && upper)
        v = getenv(upper);
    return v ? cio__strdup(v) : NULL;
}

/* ---- sessions ---- */

int cio_http_session_new(cio_http_session **out, const cio_http_session_opts *opts)
{
    static const cio_http_session_opts defaults;
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!cio_loop_current())
        return -EPERM;
    static int curl_ready;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return -ENOMEM;
        curl_ready = 1;
    }
    cio_http_session *s = cio__calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->o = opts ? *opts : defaults;
    s->multi = curl_multi_init();
    s->spare = cio__calloc(CIO__HTTP_SPARE_HANDLES, sizeof(*s->spare));
    if (!s->multi || !s->spare)
        goto fail;
    if (s->o.base_url && !(s->base_url = cio__strdup(s->o.base_url)))
        goto fail;
    if (s->o.ca_file && !(s->ca_file = cio__strdup(s->o.ca_file)))
        goto fail;
    for (const char *const *h = s->o.headers; h && *h; h++)
        if (append_header(&s->headers, *h) < 0)
            goto fail;
    /* The proxy environment, read once (libcurl would read it per transfer). */
    s->env.http_proxy = env_dup("http_proxy", NULL);
    s->env.https_proxy = env_dup("https_proxy", "HTTPS_PROXY");
    s->env.all_proxy = env_dup("all_proxy", "ALL_PROXY");
    s->env.no_proxy = env_dup("no_proxy", "NO_PROXY");
    /* CIO_HTTP_CLIENT=libcurl sends every request through libcurl. */
    const char *mode = getenv("CIO_HTTP_CLIENT");
    s->native_off = mode && strcmp(mode, "libcurl") == 0;
    s->pool = cio__http_pool_new(s->o.max_connections, s->o.max_host_connections);
    if (!s->pool)
        goto fail;
    s->o.base_url = NULL; /* owned copies above */
    s->o.ca_file = NULL;
    s->o.headers = NULL;
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERDATA, s);
    curl_multi_setopt(s->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                      s->o.max_connections ? s->o.max_connections : 100L);
    if (s->o.max_host_connections)
        curl_multi_setopt(s->multi, CURLMOPT_MAX_HOST_CONNECTIONS, s->o.max_host_connections);
    curl_multi_setopt(s->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    *out = s;
    return 0;
fail:
    cio_http_session_close(s);
    return -ENOMEM;
}

void cio_http_session_close(cio_http_session *s)
{
    if (!s)
        return;
    /* Transfers still waiting in other tasks end with -ESHUTDOWN. */
    while (s->xfers) {
        cio__http_xfer *x = s->xfers;
        cio__http_xfer_detach(x);
        x->aborted = 1;
        cio_event_set(&x->done_ev);
        cio_event_set(&x->data_ev);
    }
    cio__http_pool_close(s->pool);
    if (s->timer)
        cio_handle_cancel(s->timer);
    if (s->multi)
        curl_multi_cleanup(s->multi); /* closes the pool: REMOVE for each socket */
    for (size_t i = 0; i < s->nwatchers; i++)
        if (s->watchers[i])
            watcher_retire(s->watchers[i]);
    free(s->watchers);
    for (size_t i = 0; i < s->nspare; i++)
        curl_easy_cleanup(s->spare[i]);
    free(s->spare);
    curl_slist_free_all(s->headers);
    free(s->base_url);
    free(s->ca_file);
    free(s->env.http_proxy);
    free(s->env.https_proxy);
    free(s->env.all_proxy);
    free(s->env.no_proxy);
    free(s);
}

/* ---- transfers ---- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    cio__http_xfer *x = userp;
    size_t n = size * nmemb;
    if (x->streaming && x->len - x->read_pos >= CIO__HTTP_STREAM_BUFFER) {
        x->paused = 1; /* the reader lags: hold curl until it catches up */
        return CURL_WRITEFUNC_PAUSE;
    }
    if (x->streaming && x->read_pos > 0) { /* drop what the reader already took */
        memmove(x->body, x->body + x->read_pos, x->len - x->read_pos);
        x->len -= x->read_pos;
        x->read_pos = 0;
    }
    if (!x->streaming && x->len + n > x->max_body) {
        x->too_big = 1;
        return 0; /* aborts the transfer */
    }
    if (cio__http_buf_append(&x->body, &x->len, &x->cap, data, n) < 0)
        return 0;
    x->got_body = 1;
    cio_event_set(&x->data_ev);
    return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
    cio__http_xfer *x = userp;
    size_t n = size * nmemb;
    if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        cio__http_headers_clear(&x->headers); /* a new response (after a redirect) */
        return n;
    }
    if (n <= 2 && (data[0] == '\r' || data[0] == '\n')) {
        /* The end of a head. It is the final one unless it was 1xx or a
         * redirect curl is about to follow. */
        long code = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
        int redirect = code / 100 == 3 && cio__http_headers_get(&x->headers, "location") &&
                       x->s->o.max_redirects >= 0;
        if (code >= 200 && !redirect) {
            x->headers_done = 1;
            cio_event_set(&x->data_ev);
        }
        return n;
    }
    const char *colon = memchr(data, ':', n);
    if (!colon)
        return n;
    const char *v = colon + 1, *end = data + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    if (cio__http_headers_add(&x->headers, data, (size_t)(colon - data), v, (size_t)(end - v)) < 0)
        return 0;
    return n;
}

/* Builds the full URL with the base URL and the query. */
char *cio__http_build_url(cio_http_session *s, CURL *easy, const cio_http_request *req)
{
    const char *url = req->url;
    char *joined = NULL;
    if (s->base_url && !strstr(url, "://")) {
        size_t bl = strlen(s->base_url);
        int slash = bl && s->base_url[bl - 1] == '/';
        if (cio__asprintf(&joined, "%s%s%s", s->base_url, (slash || url[0] == '/') ? "" : "/",
                          (slash && url[0] == '/') ? url + 1 : url) < 0)
            return NULL;
        url = joined;
    }
    size_t cap = strlen(url) + 1;
    for (const char *const *q = req->query; q && q[0] && q[1]; q += 2)
        cap += 3 * (strlen(q[0]) + strlen(q[1])) + 2;
    char *full = cio__malloc(cap);
    if (full) {
        strcpy(full, url);
        char sep = strchr(url, '?') ? '&' : '?';
        for (const char *const *q = req->query; q && q[0] && q[1]; q += 2) {
            char *k = curl_easy_escape(easy, q[0], 0), *v = curl_easy_escape(easy, q[1], 0);
            if (k && v) {
                size_t l = strlen(full);
                snprintf(full + l, cap - l, "%c%s=%s", sep, k, v);
                sep = '&';
            }
            curl_free(k);
            curl_free(v);
        }
    }
    free(joined);
    return full;
}

void cio__http_xfer_detach(cio__http_xfer *x)
{
    cio_http_session *s = x->s;
    if (!x->attached)
        return;
    curl_multi_remove_handle(s->multi, x->easy);
    x->attached = 0;
    if (x->prev)
        x->prev->next = x->next;
    else
        s->xfers = x->next;
    if (x->next)
        x->next->prev = x->prev;
}

void cio__http_xfer_free(cio__http_xfer *x)
{
    cio__http_xfer_detach(x);
    cio_http_session *s = x->s;
    /* A handle that finished cleanly keeps its session-wide options for the
     * next transfer; one left paused or mid-transfer is not trusted again. */
    if (x->easy && x->done && !x->aborted && !x->paused && s->nspare < CIO__HTTP_SPARE_HANDLES)
        s->spare[s->nspare++] = x->easy;
    else if (x->easy)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->req_headers);
    free(x->url);
    free(x->body);
    cio__http_headers_clear(&x->headers);
    cio_event_destroy(&x->done_ev);
    cio_event_destroy(&x->data_ev);
}

/* A new easy handle with the options that are the same for every transfer
 * of the session; cio__http_xfer_start sets the rest each time. */
static CURL *easy_new(cio_http_session *s)
{
    CURL *e = curl_easy_init();
    if (!e)
        return NULL;
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, s);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, ""); /* every encoding curl has */
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)((s->o.connect_timeout > 0 ? s->o.connect_timeout : 10) * 1000));
    double idle = s->o.read_idle_timeout > 0 ? s->o.read_idle_timeout : 60;
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)(idle + 0.999));
    if (s->o.max_redirects >= 0) {
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(e, CURLOPT_MAXREDIRS, s->o.max_redirects ? s->o.max_redirects : 10L);
    }
    if (s->o.insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (s->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, s->ca_file);
    return e;
}

/* The proxy for url from the environment the session read when it was
 * created, as libcurl would pick it: http_proxy (lower case only) for
 * http://, https_proxy or HTTPS_PROXY for https://, then all_proxy or
 * ALL_PROXY; "" for none. NULL for other schemes: libcurl looks itself. */
const char *cio__http_session_proxy(const cio_http_session *s, const char *url)
{
    const char *p;
    if (strncasecmp(url, "http://", 7) == 0 || !strstr(url, "://"))
        p = s->env.http_proxy;
    else if (strncasecmp(url, "https://", 8) == 0)
        p = s->env.https_proxy;
    else
        return NULL;
    return p ? p : s->env.all_proxy ? s->env.all_proxy : "";
}

int cio__http_xfer_start(cio__http_xfer *x, cio_http_session *s, const cio_http_request *req,
                         int streaming)
{
    memset(x, 0, sizeof(*x));
    x->s = s;
    x->streaming = streaming;
    x->max_body = s->o.max_body ? s->o.max_body : (size_t)64 << 20;
    cio_event_init(&x->done_ev);
    cio_event_init(&x->data_ev);
    if (!req || !req->url || !req->method)
        return -EINVAL;
    x->easy = s->nspare ? s->spare[--s->nspare] : easy_new(s);
    if (!x->easy)
        return -ENOMEM;
    x->url = cio__http_build_url(s, x->easy, req);
    if (!x->url)
        return -ENOMEM;
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_URL, x->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    const char *proxy = cio__http_session_proxy(s, x->url);
    curl_easy_setopt(e, CURLOPT_PROXY, proxy);
    curl_easy_setopt(e, CURLOPT_NOPROXY, proxy ? (s->env.no_proxy ? s->env.no_proxy : "") : NULL);
    double total = req->timeout > 0 ? req->timeout : s->o.total_timeout;
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, total > 0 ? (long)(total * 1000) : 0L);
    for (struct curl_slist *h = s->headers; h; h = h->next)
        if (append_header(&x->req_headers, h->data) < 0)
            return -ENOMEM;
    for (const char *const *h = req->headers; h && *h; h++)
        if (append_header(&x->req_headers, *h) < 0)
            return -ENOMEM;
    if (req->body && req->content_type) {
        char ct[256];
        snprintf(ct, sizeof(ct), "Content-Type: %s", req->content_type);
        if (append_header(&x->req_headers, ct) < 0)
            return -ENOMEM;
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->req_headers);
    /* A reused handle still has the last transfer's method and body. */
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, (void *)NULL);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, (char *)NULL);
    curl_easy_setopt(e, CURLOPT_NOBODY, 0L);
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    if (strcmp(req->method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (strcmp(req->method, "GET") != 0) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
        if (req->body || strcmp(req->method, "POST") == 0) {
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        }
    }
    if (curl_multi_add_handle(s->multi, e) != CURLM_OK)
        return -ENOMEM;
    x->attached = 1;
    x->next = s->xfers;
    if (s->xfers)
        s->xfers->prev = x;
    s->xfers = x;
    return 0;
}

/* Maps a finished transfer to 0 or -errno with a message naming the URL. */
int cio__http_xfer_result(cio__http_xfer *x)
{
    if (x->aborted)
        return cio_fail(-ESHUTDOWN, "%s: the session was closed", x->url);
    if (x->too_big)
        return cio_fail(-EMSGSIZE, "%s: the body is over the %zu-byte limit", x->url, x->max_body);
    int err;
    switch (x->result) {
    case CURLE_OK:
        return 0;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        err = -ENOENT;
        break;
    case CURLE_COULDNT_CONNECT:
        err = -ECONNREFUSED;
        break;
    case CURLE_OPERATION_TIMEDOUT:
        err = -ETIMEDOUT;
        break;
    case CURLE_TOO_MANY_REDIRECTS:
        err = -ELOOP;
        break;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        err = -EINVAL;
        break;
    case CURLE_OUT_OF_MEMORY:
        err = -ENOMEM;
        break;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
        err = -ECONNRESET;
        break;
    default:
        err = -EPROTO;
        break;
    }
    return cio_fail(err, "%s: %s", x->url,
                    x->errbuf[0] ? x->errbuf : curl_easy_strerror(x->result));
}

/* Waits for the transfer to finish. On cancellation removes it (its
 * connection is closed, not pooled) and returns the reason. */
int cio__http_xfer_wait(cio__http_xfer *x)
{
    int err = cio_event_wait(&x->done_ev);
    if (err) {
        cio__http_xfer_detach(x);
        return err;
    }
    return cio__http_xfer_result(x);
}

int cio_http_request_send(cio_http_session *s, const cio_http_request *req, cio_http_response **out)
{
    if (!s || !req || !out)
        return -EINVAL;
    *out = NULL;
    int err;
    if (cio__http_native_send(s, req, out, &err))
        return err;
    cio__http_xfer x;
    err = cio__http_xfer_start(&x, s, req, 0);
    if (!err)
        err = cio__http_xfer_wait(&x);
    if (!err)
        err = cio__http_response_take(&x, out);
    cio__http_xfer_free(&x);
    return err;
}

int cio_http_get(cio_http_session *s, const char *url, cio_http_response **out)
{
    cio_http_request req = {.method = "GET", .url = url};
    return cio_http_request_send(s, &req, out);
}

int cio_http_post(cio_http_session *s, const char *url, const void *body, size_t len,
                  const char *content_type, cio_http_response **out)
{
    cio_http_request req = {
        .method = "POST", .url = url, .body = body, .body_len = len, .content_type = content_type};
    return cio_http_request_send(s, &req, out);
}
