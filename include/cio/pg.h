/* libcio-pg: PostgreSQL for cio tasks, the asyncpg way, on libpq 15.
 *
 * A connection is owned by one driver task that alone touches libpq's socket:
 * it waits for readiness on the loop, reads whenever the socket is readable,
 * and sends the requests of every task that uses the connection in order, in
 * libpq's pipeline mode, so tasks sharing a connection get their queries
 * pipelined. Parameters and results travel in PostgreSQL's binary format
 * (results in text when a column's type is one cio does not decode) and are
 * read with C-typed getters. Statements are prepared automatically and
 * kept in a per-connection LRU cache.
 *
 * Cancellation: a task cancelled (or timed out) while its query runs returns
 * the reason at once and never waits for the server. The driver then sends a
 * CancelRequest from a worker thread, drains the connection to ReadyForQuery,
 * and only then serves the next request; a connection that cannot be cleaned
 * within the cancel grace period is closed instead. See docs/internals/pg.md.
 *
 * Ownership: pointer arguments are borrowed for the call. A result stays
 * valid until cio_pg_result_free, also after its connection closes; the
 * strings and bytes its getters return live as long as the result.
 *
 * Link with pkg-config's cio-pg (or the CMake target cio_pg_static).
 */
#ifndef CIO_PG_H
#define CIO_PG_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_pg_conn cio_pg_conn;
typedef struct cio_pg_result cio_pg_result;
typedef struct cio_pg_pool cio_pg_pool;

/* The type OIDs the getters and parameters know (pg_type.oid). */
enum {
    CIO_PG_BOOL = 16,
    CIO_PG_BYTEA = 17,
    CIO_PG_NAME = 19,
    CIO_PG_INT8 = 20,
    CIO_PG_INT2 = 21,
    CIO_PG_INT4 = 23,
    CIO_PG_TEXT = 25,
    CIO_PG_OID = 26,
    CIO_PG_JSON = 114,
    CIO_PG_FLOAT4 = 700,
    CIO_PG_FLOAT8 = 701,
    CIO_PG_UNKNOWN = 705,
    CIO_PG_BPCHAR = 1042,
    CIO_PG_VARCHAR = 1043,
    CIO_PG_DATE = 1082,
    CIO_PG_TIME = 1083,
    CIO_PG_TIMESTAMP = 1114,
    CIO_PG_TIMESTAMPTZ = 1184,
    CIO_PG_INTERVAL = 1186,
    CIO_PG_NUMERIC = 1700,
    CIO_PG_UUID = 2950,
    CIO_PG_JSONB = 3802,
};

/* A server error, as PostgreSQL reported it. Fields are "" when absent. */
typedef struct cio_pg_error {
    char sqlstate[6];     /* five characters, e.g. "23505" */
    const char *severity; /* "ERROR", "FATAL" */
    const char *message;
    const char *detail;
    const char *hint;
} cio_pg_error;

/* Called for each notice (NOTICE, WARNING, ...) the server sends. Runs on the
 * driver task; must not suspend. */
typedef void (*cio_pg_notice_fn)(void *arg, const char *severity, const char *sqlstate,
                                 const char *message);

/* Options for a connection. Zero-initialise; zero fields take the defaults. */
typedef struct cio_pg_opts {
    /* Bound on the whole connect (resolve, TCP, TLS, authentication, every
     * host). 0: none beyond each attempt's (the DSN's connect_timeout, per
     * host) when the DSN has one, else 10 s. */
    double connect_timeout;
    /* application_name sent to the server (overrides the DSN's). */
    const char *application_name;
    /* Automatic prepared statements kept per connection. 0: 100. */
    size_t statement_cache_size;
    /* Never create named prepared statements (every query is parsed again,
     * unnamed): for pgbouncer in transaction mode. */
    int no_named_statements;
    /* How long the driver may take to clean a connection after a cancelled
     * query (CancelRequest and drain) before it closes it. 0: 5 s. */
    double cancel_grace;
    /* With several hosts (or a name with several addresses): how long an
     * attempt runs alone before the next target's attempt starts alongside
     * it (Happy Eyeballs, RFC 8305). 0: 0.25 s; negative: one target at a
     * time, the next only when the previous failed. */
    double host_race_delay;
    cio_pg_notice_fn notice_fn;
    void *notice_arg;
} cio_pg_opts;

/* ---- parameters ----
 * A query's $1..$n are an array of cio_pg_param, made by the constructors
 * below, e.g. `cio_pg_param p[] = {cio_pg_int4(7), cio_pg_text("x")};`.
 * Scalars are sent in binary with their type; text goes as type "unknown" and
 * the server infers it (so "$1::date" with cio_pg_text("2024-01-31") works).
 * Strings and bytes are borrowed until the query call returns. */
typedef struct cio_pg_param {
    uint32_t oid;    /* 0: let the server infer the type */
    int format;      /* 0 text, 1 binary */
    int len;         /* bytes, -1 for NULL */
    const char *ptr; /* the value, or NULL: the bytes in inl */
    unsigned char inl[16];
} cio_pg_param;

static inline cio_pg_param cio_pg__scalar(uint32_t oid, uint64_t v, int len)
{
    cio_pg_param p;
    memset(&p, 0, sizeof p);
    p.oid = oid;
    p.format = 1;
    p.len = len;
    for (int i = 0; i < len; i++)
        p.inl[i] = (unsigned char)(v >> (8 * (len - 1 - i)));
    return p;
}

/* SQL NULL (its type is inferred by the server). */
static inline cio_pg_param cio_pg_null(void)
{
    cio_pg_param p;
    memset(&p, 0, sizeof p);
    p.len = -1;
    return p;
}
static inline cio_pg_param cio_pg_bool(int v)
{
    return cio_pg__scalar(CIO_PG_BOOL, v ? 1 : 0, 1);
}
static inline cio_pg_param cio_pg_int2(int16_t v)
{
    return cio_pg__scalar(CIO_PG_INT2, (uint16_t)v, 2);
}
static inline cio_pg_param cio_pg_int4(int32_t v)
{
    return cio_pg__scalar(CIO_PG_INT4, (uint32_t)v, 4);
}
static inline cio_pg_param cio_pg_int8(int64_t v)
{
    return cio_pg__scalar(CIO_PG_INT8, (uint64_t)v, 8);
}
static inline cio_pg_param cio_pg_float4(float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    return cio_pg__scalar(CIO_PG_FLOAT4, u, 4);
}
static inline cio_pg_param cio_pg_float8(double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    return cio_pg__scalar(CIO_PG_FLOAT8, u, 8);
}
/* A timestamp (or with CIO_PG_TIMESTAMPTZ, timestamptz) in microseconds
 * since 1970-01-01 00:00 UTC. */
static inline cio_pg_param cio_pg_timestamp(uint32_t oid, int64_t usec_since_1970)
{
    return cio_pg__scalar(oid, (uint64_t)(usec_since_1970 - INT64_C(946684800000000)), 8);
}
/* A date in days since 1970-01-01. */
static inline cio_pg_param cio_pg_date(int32_t days_since_1970)
{
    return cio_pg__scalar(CIO_PG_DATE, (uint32_t)(days_since_1970 - 10957), 4);
}
/* Text, NUL-terminated; the server infers the type. NULL pointer: SQL NULL. */
static inline cio_pg_param cio_pg_text(const char *s)
{
    cio_pg_param p = cio_pg_null();
    if (s) {
        p.ptr = s;
        p.len = (int)strlen(s);
    }
    return p;
}
/* Text of a known length (need not be NUL-terminated). */
static inline cio_pg_param cio_pg_textn(const char *s, size_t len)
{
    cio_pg_param p = cio_pg_null();
    p.ptr = s;
    p.len = (int)len;
    return p;
}
/* Bytes as bytea, sent in binary. */
static inline cio_pg_param cio_pg_bytea(const void *data, size_t len)
{
    cio_pg_param p = cio_pg_null();
    p.oid = CIO_PG_BYTEA;
    p.format = 1;
    p.ptr = (const char *)data;
    p.len = (int)len;
    return p;
}
/* A uuid from its 16 bytes. */
static inline cio_pg_param cio_pg_uuid(const uint8_t bytes[16])
{
    cio_pg_param p = cio_pg_null();
    p.oid = CIO_PG_UUID;
    p.format = 1;
    p.len = 16;
    memcpy(p.inl, bytes, 16);
    return p;
}

/* ---- connections ---- */

/* Connects to PostgreSQL (asyncpg.connect). dsn is a URI
 * ("postgresql://user:pw@host:5432/db?sslmode=require&application_name=x")
 * or key=value pairs ("host=/tmp port=5432 dbname=db"), with every libpq
 * setting (TLS: sslmode, sslrootcert, sslcert...; server settings through
 * options="-c search_path=x"). Host names are resolved with cio's resolver and
 * handed to libpq as hostaddr, so nothing blocks the loop.
 * Several hosts (host=a,b port=p,q), and every address of a name, are raced:
 * the first target's attempt starts at once, the next when one fails or
 * after opts->host_race_delay (0.25 s), and the first to give a session of
 * the kind target_session_attrs asks (any, read-write, read-only, primary,
 * standby; prefer-standby: standbys first, then any) wins; the others are
 * closed. The DSN's connect_timeout bounds each attempt (libpq's meaning),
 * opts->connect_timeout the whole connect.
 * Returns 0 and *out, or -ETIMEDOUT, -ECONNREFUSED, -ENOENT (unknown host or
 * database), -EACCES (rejected login), -EINVAL (malformed DSN, host and
 * port lists of different lengths), -EROFS (no host gave a session of the
 * kind asked), -ECONNRESET (other failures); the task's cio_fail message
 * names each host tried with libpq's reason. Suspends: yes.
 * Cancellation: returns the reason; every attempt is closed. */
CIO_API int cio_pg_connect(cio_pg_conn **out, const char *dsn, const cio_pg_opts *opts);

/* Closes the connection: requests still waiting fail with -ECONNRESET, the
 * driver task ends, the socket is closed. NULL is a no-op.
 * Suspends: briefly, to let the driver task finish (never on the server).
 * Cancellation: still closes everything. */
CIO_API void cio_pg_close(cio_pg_conn *c);

/* 1 if the connection failed (server gone, closed after a cancel that could
 * not be cleaned) and can only be closed, else 0. Suspends: no. */
CIO_API int cio_pg_is_broken(const cio_pg_conn *c);

/* 1 while the connection is inside a transaction block (server side), else 0.
 * Suspends: no. */
CIO_API int cio_pg_in_transaction(const cio_pg_conn *c);

/* The server's backend process id (pg_backend_pid()). Suspends: no. */
CIO_API int cio_pg_backend_pid(const cio_pg_conn *c);

/* The last server error seen on this connection, or NULL: valid until the
 * connection's next failing request or close. With several tasks sharing the
 * connection, prefer the task's cio_fail message. Suspends: no. */
CIO_API const cio_pg_error *cio_pg_last_error(const cio_pg_conn *c);

/* ---- queries ----
 * Errors of every query call: a server error maps to a negative errno by
 * SQLSTATE class (-EEXIST unique/exclusion violation, -EINVAL syntax and
 * undefined objects (-ENOENT for an undefined table or column), -EAGAIN
 * serialization failure or deadlock, -EDOM division by zero, -ERANGE data out
 * of range, -EACCES insufficient privilege, -ECANCELED query cancelled,
 * -EIO otherwise); the task's cio_fail message says
 * "SQLSTATE: message (detail) hint", and cio_pg_last_error has the fields.
 * -ECONNRESET: the connection broke. -EINVAL: NULL arguments.
 * Suspends: yes. Cancellation: returns the reason at once; the driver cancels
 * the query on the server and cleans the connection before its next request
 * (see the top of this header). */

/* Runs a command (asyncpg's execute). *rows_affected (may be NULL) gets the
 * count from the command tag (0 where the command has none). With no
 * parameters, sql may hold several statements (simple query protocol).
 * Suspends: yes. Cancellation: as above (the reason; the server query is
 * cancelled by the driver). */
CIO_API int cio_pg_execute(cio_pg_conn *c, const char *sql, const cio_pg_param *params,
                           size_t nparams, int64_t *rows_affected);

/* Runs a query and returns all its rows (asyncpg's fetch) in *out, to free
 * with cio_pg_result_free. *out is NULL on failure.
 * Suspends: yes. Cancellation: as above (the reason; the server query is
 * cancelled by the driver). */
CIO_API int cio_pg_fetch(cio_pg_conn *c, cio_pg_result **out, const char *sql,
                         const cio_pg_param *params, size_t nparams);

/* Runs a query and returns its first row as a result of one row (asyncpg's
 * fetchrow). Returns 1 and *out, or 0 with *out NULL when there is no row.
 * Suspends: yes. Cancellation: as above (the reason; the server query is
 * cancelled by the driver). */
CIO_API int cio_pg_fetchrow(cio_pg_conn *c, cio_pg_result **out, const char *sql,
                            const cio_pg_param *params, size_t nparams);

/* Runs a query and reads the first column of its first row (asyncpg's
 * fetchval) as an integer, a double, or a malloc'd NUL-terminated text copy
 * (free it). Returns 0, -ENODATA when the value is NULL or there is no row,
 * -EDOM when the column has another type.
 * Suspends: yes. Cancellation: as above (the reason; the server query is
 * cancelled by the driver). */
CIO_API int cio_pg_fetchval_int(cio_pg_conn *c, int64_t *out, const char *sql,
                                const cio_pg_param *params, size_t nparams);
CIO_API int cio_pg_fetchval_double(cio_pg_conn *c, double *out, const char *sql,
                                   const cio_pg_param *params, size_t nparams);
CIO_API int cio_pg_fetchval_text(cio_pg_conn *c, char **out, const char *sql,
                                 const cio_pg_param *params, size_t nparams);

/* ---- results ----
 * Getters return 0, -ENODATA for NULL (NULL is distinct from every value),
 * -ERANGE for a row or column out of range, -EDOM when the column's type has
 * no such reading. Suspends: no. */

/* Frees a result. NULL is a no-op. Suspends: no. */
CIO_API void cio_pg_result_free(cio_pg_result *r);
/* The number of rows / of columns (0 for NULL). Suspends: no. */
CIO_API size_t cio_pg_nrows(const cio_pg_result *r);
CIO_API int cio_pg_ncols(const cio_pg_result *r);
/* A column's name, or NULL out of range. Suspends: no. */
CIO_API const char *cio_pg_colname(const cio_pg_result *r, int col);
/* A column's index by name, or -1. Suspends: no. */
CIO_API int cio_pg_colindex(const cio_pg_result *r, const char *name);
/* A column's type OID (CIO_PG_INT4, ...), or 0 out of range. Suspends: no. */
CIO_API uint32_t cio_pg_coltype(const cio_pg_result *r, int col);
/* The command tag ("INSERT 0 3", "SELECT 2"). Suspends: no. */
CIO_API const char *cio_pg_cmd_status(const cio_pg_result *r);
/* 1 if the value is NULL, 0 if not, -ERANGE out of range. Suspends: no. */
CIO_API int cio_pg_isnull(const cio_pg_result *r, size_t row, int col);

/* bool. Suspends: no. */
CIO_API int cio_pg_get_bool(const cio_pg_result *r, size_t row, int col, int *out);
/* int2, int4, int8, oid. Suspends: no. */
CIO_API int cio_pg_get_int(const cio_pg_result *r, size_t row, int col, int64_t *out);
/* float4, float8, numeric (rounded), and the integer types. Suspends: no. */
CIO_API int cio_pg_get_double(const cio_pg_result *r, size_t row, int col, double *out);
/* numeric as exact decimal text ("-12.340", "NaN", "Infinity").
 * Suspends: no. */
CIO_API int cio_pg_get_numeric(const cio_pg_result *r, size_t row, int col, const char **out);
/* Text: a zero-copy view for text, varchar, bpchar, name, json, jsonb and
 * types cio does not decode (inet, point, money, enums...: a statement with
 * such a column is fetched in PostgreSQL's text format, every column, and the
 * getters read that format too); the other known types are formatted as
 * PostgreSQL prints them. The view is NUL-terminated; *len (may be NULL) gets
 * its length. A batch's results are binary unless the statement was fetched
 * before on the connection (then its format is known). Suspends: no. */
CIO_API int cio_pg_get_text(const cio_pg_result *r, size_t row, int col, const char **out,
                            size_t *len);
/* bytea: a zero-copy view. Suspends: no. */
CIO_API int cio_pg_get_bytea(const cio_pg_result *r, size_t row, int col, const uint8_t **out,
                             size_t *len);
/* uuid: its 16 bytes. Suspends: no. */
CIO_API int cio_pg_get_uuid(const cio_pg_result *r, size_t row, int col, uint8_t out[16]);
/* date: days since 1970-01-01 (±infinity: INT32_MAX / INT32_MIN).
 * Suspends: no. */
CIO_API int cio_pg_get_date(const cio_pg_result *r, size_t row, int col, int32_t *days);
/* time: microseconds since midnight. Suspends: no. */
CIO_API int cio_pg_get_time(const cio_pg_result *r, size_t row, int col, int64_t *usec);
/* timestamp and timestamptz: microseconds since 1970-01-01 00:00 (UTC for
 * timestamptz; ±infinity: INT64_MAX / INT64_MIN). Suspends: no. */
CIO_API int cio_pg_get_timestamp(const cio_pg_result *r, size_t row, int col, int64_t *usec);

typedef struct cio_pg_interval {
    int64_t usec;
    int32_t days;
    int32_t months;
} cio_pg_interval;
/* interval: its three parts as the server keeps them (months and days are
 * not folded into microseconds). Suspends: no. */
CIO_API int cio_pg_get_interval(const cio_pg_result *r, size_t row, int col, cio_pg_interval *out);
/* json and jsonb as a zero-copy text view. Suspends: no. */
CIO_API int cio_pg_get_json(const cio_pg_result *r, size_t row, int col, const char **out,
                            size_t *len);

/* A one-dimensional array value, read with the cio_pg_array_* getters (same
 * return codes as the column getters; -ENODATA for a NULL element). Valid as
 * long as its result. */
typedef struct cio_pg_array {
    const cio_pg_result *priv_res;
    uint32_t elemtype; /* element type OID */
    size_t n;          /* number of elements */
    const char **priv_ptr;
    const int *priv_len;
    int priv_text; /* elements in text form */
} cio_pg_array;
/* Reads an array column (an empty array has n == 0; more than one dimension
 * gives -EDOM). Suspends: no. */
CIO_API int cio_pg_get_array(const cio_pg_result *r, size_t row, int col, cio_pg_array *out);
CIO_API int cio_pg_array_isnull(const cio_pg_array *a, size_t i);
CIO_API int cio_pg_array_get_bool(const cio_pg_array *a, size_t i, int *out);
CIO_API int cio_pg_array_get_int(const cio_pg_array *a, size_t i, int64_t *out);
CIO_API int cio_pg_array_get_double(const cio_pg_array *a, size_t i, double *out);
CIO_API int cio_pg_array_get_text(const cio_pg_array *a, size_t i, const char **out, size_t *len);

/* ---- pipelining ----
 * Queries of several tasks sharing a connection are pipelined on their own.
 * A batch sends many queries in one round trip: one Sync, so the server runs
 * them as one implicit transaction, in order; the first failure aborts the
 * rest (their status is -ECONNABORTED) and rolls the group back. */
typedef struct cio_pg_batch cio_pg_batch;

/* Makes an empty batch. Returns 0 or -ENOMEM, -EINVAL. Suspends: no. */
CIO_API int cio_pg_batch_new(cio_pg_batch **out);
/* Frees the batch and its results. NULL is a no-op. Suspends: no. */
CIO_API void cio_pg_batch_free(cio_pg_batch *b);
/* Adds a query. sql and params are borrowed until cio_pg_batch_run returns.
 * Returns 0, -ENOMEM, or -EINVAL (also once the batch has run).
 * Suspends: no. */
CIO_API int cio_pg_batch_add(cio_pg_batch *b, const char *sql, const cio_pg_param *params,
                             size_t nparams);
CIO_API size_t cio_pg_batch_size(const cio_pg_batch *b);
/* Runs every query of b in one round trip. Returns 0 when all succeeded, else
 * the first failure's error (the task's cio_fail message names it); each
 * query's own outcome is in cio_pg_batch_status / cio_pg_batch_result.
 * Suspends: yes. Cancellation: as the query calls (results are dropped). */
CIO_API int cio_pg_batch_run(cio_pg_conn *c, cio_pg_batch *b);
/* Query i's rows (owned by the batch), or NULL if it failed or was skipped.
 * Suspends: no. */
CIO_API const cio_pg_result *cio_pg_batch_result(const cio_pg_batch *b, size_t i);
/* Query i's status: 0, its error, or -ECONNABORTED when an earlier one failed.
 * Suspends: no. */
CIO_API int cio_pg_batch_status(const cio_pg_batch *b, size_t i);

/* Runs sql once per row of parameters (asyncpg's executemany), pipelined in
 * one round trip and atomic (one Sync). params holds nrows * nparams values,
 * row after row. *rows_affected (may be NULL) gets the sum.
 * Returns 0 or the first failure (nothing applied then), whose message names
 * the row by its index in params, from 0 ("executemany row 2 of 5:
 * PostgreSQL 23505: ..."). Suspends: yes.
 * Cancellation: as the query calls. Cost: one statement prepared once. */
CIO_API int cio_pg_executemany(cio_pg_conn *c, const char *sql, const cio_pg_param *params,
                               size_t nparams, size_t nrows, int64_t *rows_affected);

/* ---- streaming large results ---- */
typedef struct cio_pg_stream cio_pg_stream;

/* Starts a query whose rows are read one by one (libpq's single-row mode): at
 * most a few hundred rows are buffered; while the reader is behind, the driver
 * stops reading the socket (backpressure down to the server). The connection
 * serves other requests only after the stream ends. Returns 0 and *out once
 * the query is sent, or a query error. Suspends: yes.
 * Cancellation: returns the reason; the query is cancelled and drained. */
CIO_API int cio_pg_stream_open(cio_pg_stream **out, cio_pg_conn *c, const char *sql,
                               const cio_pg_param *params, size_t nparams);
/* The next row as a one-row result, valid until the next call or close.
 * Returns 1 and *row, 0 at the end, or the query's error. Suspends: when no
 * row is buffered. Cancellation: returns the reason; the stream stays open. */
CIO_API int cio_pg_stream_next(cio_pg_stream *s, const cio_pg_result **row);
/* Ends the stream; one closed before its end is cancelled and drained by the
 * driver, without waiting. Returns the query's error, or 0. NULL is a no-op
 * (0). Suspends: no. */
CIO_API int cio_pg_stream_close(cio_pg_stream *s);

/* ---- COPY ---- */

/* Supplies COPY FROM data: fills buf with up to cap bytes and returns the
 * count, 0 at the end, or a negative errno to abort the COPY. May suspend. */
typedef ssize_t (*cio_pg_copy_read_fn)(void *arg, char *buf, size_t cap);
/* Receives COPY TO data (one row per call in text and csv format): returns
 * 0, or a negative errno to stop. May suspend (backpressure). */
typedef int (*cio_pg_copy_write_fn)(void *arg, const char *data, size_t len);

/* Runs "COPY ... FROM STDIN" (text, csv or binary, as the statement says),
 * streaming what fn supplies. *rows (may be NULL) gets the count copied.
 * Returns 0, the server's error (nothing is copied then), or fn's error (the
 * COPY is rolled back). Suspends: yes.
 * Cancellation: the COPY is aborted (rolled back) and the reason returned. */
CIO_API int cio_pg_copy_in(cio_pg_conn *c, const char *sql, cio_pg_copy_read_fn fn, void *arg,
                           int64_t *rows);
/* Runs "COPY ... TO STDOUT", handing each chunk to fn. Returns 0, the server's
 * error or fn's. Suspends: yes. Cancellation: the COPY is cancelled and the
 * rest drained by the driver; the reason is returned at once. */
CIO_API int cio_pg_copy_out(cio_pg_conn *c, const char *sql, cio_pg_copy_write_fn fn, void *arg,
                            int64_t *rows);

/* ---- LISTEN / NOTIFY ---- */
typedef struct cio_pg_listener cio_pg_listener;

typedef struct cio_pg_notification {
    const char *channel; /* NULL for a gap */
    const char *payload;
    int pid; /* the notifying backend */
    int gap; /* 1: the connection dropped and was re-established;
                notifications sent meanwhile are lost */
} cio_pg_notification;

/* Opens a listener on a connection of its own. Returns 0 and *out or a
 * connect error. Suspends: yes. Cancellation: returns the reason. */
CIO_API int cio_pg_listener_new(cio_pg_listener **out, const char *dsn, const cio_pg_opts *opts);
/* Closes the connection and frees the listener. NULL is a no-op.
 * Suspends: briefly, as cio_pg_close. Cancellation: still closes and frees
 * everything. */
CIO_API void cio_pg_listener_free(cio_pg_listener *l);
/* LISTENs on channel (any name: it is quoted); kept across reconnects.
 * Returns 0 or a query error. Suspends: yes.
 * Cancellation: returns the reason; the channel is not kept. */
CIO_API int cio_pg_listen(cio_pg_listener *l, const char *channel);
/* Waits for the next notification (an async iterator: call it in a loop).
 * *out is valid until the next call or free. When the connection dropped, it
 * reconnects (backoff 50 ms to 2 s, until it works), LISTENs again, and
 * returns a notification with gap set first. Returns 0, or the cancel reason.
 * Suspends: yes. Cancellation: returns the reason; nothing is lost. */
CIO_API int cio_pg_listener_next(cio_pg_listener *l, const cio_pg_notification **out);
/* The listener connection's backend pid (0 while disconnected).
 * Suspends: no. */
CIO_API int cio_pg_listener_backend_pid(const cio_pg_listener *l);

/* ---- transactions (asyncpg's conn.transaction()) ---- */

enum {
    CIO_PG_READ_COMMITTED = 0, /* the server's default */
    CIO_PG_REPEATABLE_READ = 1,
    CIO_PG_SERIALIZABLE = 2,
    CIO_PG_READ_UNCOMMITTED = 3,
};

typedef struct cio_pg_tx_opts {
    int isolation; /* CIO_PG_READ_COMMITTED ... */
    int read_only;
    int deferrable;
} cio_pg_tx_opts;

/* A transaction scope on the caller's stack. A begin inside an open one on
 * the same connection is a savepoint. */
typedef struct cio_pg_tx {
    cio_pg_conn *priv_conn;
    int priv_depth; /* 1 for the transaction, 2.. for savepoints */
    int priv_open;
} cio_pg_tx;

/* Begins a transaction (BEGIN with opts, NULL for defaults), or a savepoint
 * when this task already has a tx scope open on c. Returns 0, -EBUSY when
 * another task's transaction is open on c (a transaction belongs to one
 * task), or a query error; tx is not open on failure. Suspends: yes. Cancellation: returns the
 * reason; nothing stays open (a BEGIN already sent is rolled back by the driver). */
CIO_API int cio_pg_tx_begin(cio_pg_tx *tx, cio_pg_conn *c, const cio_pg_tx_opts *opts);

/* Commits (or releases the savepoint). Returns 0 or a query error; on error
 * the transaction is rolled back. tx is closed either way.
 * Suspends: yes. Cancellation: rolls back instead (queued ahead of anything
 * else on the connection, without waiting) and returns the reason. */
CIO_API int cio_pg_tx_commit(cio_pg_tx *tx);

/* Rolls back (to the savepoint). Returns 0 or a query error; tx is closed.
 * Suspends: yes, unless the caller is cancelled.
 * Cancellation: the rollback is queued ahead of anything else on the
 * connection (also when the cancel arrives while it runs) and the reason is
 * returned at once; tx is closed. */
CIO_API int cio_pg_tx_rollback(cio_pg_tx *tx);

/* Ends the scope the way `async with conn.transaction()` does: commits when
 * err is 0, else rolls back and returns err. Returns err, or the commit's
 * error (a failing rollback is not reported: err is). Suspends: yes.
 * Cancellation: as commit / rollback. */
CIO_API int cio_pg_tx_end(cio_pg_tx *tx, int err);

/* ---- pool (asyncpg.create_pool) ---- */

typedef struct cio_pg_pool_opts {
    size_t min_size;        /* connections opened by cio_pg_pool_new; default 0 */
    size_t max_size;        /* 0: 10 */
    double acquire_timeout; /* default deadline of an acquire; 0: 30 s */
    size_t max_waiters;     /* 0: unlimited; past it acquire fails with -EAGAIN */
    double max_lifetime;    /* close connections older than this; 0: never */
    double max_idle;        /* close idle connections beyond min_size after this; 0: never */
    /* Check a connection idle longer than this with a round trip before
     * handing it out; 0: 30 s, negative: only when its socket is readable
     * while idle (the server closed it), which is always checked. */
    double health_check_idle;
    cio_pg_opts conn; /* options of each connection */
} cio_pg_pool_opts;

typedef struct cio_pg_pool_stats {
    size_t size;        /* open connections, idle and in use */
    size_t idle;        /* waiting in the pool */
    size_t waiting;     /* tasks waiting in acquire */
    uint64_t acquired;  /* acquires that succeeded */
    uint64_t discarded; /* connections closed on release (broken, busy, in transaction) */
    uint64_t resets;    /* reset round trips paid on release */
    uint64_t checks;    /* health-check round trips paid on acquire */
    double wait_time;   /* total seconds spent waiting in acquire */
} cio_pg_pool_stats;

/* Creates a pool and opens min_size connections. Returns 0 and *out or the
 * first connect error (nothing left open). Suspends: yes.
 * Cancellation: returns the reason; nothing is left open. */
CIO_API int cio_pg_pool_new(cio_pg_pool **out, const char *dsn, const cio_pg_pool_opts *opts);

/* Closes every idle connection and frees the pool. Tasks inside
 * cio_pg_pool_acquire (waiting, connecting, checking) return -ESHUTDOWN at
 * once, their message naming the pool; a release paying a reset closes the
 * connection instead. Connections still acquired stay usable and are closed
 * when released; the pool's memory is freed after the last such release.
 * After the free, p may only be passed to cio_pg_pool_release (for those
 * connections) and, while one is still out, to cio_pg_pool_acquire, which
 * fails with -ESHUTDOWN; a second free then is a no-op. NULL is a no-op.
 * Suspends: briefly (as cio_pg_close).
 * Cancellation: still closes everything. */
CIO_API void cio_pg_pool_free(cio_pg_pool *p);

/* Takes a connection: an idle one, a new one while below max_size, or waits
 * in strict FIFO order for one released. An idle connection whose server
 * closed it, or idle past health_check_idle, is checked with a round trip
 * first and replaced if dead. Returns 0 and *out, -ETIMEDOUT after
 * the pool's acquire_timeout, -EAGAIN when max_waiters tasks already wait,
 * -ESHUTDOWN when cio_pg_pool_free was called (before or during the acquire),
 * -EINVAL for NULL arguments, or a connect error. Suspends: yes, unless an
 * idle connection that needs no check is there (then no deadline is armed).
 * Cancellation: returns the reason; a connection handed over at that instant
 * goes to the next waiter, none leaks. Cost: one poll(2) on the idle
 * connection's socket (is it closed?). */
CIO_API int cio_pg_pool_acquire(cio_pg_pool *p, cio_pg_conn **out);

/* Gives a connection back. A broken one, one still running a request or
 * inside a transaction is closed; one whose session was changed (SET, LISTEN,
 * temporary tables, advisory locks, PREPARE) pays one reset round trip first.
 * After cio_pg_pool_free the connection is closed. Returns 0, or -EINVAL
 * (nothing done) for NULL arguments or a connection that is not out of p:
 * released twice while it idles in the pool, or acquired from another pool.
 * Suspends: only for that reset or the close.
 * Cancellation: closes the connection instead of resetting it; never leaks. */
CIO_API int cio_pg_pool_release(cio_pg_pool *p, cio_pg_conn *c);

/* The pool's counters. Suspends: no. */
CIO_API void cio_pg_pool_stats_get(const cio_pg_pool *p, cio_pg_pool_stats *out);

#ifdef __cplusplus
}
#endif
#endif
