/* echo_server — a TCP echo server (asyncio.start_server), the W7 pair's
 * server side; examples/echo_client.c talks to it.
 *
 *     async def handle(reader, writer):
 *         while data := await reader.read(65536):
 *             writer.write(data)
 *             await writer.drain()
 *         writer.close()
 *
 *     server = await asyncio.start_server(handle, "127.0.0.1", 8888)
 *     async with server:
 *         await server.serve_forever()
 *
 * Each connection runs the handler in a task of its own; cio_stream_write
 * queues the bytes and waits only when the client stops reading (the drain
 * is built in), so a slow client never makes the server's memory grow.
 * SIGTERM or Ctrl-C stops accepting and gives open connections 5 seconds to
 * finish before they are cancelled.
 *
 *   echo_server [--host=H] [--port=P] [--tls-cert=FILE --tls-key=FILE]
 *
 * Defaults: 127.0.0.1, port 8888 (0 picks a free one). Prints one line,
 * "listening on HOST:PORT", once it accepts connections. */
#include <signal.h>

#include "cio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *host = "127.0.0.1";
static int port = 8888;
static const char *cert, *key;
static int connections;

static int handle(cio_stream *s, void *arg)
{
    (void)arg;
    connections++;
    char buf[16384];
    for (;;) {
        ssize_t n = cio_stream_read(s, buf, sizeof(buf));
        if (n <= 0)
            return (int)n; /* 0: the client closed */
        int err = cio_stream_write(s, buf, (size_t)n);
        if (err)
            return err;
    }
}

static int serve(void *arg)
{
    (void)arg;
    cio_stream_opts o = {0};
    if (cert) {
        int err = cio_tls_server_config_new(&o.tls, cert, key);
        if (err) {
            const char *m = cio_task_message(cio_current());
            fprintf(stderr, "echo_server: %s\n", m ? m : cio_strerror(err));
            return err;
        }
    }
    /* Stop on SIGTERM or Ctrl-C: a set takes both over from their defaults. */
    int sigs[] = {SIGTERM, SIGINT};
    cio_signal_set *stop;
    int err = cio_signal_set_open(&stop, sigs, 2);
    cio_server *srv = NULL;
    if (!err)
        err = cio_start_server(&srv, host, port, handle, NULL, &o);
    cio_tls_config_free(o.tls);
    if (err) {
        const char *m = cio_task_message(cio_current());
        fprintf(stderr, "echo_server: %s\n", m ? m : cio_strerror(err));
        cio_signal_set_close(stop);
        return err;
    }
    printf("listening on %s:%d%s\n", host, cio_server_port(srv), cert ? " (TLS)" : "");
    int sig = cio_signal_set_wait(stop);
    printf("%s: closing (%zu connections open, %d served)\n",
           sig > 0 ? strsignal(sig) : cio_strerror(sig), cio_server_connections(srv), connections);
    err = cio_server_close(srv, 5.0);
    cio_signal_set_close(stop);
    return err;
}

static const char *opt(const char *a, const char *name)
{
    size_t n = strlen(name);
    return strncmp(a, name, n) == 0 && a[n] == '=' ? a + n + 1 : NULL;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *v;
        if ((v = opt(argv[i], "--host")))
            host = v;
        else if ((v = opt(argv[i], "--port")))
            port = atoi(v);
        else if ((v = opt(argv[i], "--tls-cert")))
            cert = v;
        else if ((v = opt(argv[i], "--tls-key")))
            key = v;
        else {
            fprintf(stderr, "usage: %s [--host=H] [--port=P] [--tls-cert=F --tls-key=F]\n",
                    argv[0]);
            return 2;
        }
    }
    if (!cert != !key) {
        fprintf(stderr, "echo_server: --tls-cert and --tls-key go together\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    return cio_run(serve, NULL) == 0 ? 0 : 1;
}
