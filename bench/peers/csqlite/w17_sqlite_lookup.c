/* W17 with SQLite called directly from C in one thread: the ceiling. One
 * prepared statement, reset after each lookup; --tasks is accepted for the
 * runner's sake and changes nothing (one thread: note=sequential). */
#include "args.h"
#include "bench.h"
#include "sqlite_bench.h"

int main(int argc, char **argv)
{
    static const char *const keys[] = {"n", "tasks", "rows", NULL};
    args_check(argc, argv, keys);
    long n = arg_long(argc, argv, "n", 100000);
    long tasks = arg_long(argc, argv, "tasks", 1);
    long rows = arg_long(argc, argv, "rows", 1000000);
    if (rows < 1 || bench_make_db(rows))
        return 2;
    sqlite3 *db;
    sqlite3_stmt *st;
    if (sqlite3_open_v2(bench_db_path(rows), &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
        bench_exec(db, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON") ||
        sqlite3_prepare_v2(db, "SELECT k, s FROM t WHERE id = ?", -1, &st, NULL) != SQLITE_OK)
        return 1;
    unsigned long long state = 88172645463325252ull;
    double t0 = bench_now();
    for (long i = 0; i < n; i++) {
        long long id = next_id(&state, rows);
        sqlite3_bind_int64(st, 1, id);
        if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_int64(st, 0) != k_of(id) ||
            sqlite3_column_bytes(st, 1) <= 4) {
            fprintf(stderr, "w17: wrong row for id %lld\n", id);
            return 1;
        }
        sqlite3_reset(st);
    }
    double secs = bench_now() - t0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    printf("impl=csqlite workload=w17-lookup-%ld n=%ld tasks=%ld rows=%ld secs=%.6f "
           "lookups_per_s=%.1f note=one-thread\n",
           tasks, n, tasks, rows, secs, (double)n / secs);
    return 0;
}
