/* W19 sqlite writes: N inserts into a fresh t, autocommit one by one
 * (--batch=1) or in transactions of `batch` rows, while a ticker task sleeps
 * 1 ms at a time and records how late it wakes (the loop's lag). A batch
 * goes through executemany inside the transaction. The row
 * count is checked. Headline: rows per second; lag p99 in ms. */
#include "bench.h"
#include "cio.h"
#include "cio/sqlite.h"
#include "sqlite_bench.h"
#include "sqlite_lag.h"

static long n, batch;
static const char *backend;
static cio_sqlite_opts opts; /* --spin_us: the workers' spin */
/* Autocommit: one statement, one hop and one commit per row. In
 * transactions: BEGIN IMMEDIATE, the batch's rows through executemany (one
 * hop; the same statement run once per row, as the other sides do), COMMIT. */
static int insert_all(cio_sqlite *db)
{
    cio_sqlite_arg *a = calloc((size_t)batch * 3, sizeof(*a));
    if (!a)
        return -ENOMEM;
    int err = 0;
    for (long i = 0; i < n && !err;) {
        long rows = 0;
        for (; rows < batch && i < n; rows++, i++) {
            a[rows * 3] = (cio_sqlite_arg)CIO_SQLITE_ARG_INT(i + 1);
            a[rows * 3 + 1] = (cio_sqlite_arg)CIO_SQLITE_ARG_INT(k_of(i + 1));
            a[rows * 3 + 2] = (cio_sqlite_arg)CIO_SQLITE_ARG_TEXT("row text");
        }
        if (batch == 1) {
            err = cio_sqlite_exec(db, "INSERT INTO t (id, k, s) VALUES (?, ?, ?)", a, 3);
            continue;
        }
        cio_sqlite_tx tx;
        err = cio_sqlite_begin(db, &tx);
        if (err)
            break;
        err = cio_sqlite_executemany(db, "INSERT INTO t (id, k, s) VALUES (?, ?, ?)", a, 3,
                                     (size_t)rows);
        err = cio_sqlite_tx_end(&tx, err);
    }
    free(a);
    return err;
}

static int run(void *arg)
{
    double *secs = arg;
    backend = cio_backend_name();
    const char *path = bench_fresh_path();
    bench_remove_db(path);
    cio_sqlite *db;
    int err = cio_sqlite_open(&db, path, &opts);
    if (!err)
        err = cio_sqlite_exec(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER, s TEXT)",
                              NULL, 0);
    if (err)
        return err;
    lag_start();
    double t0 = bench_now();
    err = insert_all(db);
    *secs = bench_now() - t0;
    lag_stop();
    int64_t count = 0;
    if (!err)
        err = cio_sqlite_fetchval_int64(db, &count, "SELECT count(*) FROM t", NULL, 0);
    cio_sqlite_close(db);
    bench_remove_db(path);
    if (err)
        return err;
    return count == n ? 0 : -EPROTO;
}

int main(int argc, char **argv)
{
    static const char *const keys[] = {"spin_us", "n", "batch", NULL};
    args_check(argc, argv, keys);
    long spin = arg_long(argc, argv, "spin_us", 200); /* the library default; 0: none */
    opts.spin = spin ? (double)spin * 1e-6 : -1;
    n = arg_long(argc, argv, "n", 20000);
    batch = arg_long(argc, argv, "batch", 1);
    if (batch < 1) {
        fprintf(stderr, "w19-sqlite: --batch must be at least 1\n");
        return 2;
    }
    double secs = 0;
    int err = cio_run(run, &secs);
    if (err) {
        fprintf(stderr, "w19-sqlite: cio: FAILED: %s\n", cio_strerror(err));
        return 1;
    }
    printf("impl=%s workload=w19-insert-%s n=%ld batch=%ld secs=%.6f rows_per_s=%.1f "
           "lag_p99_ms=%.3f ticks=%zu\n",
           bench_impl(backend), batch > 1 ? "tx" : "auto", n, batch, secs, (double)n / secs,
           lag_p99_ms(), lag_n);
    return 0;
}
