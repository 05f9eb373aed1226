/* "Querying 100 DB rows concurrently": 100 tasks, each takes a connection from
 * a pool of 10 (asyncpg.create_pool), reads one row, gives it back.
 *
 *     async with asyncpg.create_pool(dsn, min_size=2, max_size=10) as pool:
 *         async def one(i):
 *             async with pool.acquire() as conn:
 *                 return await conn.fetchrow("SELECT $1::int AS id, md5($1::text)", i)
 *         rows = await asyncio.gather(*(one(i) for i in range(100)))
 *
 * Usage: pg_pool DSN */
#include <stdio.h>

#include "cio.h"
#include "cio/pg.h"

enum { N = 100 };

typedef struct job {
    cio_pg_pool *pool;
    int id;
    char md5[33];
} job;

static int one(void *arg)
{
    job *j = arg;
    cio_pg_conn *c;
    int err = cio_pg_pool_acquire(j->pool, &c);
    if (err)
        return err;
    cio_pg_result *row;
    cio_pg_param p[] = {cio_pg_int4(j->id)};
    err = cio_pg_fetchrow(c, &row, "SELECT $1::int AS id, md5($1::text)", p, 1);
    cio_pg_pool_release(j->pool, c);
    if (err < 0)
        return err;
    const char *s;
    cio_pg_get_text(row, 0, 1, &s, NULL);
    snprintf(j->md5, sizeof j->md5, "%s", s);
    cio_pg_result_free(row);
    return 0;
}

static int amain(void *arg)
{
    cio_pg_pool_opts o = {.min_size = 2, .max_size = 10};
    cio_pg_pool *pool;
    int err = cio_pg_pool_new(&pool, arg, &o);
    if (err) {
        fprintf(stderr, "pg_pool: %s: %s\n", cio_strerror(err), cio_task_message(cio_current()));
        return err;
    }
    static job jobs[N];
    cio_task *t[N];
    double t0 = cio_now();
    for (int i = 0; i < N; i++) {
        jobs[i] = (job){.pool = pool, .id = i};
        t[i] = cio_spawn(one, &jobs[i]);
    }
    err = cio_gather(t, N, 0);
    for (int i = 0; i < N; i++)
        cio_join(t[i]);
    double secs = cio_now() - t0;
    cio_pg_pool_stats st;
    cio_pg_pool_stats_get(pool, &st);
    cio_pg_pool_free(pool);
    if (err) {
        fprintf(stderr, "pg_pool: %s\n", cio_strerror(err));
        return err;
    }
    printf("row 0: id 0 md5 %s\nrow 99: id 99 md5 %s\n", jobs[0].md5, jobs[99].md5);
    printf("%d rows through %zu connections in %.3f s (%zu waits, %.3f s waited)\n", N, st.size,
           secs, (size_t)(st.acquired - st.size), st.wait_time);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DSN\n", argv[0]);
        return 2;
    }
    return cio_run(amain, argv[1]) ? 1 : 0;
}
