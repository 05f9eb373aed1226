/* The guides' aiosqlite program in C:
 *
 *   async with aiosqlite.connect("data.db") as db:
 *       await db.execute("CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT)")
 *       await db.execute("INSERT INTO users (name) VALUES (?)", ("Alice",))
 *       await db.commit()
 *       async with db.execute("SELECT * FROM users") as cursor:
 *           async for row in cursor:
 *               print(row)
 *
 * cio's statements commit on their own (autocommit); the insert runs in an
 * explicit transaction here to show where aiosqlite's commit goes.
 *
 * Usage: aiosqlite_users [PATH]   (default data.db; each run adds one Alice) */
#include <stdio.h>

#include "cio.h"
#include "cio/sqlite.h"

static const char *path = "data.db";

static int amain(void *arg)
{
    (void)arg;
    cio_sqlite *db;
    int err = cio_sqlite_open(&db, path, NULL);
    if (err) {
        fprintf(stderr, "aiosqlite_users: %s: %s\n", path, cio_strerror(err));
        return err;
    }
    err = cio_sqlite_exec(
        db, "CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT)", NULL, 0);
    cio_sqlite_tx tx;
    if (!err)
        err = cio_sqlite_begin(db, &tx);
    if (!err) {
        cio_sqlite_arg name = CIO_SQLITE_ARG_TEXT("Alice");
        err = cio_sqlite_exec(db, "INSERT INTO users (name) VALUES (?)", &name, 1);
        err = cio_sqlite_tx_end(&tx, err); /* db.commit(), or a rollback on failure */
    }
    cio_sqlite_cursor *cur = NULL;
    if (!err)
        err = cio_sqlite_execute(db, &cur, "SELECT * FROM users", NULL, 0);
    while (!err && cio_sqlite_next(cur) == 1) /* async for row in cursor */
        printf("(%lld, '%s')\n", (long long)cio_sqlite_column_int64(cur, 0),
               cio_sqlite_column_text(cur, 1, NULL));
    cio_sqlite_cursor_close(cur);
    if (err)
        fprintf(stderr, "aiosqlite_users: %s (%s)\n", cio_strerror(err), cio_sqlite_errmsg(db));
    cio_sqlite_close(db);
    return err;
}

int main(int argc, char **argv)
{
    if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: %s [PATH]\n", argv[0]);
        return 2;
    }
    if (argc == 2)
        path = argv[1];
    return cio_run(amain, NULL) ? 1 : 0;
}
