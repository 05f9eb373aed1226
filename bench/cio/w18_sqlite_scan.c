/* W18 sqlite scan: iterate all rows of t (SELECT id, k, s FROM t), reading
 * the three columns, through a cursor that fetches rows in chunks. The sum of
 * the ids and of the text lengths is checked. Headline: rows per second; the
 * loop's lag p99 (a 1 ms ticker task, sqlite_lag.h). */
#include "bench.h"
#include "cio.h"
#include "cio/sqlite.h"
#include "sqlite_bench.h"
#include "sqlite_lag.h"

static long rows;
static const char *backend;
static cio_sqlite_opts opts; /* --spin_us: the workers' spin */

static int run(void *arg)
{
    double *secs = arg;
    backend = cio_backend_name();
    cio_sqlite *db;
    int err = cio_sqlite_open(&db, bench_db_path(rows), &opts);
    if (err)
        return err;
    lag_start();
    double t0 = bench_now();
    cio_sqlite_cursor *cur;
    err = cio_sqlite_execute(db, &cur, "SELECT id, k, s FROM t", NULL, 0);
    long long ids = 0, ks = 0, got = 0;
    size_t text = 0;
    while (!err && cio_sqlite_next(cur) == 1) {
        size_t len;
        ids += cio_sqlite_column_int64(cur, 0);
        ks += cio_sqlite_column_int64(cur, 1);
        if (cio_sqlite_column_text(cur, 2, &len))
            text += len;
        got++;
    }
    if (!err)
        err = cio_sqlite_next(cur); /* 0 at the end, or the error that stopped it */
    *secs = bench_now() - t0;
    lag_stop();
    cio_sqlite_cursor_close(cur);
    cio_sqlite_close(db);
    if (err < 0)
        return err;
    (void)ks;
    return got == rows && ids == (long long)rows * (rows + 1) / 2 && text > 0 ? 0 : -EPROTO;
}

int main(int argc, char **argv)
{
    static const char *const keys[] = {"spin_us", "rows", NULL};
    args_check(argc, argv, keys);
    long spin = arg_long(argc, argv, "spin_us", 200); /* the library default; 0: none */
    opts.spin = spin ? (double)spin * 1e-6 : -1;
    rows = arg_long(argc, argv, "rows", 1000000);
    if (rows < 1 || bench_make_db(rows)) {
        fprintf(stderr, "w18-sqlite: bad arguments or cannot build the table\n");
        return 2;
    }
    double secs = 0;
    int err = cio_run(run, &secs);
    if (err) {
        fprintf(stderr, "w18-sqlite: cio: FAILED: %s\n", cio_strerror(err));
        return 1;
    }
    printf("impl=%s workload=w18-scan n=%ld secs=%.6f rows_per_s=%.1f lag_p99_ms=%.3f ticks=%zu\n",
           bench_impl(backend), rows, secs, (double)rows / secs, lag_p99_ms(), lag_n);
    return 0;
}
