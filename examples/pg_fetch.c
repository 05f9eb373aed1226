/* The guides' asyncpg program, in C:
 *
 *     conn = await asyncpg.connect("postgresql://user:password@localhost/mydb")
 *     try:
 *         rows = await conn.fetch("SELECT id, name FROM users LIMIT 5")
 *         for row in rows:
 *             print(dict(row))
 *     finally:
 *         await conn.close()
 *
 * and the connection as a scoped resource (`async with DatabaseConnection(dsn)
 * as connection`): a function that opens, runs its body, closes on every path.
 *
 * Usage: pg_fetch DSN   (e.g. "postgresql://user:password@localhost/mydb")
 * It creates a temporary table users with a few rows, so any database works. */
#include <inttypes.h>
#include <stdio.h>

#include "cio.h"
#include "cio/pg.h"

static const char *dsn;

/* The `async with`: connect, run body(conn), close whatever happened. */
static int with_connection(int (*body)(cio_pg_conn *c))
{
    cio_pg_conn *c;
    int err = cio_pg_connect(&c, dsn, NULL);
    if (err)
        return err;
    err = body(c);
    cio_pg_close(c);
    return err;
}

static int show_users(cio_pg_conn *c)
{
    int err = cio_pg_execute(c,
                             "CREATE TEMP TABLE users (id int, name text); "
                             "INSERT INTO users VALUES (1, 'Ada'), (2, 'Grace'), (3, 'Edsger'), "
                             "(4, 'Barbara'), (5, 'Ken'), (6, 'Dennis')",
                             NULL, 0, NULL);
    if (err)
        return err;
    cio_pg_result *rows;
    err = cio_pg_fetch(c, &rows, "SELECT id, name FROM users ORDER BY id LIMIT 5", NULL, 0);
    if (err)
        return err;
    for (size_t r = 0; r < cio_pg_nrows(rows); r++) {
        int64_t id;
        const char *name;
        cio_pg_get_int(rows, r, 0, &id);
        cio_pg_get_text(rows, r, 1, &name, NULL);
        printf("{'id': %" PRId64 ", 'name': '%s'}\n", id, name);
    }
    cio_pg_result_free(rows);
    return 0;
}

static int amain(void *arg)
{
    (void)arg;
    int err = with_connection(show_users);
    if (err)
        fprintf(stderr, "pg_fetch: %s: %s\n", cio_strerror(err), cio_task_message(cio_current()));
    return err;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DSN\n", argv[0]);
        return 2;
    }
    dsn = argv[1];
    return cio_run(amain, NULL) ? 1 : 0;
}
