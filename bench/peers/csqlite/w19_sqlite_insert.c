/* W19 with SQLite called directly from C: N inserts, autocommit or in
 * transactions of `batch` rows. The ceiling; no loop, so no lag figure. */
#include "args.h"
#include "bench.h"
#include "sqlite_bench.h"

int main(int argc, char **argv)
{
    static const char *const keys[] = {"n", "batch", NULL};
    args_check(argc, argv, keys);
    long n = arg_long(argc, argv, "n", 20000);
    long batch = arg_long(argc, argv, "batch", 1);
    if (batch < 1)
        return 2;
    const char *path = bench_fresh_path();
    bench_remove_db(path);
    sqlite3 *db;
    sqlite3_stmt *st;
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        bench_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                       "PRAGMA foreign_keys=ON;"
                       "CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER, s TEXT)") ||
        sqlite3_prepare_v2(db, "INSERT INTO t (id, k, s) VALUES (?, ?, ?)", -1, &st, NULL) !=
            SQLITE_OK)
        return 1;
    double t0 = bench_now();
    for (long i = 0; i < n;) {
        if (batch > 1 && bench_exec(db, "BEGIN IMMEDIATE"))
            return 1;
        for (long j = 0; j < batch && i < n; j++, i++) {
            sqlite3_bind_int64(st, 1, i + 1);
            sqlite3_bind_int64(st, 2, k_of(i + 1));
            sqlite3_bind_text(st, 3, "row text", -1, SQLITE_TRANSIENT);
            if (sqlite3_step(st) != SQLITE_DONE)
                return 1;
            sqlite3_reset(st);
        }
        if (batch > 1 && bench_exec(db, "COMMIT"))
            return 1;
    }
    double secs = bench_now() - t0;
    sqlite3_finalize(st);
    sqlite3_int64 count = 0;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        count = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    bench_remove_db(path);
    if (count != n)
        return 1;
    printf("impl=csqlite workload=w19-insert-%s n=%ld batch=%ld secs=%.6f rows_per_s=%.1f\n",
           batch > 1 ? "tx" : "auto", n, batch, secs, (double)n / secs);
    return 0;
}
