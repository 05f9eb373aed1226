/* httpx's single GET, in C.
 *
 *   async with httpx.AsyncClient() as client:
 *       r = await client.get(url)
 *       r.raise_for_status()
 *       print(r.status_code, r.headers["content-type"], r.text)
 *
 * Usage: httpx_get [URL]. Without a URL it serves itself one page locally. */
#include <stdio.h>

#include "cio.h"
#include "cio/http.h"
#include "cio/http_server.h"

static const char *url;

static int hello(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)req;
    (void)arg;
    cio_http_resp_header(resp, "Content-Type", "text/plain; charset=utf-8");
    return cio_http_resp_body(resp, "Hello from cio!\n", 16);
}

static int run(void *arg)
{
    (void)arg;
    cio_http_app *app = NULL;
    cio_http_server *srv = NULL;
    char local[64];
    if (!url) {
        cio_http_app_new(&app, NULL);
        cio_http_app_route(app, "GET", "/", hello, NULL);
        int err = cio_http_serve(&srv, app, "127.0.0.1", 0);
        if (err)
            return err;
        snprintf(local, sizeof(local), "http://127.0.0.1:%d/", cio_http_server_port(srv));
        url = local;
    }
    cio_http_session *client;
    int err = cio_http_session_new(&client, NULL);
    cio_http_response *r = NULL;
    if (!err)
        err = cio_http_get(client, url, &r);
    if (!err)
        err = cio_http_raise_for_status(r);
    if (!err) {
        const char *ct = cio_http_response_header(r, "content-type");
        printf("%d %s %s\n%s", cio_http_response_status(r), cio_http_response_version(r),
               ct ? ct : "-", cio_http_response_body(r, NULL));
    } else {
        fprintf(stderr, "httpx_get: %s: %s\n", cio_strerror(err), cio_task_message(cio_current()));
    }
    cio_http_response_free(r);
    cio_http_session_close(client);
    if (srv)
        cio_http_server_close(srv);
    cio_http_app_free(app);
    return err;
}

int main(int argc, char **argv)
{
    url = argc > 1 ? argv[1] : NULL;
    return cio_run(run, NULL) ? 1 : 0;
}
