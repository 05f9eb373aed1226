/* A streaming download: the body is written to a file as it arrives, with
 * progress, and memory stays bounded however large the body is.
 *
 *   async with session.get(url) as r:
 *       async with aiofiles.open(path, "wb") as f:
 *           async for chunk in r.content.iter_chunked(65536):
 *               await f.write(chunk)
 *
 * Usage: stream_download [URL [FILE]]. Without a URL it serves itself an
 * 8 MiB body, sent in chunks, from a local cio server. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "cio.h"
#include "cio/http.h"
#include "cio/http_server.h"

#define LOCAL_SIZE (8 * 1024 * 1024)

static const char *url, *path = "/tmp/cio-download.bin";

static int big_body(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)req;
    (void)arg;
    static char chunk[65536];
    memset(chunk, 'x', sizeof(chunk));
    for (int sent = 0; sent < LOCAL_SIZE; sent += (int)sizeof(chunk)) {
        int err = cio_http_resp_write(resp, chunk, sizeof(chunk));
        if (err)
            return err;
    }
    return 0;
}

static int run(void *arg)
{
    (void)arg;
    cio_http_app *app = NULL;
    cio_http_server *srv = NULL;
    char local[64];
    if (!url) {
        cio_http_app_new(&app, NULL);
        cio_http_app_route(app, "GET", "/big", big_body, NULL);
        int err = cio_http_serve(&srv, app, "127.0.0.1", 0);
        if (err)
            return err;
        snprintf(local, sizeof(local), "http://127.0.0.1:%d/big", cio_http_server_port(srv));
        url = local;
    }
    cio_http_session *session;
    cio_http_stream *st = NULL;
    int status = 0, fd = -1;
    int err = cio_http_session_new(&session, NULL);
    if (!err)
        err = cio_http_stream_open(session, &(cio_http_request){.method = "GET", .url = url}, &st,
                                   &status);
    if (!err && (fd = cio_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0)
        err = fd;
    size_t total = 0, next_report = 1 << 20;
    static char buf[65536];
    ssize_t n = 0;
    while (!err && (n = cio_http_stream_read(st, buf, sizeof(buf))) > 0) {
        ssize_t w = cio_pwrite(fd, buf, (size_t)n, (off_t)total);
        if (w < 0) {
            err = (int)w;
            break;
        }
        total += (size_t)n;
        if (total >= next_report) {
            printf("  %zu MiB\n", total >> 20);
            next_report += 1 << 20;
        }
    }
    if (!err && n < 0)
        err = (int)n;
    if (!err)
        printf("HTTP %d: %zu bytes written to %s\n", status, total, path);
    else
        fprintf(stderr, "stream_download: %s %s\n", cio_strerror(err),
                cio_task_message(cio_current()) ? cio_task_message(cio_current()) : "");
    if (fd >= 0)
        cio_close(fd);
    cio_http_stream_close(st);
    cio_http_session_close(session);
    if (srv)
        cio_http_server_close(srv);
    cio_http_app_free(app);
    return err;
}

int main(int argc, char **argv)
{
    url = argc > 1 ? argv[1] : NULL;
    if (argc > 2)
        path = argv[2];
    return cio_run(run, NULL) ? 1 : 0;
}
