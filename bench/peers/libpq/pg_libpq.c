/* The plain libpq C loop, the ceiling for W12 (blocking sequential round trips
 * with a prepared statement) and W15 (binary fetch of 1M rows, every value
 * decoded). --workload=12 or 15; the server from CIO_PG_DSN. */
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <stdint.h>
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

int main(int argc, char **argv)
{
    static const char *const keys[] = {"workload", "n", NULL};
    args_check(argc, argv, keys);
    long w = arg_long(argc, argv, "workload", 12);
    long n = arg_long(argc, argv, "n", w == 15 ? 1000000 : 20000);
    const char *dsn = getenv("CIO_PG_DSN");
    PGconn *c = PQconnectdb(dsn ? dsn : "");
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "libpq: %s", PQerrorMessage(c));
        return 1;
    }
    int rc = w == 15 ? w15(c, n) : w12(c, n);
    if (rc)
        fprintf(stderr, "libpq: FAILED: %s", PQerrorMessage(c));
    PQfinish(c);
    return rc;
}
