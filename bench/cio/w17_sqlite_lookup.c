/* W17 sqlite lookups: N primary-key lookups (SELECT k, s FROM t WHERE id = ?)
 * of random ids in a 1M-row table, by one task in sequence (--tasks=1) or by
 * `tasks` tasks sharing them. Each row read is checked. Headline: lookups per
 * second; the loop's lag p99 (a 1 ms ticker task, sqlite_lag.h). */
#include "bench.h"
#include "cio.h"
#include "cio/sqlite.h"
#include "sqlite_bench.h"
#include "sqlite_lag.h"

static long n, tasks, rows, done;
static cio_sqlite *db;
static const char *backend;
static cio_sqlite_opts opts; /* --spin_us: the workers' spin */

static int looker(void *arg)
{
    unsigned long long state = 88172645463325252ull + (unsigned long long)(size_t)arg;
    while (done < n) {
        done++;
        long long id = next_id(&state, rows);
        cio_sqlite_arg a = CIO_SQLITE_ARG_INT(id);
        cio_sqlite_cursor *cur;
        int r = cio_sqlite_fetchone(db, &cur, "SELECT k, s FROM t WHERE id = ?", &a, 1);
        if (r != 1)
            return r < 0 ? r : -ENODATA;
        size_t len;
        const char *s = cio_sqlite_column_text(cur, 1, &len);
        int ok = cio_sqlite_column_int64(cur, 0) == k_of(id) && s && len > 4;
        cio_sqlite_cursor_close(cur);
        if (!ok)
            return -EPROTO;
    }
    return 0;
}

static int run(void *arg)
{
    double *secs = arg;
    backend = cio_backend_name();
    int err = cio_sqlite_open(&db, bench_db_path(rows), &opts);
    if (err)
        return err;
    cio_task **t = calloc((size_t)tasks, sizeof(*t));
    lag_start();
    double t0 = bench_now();
    for (long i = 0; i < tasks; i++)
        t[i] = cio_spawn(looker, (void *)(size_t)i);
    err = cio_gather(t, (size_t)tasks, 0);
    for (long i = 0; i < tasks; i++)
        cio_join(t[i]);
    *secs = bench_now() - t0;
    lag_stop();
    free(t);
    cio_sqlite_close(db);
    return err;
}

int main(int argc, char **argv)
{
    static const char *const keys[] = {"spin_us", "n", "tasks", "rows", NULL};
    args_check(argc, argv, keys);
    long spin = arg_long(argc, argv, "spin_us", 200); /* the library default; 0: none */
    opts.spin = spin ? (double)spin * 1e-6 : -1;
    n = arg_long(argc, argv, "n", 100000);
    tasks = arg_long(argc, argv, "tasks", 1);
    rows = arg_long(argc, argv, "rows", 1000000);
    if (tasks < 1 || rows < 1 || bench_make_db(rows)) {
        fprintf(stderr, "w17-sqlite: bad arguments or cannot build the table\n");
        return 2;
    }
    double secs = 0;
    int err = cio_run(run, &secs);
    if (err) {
        fprintf(stderr, "w17-sqlite: cio: FAILED: %s\n", cio_strerror(err));
        return 1;
    }
    printf("impl=%s workload=w17-lookup-%ld n=%ld tasks=%ld rows=%ld secs=%.6f "
           "lookups_per_s=%.1f lag_p99_ms=%.3f ticks=%zu\n",
           bench_impl(backend), tasks, n, tasks, rows, secs, (double)n / secs, lag_p99_ms(), lag_n);
    return 0;
}
