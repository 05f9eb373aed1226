/* The JSON API server (examples/json_api_server.c) with its to-do list kept
 * in SQLite, so it survives a restart:
 *
 *   GET /todos            list       POST /todos {"title": ...}   create (201)
 *   GET /todos/{id}       one (404)  DELETE /todos/{id}           remove (204)
 *
 * Each handler is one or two statements; reads run on the database's reader
 * threads, writes on its writer, and the loop serves other requests
 * meanwhile. Usage: sqlite_todo_server [--port N] [--db PATH] (defaults 0,
 * a free port, and todos.db). Ctrl-C shuts it down gracefully. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cio.h"
#include "cio/http_server.h"
#include "cio/sqlite.h"

static cio_sqlite *db;

static json_t *row_json(cio_sqlite_cursor *cur)
{
    return json_pack("{s:I, s:s, s:b}", "id", (json_int_t)cio_sqlite_column_int64(cur, 0), "title",
                     cio_sqlite_column_text(cur, 1, NULL), "done",
                     (int)cio_sqlite_column_int64(cur, 2));
}

static int reply_error(cio_http_resp *resp, int status, const char *msg)
{
    cio_http_resp_status(resp, status);
    json_t *e = json_pack("{s:s}", "error", msg);
    int err = cio_http_resp_json(resp, e);
    json_decref(e);
    return err;
}

static int list(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)req;
    (void)arg;
    cio_sqlite_cursor *cur;
    int err =
        cio_sqlite_execute(db, &cur, "SELECT id, title, done FROM todos ORDER BY id", NULL, 0);
    if (err)
        return reply_error(resp, 500, cio_sqlite_errmsg(db));
    json_t *arr = json_array();
    while (cio_sqlite_next(cur) == 1)
        json_array_append_new(arr, row_json(cur));
    cio_sqlite_cursor_close(cur);
    err = cio_http_resp_json(resp, arr);
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
        return reply_error(resp, 400, "a JSON body with a \"title\" string is required");
    }
    cio_sqlite_arg a = CIO_SQLITE_ARG_TEXT(title);
    err = cio_sqlite_exec(db, "INSERT INTO todos (title) VALUES (?)", &a, 1);
    json_t *todo =
        err ? NULL
            : json_pack("{s:I, s:s, s:b}", "id", (json_int_t)cio_sqlite_last_insert_id(db), "title",
                        title, "done", 0);
    json_decref(in);
    if (err)
        return reply_error(resp, 500, cio_sqlite_errmsg(db));
    cio_http_resp_status(resp, 201);
    err = cio_http_resp_json(resp, todo);
    json_decref(todo);
    return err;
}

static int get_one(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)arg;
    cio_sqlite_arg id = CIO_SQLITE_ARG_INT(atoll(cio_http_req_param(req, "id")));
    cio_sqlite_cursor *cur;
    int found =
        cio_sqlite_fetchone(db, &cur, "SELECT id, title, done FROM todos WHERE id = ?", &id, 1);
    if (found < 0)
        return reply_error(resp, 500, cio_sqlite_errmsg(db));
    int err;
    if (found) {
        json_t *todo = row_json(cur);
        err = cio_http_resp_json(resp, todo);
        json_decref(todo);
    } else {
        err = reply_error(resp, 404, "no such to-do");
    }
    cio_sqlite_cursor_close(cur);
    return err;
}

static int remove_one(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)arg;
    cio_sqlite_arg id = CIO_SQLITE_ARG_INT(atoll(cio_http_req_param(req, "id")));
    int err = cio_sqlite_exec(db, "DELETE FROM todos WHERE id = ?", &id, 1);
    if (err)
        return reply_error(resp, 500, cio_sqlite_errmsg(db));
    cio_http_resp_status(resp, cio_sqlite_changes(db) ? 204 : 404);
    return 0;
}

static int port;
static const char *path = "todos.db";

static int serve(void *arg)
{
    (void)arg;
    cio_http_app *app = NULL;
    cio_http_server *srv;
    int err = cio_sqlite_open(&db, path, NULL);
    if (!err)
        err = cio_sqlite_exec(db,
                              "CREATE TABLE IF NOT EXISTS todos (id INTEGER PRIMARY KEY, "
                              "title TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0)",
                              NULL, 0);
    if (!err)
        err = cio_http_app_new(&app, NULL);
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
        fprintf(stderr, "sqlite_todo_server: %s, port %d: %s\n", path, port, cio_strerror(err));
        cio_http_app_free(app);
        cio_sqlite_close(db);
        return err;
    }
    printf("serving on http://127.0.0.1:%d/todos (Ctrl-C stops)\n", cio_http_server_port(srv));
    fflush(stdout);
    cio_sleep(CIO_FOREVER); /* until Ctrl-C cancels the main task */
    cio_scope sh;
    cio_shield_enter(&sh); /* the shutdown itself must not be cut short */
    cio_http_server_close(srv);
    cio_sqlite_close(db);
    cio_shield_exit(&sh);
    cio_http_app_free(app);
    printf("stopped\n");
    return 0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc) {
            port = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--db") && i + 1 < argc) {
            path = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--port N] [--db PATH]\n", argv[0]);
            return 2;
        }
    }
    int err = cio_run(serve, NULL);
    return err && err != -ECANCELED ? 1 : 0;
}
