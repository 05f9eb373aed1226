/* libcio-sqlite: real database files in a temporary directory, on both
 * backends. Long statements are recursive CTEs that would run for minutes:
 * a test that finishes proves they were interrupted. */
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "cio_test.h"
#include "cio/sqlite.h"

/* Counts to a billion: minutes of work unless interrupted. */
#define LONG_QUERY                                                                                 \
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) "        \
    "SELECT sum(x) FROM c"

static char dir[64];
static char path[128];

static void make_dir(void)
{
    snprintf(dir, sizeof(dir), "/tmp/cio-sqlite-XXXXXX");
    CIO_ASSERT(mkdtemp(dir) != NULL);
    chmod(dir, 0755);
    snprintf(path, sizeof(path), "%s/test.db", dir);
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CIO_ASSERT_EQ(system(cmd), 0);
}

static cio_sqlite *open_db(const cio_sqlite_opts *o)
{
    cio_sqlite *db = NULL;
    CIO_ASSERT_OK(cio_sqlite_open(&db, path, o));
    CIO_ASSERT(db != NULL);
    return db;
}

static int64_t count_rows(cio_sqlite *db, const char *table)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
    int64_t n = -1;
    CIO_ASSERT_OK(cio_sqlite_fetchval_int64(db, &n, sql, NULL, 0));
    return n;
}

/* Runs body in a loop with the real clock, in a fresh directory. */
static void run_in_dir(cio_fn body)
{
    make_dir();
    CIO_ASSERT_OK(cio_test_run(body, NULL));
    remove_dir();
}

/* ---- open, statements, values ---- */

static int basic_main(void *arg)
{
    (void)arg;
    cio_sqlite *db = open_db(NULL);
    char *mode = NULL;
    CIO_ASSERT_OK(cio_sqlite_fetchval_text(db, &mode, "PRAGMA journal_mode", NULL, 0));
    CIO_ASSERT_STR_EQ(mode, "wal");
    free(mode);
    int64_t v;
    CIO_ASSERT_OK(cio_sqlite_fetchval_int64(db, &v, "PRAGMA foreign_keys", NULL, 0));
    CIO_ASSERT_EQ(v, 1);
    CIO_ASSERT_OK(cio_sqlite_fetchval_int64(db, &v, "PRAGMA synchronous", NULL, 0));
    CIO_ASSERT_EQ(v, 1); /* NORMAL */

    CIO_ASSERT_OK(cio_sqlite_exec(
        db, "CREATE TABLE t (id INTEGER PRIMARY KEY, i INTEGER, d REAL, s TEXT, b BLOB, n)", NULL,
        0));
    cio_sqlite_arg args[] = {CIO_SQLITE_ARG_INT(INT64_MAX), CIO_SQLITE_ARG_DOUBLE(2.5),
                             CIO_SQLITE_ARG_TEXT("héllo"), CIO_SQLITE_ARG_BLOB("a\0b", 3),
                             CIO_SQLITE_ARG_NULL()};
    CIO_ASSERT_OK(
        cio_sqlite_exec(db, "INSERT INTO t (i, d, s, b, n) VALUES (?, ?, ?, ?, ?)", args, 5));
    CIO_ASSERT_EQ(cio_sqlite_last_insert_id(db), 1);
    CIO_ASSERT_EQ(cio_sqlite_changes(db), 1);
    cio_sqlite_arg named[] = {CIO_SQLITE_NAMED(":s", CIO_SQLITE_ARG_TEXTN("xyz", 2)),
                              CIO_SQLITE_NAMED("@i", CIO_SQLITE_ARG_INT(-7))};
    CIO_ASSERT_OK(cio_sqlite_exec(db, "INSERT INTO t (i, s) VALUES (@i, :s)", named, 2));
    CIO_ASSERT_EQ(cio_sqlite_last_insert_id(db), 2);

    cio_sqlite_cursor *cur;
    CIO_ASSERT_OK(
        cio_sqlite_fetchall(db, &cur, "SELECT i, d, s, b, n FROM t ORDER BY id", NULL, 0));
    CIO_ASSERT_EQ(cio_sqlite_column_count(cur), 5);
    CIO_ASSERT_STR_EQ(cio_sqlite_column_name(cur, 2), "s");
    CIO_ASSERT_EQ(cio_sqlite_next(cur), 1);
    CIO_ASSERT_EQ(cio_sqlite_column_type(cur, 0), CIO_SQLITE_INTEGER);
    CIO_ASSERT(cio_sqlite_column_int64(cur, 0) == INT64_MAX);
    CIO_ASSERT(cio_sqlite_column_double(cur, 1) == 2.5);
    size_t len;
    CIO_ASSERT_STR_EQ(cio_sqlite_column_text(cur, 2, &len), "héllo");
    CIO_ASSERT_EQ(len, strlen("héllo"));
    const char *b = cio_sqlite_column_blob(cur, 3, &len);
    CIO_ASSERT_EQ(len, 3);
    CIO_ASSERT(memcmp(b, "a\0b", 3) == 0);
    CIO_ASSERT_EQ(cio_sqlite_column_type(cur, 4), CIO_SQLITE_NULL);
    CIO_ASSERT(cio_sqlite_column_text(cur, 0, &len) == NULL); /* an integer is not text */
    CIO_ASSERT_EQ(cio_sqlite_next(cur), 1);
    CIO_ASSERT_EQ(cio_sqlite_column_int64(cur, 0), -7);
    CIO_ASSERT_STR_EQ(cio_sqlite_column_text(cur, 2, NULL), "xy");
    CIO_ASSERT_EQ(cio_sqlite_next(cur), 0);
    CIO_ASSERT_EQ(cio_sqlite_next(cur), 0);
    cio_sqlite_cursor_close(cur);

    cio_sqlite_arg one = CIO_SQLITE_ARG_INT(-7);
    CIO_ASSERT_EQ(cio_sqlite_fetchone(db, &cur, "SELECT s FROM t WHERE i = ?", &one, 1), 1);
    CIO_ASSERT_STR_EQ(cio_sqlite_column_text(cur, 0, NULL), "xy");
    cio_sqlite_cursor_close(cur);
    one = CIO_SQLITE_ARG_INT(12345);
    CIO_ASSERT_EQ(cio_sqlite_fetchone(db, &cur, "SELECT s FROM t WHERE i = ?", &one, 1), 0);
    cio_sqlite_cursor_close(cur);
    CIO_ASSERT_ERR(cio_sqlite_fetchval_int64(db, &v, "SELECT i FROM t WHERE i = ?", &one, 1),
                   -ENODATA);
    double d;
    CIO_ASSERT_OK(cio_sqlite_fetchval_double(db, &d, "SELECT sum(d) FROM t", NULL, 0));
    CIO_ASSERT(d == 2.5);

    /* A write through a query call runs on the writer (a reader hands it on). */
    CIO_ASSERT_OK(cio_sqlite_execute(db, &cur, "UPDATE t SET n = 1 RETURNING id", NULL, 0));
    int rows = 0;
    while (cio_sqlite_next(cur) == 1)
        rows++;
    cio_sqlite_cursor_close(cur);
    CIO_ASSERT_EQ(rows, 2);
    CIO_ASSERT_OK(cio_sqlite_fetchval_int64(db, &v, "SELECT sum(n) FROM t", NULL, 0));
    CIO_ASSERT_EQ(v, 2);
    CIO_ASSERT_OK(cio_sqlite_close(db));
    return 0;
}

static void test_basic(void)
{
    run_in_dir(basic_main);
}

static int many_main(void *arg)
{
    (void)arg;
    cio_sqlite *db = open_db(NULL);
    CIO_ASSERT_OK(cio_sqlite_executescript(
        db, "CREATE TABLE a (x INTEGER UNIQUE); CREATE TABLE b (y); INSERT INTO b VALUES (1);"));
    cio_sqlite_arg rows[1000];
    for (int i = 0; i < 1000; i++)
        rows[i] = CIO_SQLITE_ARG_INT(i);
    CIO_ASSERT_OK(cio_sqlite_executemany(db, "INSERT INTO a VALUES (?)", rows, 1, 1000));
    CIO_ASSERT_EQ(cio_sqlite_changes(db), 1000);
    CIO_ASSERT_EQ(count_rows(db, "a"), 1000);
    /* A duplicate in the middle: all rows or none. */
    cio_sqlite_arg dup[3] = {CIO_SQLITE_ARG_INT(5000), CIO_SQLITE_ARG_INT(7),
                             CIO_SQLITE_ARG_INT(5001)};
    CIO_ASSERT_ERR(cio_sqlite_executemany(db, "INSERT INTO a VALUES (?)", dup, 1, 3), -EINVAL);
    CIO_ASSERT_EQ(cio_sqlite_errcode(db), SQLITE_CONSTRAINT_UNIQUE);
    CIO_ASSERT(strstr(cio_sqlite_errmsg(db), "UNIQUE") != NULL);
    CIO_ASSERT_EQ(count_rows(db, "a"), 1000);
    /* Two statements in a one-statement call. */
    CIO_ASSERT_ERR(
        cio_sqlite_exec(db, "INSERT INTO b VALUES (2); INSERT INTO b VALUES (3)", NULL, 0),
        -EINVAL);
    /* A script may not leave a transaction open. */
    CIO_ASSERT_ERR(cio_sqlite_executescript(db, "BEGIN; INSERT INTO b VALUES (9);"), -EINVAL);
    CIO_ASSERT_EQ(count_rows(db, "b"), 1);
    CIO_ASSERT_OK(cio_sqlite_exec(db, "INSERT INTO b VALUES (4)", NULL, 0));
    CIO_ASSERT_EQ(count_rows(db, "b"), 2);
    CIO_ASSERT_OK(cio_sqlite_close(db));
    return 0;
}

static void test_executemany_script(void)
{
    run_in_dir(many_main);
}

/* A statement run again with fewer arguments than parameters gets NULL for
 * the rest, not the previous call's values (the worker skips clearing the
 * binds only when every parameter is bound by position). And a transaction's
 * BEGIN, SAVEPOINT, RELEASE and COMMIT, which run through the statement cache,
 * keep working while a 2-statement cache evicts them over and over; an
 * executemany inside a transaction (its own savepoint) that fails rolls back
 * its rows only. */
static int rebind_main(void *arg)
{
    (void)arg;
    cio_sqlite_opts o = {.stmt_cache = 2};
    cio_sqlite *db = open_db(&o);
    CIO_ASSERT_OK(cio_sqlite_exec(db, "CREATE TABLE p (x, y)", NULL, 0));
    const char *ins = "INSERT INTO p VALUES (?, ?)";
    cio_sqlite_arg two[2] = {CIO_SQLITE_ARG_INT(1), CIO_SQLITE_ARG_INT(2)};
    CIO_ASSERT_OK(cio_sqlite_exec(db, ins, two, 2));
    CIO_ASSERT_OK(cio_sqlite_exec(db, ins, two, 1)); /* y unbound: NULL */
    int64_t n = -1;
    CIO_ASSERT_OK(
        cio_sqlite_fetchval_int64(db, &n, "SELECT count(*) FROM p WHERE y IS NULL", NULL, 0));
    CIO_ASSERT_EQ(n, 1);
    cio_sqlite_arg named[1] = {CIO_SQLITE_NAMED(":b", CIO_SQLITE_ARG_INT(5))};
    const char *nins = "INSERT INTO p VALUES (:a, :b)";
    CIO_ASSERT_OK(cio_sqlite_exec(db, nins, two, 2));   /* by position: 1, 2 */
    CIO_ASSERT_OK(cio_sqlite_exec(db, nins, named, 1)); /* :a unbound: NULL */
    CIO_ASSERT_OK(cio_sqlite_fetchval_int64(
        db, &n, "SELECT count(*) FROM p WHERE x IS NULL AND y = 5", NULL, 0));
    CIO_ASSERT_EQ(n, 1);

    CIO_ASSERT_OK(cio_sqlite_exec(db, "CREATE TABLE q (v INTEGER UNIQUE)", NULL, 0));
    cio_sqlite_arg rows[3];
    for (int i = 0; i < 50; i++) {
        cio_sqlite_tx tx, inner;
        CIO_ASSERT_OK(cio_sqlite_begin(db, &tx));
        CIO_ASSERT_OK(cio_sqlite_begin(db, &inner));
        for (int j = 0; j < 3; j++)
            rows[j] = (cio_sqlite_arg)CIO_SQLITE_ARG_INT(i * 3 + j);
        CIO_ASSERT_OK(cio_sqlite_executemany(db, "INSERT INTO q VALUES (?)", rows, 1, 3));
        rows[2] = rows[0]; /* a duplicate: this executemany leaves nothing */
        rows[0] = (cio_sqlite_arg)CIO_SQLITE_ARG_INT(100000 + i);
        CIO_ASSERT_ERR(cio_sqlite_executemany(db, "INSERT INTO q VALUES (?)", rows, 1, 3), -EINVAL);
        CIO_ASSERT_OK(cio_sqlite_commit(&inner));
        if (i % 2)
            CIO_ASSERT_OK(cio_sqlite_rollback(&tx));
        else
            CIO_ASSERT_OK(cio_sqlite_commit(&tx));
    }
    CIO_ASSERT_EQ(count_rows(db, "q"), 25 * 3); /* the committed half, 3 rows each */
    CIO_ASSERT_OK(
        cio_sqlite_fetchval_int64(db, &n, "SELECT count(*) FROM q WHERE v >= 100000", NULL, 0));
    CIO_ASSERT_EQ(n, 0);
    CIO_ASSERT_OK(cio_sqlite_close(db));
    return 0;
}

static void test_rebind_and_cached_tx(void)
{
    run_in_dir(rebind_main);
}

/* ---- errors ---- */

static int syntax_task(void *arg)
{
    return cio_sqlite_exec(arg, "SELEC nonsense", NULL, 0);
}

static int errors_main(void *arg)
{
    (void)arg;
    cio_sqlite *db = open_db(NULL);
    cio_task *t = cio_spawn(syntax_task, db);
    while (!cio_task_done(t))
        cio_yield();
    CIO_ASSERT_ERR(cio_task_status(t), -EINVAL);
    const char *msg = cio_task_message(t);
    CIO_ASSERT(msg && strstr(msg, path) && strstr(msg, "syntax error"));
    cio_join(t);
    CIO_ASSERT_EQ(cio_sqlite_errcode(db) & 0xff, SQLITE_ERROR);
    CIO_ASSERT_ERR(cio_sqlite_fetchval_int64(db, &(int64_t){0}, "SELECT * FROM missing", NULL, 0),
                   -EINVAL);
    CIO_ASSERT(strstr(cio_sqlite_errmsg(db), "no such table") != NULL);
    cio_sqlite_arg bad = CIO_SQLITE_NAMED(":nope", CIO_SQLITE_ARG_INT(1));
    CIO_ASSERT_ERR(cio_sqlite_exec(db, "SELECT :x", &bad, 1), -EINVAL);
    CIO_ASSERT_OK(cio_sqlite_exec(db, "CREATE TABLE p (id INTEGER PRIMARY KEY)", NULL, 0));
    CIO_ASSERT_OK(cio_sqlite_exec(db, "CREATE TABLE c (p INTEGER REFERENCES p(id))", NULL, 0));
    CIO_ASSERT_ERR(cio_sqlite_exec(db, "INSERT INTO c VALUES (42)", NULL, 0), -EINVAL);
    CIO_ASSERT_EQ(cio_sqlite_errcode(db), SQLITE_CONSTRAINT_FOREIGNKEY);
    CIO_ASSERT_OK(cio_sqlite_close(db));

    /* Missing file with no_create; a file that is not a database. */
    cio_sqlite_opts o = {.no_create = 1};
    snprintf(path, sizeof(path), "%s/missing.db", dir);
    cio_sqlite *none = (cio_sqlite *)1;
    CIO_ASSERT_ERR(cio_sqlite_open(&none, path, &o), -ENOENT);
    CIO_ASSERT(none == NULL);
    o = (cio_sqlite_opts){.read_only = 1};
    CIO_ASSERT_ERR(cio_sqlite_open(&none, path, &o), -ENOENT);
    snprintf(path, sizeof(path), "%s/garbage.db", dir);
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 1000; i++)
        fputs("this is not a database file. ", f);
    fclose(f);
    CIO_ASSERT_ERR(cio_sqlite_open(&none, path, NULL), -EBADMSG);
    CIO_ASSERT(strstr(cio_task_message(cio_current()), "not a database") != NULL);

    /* A database whose table pages were overwritten: the query that reads
     * them fails with -EBADMSG (SQLITE_CORRUPT); the schema still works. */
    snprintf(path, sizeof(path), "%s/corrupt.db", dir);
    cio_sqlite *db2 = open_db(NULL);
    CIO_ASSERT_OK(cio_sqlite_executescript(
        db2, "CREATE TABLE big (x);"
             "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000) "
             "INSERT INTO big SELECT randomblob(100) FROM c;"));
    CIO_ASSERT_OK(cio_sqlite_checkpoint(db2, "TRUNCATE", NULL, NULL));
    CIO_ASSERT_OK(cio_sqlite_close(db2));
    f = fopen(path, "r+");
    CIO_ASSERT(f != NULL);
    fseek(f, 4096 * 3, SEEK_SET);
    for (int i = 0; i < 4096 * 20; i++)
        fputc(0x5a, f);
    fclose(f);
    db2 = open_db(NULL);
    int64_t n;
    CIO_ASSERT_ERR(
        cio_sqlite_fetchval_int64(db2, &n, "SELECT count(*) FROM big WHERE x > 0", NULL, 0),
        -EBADMSG);
    CIO_ASSERT_EQ(cio_sqlite_errcode(db2) & 0xff, SQLITE_CORRUPT);
    CIO_ASSERT_OK(cio_sqlite_close(db2));
    return 0;
}

static void test_errors(void)
{
    run_in_dir(errors_main);
}

/* ---- :memory: and read-only ---- */

static int memory_main(void *arg)
{
    (void)arg;
    cio_sqlite *db = NULL;
    CIO_ASSERT_OK(cio_sqlite_open(&db, ":memory:", NULL));
    CIO_ASSERT_OK(cio_sqlite_exec(db, "CREATE TABLE m (x)", NULL, 0));
    CIO_ASSERT_OK(cio_sqlite_exec(db, "INSERT INTO m VALUES (1), (2)", NULL, 0));
    /* Reads see the same database: one connection serves it. */
    CIO_ASSERT_EQ(count_rows(db, "m"), 2);
    CIO_ASSERT_EQ(cio_sqlite_wal_size(db), 0);
    CIO_ASSERT_OK(cio_sqlite_close(db));
    return 0;
}

static void test_memory(void)
{
    CIO_ASSERT_OK(cio_test_run(memory_main, NULL));
}

static int read_only_main(void *arg)
{
    (void)arg;
    cio_sqlite *db = open_db(NULL);
    CIO_ASSERT_OK(cio_sqlite_exec(db, "CREATE TABLE r (x)", NULL, 0));
    CIO_ASSERT_OK(cio_sqlite_exec(db, "INSERT INTO r VALUES (1)", NULL, 0));
    CIO_ASSERT_OK(cio_sqlite_close(db));
    cio_sqlite_opts o = {.read_only = 1};
    db = open_db(&o);
    CIO_ASSERT_EQ(count_rows(db, "r"), 1);
    CIO_ASSERT_ERR(cio_sqlite_exec(db, "INSERT INTO r VALUES (2)", NULL, 0), -EROFS);
    cio_sqlite_tx tx;
    CIO_ASSERT_ERR(cio_sqlite_begin(db, &tx), -EROFS);
    CIO_ASSERT_OK(cio_sqlite_close(db));
    return 0;
}

static void test_read_only(void)
{
    run_in_dir(read_only_main);
}

/* ---- cursors, the statement cache, interact ---- */

/* A database with big(id, s) holding rows 1..20000, s = "row <id>". */
static cio_sqlite *open_big(const cio_sqlite_opts *o)
{
    cio_sqlite *db = open_db(o);
    CIO_ASSERT_OK(cio_sqlite_executescript(
        db, "CREATE TABLE big (id INTEGER PRIMARY KEY, s TEXT);"
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000) "
            "INSERT INTO big SELECT x, printf('row %d', x) FROM c;"));
    return db;
}

static int cursor_main(void *arg)
{
    (void)arg;
    cio_sqlite_opts o = {.chunk_bytes = 4096};
    cio_sqlite *db = open_big(&o);
    cio_sqlite_cursor *cur;
    CIO_ASSERT_OK(cio_sqlite_execute(db, &cur, "SELECT id, s FROM big ORDER BY id", NULL, 0));
    int64_t n = 0;
    char want[32];
    int r;
    while ((r = cio_sqlite_next(cur)) == 1) {
        n++;
        CIO_ASSERT_EQ(cio_sqlite_column_int64(cur, 0), n);
        snprintf(want, sizeof(want), "row %lld", (long long)n);
        CIO_ASSERT_STR_EQ(cio_sqlite_column_text(cur, 1, NULL), want);
    }
    CIO_ASSERT_EQ(r, 0);
    CIO_ASSERT_EQ(n, 20000);
    cio_sqlite_cursor_close(cur);

    /* Inside a transaction the cursor streams from the writer and sees the
     * transaction's own rows; a reader's cursor meanwhile sees its snapshot. */
    cio_sqlite_tx tx;
    CIO_ASSERT_OK(cio_sqlite_begin(db, &tx));
    CIO_ASSERT_OK(cio_sqlite_exec(db, "INSERT INTO big VALUES (20001, 'new')", NULL, 0));
    CIO_ASSERT_OK(cio_sqlite_execute(db, &cur, "SELECT id FROM big", NULL, 0));
    n = 0;
    while (cio_sqlite_next(cur) == 1)
        n++;
    cio_sqlite_cursor_close(cur);
    CIO_ASSERT_EQ(n, 20001);
    CIO_ASSERT_OK(cio_sqlite_commit(&tx));
    CIO_ASSERT_OK(cio_sqlite_execute(db, &cur, "SELECT id FROM big ORDER BY id", NULL, 0));
    CIO_ASSERT_EQ(cio_sqlite_next(cur), 1);
    CIO_ASSERT_OK(cio_sqlite_exec(db, "DELETE FROM big WHERE id > 10000", NULL, 0));
    n = 1;
    while (cio_sqlite_next(cur) == 1)
        n++;
    cio_sqlite_cursor_close(cur);
    CIO_ASSERT_EQ(n, 20001); /* the snapshot the cursor started with */
    CIO_ASSERT_EQ(count_rows(db, "big"), 10000);

    /* A cursor closed halfway lets go of its reader's snapshot: a TRUNCATE
     * checkpoint (which needs every reader gone) completes. */
    CIO_ASSERT_OK(cio_sqlite_execute(db, &cur, "SELECT id FROM big", NULL, 0));
    CIO_ASSERT_EQ(cio_sqlite_next(cur), 1);
    cio_sqlite_cursor_close(cur);
    CIO_ASSERT_OK(cio_sqlite_exec(db, "UPDATE big SET s = 'x' WHERE id = 1", NULL, 0));
    int frames = -1, done = -1;
    CIO_ASSERT_OK(cio_sqlite_checkpoint(db, "TRUNCATE", &frames, &done));
    CIO_ASSERT_EQ(cio_sqlite_wal_size(db), 0);
    CIO_ASSERT_ERR(cio_sqlite_checkpoint(db, "SIDEWAYS", NULL, NULL), -EINVAL);
    CIO_ASSERT_OK(cio_sqlite_close(db));
    return 0;
}

static void test_cursor_chunks(void)
{
    run_in_dir(cursor_main);
}

/* Chunks grow: a scan's refills double the chunk up to 16 x chunk_bytes.
 * A chunk's text lies in one buffer, each value after the one before (NUL
 * included), so a text view that does not follow the last one marks a new
 * chunk: the scan takes far fewer refills than chunks of the first size
 * would need. stepped() is a SQL function run by the worker for each row it
 * steps, so the task sees how far ahead the worker is: never more than two
 * chunks of the largest size (memory stays bounded). */
static long rows_stepped; /* atomic: written on the reader, read on the loop */

static void stepped(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc, (void)argv;
    sqlite3_result_int64(ctx, __atomic_add_fetch(&rows_stepped, 1, __ATOMIC_RELAXED));
}

static int add_stepped(struct sqlite3 *conn, void *arg)
{
    (void)arg;
    return sqlite3_create_function_v2(conn, "stepped", 0, SQLITE_UTF8, NULL, stepped, NULL, NULL,
                                      NULL) == SQLITE_OK
               ? 0
               : -EIO;
}

static int growth_main(void *arg)
{
    (void)arg;
    cio_sqlite_opts o = {.chunk_bytes = 1024};
    cio_sqlite *db = open_big(&o);
    CIO_ASSERT_OK(cio_sqlite_interact_all(db, add_stepped, NULL));
    rows_stepped = 0;
    cio_sqlite_cursor *cur;
    CIO_ASSERT_OK(
        cio_sqlite_execute(db, &cur, "SELECT id, stepped(), s FROM big ORDER BY id", NULL, 0));
    /* A row is at least 3 cells of 24 bytes: the largest chunk (16 KiB)
     * holds at most this many. */
    const long max_chunk_rows = 16 * 1024 / 72 + 1;
    long n = 0, refills = 0, most_ahead = 0;
    const char *next_text = NULL;
    char want[32];
    int r;
    while ((r = cio_sqlite_next(cur)) == 1) {
        n++;
        CIO_ASSERT_EQ(cio_sqlite_column_int64(cur, 0), n);
        CIO_ASSERT_EQ(cio_sqlite_column_int64(cur, 1), n); /* stepped in order */
        snprintf(want, sizeof(want), "row %ld", n);
        size_t len;
        const char *text = cio_sqlite_column_text(cur, 2, &len);
        CIO_ASSERT_STR_EQ(text, want);
        if (text != next_text)
            refills++;
        next_text = text + len + 1;
        long seen = __atomic_load_n(&rows_stepped, __ATOMIC_RELAXED);
        if (seen - n > most_ahead)
            most_ahead = seen - n;
    }
    CIO_ASSERT_EQ(r, 0);
    CIO_ASSERT_EQ(n, 20000);
    cio_sqlite_cursor_close(cur);
    /* 1 KiB chunks of rows of at least 72 bytes would take over 1,400
     * refills; doubling to 16 KiB takes about 110. */
    CIO_ASSERT_CMP(refills, <, 200);
    CIO_ASSERT_CMP(refills, >, 20); /* and the chunks stop growing at 16 KiB */
    CIO_ASSERT_CMP(most_ahead, <=, 2 * max_chunk_rows);
    CIO_ASSERT_OK(cio_sqlite_close(db));
    return 0;
}

static void test_cursor_growth(void)
{
    run_in_dir(growth_main);
}

static int count_stmts(struct sqlite3 *conn, void *arg)
{
    int n = 0;
    for (sqlite3_stmt *s = sqlite3_next_stmt(conn, NULL); s; s = sqlite3_next_stmt(conn, s))
        n++;
    *(int *)arg = n;
    return 0;
}

static int insert_batch(struct sqlite3 *conn, void *arg)
{
    int n = *(int *)arg;
    if (sqlite3_exec(conn, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return -EIO;
    for (int i = 0; i < n; i++)
        if (sqlite3_exec(conn, "INSERT INTO k VALUES (1)", NULL, NULL, NULL) != SQLITE_OK)
            return -EIO;
    return sqlite3_exec(conn, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

static int leave_open(struct sqlite3 *conn, void *arg)
{
    (void)arg;
    sqlite3_exec(conn, "BEGIN; INSERT INTO k VALUES (2)", NULL, NULL, NULL);
    return 0;
}

static void twice(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    sqlite3_result_int64(ctx, 2 * sqlite3_value_int64(argv[0]));
}

static int add_twice(struct sqlite3 *conn, void *arg)
{
    (void)arg;
    return sqlite3_create_function_v2(conn, "twice", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                                      twice, NULL, NULL, NULL) == SQLITE_OK
               ? 0
               : -EIO;
}

static int deny_delete(void *arg, int action, const char *a, const char *b, const char *c,
                       const char *d)
{
    (void)arg, (void)a, (void)b, (void)c, (void)d;
    return action == SQLITE_DELETE ? SQLITE_DENY : SQLITE_OK;
}

static int add_authorizer(struct sqlite3 *conn, void *arg)
{
    (void)arg;
    return sqlite3_set_authorizer(conn, deny_delete, NULL) == SQLITE_OK ? 0 : -EIO;
}

static int hook_calls;

static int count_then_stop(void *arg)
{
    (void)arg;
    return __atomic_add_fetch(&hook_calls, 1, __ATOMIC_RELAXED) >= 50;
}

static int add_progress_hook(struct sqlite3 *conn, void *arg)
{
    return cio_sqlite_progress_hook(conn, arg ? count_then_stop : NULL, NULL);
}

static int cache_main(void *arg)
{
    (void)arg;
    cio_sqlite_opts o = {.stmt_cache = 2};
    cio_sqlite *db = open_db(&o);
    CIO_ASSERT_OK(cio_sqlite_exec(db, "CREATE TABLE k (x)", NULL, 0));
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 5; i++) {
            char sql[64];
            snprintf(sql, sizeof(sql), "INSERT INTO k VALUES (%d)", i);
            CIO_ASSERT_OK(cio_sqlite_exec(db, sql, NULL, 0));
        }
    CIO_ASSERT_EQ(count_rows(db, "k"), 15);
    int n = -1;
    CIO_ASSERT_OK(cio_sqlite_interact(db, count_stmts, &n, CIO_SQLITE_WRITE));
    CIO_ASSERT_EQ(n, 2); /* the LRU kept two statements, no more */

    int batch = 100;
    CIO_ASSERT_OK(cio_sqlite_interact(db, insert_batch, &batch, CIO_SQLITE_WRITE));
    CIO_ASSERT_EQ(count_rows(db, "k"), 115);
    CIO_ASSERT_ERR(cio_sqlite_interact(db, leave_open, NULL, CIO_SQLITE_WRITE), -EINVAL);
    CIO_ASSERT_EQ(count_rows(db, "k"), 115);

    CIO_ASSERT_OK(cio_sqlite_interact_all(db, add_twice, NULL));
    int64_t v;
    CIO_ASSERT_OK(cio_sqlite_fetchval_int64(db, &v, "SELECT twice(21)", NULL, 0));
    CIO_ASSERT_EQ(v, 42);
    CIO_ASSERT_OK(cio_sqlite_exec(db, "INSERT INTO k VALUES (twice(50))", NULL, 0));
    CIO_ASSERT_OK(cio_sqlite_fetchval_int64(db, &v, "SELECT max(x) FROM k", NULL, 0));
    CIO_ASSERT_EQ(v, 100);
    /* An authorizer on every connection: DELETE is refused. */
    CIO_ASSERT_OK(cio_sqlite_interact_all(db, add_authorizer, NULL));
    CIO_ASSERT_ERR(cio_sqlite_exec(db, "DELETE FROM k", NULL, 0), -EACCES);
    CIO_ASSERT_EQ(cio_sqlite_errcode(db), SQLITE_AUTH);
    CIO_ASSERT_EQ(count_rows(db, "k"), 116);

    /* A progress hook on every connection stops a long query; removed, it
     * lets a short one through. Off a worker it is refused. */
    CIO_ASSERT_OK(cio_sqlite_interact_all(db, add_progress_hook, (void *)1));
    CIO_ASSERT_ERR(cio_sqlite_fetchval_int64(db, &v, LONG_QUERY, NULL, 0), -ECANCELED);
    CIO_ASSERT_EQ(cio_sqlite_errcode(db), SQLITE_INTERRUPT);
    CIO_ASSERT_CMP(hook_calls, >=, 50);
    CIO_ASSERT_OK(cio_sqlite_interact_all(db, add_progress_hook, NULL));
    CIO_ASSERT_OK(cio_sqlite_fetchval_int64(db, &v, "SELECT count(*) FROM k", NULL, 0));
    CIO_ASSERT_ERR(cio_sqlite_progress_hook(NULL, count_then_stop, NULL), -EPERM);
    CIO_ASSERT_OK(cio_sqlite_close(db));

    /* Workers that sleep at once (no spin) give the same results. */
    o = (cio_sqlite_opts){.spin = -1};
    db = open_db(&o);
    for (int i = 0; i < 200; i++) {
        cio_sqlite_arg a = CIO_SQLITE_ARG_INT(i);
        CIO_ASSERT_OK(cio_sqlite_fetchval_int64(db, &v, "SELECT ? + 1", &a, 1));
        CIO_ASSERT_EQ(v, i + 1);
    }
    CIO_ASSERT_EQ(count_rows(db, "k"), 116);
    CIO_ASSERT_OK(cio_sqlite_close(db));
    return 0;
}

/* Rows 1..199 at once, then the next one after about 10^9 steps: the
 * cursor's prefetch of its second chunk runs for minutes unless interrupted. */
#define SLOW_AFTER_FIRST_CHUNK                                                                     \
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) "        \
    "SELECT x FROM c WHERE x < 200 OR x = 999999999"

/* Reads the cursor's first chunk (fewer than 199 rows in 1 KiB chunks). */
static int64_t read_first_chunk(cio_sqlite_cursor *cur)
{
    int64_t n = 0;
    for (;;) {
        CIO_ASSERT_EQ(cio_sqlite_next(cur), 1);
        CIO_ASSERT_EQ(cio_sqlite_column_int64(cur, 0), ++n);
        if (n == 20)
            return n; /* 20 rows: well inside the first chunk */
    }
}

static int prefetch_main(void *arg)
{
    (void)arg;
    cio_sqlite_opts o = {.chunk_bytes = 1024};
    cio_sqlite *db = open_db(&o);
    CIO_ASSERT_OK(cio_sqlite_exec(db, "CREATE TABLE p (x)", NULL, 0));

    /* A task waiting in next for a prefetch that runs long: its timeout
     * interrupts the statement within milliseconds, and both readers serve
     * at once afterwards. */
    cio_sqlite_cursor *cur;
    CIO_ASSERT_OK(cio_sqlite_execute(db, &cur, SLOW_AFTER_FIRST_CHUNK, NULL, 0));
    int64_t n = read_first_chunk(cur);
    double t0 = cio_now();
    cio_scope s;
    CIO_ASSERT_OK(cio_timeout_enter(&s, 0.2));
    int r;
    while ((r = cio_sqlite_next(cur)) == 1)
        CIO_ASSERT_EQ(cio_sqlite_column_int64(cur, 0), ++n);
    cio_timeout_exit(&s);
    CIO_ASSERT_ERR(r, -ETIMEDOUT);
    CIO_ASSERT_CMP(n, <, 199); /* it stopped in the slow part */
    CIO_ASSERT_CMP(cio_now() - t0, <, 2.0);
    CIO_ASSERT_EQ(cio_sqlite_next(cur), 0); /* the interrupted statement is over */
    cio_sqlite_cursor_close(cur);
    for (int i = 0; i < 4; i++)
        CIO_ASSERT_EQ(count_rows(db, "p"), 0);

    /* A cursor closed while its prefetch runs long: the prefetch is
     * interrupted, so close finds no work left (0, not -ETIMEDOUT after
     * close_timeout). */
    CIO_ASSERT_OK(cio_sqlite_execute(db, &cur, SLOW_AFTER_FIRST_CHUNK, NULL, 0));
    read_first_chunk(cur);
    cio_sqlite_cursor_close(cur);
    /* Two cursors, each with its prefetch running long on one of the two
     * readers, closed in either order. */
    cio_sqlite_cursor *c1, *c2;
    CIO_ASSERT_OK(cio_sqlite_execute(db, &c1, SLOW_AFTER_FIRST_CHUNK, NULL, 0));
    CIO_ASSERT_OK(cio_sqlite_execute(db, &c2, SLOW_AFTER_FIRST_CHUNK, NULL, 0));
    read_first_chunk(c2);
    cio_sqlite_cursor_close(c2);
    cio_sqlite_cursor_close(c1);
    t0 = cio_now();
    CIO_ASSERT_EQ(count_rows(db, "p"), 0);
    CIO_ASSERT_OK(cio_sqlite_close(db));
    CIO_ASSERT_CMP(cio_now() - t0, <, 2.0);
    return 0;
}

static void test_cursor_prefetch(void)
{
    run_in_dir(prefetch_main);
}

/* ---- a lone request is polled ---- */

static int cancel_it(void *arg)
{
    cio_cancel(arg);
    return 0;
}

/* The database's only request out is polled: the task yields to the loop
 * between looks, so a task spawned just before runs during the poll. Here it
 * cancels the polling task, whose statement must stop. */
static int polled_query(void *arg)
{
    cio_sqlite *db = arg;
    cio_task *killer = cio_spawn(cancel_it, cio_current());
    int64_t v = 0;
    int err = cio_sqlite_fetchval_int64(db, &v, LONG_QUERY, NULL, 0);
    cio_join(killer);
    return err;
}

static int polled_main(void *arg)
{
    (void)arg;
    cio_sqlite_opts o = {.spin = 0.5}; /* polls long enough to be cancelled in one */
    cio_sqlite *db = open_db(&o);
    CIO_ASSERT_OK(cio_sqlite_exec(db, "CREATE TABLE c (x)", NULL, 0));
    for (int i = 0; i < 3; i++) {
        double t0 = cio_now();
        cio_task *t = cio_spawn(polled_query, db);
        CIO_ASSERT_ERR(cio_join(t), -ECANCELED);
        CIO_ASSERT_CMP(cio_now() - t0, <, 2.0);
        /* Polled and unpolled requests right after: usable at once. */
        CIO_ASSERT_OK(cio_sqlite_exec(db, "INSERT INTO c VALUES (1)", NULL, 0));
        CIO_ASSERT_EQ(count_rows(db, "c"), i + 1);
    }
    CIO_ASSERT_OK(cio_sqlite_close(db));
    return 0;
}

static void test_cancel_while_polled(void)
{
    run_in_dir(polled_main);
}

static void test_cache_interact_functions(void)
{
    run_in_dir(cache_main);
}

/* ---- transactions ---- */

static int failing_body(void *arg)
{
    cio_sqlite *db = arg;
    CIO_ASSERT_OK(cio_sqlite_exec(db, "INSERT INTO tx VALUES (100)", NULL, 0));
    return -EIO;
}

static int ok_body(void *arg)
{
    return cio_sqlite_exec(arg, "INSERT INTO tx VALUES (200)", NULL, 0);
}

static int tx_main(void *arg)
{
    (void)arg;
    cio_sqlite *db = open_db(NULL);
    CIO_ASSERT_OK(cio_sqlite_exec(db, "CREATE TABLE tx (x)", NULL, 0));
    cio_sqlite_tx outer, inner;
    CIO_ASSERT_OK(cio_sqlite_begin(db, &outer));
    CIO_ASSERT_OK(cio_sqlite_exec(db, "INSERT INTO tx VALUES (1)", NULL, 0));
    CIO_ASSERT_OK(cio_sqlite_begin(db, &inner));
    CIO_ASSERT_OK(cio_sqlite_exec(db, "INSERT INTO tx VALUES (2)", NULL, 0));
    /* The task's reads run inside its transaction. */
    CIO_ASSERT_EQ(count_rows(db, "tx"), 2);
    CIO_ASSERT_OK(cio_sqlite_rollback(&inner));
    CIO_ASSERT_EQ(count_rows(db, "tx"), 1);
    CIO_ASSERT_OK(cio_sqlite_begin(db, &inner));
    CIO_ASSERT_OK(cio_sqlite_exec(db, "INSERT INTO tx VALUES (3)", NULL, 0));
    CIO_ASSERT_OK(cio_sqlite_commit(&inner));
    CIO_ASSERT_OK(cio_sqlite_commit(&outer));
    CIO_ASSERT_ERR(cio_sqlite_commit(&outer), -EINVAL); /* already ended */
    CIO_ASSERT_EQ(count_rows(db, "tx"), 2);

    CIO_ASSERT_ERR(cio_sqlite_transaction(db, failing_body, db), -EIO);
    CIO_ASSERT_EQ(count_rows(db, "tx"), 2);
    CIO_ASSERT_OK(cio_sqlite_transaction(db, ok_body, db));
    CIO_ASSERT_EQ(count_rows(db, "tx"), 3);
    int64_t v;
    CIO_ASSERT_OK(cio_sqlite_fetchval_int64(db, &v, "SELECT sum(x) FROM tx", NULL, 0));
    CIO_ASSERT_EQ(v, 204);
    CIO_ASSERT_OK(cio_sqlite_close(db));
    return 0;
}

static void test_transactions(void)
{
    run_in_dir(tx_main);
}

typedef struct iso {
    cio_sqlite *db;
    cio_event b_submitting;
    int b_done;
} iso;

static int iso_other(void *arg)
{
    iso *s = arg;
    cio_event_set(&s->b_submitting);
    /* Runs until it parks inside exec: its request is queued by then. */
    CIO_ASSERT_OK(cio_sqlite_exec(s->db, "INSERT INTO iso VALUES ('b')", NULL, 0));
    s->b_done = 1;
    return 0;
}

static int isolation_main(void *arg)
{
    (void)arg;
    iso s = {.db = open_db(NULL)};
    CIO_ASSERT_OK(cio_sqlite_exec(s.db, "CREATE TABLE iso (x)", NULL, 0));
    cio_sqlite_tx tx;
    CIO_ASSERT_OK(cio_sqlite_begin(s.db, &tx));
    CIO_ASSERT_OK(cio_sqlite_exec(s.db, "INSERT INTO iso VALUES ('a1')", NULL, 0));
    cio_task *b = cio_spawn(iso_other, &s);
    CIO_ASSERT_OK(cio_event_wait(&s.b_submitting));
    /* b's insert waits in the writer's queue; ours overtake it. */
    CIO_ASSERT_OK(cio_sqlite_exec(s.db, "INSERT INTO iso VALUES ('a2')", NULL, 0));
    CIO_ASSERT_EQ(s.b_done, 0);
    CIO_ASSERT_OK(cio_sqlite_rollback(&tx));
    CIO_ASSERT_OK(cio_join(b));
    /* b's row survived our rollback: it never ran inside our transaction. */
    char *only = NULL;
    CIO_ASSERT_OK(
        cio_sqlite_fetchval_text(s.db, &only, "SELECT group_concat(x) FROM iso", NULL, 0));
    CIO_ASSERT_STR_EQ(only, "b");
    free(only);
    CIO_ASSERT_OK(cio_sqlite_close(s.db));
    return 0;
}

static void test_tx_isolation(void)
{
    run_in_dir(isolation_main);
}

static int counter_body(void *arg)
{
    cio_sqlite *db = arg;
    int64_t n;
    int err = cio_sqlite_fetchval_int64(db, &n, "SELECT n FROM counter", NULL, 0);
    if (err)
        return err;
    cio_yield(); /* let every other task try to get in between */
    cio_sqlite_arg a = CIO_SQLITE_ARG_INT(n + 1);
    err = cio_sqlite_exec(db, "UPDATE counter SET n = ?", &a, 1);
    if (!err)
        err = cio_sqlite_exec(db, "INSERT INTO log VALUES (?)", &a, 1);
    return err;
}

static int counter_task(void *arg)
{
    return cio_sqlite_transaction(arg, counter_body, arg);
}

static int concurrent_main(void *arg)
{
    (void)arg;
    cio_sqlite *db = open_db(NULL);
    CIO_ASSERT_OK(cio_sqlite_executescript(
        db, "CREATE TABLE counter (n); INSERT INTO counter VALUES (0); CREATE TABLE log (n);"));
    cio_task *t[100];
    for (int i = 0; i < 100; i++)
        t[i] = cio_spawn(counter_task, db);
    for (int i = 0; i < 100; i++)
        CIO_ASSERT_OK(cio_join(t[i]));
    int64_t n;
    CIO_ASSERT_OK(cio_sqlite_fetchval_int64(db, &n, "SELECT n FROM counter", NULL, 0));
    CIO_ASSERT_EQ(n, 100);
    CIO_ASSERT_OK(cio_sqlite_fetchval_int64(db, &n, "SELECT count(DISTINCT n) FROM log", NULL, 0));
    CIO_ASSERT_EQ(n, 100);
    CIO_ASSERT_OK(cio_sqlite_close(db));
    return 0;
}

static void test_100_concurrent_transactions(void)
{
    run_in_dir(concurrent_main);
}

typedef struct rw {
    cio_sqlite *db;
    cio_event reads_done;
    int reads;
} rw;

static int reader_task(void *arg)
{
    rw *s = arg;
    for (int i = 0; i < 50; i++) {
        int64_t n;
        CIO_ASSERT_OK(cio_sqlite_fetchval_int64(s->db, &n, "SELECT count(*) FROM w", NULL, 0));
        CIO_ASSERT_EQ(n, 10); /* the snapshot before the writer's transaction */
        s->reads++;
    }
    cio_event_set(&s->reads_done);
    return 0;
}

static int readers_main(void *arg)
{
    (void)arg;
    rw s = {.db = open_db(NULL)};
    CIO_ASSERT_OK(cio_sqlite_executescript(
        s.db, "CREATE TABLE w (x);"
              "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 10) "
              "INSERT INTO w SELECT x FROM c;"));
    cio_sqlite_tx tx;
    CIO_ASSERT_OK(cio_sqlite_begin(s.db, &tx));
    CIO_ASSERT_OK(cio_sqlite_exec(s.db, "INSERT INTO w SELECT x FROM w", NULL, 0));
    cio_task *r = cio_spawn(reader_task, &s);
    /* The write transaction stays open until the readers are done. */
    CIO_ASSERT_OK(cio_event_wait(&s.reads_done));
    CIO_ASSERT_EQ(s.reads, 50);
    CIO_ASSERT_OK(cio_sqlite_commit(&tx));
    CIO_ASSERT_OK(cio_join(r));
    CIO_ASSERT_EQ(count_rows(s.db, "w"), 20);
    CIO_ASSERT_OK(cio_sqlite_close(s.db));
    return 0;
}

static void test_readers_during_write_tx(void)
{
    run_in_dir(readers_main);
}

/* ---- cancellation ---- */

static int cancel_main(void *arg)
{
    (void)arg;
    cio_sqlite *db = open_db(NULL);
    CIO_ASSERT_OK(cio_sqlite_exec(db, "CREATE TABLE c (x)", NULL, 0));
    for (int where = 0; where < 2; where++) {
        /* where 0: a reader's query; 1: the writer's, inside a transaction. */
        cio_sqlite_tx tx;
        if (where)
            CIO_ASSERT_OK(cio_sqlite_begin(db, &tx));
        if (where)
            CIO_ASSERT_OK(cio_sqlite_exec(db, "INSERT INTO c VALUES (1)", NULL, 0));
        double t0 = cio_now();
        cio_scope s;
        CIO_ASSERT_OK(cio_timeout_enter(&s, 0.2));
        int64_t v = 0;
        int err = cio_sqlite_fetchval_int64(db, &v, LONG_QUERY, NULL, 0);
        CIO_ASSERT_ERR(cio_timeout_exit(&s), -ETIMEDOUT);
        CIO_ASSERT_ERR(err, -ETIMEDOUT);
        double took = cio_now() - t0;
        CIO_ASSERT_CMP(took, <, 2.0); /* 0.2 s and a few ms: not minutes */
        if (where)
            CIO_ASSERT_ERR(cio_sqlite_tx_end(&tx, err), -ETIMEDOUT);
        /* The database is usable at once; the transaction left nothing. */
        CIO_ASSERT_EQ(count_rows(db, "c"), 0);
        CIO_ASSERT_OK(cio_sqlite_exec(db, "INSERT INTO c VALUES (2)", NULL, 0));
        CIO_ASSERT_OK(cio_sqlite_exec(db, "DELETE FROM c", NULL, 0));
    }
    CIO_ASSERT_OK(cio_sqlite_close(db));
    return 0;
}

static void test_cancel_long_query(void)
{
    run_in_dir(cancel_main);
}

static int long_write(void *arg)
{
    return cio_sqlite_exec(arg, "INSERT INTO q " LONG_QUERY, NULL, 0);
}

static int queued_main(void *arg)
{
    (void)arg;
    cio_sqlite *db = open_db(NULL);
    CIO_ASSERT_OK(cio_sqlite_exec(db, "CREATE TABLE q (x)", NULL, 0));
    cio_task *busy = cio_spawn(long_write, db);
    cio_yield(); /* busy's statement is on the writer now */
    /* Ours waits in the writer's queue behind it; a timeout takes it back. */
    double t0 = cio_now();
    cio_scope s;
    CIO_ASSERT_OK(cio_timeout_enter(&s, 0.1));
    int err = cio_sqlite_exec(db, "INSERT INTO q VALUES (1)", NULL, 0);
    cio_timeout_exit(&s);
    CIO_ASSERT_ERR(err, -ETIMEDOUT);
    CIO_ASSERT_CMP(cio_now() - t0, <, 2.0);
    CIO_ASSERT(!cio_task_done(busy));
    cio_cancel(busy);
    CIO_ASSERT_ERR(cio_join(busy), -ECANCELED);
    CIO_ASSERT_EQ(count_rows(db, "q"), 0);
    CIO_ASSERT_OK(cio_sqlite_close(db));
    return 0;
}

static void test_cancel_queued(void)
{
    run_in_dir(queued_main);
}

/* Waits for the write lock another connection holds; times out at once. */
static void expect_lock_wait_cancelled(cio_sqlite *db)
{
    double t0 = cio_now();
    cio_scope s;
    CIO_ASSERT_OK(cio_timeout_enter(&s, 0.2));
    int err = cio_sqlite_exec(db, "INSERT INTO l VALUES (1)", NULL, 0);
    cio_timeout_exit(&s);
    CIO_ASSERT_ERR(err, -ETIMEDOUT);
    double took = cio_now() - t0;
    CIO_ASSERT_CMP(took, >=, 0.19);
    CIO_ASSERT_CMP(took, <, 2.0); /* busy_timeout is 60 s */
}

static int lock_main(void *arg)
{
    (void)arg;
    cio_sqlite_opts o = {.busy_timeout = 60};
    cio_sqlite *db = open_db(&o);
    CIO_ASSERT_OK(cio_sqlite_exec(db, "CREATE TABLE l (x)", NULL, 0));
    sqlite3 *other;
    CIO_ASSERT_EQ(sqlite3_open(path, &other), SQLITE_OK);
    CIO_ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    expect_lock_wait_cancelled(db);
    CIO_ASSERT_EQ(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    CIO_ASSERT_OK(cio_sqlite_exec(db, "INSERT INTO l VALUES (2)", NULL, 0));
    CIO_ASSERT_EQ(count_rows(db, "l"), 1);

    /* With a short busy_timeout the wait gives up with -EBUSY. */
    CIO_ASSERT_OK(cio_sqlite_close(db));
    o.busy_timeout = 0.1;
    db = open_db(&o);
    CIO_ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    CIO_ASSERT_ERR(cio_sqlite_exec(db, "INSERT INTO l VALUES (3)", NULL, 0), -EBUSY);
    CIO_ASSERT_EQ(cio_sqlite_errcode(db) & 0xff, SQLITE_BUSY);
    cio_sqlite_tx tx;
    CIO_ASSERT_ERR(cio_sqlite_begin(db, &tx), -EBUSY);
    CIO_ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    CIO_ASSERT_OK(cio_sqlite_begin(db, &tx));
    CIO_ASSERT_OK(cio_sqlite_commit(&tx));
    sqlite3_close(other);
    CIO_ASSERT_OK(cio_sqlite_close(db));
    return 0;
}

static void test_cancel_lock_wait_connection(void)
{
    run_in_dir(lock_main);
}

static int proc_lock_main(void *arg)
{
    int *fds = arg;
    cio_sqlite_opts o = {.busy_timeout = 60};
    cio_sqlite *db = open_db(&o);
    expect_lock_wait_cancelled(db);
    /* Let the other process go: it commits and exits. */
    CIO_ASSERT_EQ(write(fds[0], "x", 1), 1);
    CIO_ASSERT_OK(cio_sqlite_exec(db, "INSERT INTO l VALUES (2)", NULL, 0));
    CIO_ASSERT_EQ(count_rows(db, "l"), 2);
    CIO_ASSERT_OK(cio_sqlite_close(db));
    return 0;
}

static void test_cancel_lock_wait_process(void)
{
    make_dir();
    int go[2], ready[2];
    CIO_ASSERT_OK(pipe(go));
    CIO_ASSERT_OK(pipe(ready));
    pid_t pid = fork();
    if (pid == 0) {
        sqlite3 *c;
        char x;
        if (sqlite3_open(path, &c) != SQLITE_OK ||
            sqlite3_exec(c,
                         "PRAGMA journal_mode=WAL; CREATE TABLE l (x); BEGIN IMMEDIATE;"
                         "INSERT INTO l VALUES (1)",
                         NULL, NULL, NULL) != SQLITE_OK)
            _exit(1);
        if (write(ready[1], "r", 1) != 1 || read(go[0], &x, 1) != 1)
            _exit(2);
        _exit(sqlite3_exec(c, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? 0 : 3);
    }
    char x;
    CIO_ASSERT_EQ(read(ready[0], &x, 1), 1);
    int fds[1] = {go[1]};
    CIO_ASSERT_OK(cio_test_run(proc_lock_main, fds));
    int st;
    CIO_ASSERT_EQ(waitpid(pid, &st, 0), pid);
    CIO_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    remove_dir();
}

typedef struct txc {
    cio_sqlite *db;
    cio_event holding;
} txc;

static int tx_cancel_child(void *arg)
{
    txc *c = arg;
    cio_sqlite_tx tx;
    CIO_ASSERT_OK(cio_sqlite_begin(c->db, &tx));
    int err = cio_sqlite_exec(c->db, "INSERT INTO tc VALUES (1)", NULL, 0);
    cio_event_set(&c->holding);
    if (!err)
        err = cio_sleep(3600); /* cancelled here, holding the writer */
    return cio_sqlite_tx_end(&tx, err);
}

static int tx_cancel_main(void *arg)
{
    (void)arg;
    txc c = {.db = open_db(NULL)};
    CIO_ASSERT_OK(cio_sqlite_exec(c.db, "CREATE TABLE tc (x)", NULL, 0));
    cio_task *t = cio_spawn(tx_cancel_child, &c);
    CIO_ASSERT_OK(cio_event_wait(&c.holding));
    cio_cancel(t);
    CIO_ASSERT_ERR(cio_join(t), -ECANCELED);
    CIO_ASSERT_EQ(count_rows(c.db, "tc"), 0);
    /* The writer is free again. */
    CIO_ASSERT_OK(cio_sqlite_exec(c.db, "INSERT INTO tc VALUES (2)", NULL, 0));
    CIO_ASSERT_EQ(count_rows(c.db, "tc"), 1);
    CIO_ASSERT_OK(cio_sqlite_close(c.db));
    return 0;
}

static void test_cancel_in_transaction(void)
{
    run_in_dir(tx_cancel_main);
}

/* ---- lifetime ---- */

static int leak_query(void *arg)
{
    int64_t v;
    return cio_sqlite_fetchval_int64(arg, &v, LONG_QUERY, NULL, 0);
}

static int left_open_main(void *arg)
{
    (void)arg;
    cio_sqlite *db = open_db(NULL);
    CIO_ASSERT_OK(cio_sqlite_exec(db, "CREATE TABLE lo (x)", NULL, 0));
    CIO_ASSERT_OK(cio_sqlite_exec(db, "INSERT INTO lo VALUES (1)", NULL, 0));
    cio_detach(cio_spawn(leak_query, db)); /* still running when main returns */
    cio_yield();
    return 0; /* db left open */
}

static int open_and_return(void *arg)
{
    (void)arg;
    open_db(NULL);
    return 0; /* no suspension after the open: the guard never ran yet */
}

static int reopen_main(void *arg)
{
    (void)arg;
    cio_sqlite *db = open_db(NULL);
    CIO_ASSERT_EQ(count_rows(db, "lo"), 1);
    CIO_ASSERT_OK(cio_sqlite_close(db));
    return 0;
}

static void test_left_open_at_exit(void)
{
    make_dir();
    double t0 = cio_now();
    cio_test_capture_stderr_begin();
    int err = cio_test_run(left_open_main, NULL);
    char *out = cio_test_capture_stderr_end();
    CIO_ASSERT_OK(err);
    CIO_ASSERT_CMP(cio_now() - t0, <, 5.0);
    CIO_ASSERT(strstr(out, "still open") && strstr(out, "test_sqlite.c"));
    free(out);
    CIO_ASSERT_OK(cio_test_run(reopen_main, NULL));

    cio_test_capture_stderr_begin();
    err = cio_test_run(open_and_return, NULL);
    out = cio_test_capture_stderr_end();
    CIO_ASSERT_OK(err);
    CIO_ASSERT(strstr(out, "still open"));
    free(out);
    remove_dir();
}

static int close_busy_main(void *arg)
{
    (void)arg;
    cio_sqlite_opts o = {.close_timeout = 0.2};
    cio_sqlite *db = open_db(&o);
    cio_task *q = cio_spawn(leak_query, db);
    cio_yield();
    double t0 = cio_now();
    CIO_ASSERT_ERR(cio_sqlite_close(db), -ETIMEDOUT);
    CIO_ASSERT_CMP(cio_now() - t0, <, 3.0);
    CIO_ASSERT_ERR(cio_join(q), -ECANCELED);
    return 0;
}

static void test_close_interrupts_after_deadline(void)
{
    run_in_dir(close_busy_main);
}

/* ---- the file system says no ---- */

static int ro_dir_main(void *arg)
{
    (void)arg;
    cio_sqlite *db = NULL;
    int err = cio_sqlite_open(&db, path, NULL);
    CIO_ASSERT_ERR(err, -EACCES);
    const char *msg = cio_task_message(cio_current());
    CIO_ASSERT(msg && strstr(msg, "cannot create a file in") && strstr(msg, dir));
    return 0;
}

static void test_read_only_directory(void)
{
    make_dir();
    CIO_ASSERT_OK(chmod(dir, 0555));
    pid_t pid = fork();
    if (pid == 0) {
        /* root writes anywhere: drop to nobody in a child */
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(77);
        _exit(cio_test_run(ro_dir_main, NULL) == 0 ? 0 : 1);
    }
    int st;
    CIO_ASSERT_EQ(waitpid(pid, &st, 0), pid);
    remove_dir();
    if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
        CIO_SKIP("cannot drop root");
    CIO_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static int full_main(void *arg)
{
    (void)arg;
    cio_sqlite *db = open_db(NULL);
    CIO_ASSERT_OK(cio_sqlite_exec(db, "CREATE TABLE f (x BLOB)", NULL, 0));
    for (int i = 0; i < 10; i++)
        CIO_ASSERT_OK(cio_sqlite_exec(db, "INSERT INTO f VALUES (zeroblob(1000))", NULL, 0));
    CIO_ASSERT_OK(cio_sqlite_checkpoint(db, "TRUNCATE", NULL, NULL));
    struct rlimit rl;
    getrlimit(RLIMIT_FSIZE, &rl);
    struct rlimit small = {256 * 1024, rl.rlim_max};
    CIO_ASSERT_OK(setrlimit(RLIMIT_FSIZE, &small));
    cio_sqlite_tx tx;
    CIO_ASSERT_OK(cio_sqlite_begin(db, &tx));
    int err = 0;
    for (int i = 0; i < 1000 && !err; i++)
        err = cio_sqlite_exec(db, "INSERT INTO f VALUES (zeroblob(10000))", NULL, 0);
    CIO_ASSERT(err == -EFBIG || err == -ENOSPC || err == -EIO);
    CIO_ASSERT(cio_sqlite_errcode(db) != 0);
    cio_sqlite_tx_end(&tx, err);
    CIO_ASSERT_OK(setrlimit(RLIMIT_FSIZE, &rl));
    CIO_ASSERT_EQ(count_rows(db, "f"), 10);
    CIO_ASSERT_OK(cio_sqlite_exec(db, "INSERT INTO f VALUES (1)", NULL, 0));
    CIO_ASSERT_OK(cio_sqlite_close(db));
    db = open_db(NULL);
    CIO_ASSERT_EQ(count_rows(db, "f"), 11);
    CIO_ASSERT_OK(cio_sqlite_close(db));
    return 0;
}

static void test_full_disk(void)
{
    signal(SIGXFSZ, SIG_IGN);
    run_in_dir(full_main);
}

/* ---- backup ---- */

typedef struct bk {
    cio_sqlite *db;
    int stop;
    int slices;
} bk;

static int pair_writer(void *arg)
{
    bk *b = arg;
    while (!b->stop) {
        cio_sqlite_tx tx;
        int err = cio_sqlite_begin(b->db, &tx);
        if (!err)
            err = cio_sqlite_exec(b->db, "INSERT INTO p VALUES (randomblob(500))", NULL, 0);
        if (!err)
            err = cio_sqlite_exec(b->db, "INSERT INTO p VALUES (randomblob(500))", NULL, 0);
        if (err == 0)
            err = cio_sqlite_tx_end(&tx, err);
        else if (tx.priv_open)
            cio_sqlite_tx_end(&tx, err);
        if (err)
            return err == -ECANCELED ? 0 : err;
    }
    return 0;
}

static int on_progress(int remaining, int total, void *arg)
{
    bk *b = arg;
    CIO_ASSERT(remaining <= total);
    b->slices++;
    return 0;
}

static int stop_at_third(int remaining, int total, void *arg)
{
    (void)remaining, (void)total;
    return ++*(int *)arg == 3;
}

static int backup_main(void *arg)
{
    (void)arg;
    bk b = {.db = open_db(NULL)};
    CIO_ASSERT_OK(cio_sqlite_executescript(
        b.db, "CREATE TABLE p (x);"
              "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000) "
              "INSERT INTO p SELECT randomblob(500) FROM c;"));
    cio_task *w = cio_spawn(pair_writer, &b);
    char dest[160];
    snprintf(dest, sizeof(dest), "%s/copy.db", dir);
    CIO_ASSERT_OK(cio_sqlite_backup(b.db, dest, 16, on_progress, &b));
    b.stop = 1;
    CIO_ASSERT_OK(cio_join(w));
    CIO_ASSERT_CMP(b.slices, >, 2);
    CIO_ASSERT_OK(cio_sqlite_close(b.db));

    cio_sqlite_opts ro = {.read_only = 1};
    cio_sqlite *copy = NULL;
    CIO_ASSERT_OK(cio_sqlite_open(&copy, dest, &ro));
    char *ok = NULL;
    CIO_ASSERT_OK(cio_sqlite_fetchval_text(copy, &ok, "PRAGMA integrity_check", NULL, 0));
    CIO_ASSERT_STR_EQ(ok, "ok");
    free(ok);
    int64_t n = count_rows(copy, "p");
    CIO_ASSERT(n >= 2000 && n % 2 == 0); /* whole transactions only */
    CIO_ASSERT_OK(cio_sqlite_close(copy));

    /* A backup stopped by its progress function, or cut short by a timeout,
     * returns at once; the database goes on. */
    b.db = open_db(NULL);
    int calls = 0;
    CIO_ASSERT_ERR(cio_sqlite_backup(b.db, dest, 1, stop_at_third, &calls), -ECANCELED);
    CIO_ASSERT_EQ(calls, 3);
    cio_scope s;
    cio_timeout_enter(&s, 0);
    CIO_ASSERT_ERR(cio_sqlite_backup(b.db, dest, 1, NULL, NULL), -ETIMEDOUT);
    cio_timeout_exit(&s);
    CIO_ASSERT_EQ(count_rows(b.db, "p") % 2, 0);
    CIO_ASSERT_OK(cio_sqlite_close(b.db));
    return 0;
}

static void test_backup(void)
{
    run_in_dir(backup_main);
}

int main(int argc, char **argv)
{
    static const cio_test_case tests[] = {
        CIO_TEST(test_basic, "open in WAL/NORMAL/foreign keys; ? and :name binds of every type; "
                             "fetchall/one/val; typed getters; last id and changes; a write "
                             "through a query call reaches the writer"),
        CIO_TEST(test_executemany_script, "executemany is all or nothing; scripts; one "
                                          "statement per exec; a script leaving a transaction "
                                          "open is rolled back"),
        CIO_TEST(test_rebind_and_cached_tx,
                 "fewer arguments than parameters leave the rest NULL; BEGIN/SAVEPOINT/COMMIT "
                 "through a 2-statement cache; a failed executemany in a transaction"),
        CIO_TEST(test_errors, "SQLite errors: errno, extended code, message naming the path; "
                              "missing, read-only missing, non-database and corrupt files"),
        CIO_TEST(test_memory, ":memory: is one database for every task"),
        CIO_TEST(test_read_only, "a read-only database reads and refuses writes with -EROFS"),
        CIO_TEST(test_cursor_chunks, "20,000 rows in 4 KiB chunks, in order; streaming "
                                     "inside a transaction and from a snapshot; a closed "
                                     "cursor lets a TRUNCATE checkpoint through"),
        CIO_TEST(test_cursor_growth, "a scan's chunks double up to 16 x chunk_bytes: far fewer "
                                     "refills, never more than two of the largest ahead"),
        CIO_TEST(test_cursor_prefetch, "a cursor's prefetched next chunk: a timeout in next "
                                       "interrupts it; a cursor closed while it runs lets go "
                                       "at once"),
        CIO_TEST(test_cancel_while_polled, "a task cancelled while it polls for its lone "
                                           "request stops the statement; the database serves "
                                           "at once"),
        CIO_TEST(test_cache_interact_functions, "the LRU keeps stmt_cache statements; interact "
                                                "runs a batch; a user function and an "
                                                "authorizer and a progress hook on every "
                                                "connection; workers "
                                                "without spin"),
        CIO_TEST(test_transactions, "commit, rollback, savepoints, cio_sqlite_transaction"),
        CIO_TEST(test_tx_isolation, "another task's statement queues behind a transaction "
                                    "and never joins it"),
        CIO_TEST(test_100_concurrent_transactions, "100 read-modify-write transactions lose "
                                                   "no update"),
        CIO_TEST(test_readers_during_write_tx, "readers progress while a write transaction "
                                               "stays open"),
        CIO_TEST(test_cancel_long_query, "a minutes-long query on a reader and on the writer "
                                         "in a transaction times out in ms; db reusable"),
        CIO_TEST(test_cancel_queued, "a request queued behind a long one is taken back at "
                                     "once"),
        CIO_TEST(test_cancel_lock_wait_connection, "a wait for another connection's lock stops "
                                                   "when cancelled; busy_timeout gives -EBUSY"),
        CIO_TEST(test_cancel_lock_wait_process, "a wait for another process's lock stops when "
                                                "cancelled"),
        CIO_TEST(test_cancel_in_transaction, "a task cancelled inside a transaction rolls back "
                                             "and frees the writer"),
        CIO_TEST(test_left_open_at_exit, "a database left open (a query running) is closed and "
                                         "reported at cio_run's end, without hanging"),
        CIO_TEST(test_close_interrupts_after_deadline, "close interrupts work still running "
                                                       "after close_timeout"),
        CIO_TEST(test_read_only_directory, "creating a database in a read-only directory: "
                                           "-EACCES"),
        CIO_TEST(test_full_disk, "a full disk (RLIMIT_FSIZE) fails the transaction clearly and "
                                 "loses nothing committed"),
        CIO_TEST(test_backup, "an online backup under concurrent writes is consistent; its "
                              "progress function and a timeout stop it"),
    };
    return cio_test_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]));
}
