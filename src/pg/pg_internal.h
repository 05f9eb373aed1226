/* libcio-pg internals: the connection, its requests, the driver. */
#ifndef CIO_PG_INTERNAL_H
#define CIO_PG_INTERNAL_H

#include <libpq-fe.h>

#include "cio.h"
#include "../core/checked.h"
#include "cio/pg.h"

/* One libpq call of a request; its results are collected in order. */
enum {
    STEP_EXEC,
    STEP_PREPARE,
    STEP_EXEC_PREPARED,
    STEP_DISCARD_SQL,
    STEP_DESCRIBE,         /* Describe a cached statement (Parse first if new) */
    STEP_PREPARE_DESCRIBE, /* planned from STEP_DESCRIBE: Parse, then Describe */
};

typedef struct pg_step {
    int kind;
    const char *sql; /* borrowed from the caller until the request is sent */
    const cio_pg_param *params;
    size_t nparams;
    int keep;        /* hand the result to the caller */
    int status;      /* this step's 0 or -errno */
    int cache;       /* may use the statement cache */
    int parse_done;  /* a PREPARE step's Parse has returned */
    int text;        /* ask for results in text (a column type cio does not decode) */
    char *owned_sql; /* freed with the request */
    char name[24];   /* prepared statement name */
    PGresult *res;   /* the last result of this step (its rows, or its error) */
} pg_step;

/* A request: some steps followed by one Sync, served in order. Heap-owned:
 * the caller frees it once done, or the driver frees it if the caller left. */
enum { REQ_PIPELINE, REQ_SCRIPT, REQ_COPY };
enum { COPY_NONE, COPY_IN, COPY_OUT };

typedef struct pg_req {
    struct pg_req *next;
    int kind;
    int nsteps;
    int cur;      /* step whose results arrive now */
    int cur_open; /* cur has returned results but not its NULL yet */
    int sent;
    int nsent; /* steps sent so far (a large request goes out in chunks) */
    int done;
    int abandoned; /* the caller left (cancelled): discard on completion */
    int internal;  /* sent by the library (ROLLBACK, reset): nobody waits */
    int cancel_sent;
    int status;     /* 0 or -errno once done */
    int txstatus;   /* PQtransactionStatus when the request completed */
    int used_cache; /* an EXEC_PREPARED step came from the cache */
    int dirty;      /* the request changed session state */
    int64_t rows;   /* rows affected, summed over steps that are not kept */
    char sqlstate[6];
    cio_event done_ev;
    /* COPY: the socket is handed to the caller for the data phase. */
    int copy;       /* COPY_IN / COPY_OUT while the data phase runs */
    int copy_ready; /* the caller may run the data phase */
    /* Streaming (single-row mode): rows wait here for the caller. */
    int stream;
    int single_set;
    PGresult **ring;
    size_t rhead, rcount, rcap;
    cio_event row_ev;
    pg_step *steps;
    pg_step inl[2];
} pg_req;

/* Rows a stream buffers before the driver stops reading for its reader. */
#define STREAM_ROWS 256

typedef struct stmt_entry stmt_entry;

typedef struct cio_pg_conn {
    PGconn *pg;
    int fd;
    int broken;
    int closing;
    int pid;
    cio_pg_opts opts;
    cio_task *driver;
    /* Requests not sent yet, and sent ones awaiting their results. */
    pg_req *pend_head, *pend_tail;
    pg_req *infl_head, *infl_tail;
    pg_req *sending;        /* the tail of infl, still going out in chunks */
    int abandoned_inflight; /* sent requests whose callers left */
    int cancel_busy;        /* a CancelRequest is on its way */
    struct cancel_job *cancel_job;
    double drain_deadline; /* close the connection if not clean by then */
    double cancel_at;      /* send the CancelRequest from then on */
    /* The driver's wait: a timeout scope that a submit cancels to wake it. */
    cio_scope wake;
    int parked;
    int parked_read; /* parked in the plain wait for readable */
    /* Notifications (listen.c): called for each, and with a NULL channel
     * when the connection breaks. Runs on the driver; must not suspend. */
    void (*notify_fn)(void *arg, const char *channel, const char *payload, int pid);
    void *notify_arg;
    pg_req *copy_owner; /* a caller runs a COPY data phase: the driver waits */
    cio_event never;    /* what the driver waits on when it must not read */
    cio_task *tx_owner; /* the task that began the open transaction */
    int tx_depth;       /* open cio_pg_tx scopes */
    int tx_seq;
    int dirty; /* session changed since the last reset */
    /* Statement cache (stmt_cache.c). */
    stmt_entry **stmt_tab;
    size_t stmt_cap, stmt_count, stmt_max;
    stmt_entry *lru_head, *lru_tail; /* head: most recent */
    unsigned stmt_seq;
    pg_req *spare;     /* a done request kept for the next query */
    char **deallocate; /* names to DEALLOCATE with the next request */
    size_t ndeallocate, deallocate_cap;
    /* Last error (error.c). */
    cio_pg_error err;
    char *err_buf;
    int has_err;
    /* Pool bookkeeping (pool.c). */
    struct cio_pg_conn *pool_next;
    struct cio_pg_pool *pool_owner; /* the pool it is acquired from, while out */
    double created, idle_since;
} cio_pg_conn;

/* connect_race.c */
/* Keys a DSN may have (libpq knows about 40). */
#define PG_CONNECT_KEYS 64
/* A place to connect to: one host of the DSN, at one of its addresses. */
typedef struct pg_target {
    const char *host; /* as the DSN names it: a name, an address, a socket directory */
    char addr[46];    /* its resolved address (INET6_ADDRSTRLEN), "" for a socket */
    const char *port; /* NULL: libpq's default */
} pg_target;
typedef struct pg_connect_plan {
    const char *keys[PG_CONNECT_KEYS]; /* the DSN but host, hostaddr, port and */
    const char *vals[PG_CONNECT_KEYS]; /* target_session_attrs */
    int n;
    const char *attrs; /* target_session_attrs, or NULL */
    pg_target *targets;
    size_t ntargets;
    double attempt_timeout; /* each attempt's bound (the DSN's connect_timeout); 0: none */
    double stagger;         /* start the next target after this; CIO_FOREVER: on failure */
} pg_connect_plan;
/* Connects to the first target that gives a usable session, racing them
 * with a staggered start. Returns 0 and *out, the cancel reason, or the
 * failure (the task's message lists every target's cause). */
int cio__pg_connect_targets(const pg_connect_plan *p, PGconn **out);
/* The errno of libpq's connect failure message. */
int cio__pg_connect_errno(const char *msg);
/* PQfinish without blocking on the Terminate message. NULL is a no-op. */
void cio__pg_finish(PGconn *pg);

/* driver.c */
int cio__pg_driver_start(cio_pg_conn *c);
void cio__pg_driver_stop(cio_pg_conn *c);
pg_req *cio__pg_req_new(int kind, int nsteps);
void cio__pg_req_free(pg_req *r);
/* cio__pg_req_new, reusing the connection's spare request when nsteps <= 2,
 * and the way back: a done request becomes the spare (or is freed). Saves a
 * calloc and a free of ~400 bytes per query. */
pg_req *cio__pg_req_take(cio_pg_conn *c, int kind, int nsteps);
void cio__pg_req_give(cio_pg_conn *c, pg_req *r);
/* Queues r and waits for it. Returns r's status, or the cancel reason (r now
 * belongs to the driver, *rp is set to NULL). */
int cio__pg_submit_wait(cio_pg_conn *c, pg_req **rp);
/* Queues r; returns 0, the cancel reason or -ECONNRESET (r still the caller's). */
int cio__pg_submit(cio_pg_conn *c, pg_req *r);
/* The caller leaves r (cancelled, or a stream closed early): the driver
 * cancels and drains it, or drops it if it was never sent. */
void cio__pg_abandon(cio_pg_conn *c, pg_req *r);
void cio__pg_wake(cio_pg_conn *c);
/* PQconsumeInput, and again while TLS holds decrypted bytes. 0 on failure. */
int cio__pg_consume(cio_pg_conn *c);
/* Queues an internal request nobody waits for (ROLLBACK after a cancel). */
void cio__pg_submit_internal(cio_pg_conn *c, const char *sql);
void cio__pg_fail_all(cio_pg_conn *c, int err);

/* stmt_cache.c */
/* Turns an EXEC step into PREPARE + EXEC_PREPARED or EXEC_PREPARED by the
 * cache; called by the driver when it sends the request. */
int cio__pg_stmt_plan(cio_pg_conn *c, pg_req *r);
void cio__pg_stmt_forget(cio_pg_conn *c, const char *name, int deallocate);
void cio__pg_stmt_clear(cio_pg_conn *c);
void cio__pg_stmt_free(cio_pg_conn *c);
/* The result format of a described statement (sql and parameter types):
 * 1 text, 0 binary, -1 not described yet. */
int cio__pg_stmt_format(cio_pg_conn *c, const char *sql, const cio_pg_param *params, size_t n);
/* Records a described statement's result format: text when a column has a
 * type cio does not decode. */
void cio__pg_stmt_set_text(cio_pg_conn *c, const char *sql, const cio_pg_param *params, size_t n,
                           int text);

/* error.c */
int cio__pg_errno_of(const char *sqlstate);
/* Records res's error on c and returns the errno; sets the task's message. */
int cio__pg_error_from(cio_pg_conn *c, const PGresult *res, char sqlstate[6]);
int cio__pg_conn_error(cio_pg_conn *c, int err, const char *what);
void cio__pg_error_clear(cio_pg_conn *c);

/* result.c */
struct cio_pg_result {
    PGresult *res;
    struct chunk *arena; /* logically mutable: getters format into it */
    /* res's shape, for the getters' bounds checks (two libpq calls per
     * value cost ~40 instructions, W15); set with res. */
    int ntuples, nfields;
};
cio_pg_result *cio__pg_result_wrap(PGresult *res);
/* Sets r->res and its shape (r's arena untouched). */
void cio__pg_result_set(cio_pg_result *r, PGresult *res);
/* Frees what r holds, not r (fetchval's result lives on its stack). */
void cio__pg_result_clear(cio_pg_result *r);
/* Replaces r's PGresult (freeing the old one and r's formatted values). */
void cio__pg_result_reset(cio_pg_result *r, PGresult *res);
/* Whether the getters decode this type's binary form (arrays included). */
int cio__pg_oid_decoded(uint32_t oid);
/* Memory freed with the result (formatted values, array indexes). */
char *cio__pg_arena_alloc(const cio_pg_result *r, size_t n);

/* Types the getters know that pg.h does not name. */
#define CIO_PG_TIMETZ 1266
#define CIO_PG_XML 142

/* One value as the getters see it. */
typedef struct pg_val {
    uint32_t oid;
    const char *p;
    int len;
    int text; /* text format: p is NUL-terminated */
} pg_val;

/* result_text.c: the text format's parsers (0 or -EDOM; -ENOMEM). */
int cio__pg_is_int_oid(uint32_t oid);
int cio__pg_text_int(const pg_val *v, int64_t *out);
int cio__pg_text_double(const pg_val *v, double *out);
int cio__pg_text_date(const pg_val *v, int32_t *out);
int cio__pg_text_time(const pg_val *v, int64_t *usec);
int cio__pg_text_timestamp(const pg_val *v, int64_t *out);
int cio__pg_text_interval(const pg_val *v, cio_pg_interval *out);
int cio__pg_text_uuid(const pg_val *v, uint8_t out[16]);
int cio__pg_text_bytea(const cio_pg_result *r, const pg_val *v, const uint8_t **out, size_t *len);
int cio__pg_text_array(const cio_pg_result *r, const pg_val *v, cio_pg_array *out);

/* query.c */
int cio__pg_run(cio_pg_conn *c, const char *sql, const cio_pg_param *params, size_t n, int cache,
                PGresult **out);
int cio__pg_script(cio_pg_conn *c, const char *sql);
void cio__pg_fail_message(cio_pg_conn *c, pg_req *r, int err);
/* The same, naming the first step that failed: "<what> <i> of <n>: ...". */
void cio__pg_fail_step_message(cio_pg_conn *c, pg_req *r, int err, const char *what);
/* A statement as the cache keys it: the SQL text and the parameters' types. */
typedef struct pg_stmt_ref {
    const char *sql;
    const cio_pg_param *params;
    size_t nparams;
} pg_stmt_ref;
/* Describes the statements of refs not yet described on c, all in one round
 * trip (once per statement and connection), so their results come in binary
 * when cio decodes every column and in text otherwise. With guard, inside the
 * caller's transaction the describes run under a savepoint, rolled back to
 * when one fails (a batch's later statement may need an earlier one's DDL).
 * Returns 0 (also when all were known), the first describe's error (the
 * task's message says it), -ENOMEM, or the cancel reason. */
int cio__pg_describe(cio_pg_conn *c, const pg_stmt_ref *refs, size_t nrefs, int guard);
/* cio__pg_describe of one statement, unguarded. */
int cio__pg_describe_new(cio_pg_conn *c, const char *sql, const cio_pg_param *params, size_t n);

#endif
