/* W20-W22 with cio: a WebSocket server on 127.0.0.1:P (libcio-ws on cio's
 * HTTP server).
 *   /echo       every message comes back (W20 echo, W21 idle);
 *   /room       joins the broadcast room and reads until closed (W22);
 *   /control    a text "go K" runs K fan-outs of 64 B to the room with
 *               cio_ws_broadcast, 10 ms apart, and answers "fanouts=K
 *               ms_median=.. ms_max=.. closed=N members=M".
 * W22's room runs with small buffers (write_high 2 KiB, cap 8 KiB, stream
 * high-water 4 KiB, SO_SNDBUF 4 KiB) so a member that stopped reading reaches
 * its cap within the run while a slow reader (the load client serves 10,000
 * connections from one thread) does not. --deflate offers permessage-deflate. Keepalive pings are
 * off, as on the peers (the load client does not answer them). Serves until SIGTERM or SIGINT; the
 * ready line goes to stderr. */
#include <signal.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cio.h"
#include "cio/http_server.h"
#include "cio/ws.h"

static long port, deflate;
static cio_ws **room;
static size_t nroom, caproom;

static int echo(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)arg;
    cio_ws_opts o = {.deflate = (int)deflate, .ping_interval = CIO_FOREVER};
    cio_ws *ws;
    if (cio_ws_accept(req, resp, &ws, &o))
        return 0;
    cio_ws_msg m;
    while (cio_ws_recv(ws, &m) == 0) {
        int err = cio_ws_send(ws, m.type, m.data, m.len);
        cio_ws_msg_free(&m);
        if (err)
            break;
    }
    cio_ws_close(ws, 0, NULL);
    return 0;
}

static const cio_ws_opts room_opts = {.write_high = 2048,
                                      .write_low = 512,
                                      .write_cap = 8192,
                                      .close_timeout = 1,
                                      .ping_interval = CIO_FOREVER,
                                      .stream = {.high_water = 4096, .low_water = 1024}};

static int member(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)arg;
    cio_ws *ws;
    if (cio_ws_accept(req, resp, &ws, &room_opts))
        return 0;
    int sndbuf = 4096;
    setsockopt(cio_stream_fd(cio_ws_stream(ws)), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    if (nroom == caproom) {
        caproom = caproom ? caproom * 2 : 1024;
        room = realloc(room, caproom * sizeof(*room));
    }
    room[nroom++] = ws;
    cio_ws_wait_closed(ws);
    for (size_t i = 0; i < nroom; i++)
        if (room[i] == ws) {
            room[i] = room[--nroom];
            break;
        }
    cio_ws_close(ws, 0, NULL);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int control(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)arg;
    cio_ws *ws;
    cio_ws_opts o = {.ping_interval = CIO_FOREVER};
    if (cio_ws_accept(req, resp, &ws, &o))
        return 0;
    cio_ws_msg m;
    while (cio_ws_recv(ws, &m) == 0) {
        long k = 0;
        if (sscanf(m.data, "go %ld", &k) == 1 && k > 0) {
            double *ms = calloc((size_t)k, sizeof(double));
            size_t members = nroom;
            char msg[64];
            memset(msg, 'b', sizeof(msg));
            for (long i = 0; i < k; i++) {
                snprintf(msg, sizeof(msg), "%08ld", i); /* the readers check the order */
                msg[8] = 'b';
                double t0 = cio_now();
                cio_ws_broadcast(room, nroom, CIO_WS_BINARY, msg, sizeof(msg));
                ms[i] = (cio_now() - t0) * 1000;
                cio_sleep(0.01);
            }
            size_t open = 0;
            for (size_t i = 0; i < nroom; i++)
                open += cio_ws_is_open(room[i]);
            qsort(ms, (size_t)k, sizeof(double), cmp_double);
            char answer[200];
            snprintf(answer, sizeof(answer),
                     "fanouts=%ld ms_median=%.3f ms_max=%.3f closed=%zu members=%zu", k, ms[k / 2],
                     ms[k - 1], members - open, members);
            free(ms);
            cio_ws_send_text(ws, answer);
        }
        cio_ws_msg_free(&m);
    }
    cio_ws_close(ws, 0, NULL);
    return 0;
}

static int serve(void *arg)
{
    (void)arg;
    int sigs[] = {SIGTERM, SIGINT};
    cio_signal_set *stop;
    int err = cio_signal_set_open(&stop, sigs, 2);
    if (err)
        return err;
    /* The stream's buffer counts too: a stopped reader holds the stream's
     * high-water mark plus the WebSocket's cap. */
    cio_http_server_opts ho = {.quiet = 1,
                               .stream = {.backlog = 4096, .high_water = 4096, .low_water = 1024}};
    cio_http_app *app;
    cio_http_server *srv = NULL;
    err = cio_http_app_new(&app, &ho);
    if (!err)
        err = cio_http_app_route(app, "GET", "/echo", echo, NULL);
    if (!err)
        err = cio_http_app_route(app, "GET", "/room", member, NULL);
    if (!err)
        err = cio_http_app_route(app, "GET", "/control", control, NULL);
    if (!err)
        err = cio_http_serve(&srv, app, "127.0.0.1", (int)port);
    if (err) {
        fprintf(stderr, "w20-ws: cio: %s\n", cio_strerror(err));
        cio_http_app_free(app);
        cio_signal_set_close(stop);
        return err;
    }
    fprintf(stderr, "w20-ws: cio-%s listening on 127.0.0.1:%d\n", cio_backend_name(),
            cio_http_server_port(srv));
    cio_signal_set_wait(stop);
    cio_http_server_close(srv);
    cio_http_app_free(app);
    cio_signal_set_close(stop);
    free(room);
    return 0;
}

int main(int argc, char **argv)
{
    static const char *const keys[] = {"port", "deflate", NULL};
    args_check(argc, argv, keys);
    port = arg_long(argc, argv, "port", 0);
    deflate = arg_long(argc, argv, "deflate", 0);
    cio_opts o = {.no_sigint = 1};
    int err = cio_run_opts(serve, NULL, &o);
    if (err == -ENOSYS || err == -EPERM || err == -ENOTSUP) {
        fprintf(stderr, "w20-ws: cio: backend unavailable: %s\n", cio_strerror(err));
        return 77;
    }
    return err ? 1 : 0;
}
