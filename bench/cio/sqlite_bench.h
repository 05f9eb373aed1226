/* Shared by the W17-W19 SQLite programs (cio's and the direct-C ceiling):
 * the table t(id INTEGER PRIMARY KEY, k INTEGER, s TEXT) of `rows` rows in
 * WAL mode with synchronous=NORMAL, built once in a file that every
 * implementation then reads (W17, W18), and the values it holds. */
#ifndef CIO_SQLITE_BENCH_H
#define CIO_SQLITE_BENCH_H

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Row i holds k = k_of(i) and s = "row <i>". */
static inline long long k_of(long long id)
{
    return id * 7 % 1000003;
}

/* The shared file for `rows` rows: /tmp/cio-bench-sqlite-<rows>.db. */
static inline const char *bench_db_path(long rows)
{
    static char path[128];
    snprintf(path, sizeof(path), "/tmp/cio-bench-sqlite-%ld.db", rows);
    return path;
}

static inline int bench_exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "sqlite: %s: %s\n", sql, err ? err : "?");
        sqlite3_free(err);
        return -1;
    }
    return 0;
}

/* Builds the file unless a complete one is there (outside any timing). */
static inline int bench_make_db(long rows)
{
    const char *path = bench_db_path(rows);
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        return -1;
    sqlite3_stmt *st;
    long have = -1;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            have = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    if (have == rows) {
        sqlite3_close(db);
        return 0;
    }
    char sql[512];
    snprintf(sql, sizeof(sql),
             "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; DROP TABLE IF EXISTS t;"
             "CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER, s TEXT);"
             "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < %ld) "
             "INSERT INTO t SELECT x, x * 7 %% 1000003, 'row ' || x FROM c;"
             "PRAGMA wal_checkpoint(TRUNCATE);",
             rows);
    int rc = bench_exec(db, sql);
    sqlite3_close(db);
    return rc;
}

/* A fresh, empty table t for the insert workload: /tmp/cio-bench-w19-<pid>.db. */
static inline const char *bench_fresh_path(void)
{
    static char path[128];
    snprintf(path, sizeof(path), "/tmp/cio-bench-w19-%d.db", (int)getpid());
    return path;
}

static inline void bench_remove_db(const char *path)
{
    char p[160];
    unlink(path);
    snprintf(p, sizeof(p), "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", path);
    unlink(p);
}

/* Deterministic pseudo-random ids in [1, rows] (xorshift). */
static inline long long next_id(unsigned long long *state, long rows)
{
    unsigned long long x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return (long long)(x % (unsigned long long)rows) + 1;
}

#endif
