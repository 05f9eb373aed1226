/* echo_client — many connections to an echo server at once
 * (asyncio.open_connection), the W7 pair's client side.
 *
 *     async def client(i):
 *         reader, writer = await asyncio.open_connection("127.0.0.1", 8888)
 *         for m in range(msgs):
 *             line = f"client {i} message {m}\n".encode()
 *             writer.write(line)
 *             assert await reader.readline() == line
 *         writer.close()
 *         await writer.wait_closed()
 *
 *     await asyncio.gather(*(client(i) for i in range(conns)))
 *
 * The clients run as tasks of one loop and share it. Each sends its lines one
 * at a time and checks that every echo comes back whole, under a timeout for
 * the whole run (asyncio.timeout). A connection that fails fails the run: the
 * gather cancels the others.
 *
 *   echo_client [--host=H] [--port=P] [--conns=N] [--msgs=M] [--tls-ca=FILE]
 *
 * Defaults: 127.0.0.1:8888, 10 connections, 1000 messages each. With
 * --tls-ca, connects with TLS and trusts that CA (for the server's name,
 * use the host the certificate names, such as localhost). */
#include "cio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *host = "127.0.0.1";
static int port = 8888, conns = 10, msgs = 1000;
static const char *ca;
static cio_tls_config *tls;

static int client(void *arg)
{
    int i = (int)(intptr_t)arg;
    cio_stream_opts o = {.tls = tls};
    cio_stream *s;
    int err = cio_open_connection(&s, host, port, &o);
    if (err)
        return err; /* the message from open_connection names host and port */
    char line[64], back[64];
    for (int m = 0; m < msgs && !err; m++) {
        int n = snprintf(line, sizeof(line), "client %d message %d\n", i, m);
        err = cio_stream_write(s, line, (size_t)n);
        ssize_t r = err ? err : cio_stream_read_line(s, back, sizeof(back));
        if (r < 0)
            err = (int)r;
        else if (r != n || memcmp(line, back, (size_t)n) != 0)
            err = cio_fail(-EBADMSG, "client %d: message %d came back as \"%.*s\"", i, m, (int)r,
                           back);
    }
    int cerr = cio_stream_close(s);
    return err ? err : cerr;
}

static int run(void *arg)
{
    (void)arg;
    if (ca) {
        int err = cio_tls_client_config_new(&tls);
        if (!err)
            err = cio_tls_config_load_ca(tls, ca);
        if (err) {
            fprintf(stderr, "echo_client: TLS: %s\n", cio_strerror(err));
            return err;
        }
    }
    cio_task **t = calloc((size_t)conns, sizeof(*t));
    if (!t)
        return -ENOMEM;
    double t0 = cio_now();
    cio_scope sc;
    cio_timeout_enter(&sc, 60);
    for (int i = 0; i < conns; i++)
        t[i] = cio_spawn(client, (void *)(intptr_t)i);
    int err = cio_gather(t, (size_t)conns, 0);
    cio_timeout_exit(&sc);
    double secs = cio_now() - t0;
    for (int i = 0; i < conns; i++) {
        const char *m = cio_task_message(t[i]);
        int st = cio_task_status(t[i]);
        if (st != 0 && st != -ECANCELED)
            fprintf(stderr, "echo_client: connection %d: %s\n", i, m ? m : cio_strerror(st));
        cio_join(t[i]);
    }
    free(t);
    cio_tls_config_free(tls);
    if (err)
        return err;
    long total = (long)conns * msgs;
    printf("%d connections x %d messages: %ld echoes checked in %.3f s (%.0f round trips/s)\n",
           conns, msgs, total, secs, total / secs);
    return 0;
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
        else if ((v = opt(argv[i], "--conns")))
            conns = atoi(v);
        else if ((v = opt(argv[i], "--msgs")))
            msgs = atoi(v);
        else if ((v = opt(argv[i], "--tls-ca")))
            ca = v;
        else {
            fprintf(stderr,
                    "usage: %s [--host=H] [--port=P] [--conns=N] [--msgs=M] [--tls-ca=FILE]\n",
                    argv[0]);
            return 2;
        }
    }
    if (conns <= 0 || msgs < 0) {
        fprintf(stderr, "echo_client: --conns must be positive, --msgs not negative\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    return cio_run(run, NULL) == 0 ? 0 : 1;
}
