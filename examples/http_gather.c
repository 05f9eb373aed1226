/* aiohttp's "fetch several URLs concurrently with gather", in C.
 *
 *   async with aiohttp.ClientSession() as session:
 *       pages = await asyncio.gather(*(fetch(session, u) for u in urls))
 *
 * With URLs on the command line it fetches those; without, it starts a small
 * local server whose pages each take 0.5 s, so the story shows offline: three
 * half-second pages arrive in about half a second, not one and a half. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cio.h"
#include "cio/http.h"
#include "cio/http_server.h"

typedef struct page {
    cio_http_session *session;
    const char *url;
    int status;
    size_t bytes;
} page;

static int slow_page(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)arg;
    int err = cio_sleep(0.5);
    if (err)
        return err;
    char body[128];
    int n = snprintf(body, sizeof(body), "<html>page %s</html>\n", cio_http_req_param(req, "name"));
    cio_http_resp_header(resp, "Content-Type", "text/html");
    return cio_http_resp_body(resp, body, (size_t)n);
}

static int fetch(void *arg)
{
    page *p = arg;
    cio_http_response *r;
    int err = cio_http_get(p->session, p->url, &r);
    if (err)
        return err; /* the message names the URL */
    p->status = cio_http_response_status(r);
    cio_http_response_body(r, &p->bytes);
    cio_http_response_free(r);
    return 0;
}

static int argc_;
static char **argv_;

static int run(void *arg)
{
    (void)arg;
    cio_http_app *app = NULL;
    cio_http_server *srv = NULL;
    char local[3][64];
    const char *urls[16];
    size_t n = 0;
    for (int i = 1; i < argc_ && n < 16; i++)
        urls[n++] = argv_[i];
    if (n == 0) {
        cio_http_app_new(&app, NULL);
        cio_http_app_route(app, "GET", "/{name}", slow_page, NULL);
        int err = cio_http_serve(&srv, app, "127.0.0.1", 0);
        if (err)
            return err;
        const char *names[3] = {"python", "asyncio", "cio"};
        for (int i = 0; i < 3; i++) {
            snprintf(local[i], sizeof(local[i]), "http://127.0.0.1:%d/%s",
                     cio_http_server_port(srv), names[i]);
            urls[n++] = local[i];
        }
    }
    cio_http_session *session;
    int err = cio_http_session_new(&session, NULL);
    page pages[16];
    cio_task *tasks[16];
    double t0 = cio_now();
    for (size_t i = 0; !err && i < n; i++) {
        pages[i] = (page){session, urls[i], 0, 0};
        tasks[i] = cio_spawn(fetch, &pages[i]);
    }
    if (!err)
        cio_gather(tasks, n, CIO_RETURN_EXCEPTIONS); /* every page, failed or not */
    for (size_t i = 0; !err && i < n; i++) {
        int status = cio_task_status(tasks[i]);
        if (status == 0)
            printf("%s: %d, %zu bytes\n", pages[i].url, pages[i].status, pages[i].bytes);
        else
            printf("%s: failed: %s\n", pages[i].url, cio_task_message(tasks[i]));
        cio_join(tasks[i]);
    }
    printf("%zu pages in %.2f s\n", n, cio_now() - t0);
    cio_http_session_close(session);
    if (srv)
        cio_http_server_close(srv);
    cio_http_app_free(app);
    return err;
}

int main(int argc, char **argv)
{
    argc_ = argc;
    argv_ = argv;
    int err = cio_run(run, NULL);
    if (err)
        fprintf(stderr, "http_gather: %s\n", cio_strerror(err));
    return err ? 1 : 0;
}
