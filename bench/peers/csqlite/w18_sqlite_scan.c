/* W18 with SQLite called directly from C: step through every row, reading
 * the three columns. The ceiling. */
#include "args.h"
#include "bench.h"
#include "sqlite_bench.h"

int main(int argc, char **argv)
{
    static const char *const keys[] = {"rows", NULL};
    args_check(argc, argv, keys);
    long rows = arg_long(argc, argv, "rows", 1000000);
    if (rows < 1 || bench_make_db(rows))
        return 2;
    sqlite3 *db;
    sqlite3_stmt *st;
    if (sqlite3_open_v2(bench_db_path(rows), &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
        bench_exec(db, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON") ||
        sqlite3_prepare_v2(db, "SELECT id, k, s FROM t", -1, &st, NULL) != SQLITE_OK)
        return 1;
    double t0 = bench_now();
    long long ids = 0, ks = 0, got = 0;
    size_t text = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        ids += sqlite3_column_int64(st, 0);
        ks += sqlite3_column_int64(st, 1);
        if (sqlite3_column_text(st, 2))
            text += (size_t)sqlite3_column_bytes(st, 2);
        got++;
    }
    double secs = bench_now() - t0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    (void)ks;
    if (got != rows || ids != (long long)rows * (rows + 1) / 2 || !text)
        return 1;
    printf("impl=csqlite workload=w18-scan n=%ld secs=%.6f rows_per_s=%.1f\n", rows, secs,
           (double)rows / secs);
    return 0;
}
