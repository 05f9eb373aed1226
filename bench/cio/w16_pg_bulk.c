/* W16 pg bulk insert: N rows of (int, text) into a fresh table, first with a
 * pipelined executemany (one round trip), then with COPY.
 * Headline: rows per second (executemany); COPY's rate after it. */
#include <string.h>

#include "pg_bench.h"

static long n;

typedef struct src {
    long next;
} src;

static ssize_t rows_text(void *arg, char *buf, size_t cap)
{
    src *s = arg;
    size_t len = 0;
    while (s->next < n && cap - len > 48)
        len += (size_t)snprintf(buf + len, cap - len, "%ld\tname %ld\n", s->next, s->next),
            s->next++;
    return (ssize_t)len;
}

static int run(void *arg)
{
    double *secs = arg;
    cio_pg_conn *c;
    int err = cio_pg_connect(&c, pg_dsn("w16-pg-bulk"), NULL);
    if (err)
        return pg_bench_fail("w16-pg-bulk", err);
    err = cio_pg_execute(c, "DROP TABLE IF EXISTS w16; CREATE TABLE w16 (id int, name text)", NULL,
                         0, NULL);
    cio_pg_param *p = calloc((size_t)n * 2, sizeof *p);
    char *names = calloc((size_t)n, 24);
    for (long i = 0; i < n; i++) {
        snprintf(names + 24 * i, 24, "name %ld", i);
        p[2 * i] = cio_pg_int4((int32_t)i);
        p[2 * i + 1] = cio_pg_text(names + 24 * i);
    }
    int64_t rows = 0;
    double t0 = bench_now();
    if (!err)
        err = cio_pg_executemany(c, "INSERT INTO w16 VALUES ($1, $2)", p, 2, (size_t)n, &rows);
    secs[0] = bench_now() - t0;
    free(p);
    free(names);
    if (!err && rows != n)
        err = -EPROTO;
    if (!err)
        err = cio_pg_execute(c, "TRUNCATE w16", NULL, 0, NULL);
    src s = {0};
    t0 = bench_now();
    if (!err)
        err = cio_pg_copy_in(c, "COPY w16 FROM STDIN", rows_text, &s, &rows);
    secs[1] = bench_now() - t0;
    if (!err && rows != n)
        err = -EPROTO;
    cio_pg_close(c);
    return err ? pg_bench_fail("w16-pg-bulk", err) : 0;
}

int main(int argc, char **argv)
{
    static const char *const keys[] = {"n", NULL};
    args_check(argc, argv, keys);
    n = arg_long(argc, argv, "n", 100000);
    double secs[2] = {0, 0};
    if (cio_run(run, secs))
        return 1;
    printf("impl=cio workload=w16-pg-bulk n=%ld secs=%.6f rows_per_sec=%.0f copy_secs=%.6f "
           "copy_rows_per_sec=%.0f\n",
           n, secs[0], (double)n / secs[0], secs[1], (double)n / secs[1]);
    return 0;
}
