/* A real-world one: a job queue in a PostgreSQL table, the way services built
 * on asyncpg run background work without another broker.
 *
 *   - a producer inserts jobs in batches (executemany, pipelined) and NOTIFYs;
 *   - a listener on its own connection turns notifications into a wake-up;
 *   - WORKERS tasks share a pool; each claims one job at a time with
 *     UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1), so no
 *     two workers ever take the same job and none waits on another's lock,
 *     does the work, and marks it done, inside one transaction scope.
 *
 * In asyncpg:
 *     async with pool.acquire() as conn, conn.transaction():
 *         job = await conn.fetchrow(CLAIM, worker)
 *
 * Usage: pg_jobqueue DSN   (creates and drops the table cio_jobs) */
#include <inttypes.h>
#include <stdio.h>

#include "cio.h"
#include "cio/pg.h"

enum { JOBS = 60, BATCH = 10, WORKERS = 4 };

static const char CLAIM[] = "UPDATE cio_jobs SET state = 'running', worker = $1 WHERE id = ("
                            "SELECT id FROM cio_jobs WHERE state = 'queued' ORDER BY id "
                            "FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING id, payload";

typedef struct app {
    const char *dsn;
    cio_pg_pool *pool;
    cio_event wake;    /* set on each notification */
    int produced;      /* all jobs are in the table */
    int done[WORKERS]; /* jobs each worker finished */
} app;

typedef struct worker {
    app *a;
    int id;
} worker;

static int fail(const char *what, int err)
{
    fprintf(stderr, "pg_jobqueue: %s: %s: %s\n", what, cio_strerror(err),
            cio_task_message(cio_current()));
    return err;
}

/* Claims one job, "processes" it (the checksum of its payload, computed by
 * the server), marks it done; all in one transaction. 1 when it did a job,
 * 0 when none was queued. */
static int work_one(worker *w, cio_pg_conn *c)
{
    cio_pg_tx tx;
    int err = cio_pg_tx_begin(&tx, c, NULL);
    if (err)
        return err;
    cio_pg_param who[] = {cio_pg_int4(w->id)};
    cio_pg_result *job = NULL;
    err = cio_pg_fetchrow(c, &job, CLAIM, who, 1);
    int did = err == 1;
    if (did) {
        int64_t id;
        const char *payload;
        cio_pg_get_int(job, 0, 0, &id);
        cio_pg_get_text(job, 0, 1, &payload, NULL);
        cio_pg_param p[] = {cio_pg_int8(id), cio_pg_text(payload)};
        err = cio_pg_execute(c,
                             "UPDATE cio_jobs SET state = 'done', result = md5($2) "
                             "WHERE id = $1",
                             p, 2, NULL);
    }
    cio_pg_result_free(job);
    err = cio_pg_tx_end(&tx, err < 0 ? err : 0);
    return err ? err : did;
}

static int worker_main(void *arg)
{
    worker *w = arg;
    app *a = w->a;
    for (;;) {
        cio_pg_conn *c;
        int err = cio_pg_pool_acquire(a->pool, &c);
        if (err)
            return fail("acquire", err);
        int did = work_one(w, c);
        cio_pg_pool_release(a->pool, c);
        if (did < 0)
            return fail("job", did);
        if (did) {
            a->done[w->id]++;
            continue;
        }
        if (a->produced)
            return 0; /* nothing queued and nothing more coming */
        /* Sleep until the next NOTIFY (bounded: a lost wake-up costs 0.2 s). */
        cio_scope sc;
        cio_timeout_enter(&sc, 0.2);
        cio_event_wait(&a->wake);
        cio_timeout_exit(&sc);
    }
}

/* Notifications to wake-ups: set the event so every sleeping worker looks. */
static int dispatcher_main(void *arg)
{
    app *a = arg;
    cio_pg_listener *l;
    int err = cio_pg_listener_new(&l, a->dsn, NULL);
    if (!err)
        err = cio_pg_listen(l, "cio_jobs");
    for (const cio_pg_notification *n; !err && !(err = cio_pg_listener_next(l, &n));) {
        cio_event_set(&a->wake);
        cio_event_clear(&a->wake); /* the waiters are already woken */
    }
    cio_pg_listener_free(l);
    return err == -ECANCELED ? 0 : err;
}

static int produce(app *a, cio_pg_conn *c)
{
    static cio_pg_param rows[BATCH][1];
    static char text[BATCH][32];
    for (int done = 0; done < JOBS; done += BATCH) {
        for (int i = 0; i < BATCH; i++) {
            snprintf(text[i], sizeof text[i], "job %d", done + i);
            rows[i][0] = cio_pg_text(text[i]);
        }
        int err = cio_pg_executemany(c, "INSERT INTO cio_jobs (payload) VALUES ($1)", &rows[0][0],
                                     1, BATCH, NULL);
        if (!err)
            err = cio_pg_execute(c, "NOTIFY cio_jobs", NULL, 0, NULL);
        if (err)
            return fail("produce", err);
        cio_sleep(0.01); /* jobs arrive over time, as they would */
    }
    a->produced = 1;
    cio_event_set(&a->wake);
    return 0;
}

static int amain(void *arg)
{
    static app a;
    a.dsn = arg;
    cio_event_init(&a.wake);
    cio_pg_pool_opts o = {.max_size = WORKERS + 1};
    int err = cio_pg_pool_new(&a.pool, a.dsn, &o);
    if (err)
        return fail("pool", err);
    cio_pg_conn *c;
    err = cio_pg_pool_acquire(a.pool, &c);
    if (!err)
        err = cio_pg_execute(c,
                             "DROP TABLE IF EXISTS cio_jobs; CREATE TABLE cio_jobs ("
                             "id bigserial PRIMARY KEY, payload text NOT NULL, "
                             "state text NOT NULL DEFAULT 'queued', worker int, result text)",
                             NULL, 0, NULL);
    if (err) {
        cio_pg_pool_free(a.pool);
        return fail("setup", err);
    }
    cio_task *disp = cio_spawn(dispatcher_main, &a);
    static worker w[WORKERS];
    cio_task *t[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        w[i] = (worker){&a, i};
        t[i] = cio_spawn(worker_main, &w[i]);
    }
    err = produce(&a, c);
    for (int i = 0; i < WORKERS; i++) {
        int e = cio_join(t[i]);
        if (!err)
            err = e;
    }
    cio_cancel(disp);
    cio_join(disp);
    int64_t done = 0;
    if (!err)
        err = cio_pg_fetchval_int(c, &done,
                                  "SELECT count(*) FROM cio_jobs WHERE state = 'done' AND "
                                  "result = md5(payload)",
                                  NULL, 0);
    if (!err) {
        /* A job claimed twice would make the workers' sum exceed the table's. */
        int claimed = 0;
        for (int i = 0; i < WORKERS; i++)
            claimed += a.done[i];
        printf("%" PRId64 " of %d jobs done, %d claims; per worker:", done, JOBS, claimed);
        for (int i = 0; i < WORKERS; i++)
            printf(" w%d=%d", i, a.done[i]);
        printf("\n");
    }
    cio_pg_execute(c, "DROP TABLE IF EXISTS cio_jobs", NULL, 0, NULL);
    cio_pg_pool_release(a.pool, c);
    cio_pg_pool_free(a.pool);
    cio_event_destroy(&a.wake);
    return err;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DSN\n", argv[0]);
        return 2;
    }
    return cio_run(amain, argv[1]) ? 1 : 0;
}
