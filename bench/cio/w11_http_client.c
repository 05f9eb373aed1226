/* W11 http client: GET / from a local server N times, at most `inflight`
 * requests in flight (that many tasks) over one keep-alive pool; every status
 * and body is checked. Headline: requests per second. */
#include <string.h>

#include "bench.h"
#include "cio.h"
#include "cio/http.h"

static long n, inflight, port;
static long started, ok;
static cio_http_session *session;
static char url[64];

static int worker(void *arg)
{
    (void)arg;
    while (started++ < n) {
        cio_http_response *r;
        int err = cio_http_get(session, url, &r);
        if (err) {
            fprintf(stderr, "w11-http-client: cio: %s: %s\n", cio_strerror(err),
                    cio_task_message(cio_current()));
            continue;
        }
        size_t len;
        const char *body = cio_http_response_body(r, &len);
        if (cio_http_response_status(r) == 200 && len == 13 &&
            memcmp(body, "Hello, World!", 13) == 0)
            ok++;
        cio_http_response_free(r);
    }
    return 0;
}

static int run(void *arg)
{
    double *secs = arg;
    cio_http_session_opts o = {.max_connections = inflight, .max_host_connections = inflight};
    int err = cio_http_session_new(&session, &o);
    if (err)
        return err;
    snprintf(url, sizeof(url), "http://127.0.0.1:%ld/", port);
    cio_task **t = calloc((size_t)inflight, sizeof(*t));
    double t0 = bench_now();
    for (long i = 0; i < inflight; i++)
        t[i] = cio_spawn(worker, NULL);
    err = cio_gather(t, (size_t)inflight, 0);
    for (long i = 0; i < inflight; i++)
        cio_join(t[i]);
    *secs = bench_now() - t0;
    free(t);
    cio_http_session_close(session);
    return err;
}

int main(int argc, char **argv)
{
    static const char *const keys[] = {"port", "n", "inflight", NULL};
    args_check(argc, argv, keys);
    port = arg_long(argc, argv, "port", 0);
    n = arg_long(argc, argv, "n", 20000);
    inflight = arg_long(argc, argv, "inflight", 100);
    if (port <= 0 || inflight < 1) {
        fprintf(stderr, "w11-http-client: cio: --port=P is required\n");
        return 2;
    }
    double secs = 0;
    int err = cio_run(run, &secs);
    if (err || ok != n) {
        fprintf(stderr, "w11-http-client: cio: FAILED: %ld good responses of %ld (%s)\n", ok, n,
                cio_strerror(err));
        return 1;
    }
    printf("impl=cio workload=w11-http-client n=%ld inflight=%ld secs=%.6f rps=%.0f\n", n, inflight,
           secs, (double)n / secs);
    return 0;
}
