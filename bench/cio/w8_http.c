/* W8 http: an HTTP/1.1 keep-alive server answering GET / with 200
 * "Hello, World!" (text/plain), on libcio-http's server. Serves until SIGTERM. */
#include "bench.h"
#include "cio.h"
#include "cio/http_server.h"
#include "server_stop.h"

static long port;

static int hello(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)req;
    (void)arg;
    cio_http_resp_header(resp, "Content-Type", "text/plain");
    return cio_http_resp_body(resp, "Hello, World!", 13);
}

static int serve(void *arg)
{
    (void)arg;
    cio_http_app *app;
    cio_http_server *srv;
    int err = cio_http_app_new(&app, NULL);
    if (!err)
        err = cio_http_app_route(app, "GET", "/", hello, NULL);
    if (!err)
        err = cio_http_serve(&srv, app, "127.0.0.1", (int)port);
    if (err) {
        fprintf(stderr, "w8-http: cio: cannot serve on port %ld: %s\n", port, cio_strerror(err));
        cio_http_app_free(app);
        return err;
    }
    stop_on_signal();
    cio_sleep(CIO_FOREVER); /* until SIGTERM cancels us */
    cio_scope sh;
    cio_shield_enter(&sh); /* shut down even though we are cancelled */
    cio_http_server_close(srv);
    cio_shield_exit(&sh);
    cio_http_app_free(app);
    return 0;
}

int main(int argc, char **argv)
{
    static const char *const keys[] = {"port", NULL};
    args_check(argc, argv, keys);
    port = arg_long(argc, argv, "port", 8080);
    cio_opts o = {.no_sigint = 1};
    return cio_run_opts(serve, NULL, &o) ? 1 : 0;
}
