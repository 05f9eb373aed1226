/* A chat server (the websockets / aiohttp tutorial's chat room): a page at
 * http://127.0.0.1:PORT/ opens a WebSocket to /ws; every text message a
 * member sends goes to every member with cio_ws_broadcast, which never
 * waits on a slow member (one that stops reading is closed at its cap).
 *
 * Usage: ws_chat_server [--port N]   (0: a free port, printed). Ctrl-C stops
 * it: the handlers are cancelled and each connection is closed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cio.h"
#include "cio/http_server.h"
#include "cio/ws.h"

static const char page[] =
    "<!doctype html><html><head><meta charset=utf-8><title>cio chat</title>\n"
    "<style>body{font:15px sans-serif;margin:2em}#log{height:20em;overflow:auto;"
    "border:1px solid #ccc;padding:.5em;white-space:pre-wrap}</style></head><body>\n"
    "<h1>cio chat</h1><div id=log></div>\n"
    "<form id=f><input id=name placeholder=name size=10> <input id=msg size=50 "
    "autocomplete=off> <button>send</button></form>\n"
    "<script>\n"
    "const log = document.getElementById('log');\n"
    "const ws = new WebSocket(`ws://${location.host}/ws`);\n"
    "const show = (t) => { log.textContent += t + '\\n'; log.scrollTop = 1e9; };\n"
    "ws.onopen = () => show('* connected');\n"
    "ws.onmessage = (e) => show(e.data);\n"
    "ws.onclose = (e) => show(`* closed (${e.code})`);\n"
    "document.getElementById('f').onsubmit = (e) => {\n"
    "  e.preventDefault();\n"
    "  const m = document.getElementById('msg');\n"
    "  ws.send((document.getElementById('name').value || 'anon') + ': ' + m.value);\n"
    "  m.value = '';\n"
    "};\n"
    "</script></body></html>\n";

/* The members: a plain array, touched only by this loop's tasks. */
static cio_ws **members;
static size_t nmembers, cap;

static int join_room(cio_ws *ws)
{
    if (nmembers == cap) {
        size_t ncap = cap ? cap * 2 : 16;
        cio_ws **m = realloc(members, ncap * sizeof(*m));
        if (!m)
            return -ENOMEM;
        members = m;
        cap = ncap;
    }
    members[nmembers++] = ws;
    return 0;
}

static void leave_room(cio_ws *ws)
{
    for (size_t i = 0; i < nmembers; i++)
        if (members[i] == ws) {
            members[i] = members[--nmembers];
            return;
        }
}

static void say(const char *text)
{
    cio_ws_broadcast(members, nmembers, CIO_WS_TEXT, text, strlen(text));
}

static int index_page(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)req;
    (void)arg;
    cio_http_resp_header(resp, "Content-Type", "text/html; charset=utf-8");
    return cio_http_resp_body(resp, page, sizeof(page) - 1);
}

static int chat(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)arg;
    cio_ws *ws;
    if (cio_ws_accept(req, resp, &ws, NULL))
        return 0; /* not a WebSocket request: the refusal is sent */
    if (join_room(ws)) {
        cio_ws_close(ws, CIO_WS_INTERNAL_ERROR, "room full");
        return 0;
    }
    say("* someone joined");
    cio_ws_msg m;
    while (cio_ws_recv(ws, &m) == 0) {
        if (m.type == CIO_WS_TEXT)
            say(m.data);
        cio_ws_msg_free(&m);
    }
    leave_room(ws); /* before close: nobody may broadcast to it afterwards */
    cio_ws_close(ws, CIO_WS_NORMAL, NULL);
    say("* someone left");
    return 0;
}

static int port;

static int serve(void *arg)
{
    (void)arg;
    cio_http_app *app;
    cio_http_server *srv;
    int err = cio_http_app_new(&app, NULL);
    if (!err)
        err = cio_http_app_route(app, "GET", "/", index_page, NULL);
    if (!err)
        err = cio_http_app_route(app, "GET", "/ws", chat, NULL);
    if (!err)
        err = cio_http_serve(&srv, app, "127.0.0.1", port);
    if (err) {
        fprintf(stderr, "ws_chat_server: cannot serve on port %d: %s\n", port, cio_strerror(err));
        cio_http_app_free(app);
        return err;
    }
    printf("chat on http://127.0.0.1:%d/ (Ctrl-C stops)\n", cio_http_server_port(srv));
    fflush(stdout);
    cio_sleep(CIO_FOREVER); /* until Ctrl-C cancels the main task */
    cio_scope sh;
    cio_shield_enter(&sh);
    cio_http_server_close(srv);
    cio_shield_exit(&sh);
    cio_http_app_free(app);
    free(members);
    printf("stopped\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--port") == 0)
        port = atoi(argv[2]);
    int err = cio_run(serve, NULL);
    return err && err != -ECANCELED ? 1 : 0;
}
