/* The guides' real-world project: an async API client.
 *
 * Fetches posts 1-10 and each post's author concurrently, at most 5 requests
 * at a time (a semaphore), hands results to a consumer task through a queue,
 * reports errors per item, and closes its session. No machine here reaches the
 * internet, so by default it starts an embedded JSON API (a cio HTTP server
 * shaped like jsonplaceholder.typicode.com, with a delay per request and one
 * failing post) on a free loopback port; --base-url points it at a real API.
 *
 *   api_client [--base-url URL] [--delay SECONDS] [--posts N]
 *
 * Python's version, in short:
 *     async with aiohttp.ClientSession() as session:
 *         sem = asyncio.Semaphore(5)
 *         async def fetch(id):
 *             async with sem: post = await (await session.get(f"/posts/{id}")).json()
 *             async with sem: user = await (await session.get(f"/users/{post['userId']}")).json()
 *             await queue.put((post, user))
 *         async with asyncio.TaskGroup() as tg:
 *             for id in range(1, 11): tg.create_task(fetch(id))
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cio.h"
#include "cio/http.h"
#include "cio/http_server.h"

static const char *base_url;
static double delay = 0.2;
static int nposts = 10;

/* ---- the embedded JSON API ---- */

static const char *const titles[] = {"sunt aut facere repellat provident",
                                     "qui est esse",
                                     "ea molestias quasi exercitationem",
                                     "eum et est occaecati",
                                     "nesciunt quas odio",
                                     "dolorem eum magni eos aperiam",
                                     "magnam facilis autem",
                                     "dolorem dolore est ipsam",
                                     "nesciunt iure omnis dolorem",
                                     "optio molestias id quia eum"};

static const char *const names[] = {"Leanne Graham", "Ervin Howell", "Clementine Bauch",
                                    "Patricia Lebsack", "Chelsey Dietrich"};

static int api_post(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)arg;
    int id = atoi(cio_http_req_param(req, "id"));
    int err = cio_sleep(delay); /* a server that takes its time */
    if (err)
        return err;
    if (id == 7) /* one broken record, to show error handling */
        return cio_fail(-EIO, "post 7 is corrupt");
    if (id < 1 || id > 100) {
        cio_http_resp_status(resp, 404);
        return cio_http_resp_json(resp, json_object());
    }
    json_t *post =
        json_pack("{s:i, s:i, s:s, s:s}", "userId", (id - 1) % 5 + 1, "id", id, "title",
                  titles[(id - 1) % 10], "body", "quia et suscipit recusandae consequuntur");
    err = cio_http_resp_json(resp, post);
    json_decref(post);
    return err;
}

static int api_user(cio_http_req *req, cio_http_resp *resp, void *arg)
{
    (void)arg;
    int id = atoi(cio_http_req_param(req, "id"));
    int err = cio_sleep(delay);
    if (err)
        return err;
    if (id < 1 || id > 5) {
        cio_http_resp_status(resp, 404);
        return cio_http_resp_json(resp, json_object());
    }
    char email[64];
    snprintf(email, sizeof(email), "user%d@example.org", id);
    json_t *user = json_pack("{s:i, s:s, s:s}", "id", id, "name", names[id - 1], "email", email);
    err = cio_http_resp_json(resp, user);
    json_decref(user);
    return err;
}

/* ---- the client ---- */

typedef struct result {
    int id;
    int err;
    char title[128];
    char author[64];
    char error[256];
} result;

typedef struct shared {
    cio_http_session *session;
    cio_sem limit;
    cio_queue results;
} shared;

typedef struct job {
    shared *sh;
    int id;
} job;

/* GET url as JSON under the semaphore. */
static int fetch_json(shared *sh, const char *url, json_t **out)
{
    int err = cio_sem_acquire(&sh->limit);
    if (err)
        return err;
    err = cio_http_get_json(sh->session, url, out);
    cio_sem_release(&sh->limit);
    return err;
}

static void fetch_one(shared *sh, int id, result *r)
{
    char url[64];
    json_t *post = NULL, *user = NULL;
    r->id = id;
    snprintf(url, sizeof(url), "/posts/%d", id);
    r->err = fetch_json(sh, url, &post);
    if (!r->err) {
        snprintf(r->title, sizeof(r->title), "%s",
                 json_string_value(json_object_get(post, "title")));
        snprintf(url, sizeof(url), "/users/%lld",
                 (long long)json_integer_value(json_object_get(post, "userId")));
        r->err = fetch_json(sh, url, &user);
    }
    if (!r->err)
        snprintf(r->author, sizeof(r->author), "%s",
                 json_string_value(json_object_get(user, "name")));
    else
        snprintf(r->error, sizeof(r->error), "%s",
                 cio_task_message(cio_current()) ? cio_task_message(cio_current())
                                                 : cio_strerror(r->err));
    json_decref(post);
    json_decref(user);
}

static int fetch_task(void *arg)
{
    job *j = arg;
    result *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    fetch_one(j->sh, j->id, r);
    int err = cio_queue_put(&j->sh->results, r);
    if (err)
        free(r);
    return err; /* a failed fetch is reported through the queue, not as a failure */
}

static int consumer(void *arg)
{
    shared *sh = arg;
    int ok = 0, failed = 0;
    for (;;) {
        void *item;
        int err = cio_queue_get(&sh->results, &item);
        if (err || !item) /* NULL: the producers are done */
            break;
        result *r = item;
        if (r->err) {
            printf("  post %2d: ERROR %s\n", r->id, r->error);
            failed++;
        } else {
            printf("  post %2d: \"%s\" by %s\n", r->id, r->title, r->author);
            ok++;
        }
        free(r);
    }
    printf("  -> %d fetched, %d failed\n", ok, failed);
    return 0;
}

static int concurrent_fetch(shared *sh)
{
    cio_task *cons = cio_spawn(consumer, sh);
    job jobs[100];
    cio_group *g;
    int err = cio_group_new(&g);
    for (int i = 0; !err && i < nposts; i++) {
        jobs[i] = (job){sh, i + 1};
        cio_group_spawn(g, fetch_task, &jobs[i]);
    }
    err = cio_group_wait(g);
    cio_group_free(g);
    cio_queue_put(&sh->results, NULL);
    cio_join(cons);
    return err;
}

static void sequential_fetch(shared *sh)
{
    for (int id = 1; id <= nposts; id++) {
        result r = {0};
        fetch_one(sh, id, &r);
    }
}

static int demo(void *arg)
{
    (void)arg;
    cio_http_app *app = NULL;
    cio_http_server *srv = NULL;
    char url[64];
    int err = 0;
    if (!base_url) {
        cio_http_server_opts so = {.quiet = 1}; /* post 7's 500 is part of the show */
        err = cio_http_app_new(&app, &so);
        if (!err)
            err = cio_http_app_route(app, "GET", "/posts/{id}", api_post, NULL);
        if (!err)
            err = cio_http_app_route(app, "GET", "/users/{id}", api_user, NULL);
        if (!err)
            err = cio_http_serve(&srv, app, "127.0.0.1", 0);
        if (err) {
            fprintf(stderr, "api_client: cannot start the embedded API: %s\n", cio_strerror(err));
            cio_http_app_free(app);
            return err;
        }
        snprintf(url, sizeof(url), "http://127.0.0.1:%d", cio_http_server_port(srv));
        base_url = url;
        printf("embedded JSON API at %s (%.0f ms per request; post 7 fails)\n", base_url,
               delay * 1000);
    }
    shared sh;
    cio_http_session_opts so = {.base_url = base_url};
    err = cio_http_session_new(&sh.session, &so);
    if (err)
        goto out;
    cio_sem_init(&sh.limit, 5);
    cio_queue_init(&sh.results, 0);

    printf("\nfetching %d posts and their authors, 5 requests at a time:\n", nposts);
    double t0 = cio_now();
    err = concurrent_fetch(&sh);
    double concurrent = cio_now() - t0;
    printf("\nthe same fetches one after another...\n");
    t0 = cio_now();
    sequential_fetch(&sh);
    double sequential = cio_now() - t0;
    printf("\nconcurrent: %.2f s   one after another: %.2f s   (%.1fx faster)\n", concurrent,
           sequential, sequential / concurrent);

    cio_queue_destroy(&sh.results);
    cio_sem_destroy(&sh.limit);
    cio_http_session_close(sh.session);
out:
    if (srv)
        cio_http_server_close(srv);
    cio_http_app_free(app);
    return err;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* results appear as they arrive */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--base-url") == 0 && i + 1 < argc)
            base_url = argv[++i];
        else if (strcmp(argv[i], "--delay") == 0 && i + 1 < argc)
            delay = atof(argv[++i]);
        else if (strcmp(argv[i], "--posts") == 0 && i + 1 < argc)
            nposts = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--base-url URL] [--delay SECONDS] [--posts N]\n", argv[0]);
            return 2;
        }
    }
    if (nposts < 1 || nposts > 100 || delay < 0) {
        fprintf(stderr, "api_client: --posts must be 1..100 and --delay >= 0\n");
        return 2;
    }
    int err = cio_run(demo, NULL);
    if (err) {
        fprintf(stderr, "api_client: %s\n", cio_strerror(err));
        return 1;
    }
    return 0;
}
