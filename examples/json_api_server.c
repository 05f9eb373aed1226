/* A small JSON API server (aiohttp.web's shape): a to-do list in memory.
 *
 *   GET /todos            list       POST /todos {"title": ...}   create (201)
 *   GET /todos/{id}       one (404)  DELETE /todos/{id}           remove (204)
 *
 * Usage: json_api_server [--port N]   (0: a free port, printed). Ctrl-C (or
 * SIGINT) shuts it down gracefully: cio_run cancels the main task, which
 * closes the server after the requests in flight. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cio.h"
#include "cio/http_server.h"

static json_t *todos; /* id (string) -> object */
static int next_id = 1;

static int list(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)req;
    (void)arg;
    json_t *arr = json_array();
    const char *key;
    json_t *value;
    json_object_foreach(todos, key, value) json_array_append(arr, value);
    int err = cio_http_resp_json(resp, arr);
    json_decref(arr);
    return err;
}

static int create(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)arg;
    json_t *in;
    int err = cio_http_req_json(req, &in);
    const char *title = err ? NULL : json_string_value(json_object_get(in, "title"));
    if (!title) {
        json_decref(in);
        cio_http_resp_status(resp, 400);
        json_t *e = json_pack("{s:s}", "error", "a JSON body with a \"title\" string is required");
        err = cio_http_resp_json(resp, e);
        json_decref(e);
        return err;
    }
    char id[16];
    snprintf(id, sizeof(id), "%d", next_id);
    json_t *todo = json_pack("{s:i, s:s, s:b}", "id", next_id++, "title", title, "done", 0);
    json_object_set_new(todos, id, todo);
    json_decref(in);
    cio_http_resp_status(resp, 201);
    return cio_http_resp_json(resp, todo);
}

static int get_one(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)arg;
    json_t *todo = json_object_get(todos, cio_http_req_param(req, "id"));
    if (!todo) {
        cio_http_resp_status(resp, 404);
        todo = json_pack("{s:s}", "error", "no such to-do");
        int err = cio_http_resp_json(resp, todo);
        json_decref(todo);
        return err;
    }
    return cio_http_resp_json(resp, todo);
}

static int remove_one(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)arg;
    int gone = json_object_del(todos, cio_http_req_param(req, "id")) == 0;
    cio_http_resp_status(resp, gone ? 204 : 404);
    return 0;
}

static int port;

static int serve(void *arg)
{
    (void)arg;
    todos = json_object();
    cio_http_app *app;
    cio_http_server *srv;
    int err = cio_http_app_new(&app, NULL);
    if (!err)
        err = cio_http_app_route(app, "GET", "/todos", list, NULL);
    if (!err)
        err = cio_http_app_route(app, "POST", "/todos", create, NULL);
    if (!err)
        err = cio_http_app_route(app, "GET", "/todos/{id}", get_one, NULL);
    if (!err)
        err = cio_http_app_route(app, "DELETE", "/todos/{id}", remove_one, NULL);
    if (!err)
        err = cio_http_serve(&srv, app, "127.0.0.1", port);
    if (err) {
        fprintf(stderr, "json_api_server: cannot serve on port %d: %s\n", port, cio_strerror(err));
        cio_http_app_free(app);
        return err;
    }
    printf("serving on http://127.0.0.1:%d/todos (Ctrl-C stops)\n", cio_http_server_port(srv));
    fflush(stdout);
    cio_sleep(CIO_FOREVER); /* until Ctrl-C cancels the main task */
    cio_scope sh;
    cio_shield_enter(&sh); /* the shutdown itself must not be cut short */
    cio_http_server_close(srv);
    cio_shield_exit(&sh);
    cio_http_app_free(app);
    json_decref(todos);
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
