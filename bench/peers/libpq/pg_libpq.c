/* The plain libpq C loop, the ceiling for W12 (blocking sequential round trips
 * with a prepared statement), W15 (binary fetch of 1M rows, every value
 * decoded) and W16 (the same N inserts in one pipeline with one Sync, as
 * cio_pg_executemany sends them, then COPY). --workload=12, 15 or 16; the
 * server from CIO_PG_DSN. */
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "args.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int w12(PGconn *c, long n)
{
    PGresult *r = PQprepare(c, "q", "SELECT $1::int", 1, (Oid[]){23});
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return 1;
    PQclear(r);
    double t0 = now();
    for (long i = 0; i < n; i++) {
        uint32_t v = htonl((uint32_t)i);
        const char *vals[] = {(const char *)&v};
        int lens[] = {4}, fmts[] = {1};
        r = PQexecPrepared(c, "q", 1, vals, lens, fmts, 1);
        if (PQresultStatus(r) != PGRES_TUPLES_OK ||
            (long)ntohl(*(uint32_t *)PQgetvalue(r, 0, 0)) != i)
            return 1;
        PQclear(r);
    }
    double secs = now() - t0;
    printf("impl=libpq workload=w12-pg-roundtrips n=%ld secs=%.6f qps=%.0f\n", n, secs, n / secs);
    return 0;
}

static int w15(PGconn *c, long n)
{
    char param[16];
    snprintf(param, sizeof param, "%ld", n);
    const char *vals[] = {param};
    double t0 = now();
    PGresult *r = PQexecParams(c, "SELECT i, i::text, i::float8 FROM generate_series(1, $1::int) i",
                               1, NULL, vals, NULL, NULL, 1);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != n)
        return 1;
    int64_t sum = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        int32_t v = (int32_t)ntohl(*(uint32_t *)PQgetvalue(r, i, 0));
        size_t len = (size_t)PQgetlength(r, i, 1);
        uint64_t u;
        memcpy(&u, PQgetvalue(r, i, 2), 8);
        u = ((uint64_t)ntohl((uint32_t)u) << 32) | ntohl((uint32_t)(u >> 32));
        double d;
        memcpy(&d, &u, 8);
        sum += v + (int64_t)len + (int64_t)d;
    }
    PQclear(r);
    double secs = now() - t0;
    printf("impl=libpq workload=w15-pg-rows n=%ld secs=%.6f rows_per_sec=%.0f check=%lld\n", n,
           secs, n / secs, (long long)sum);
    return 0;
}

/* Reads whatever results have arrived; counts the inserts' command
 * completions. Returns 1 once the pipeline's Sync came back, -1 on error. */
static int w16_collect(PGconn *c, long sent, int synced, long *done)
{
    if (!PQconsumeInput(c))
        return -1;
    while (!PQisBusy(c)) {
        PGresult *r = PQgetResult(c);
        if (!r) {
            /* The end of one query's results, or of all sent so far. */
            if (*done == sent && !synced)
                break;
            continue;
        }
        ExecStatusType st = PQresultStatus(r);
        PQclear(r);
        if (st == PGRES_PIPELINE_SYNC)
            return 1;
        if (st != PGRES_COMMAND_OK)
            return -1;
        ++*done;
    }
    return 0;
}

/* Inserts n rows through a pipeline: send while the socket takes them, read
 * results as they come (neither side's buffers fill up), one Sync at the
 * end. */
static int w16_pipeline(PGconn *c, long n)
{
    PGresult *r = PQprepare(c, "ins", "INSERT INTO w16 VALUES ($1, $2)", 2, (Oid[]){23, 25});
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return 1;
    PQclear(r);
    if (PQsetnonblocking(c, 1) || !PQenterPipelineMode(c))
        return 1;
    long sent = 0, done = 0;
    int synced = 0, finished = 0;
    while (!finished) {
        while (sent < n && PQflush(c) == 0) {
            char name[32];
            uint32_t v = htonl((uint32_t)sent);
            snprintf(name, sizeof name, "name %ld", sent);
            const char *vals[] = {(const char *)&v, name};
            int lens[] = {4, 0}, fmts[] = {1, 0};
            if (!PQsendQueryPrepared(c, "ins", 2, vals, lens, fmts, 0))
                return 1;
            sent++;
        }
        if (sent == n && !synced) {
            if (!PQpipelineSync(c))
                return 1;
            synced = 1;
        }
        int fl = PQflush(c);
        if (fl < 0)
            return 1;
        /* PQflush may have read results into libpq's buffer while the
         * socket was full: take them before waiting for more. */
        int got = w16_collect(c, sent, synced, &done);
        if (got < 0)
            return 1;
        if ((finished = got))
            break;
        if (!fl && sent < n)
            continue; /* room again: send more before waiting */
        struct pollfd p = {.fd = PQsocket(c), .events = POLLIN | (fl ? POLLOUT : 0)};
        if (poll(&p, 1, -1) < 0)
            return 1;
    }
    if (!PQexitPipelineMode(c) || PQsetnonblocking(c, 0))
        return 1;
    return done == n ? 0 : 1;
}

static int w16_copy(PGconn *c, long n)
{
    PGresult *r = PQexec(c, "COPY w16 FROM STDIN");
    if (PQresultStatus(r) != PGRES_COPY_IN)
        return 1;
    PQclear(r);
    static char buf[64 * 1024];
    size_t len = 0;
    for (long i = 0; i < n; i++) {
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%ld\tname %ld\n", i, i);
        if (sizeof buf - len < 48 || i == n - 1) {
            if (PQputCopyData(c, buf, (int)len) != 1)
                return 1;
            len = 0;
        }
    }
    if (PQputCopyEnd(c, NULL) != 1)
        return 1;
    r = PQgetResult(c);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK && atol(PQcmdTuples(r)) == n;
    PQclear(r);
    while ((r = PQgetResult(c)))
        PQclear(r);
    return !ok;
}

static int w16(PGconn *c, long n)
{
    PGresult *r = PQexec(c, "DROP TABLE IF EXISTS w16; CREATE TABLE w16 (id int, name text)");
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return 1;
    PQclear(r);
    double t0 = now();
    if (w16_pipeline(c, n))
        return 1;
    double secs = now() - t0;
    r = PQexec(c, "TRUNCATE w16");
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return 1;
    PQclear(r);
    t0 = now();
    if (w16_copy(c, n))
        return 1;
    double copy_secs = now() - t0;
    printf("impl=libpq workload=w16-pg-bulk n=%ld secs=%.6f rows_per_sec=%.0f copy_secs=%.6f "
           "copy_rows_per_sec=%.0f\n",
           n, secs, n / secs, copy_secs, n / copy_secs);
    return 0;
}

int main(int argc, char **argv)
{
    static const char *const keys[] = {"workload", "n", NULL};
    args_check(argc, argv, keys);
    long w = arg_long(argc, argv, "workload", 12);
    long n = arg_long(argc, argv, "n", w == 15 ? 1000000 : w == 16 ? 100000 : 20000);
    const char *dsn = getenv("CIO_PG_DSN");
    PGconn *c = PQconnectdb(dsn ? dsn : "");
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "libpq: %s", PQerrorMessage(c));
        return 1;
    }
    int rc = w == 15 ? w15(c, n) : w == 16 ? w16(c, n) : w12(c, n);
    if (rc)
        fprintf(stderr, "libpq: FAILED: %s", PQerrorMessage(c));
    PQfinish(c);
    return rc;
}
