/* A chat client for ws_chat_server (the websockets tutorial's client): one
 * task prints what the room says while the main task sends.
 *
 * Usage: ws_chat_client URL NAME [MESSAGE...]
 *   with messages: sends each, waits until the room has echoed the last one
 *   back, and leaves; without: sends the lines typed on stdin until EOF. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cio.h"
#include "cio/ws.h"

static const char *url, *name;
static char **msgs;
static int nmsgs;
static char last[512]; /* the line whose echo ends a scripted run */
static cio_event last_seen;

static int printer(void *arg)
{
    cio_ws *ws = arg;
    cio_ws_msg m;
    while (cio_ws_recv(ws, &m) == 0) {
        printf("%s\n", m.data);
        fflush(stdout);
        if (last[0] && strcmp(m.data, last) == 0)
            cio_event_set(&last_seen);
        cio_ws_msg_free(&m);
    }
    cio_event_set(&last_seen); /* the room closed: nothing more will come */
    return 0;
}

static int send_line(cio_ws *ws, const char *text)
{
    snprintf(last, sizeof(last), "%s: %s", name, text);
    return cio_ws_send_text(ws, last);
}

static int client(void *arg)
{
    (void)arg;
    cio_ws *ws;
    int err = cio_ws_connect(&ws, url, NULL);
    if (err) {
        fprintf(stderr, "ws_chat_client: %s: %s (%s)\n", url, cio_strerror(err),
                cio_task_message(cio_current()) ? cio_task_message(cio_current()) : "");
        return err;
    }
    cio_event_init(&last_seen);
    cio_task *p = cio_spawn(printer, ws);
    if (nmsgs) {
        for (int i = 0; i < nmsgs && !err; i++)
            err = send_line(ws, msgs[i]);
    } else {
        cio_stream *in;
        err = cio_stream_from_fd(&in, dup(0), NULL);
        char line[400];
        ssize_t n;
        while (!err && (n = cio_stream_read_line(in, line, sizeof(line))) > 0) {
            line[strcspn(line, "\n")] = 0;
            err = send_line(ws, line);
        }
        cio_stream_close(in);
    }
    if (!err)
        cio_event_wait(&last_seen);
    cio_ws_close(ws, CIO_WS_NORMAL, "bye");
    cio_join(p);
    return err;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: ws_chat_client URL NAME [MESSAGE...]\n");
        return 2;
    }
    url = argv[1];
    name = argv[2];
    msgs = argv + 3;
    nmsgs = argc - 3;
    return cio_run(client, NULL) ? 1 : 0;
}
