/* Shared bits of the PostgreSQL workloads (W12-W16): the server comes from
 * the environment variable CIO_PG_DSN (bench/pg_run.sh starts one). */
#ifndef CIO_PG_BENCH_H
#define CIO_PG_BENCH_H

#include "bench.h"
#include "cio.h"
#include "cio/pg.h"

static const char *pg_dsn(const char *workload)
{
    const char *dsn = getenv("CIO_PG_DSN");
    if (!dsn || !*dsn) {
        fprintf(stderr, "%s: cio: set CIO_PG_DSN to the server's DSN\n", workload);
        exit(2);
    }
    return dsn;
}

static int pg_bench_fail(const char *workload, int err)
{
    fprintf(stderr, "%s: cio: FAILED: %s: %s\n", workload, cio_strerror(err),
            cio_current() ? cio_task_message(cio_current()) : "");
    return err ? err : -EIO;
}

#endif
