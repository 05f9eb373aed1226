/* W7 echo with cio: a TCP echo server on 127.0.0.1:P (backlog 1024), a task
 * per connection reading into a 16 KiB buffer on its stack and writing each
 * read back with cio_stream_write (which queues and sends in the background,
 * waiting only past the high-water mark). Serves until SIGTERM or SIGINT,
 * then closes the server (no grace: the load client is gone) and exits 0.
 * Stdout is not read by the runner; the ready line goes to stderr. */
#include <signal.h>

#include "bench.h"
#include "cio.h"

static long port;

static int echo(cio_stream *s, void *arg)
{
    (void)arg;
    char buf[16384];
    for (;;) {
        ssize_t n = cio_stream_read(s, buf, sizeof(buf));
        if (n <= 0)
            return (int)n;
        int err = cio_stream_write(s, buf, (size_t)n);
        if (err)
            return err;
    }
}

static int serve(void *arg)
{
    (void)arg;
    int sigs[] = {SIGTERM, SIGINT};
    cio_signal_set *stop;
    int err = cio_signal_set_open(&stop, sigs, 2);
    if (err)
        return err;
    cio_stream_opts o = {.backlog = 1024};
    cio_server *srv;
    err = cio_start_server(&srv, "127.0.0.1", (int)port, echo, NULL, &o);
    if (err) {
        const char *m = cio_task_message(cio_current());
        fprintf(stderr, "w7-echo: cio: %s\n", m ? m : cio_strerror(err));
        cio_signal_set_close(stop);
        return err;
    }
    fprintf(stderr, "w7-echo: cio-%s listening on 127.0.0.1:%d\n", cio_backend_name(),
            cio_server_port(srv));
    cio_signal_set_wait(stop);
    cio_server_close(srv, 0);
    cio_signal_set_close(stop);
    return 0;
}

int main(int argc, char **argv)
{
    static const char *const keys[] = {"port", NULL};
    args_check(argc, argv, keys);
    port = arg_long(argc, argv, "port", 0);
    if (port > 65535) {
        fprintf(stderr, "w7-echo: bad port %ld\n", port);
        return 2;
    }
    cio_opts o = {.no_sigint = 1};
    int err = cio_run_opts(serve, NULL, &o);
    if (err == -ENOSYS || err == -EPERM || err == -ENOTSUP) {
        fprintf(stderr, "w7-echo: cio: backend unavailable: %s\n", cio_strerror(err));
        return 77;
    }
    return err ? 1 : 0;
}
