/* libcio-http's server: apps, routes and dispatching a request to its
 * handler (404, 405 with Allow, 500 for a failing handler). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "server_internal.h"

/* ---- apps and routes ---- */

int cio_http_app_new(cio_http_app **out, const cio_http_server_opts *opts)
{
    static const cio_http_server_opts defaults;
    if (!out)
        return -EINVAL;
    cio_http_app *app = cio__calloc(1, sizeof(*app));
    if (!app)
        return -ENOMEM;
    app->o = opts ? *opts : defaults;
    if (!app->o.max_header_bytes)
        app->o.max_header_bytes = 16 * 1024;
    if (!app->o.max_headers)
        app->o.max_headers = 100;
    if (!app->o.max_body_bytes)
        app->o.max_body_bytes = 1024 * 1024;
    if (!(app->o.header_timeout > 0)) /* NaN too */
        app->o.header_timeout = 10;
    if (!(app->o.body_timeout > 0)) /* NaN too */
        app->o.body_timeout = 60;
    if (!(app->o.send_timeout > 0)) /* NaN too */
        app->o.send_timeout = 60;
    if (!(app->o.idle_timeout > 0)) /* NaN too */
        app->o.idle_timeout = 60;
    if (!(app->o.linger_timeout > 0)) /* NaN too */
        app->o.linger_timeout = 2;
    if (!(app->o.shutdown_grace > 0)) /* NaN too */
        app->o.shutdown_grace = 5;
    *out = app;
    return 0;
}

static void route_free(route *r)
{
    for (size_t i = 0; i < r->nsegs; i++)
        free(r->segs[i]);
    free(r->segs);
    free(r->pattern);
}

void cio_http_app_free(cio_http_app *app)
{
    if (!app)
        return;
    for (size_t i = 0; i < app->nroutes; i++)
        route_free(&app->routes[i]);
    free(app->routes);
    free(app);
}

static void free_segs(char **segs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(segs[i]);
    free(segs);
}

/* Splits "/a/{b}/c" into segments. On failure nothing is left allocated
 * (*segs NULL, *n 0). */
CIO__MUST_CHECK static int split_path(const char *p, size_t len, char ***segs, size_t *n)
{
    *segs = NULL;
    *n = 0;
    size_t cap = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && p[i] == '/')
            i++;
        size_t start = i;
        while (i < len && p[i] != '/')
            i++;
        if (i == start)
            break;
        if (*n == cap) {
            cap = cap ? cap * 2 : 4;
            char **s = cio__realloc(*segs, cap * sizeof(*s));
            if (!s)
                goto fail;
            *segs = s;
        }
        if (!((*segs)[*n] = cio__strndup(p + start, i - start)))
            goto fail;
        (*n)++;
    }
    return 0;
fail:
    free_segs(*segs, *n);
    *segs = NULL;
    *n = 0;
    return -ENOMEM;
}

int cio_http_app_route(cio_http_app *app, const char *method, const char *pattern,
                       cio_http_handler handler, void *arg)
{
    if (!app || !method || !pattern || pattern[0] != '/' || !handler || strlen(method) >= 16)
        return -EINVAL;
    if (app->nroutes == app->cap) {
        size_t cap = app->cap ? app->cap * 2 : 8;
        route *r = cio__realloc(app->routes, cap * sizeof(*r));
        if (!r)
            return -ENOMEM;
        app->routes = r;
        app->cap = cap;
    }
    route *r = &app->routes[app->nroutes];
    memset(r, 0, sizeof(*r));
    snprintf(r->method, sizeof(r->method), "%s", method);
    r->fn = handler;
    r->arg = arg;
    if (!(r->pattern = cio__strdup(pattern)) ||
        split_path(pattern, strlen(pattern), &r->segs, &r->nsegs) < 0) {
        route_free(r);
        return -ENOMEM;
    }
    app->nroutes++;
    return 0;
}

/* Matches req's path against r; fills the path parameters on success. */
static int route_match(const route *r, cio_http_req *req, char **segs, size_t nsegs)
{
    if (r->nsegs != nsegs)
        return 0;
    size_t np = 0;
    for (size_t i = 0; i < nsegs; i++) {
        const char *pat = r->segs[i];
        size_t pl = strlen(pat);
        if (pl >= 2 && pat[0] == '{' && pat[pl - 1] == '}') {
            if (np < MAX_PARAMS) {
                req->param_names[np] = pat;
                req->param_values[np++] = segs[i];
            }
        } else if (strcmp(pat, segs[i]) != 0) {
            return 0;
        }
    }
    req->nparams = np;
    return 1;
}

/* A handler failed before sending anything: the client gets what its body
 * calls ran into (400, 408, 413, 431: the client's fault, for the log) or
 * 500 (the handler's, on stderr unless quiet or a log is set). A client that
 * is gone or does not read gets nothing. Returns 0, or an error to close. */
static int handler_failed(conn *c, cio_http_resp *resp, int status)
{
    cio_http_req *r = &c->req;
    const cio_http_server_opts *o = &c->srv->app->o;
    const char *why = cio_task_message(cio_current());
    int code = 500;
    if (c->send_timed_out || r->body_err == -EPIPE || r->body_err == -ECONNRESET)
        return status;
    if (r->body_err == -ETIMEDOUT)
        code = 408;
    else if (r->body_err == -EBADMSG)
        code = cio__http_error_status(c, &why);
    if (code != 500)
        cio__http_log(c, code, r->body_err, "%s", why ? why : cio_strerror(r->body_err));
    else if (o->log)
        cio__http_log(c, 500, status, "%s %s failed: %s%s%s", r->method, r->path,
                      cio_strerror(status), why ? ": " : "", why ? why : "");
    else if (!o->quiet)
        fprintf(stderr, "cio http: %s %s failed: %s%s%s\n", r->method, r->path,
                cio_strerror(status), why ? ": " : "", why ? why : "");
    cio__http_headers_clear(&resp->headers);
    return cio__http_resp_error(resp, code);
}

/* Finds the route and runs its handler; 404 / 405 otherwise. */
int cio__http_dispatch(conn *c, cio_http_resp *resp)
{
    cio_http_req *r = &c->req;
    cio_http_app *app = c->srv->app;
    char **segs;
    size_t nsegs;
    if (split_path(r->path, strlen(r->path), &segs, &nsegs) < 0)
        return -ENOMEM;
    const route *hit = NULL;
    char allow[128] = "";
    for (size_t i = 0; i < app->nroutes && !hit; i++) {
        const route *rt = &app->routes[i];
        if (!route_match(rt, r, segs, nsegs))
            continue;
        if (strcmp(rt->method, "*") == 0 || strcmp(rt->method, r->method) == 0 ||
            (strcmp(r->method, "HEAD") == 0 && strcmp(rt->method, "GET") == 0))
            hit = rt;
        else if (strlen(allow) + strlen(rt->method) + 3 < sizeof(allow))
            snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), "%s%s",
                     allow[0] ? ", " : "", rt->method);
    }
    int err = 0;
    if (hit) {
        int status = hit->fn(r, resp, hit->arg);
        if (status < 0 && !resp->head_sent)
            err = handler_failed(c, resp, status);
        else if (status < 0)
            err = status; /* the response is half sent: only closing is left */
    } else {
        r->nparams = 0;
        if (allow[0])
            err = cio_http_resp_header(resp, "Allow", allow);
        if (!err)
            err = cio__http_resp_error(resp, allow[0] ? 405 : 404);
    }
    /* r->param_values point into segs: the handler is done with them. */
    for (size_t i = 0; i < nsegs; i++)
        free(segs[i]);
    free(segs);
    r->nparams = 0;
    return err;
}
