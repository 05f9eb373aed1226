/* The per-connection driver: the one task that touches libpq's socket.
 *
 * Requests wait in `pend` until the driver sends them (in pipeline mode, each
 * followed by a Sync), then in `infl` until their Sync comes back. The driver
 * waits for readiness with cio and reads whenever the socket is readable.
 *
 * Cancellation: a caller that leaves while its request is in flight marks it
 * abandoned. The driver then stops sending, asks the server to cancel (a
 * CancelRequest from a worker thread: PQcancel blocks) only when the
 * abandoned request is the last one in flight, so the cancel can only hit it,
 * and waits both for the request's Sync and for PQcancel to return (the
 * postmaster has signalled the backend by then) before it serves anything
 * else. A connection left inside a failed transaction is rolled back. Past
 * the grace period the connection is closed instead. */
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "pg_internal.h"

#define DRIVER_STACK ((size_t)256 * 1024)
/* How long an abandoned query may run on before the driver cancels it: most
 * queries end sooner, and a CancelRequest costs a new connection (a fork in
 * the postmaster) and keeps the connection unusable until it is through. */
#define CANCEL_DELAY 0.01

typedef struct cancel_job {
    PGcancel *cancel;
    cio_pg_conn *conn; /* NULL once the connection is gone */
    char errbuf[256];
} cancel_job;

pg_req *cio__pg_req_new(int kind, int nsteps)
{
    pg_req *r = cio__calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->kind = kind;
    r->nsteps = nsteps;
    r->steps = r->inl;
    if (nsteps > 2) {
        r->steps = cio__calloc((size_t)nsteps, sizeof *r->steps);
        if (!r->steps) {
            free(r);
            return NULL;
        }
    }
    cio_event_init(&r->done_ev);
    cio_event_init(&r->row_ev);
    return r;
}

void cio__pg_req_free(pg_req *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->nsteps; i++) {
        PQclear(r->steps[i].res);
        free(r->steps[i].owned_sql);
    }
    if (r->steps != r->inl)
        free(r->steps);
    for (size_t i = 0; i < r->rcount; i++)
        PQclear(r->ring[(r->rhead + i) % r->rcap]);
    free(r->ring);
    cio_event_destroy(&r->row_ev);
    cio_event_destroy(&r->done_ev);
    free(r);
}

pg_req *cio__pg_req_take(cio_pg_conn *c, int kind, int nsteps)
{
    pg_req *r = c->spare;
    if (!r || nsteps > 2)
        return cio__pg_req_new(kind, nsteps);
    c->spare = NULL;
    cio_event_destroy(&r->row_ev);
    cio_event_destroy(&r->done_ev);
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->nsteps = nsteps;
    r->steps = r->inl;
    cio_event_init(&r->done_ev);
    cio_event_init(&r->row_ev);
    return r;
}

void cio__pg_req_give(cio_pg_conn *c, pg_req *r)
{
    if (!r)
        return;
    if (c->spare || r->steps != r->inl || r->ring || !r->done) {
        cio__pg_req_free(r);
        return;
    }
    for (int i = 0; i < r->nsteps; i++) {
        PQclear(r->steps[i].res);
        free(r->steps[i].owned_sql);
        r->steps[i].res = NULL;
        r->steps[i].owned_sql = NULL;
    }
    c->spare = r;
}

void cio__pg_wake(cio_pg_conn *c)
{
    if (c->parked) {
        c->parked = 0;
        cio_scope_cancel(&c->wake);
    }
}

static int draining(const cio_pg_conn *c)
{
    return c->abandoned_inflight > 0 || c->cancel_busy;
}

static void push(pg_req **head, pg_req **tail, pg_req *r)
{
    r->next = NULL;
    if (*tail)
        (*tail)->next = r;
    else
        *head = r;
    *tail = r;
}

static pg_req *pop(pg_req **head, pg_req **tail)
{
    pg_req *r = *head;
    if (r) {
        *head = r->next;
        if (!*head)
            *tail = NULL;
        r->next = NULL;
    }
    return r;
}

static void complete(cio_pg_conn *c, pg_req *r)
{
    r->done = 1;
    r->txstatus = c->pg ? (int)PQtransactionStatus(c->pg) : PQTRANS_UNKNOWN;
    if (r->dirty)
        c->dirty = 1;
    if (r->abandoned || r->internal) {
        if (r->abandoned && r->sent)
            c->abandoned_inflight--;
        cio__pg_req_free(r);
        return;
    }
    if (r->stream)
        cio_event_set(&r->row_ev);
    cio_event_set(&r->done_ev);
}

void cio__pg_fail_all(cio_pg_conn *c, int err)
{
    pg_req *r;
    c->sending = NULL;
    while ((r = pop(&c->infl_head, &c->infl_tail))) {
        if (!r->status)
            r->status = err;
        complete(c, r);
    }
    while ((r = pop(&c->pend_head, &c->pend_tail))) {
        r->status = err;
        complete(c, r);
    }
    c->abandoned_inflight = 0;
}

/* ---- sending ---- */

static int send_step(cio_pg_conn *c, pg_step *s)
{
    size_t n = s->nparams;
    Oid types_s[16];
    const char *vals_s[16];
    int lens_s[16], fmts_s[16];
    Oid *types = types_s;
    const char **vals = vals_s;
    int *lens = lens_s, *fmts = fmts_s;
    if (n > 16) {
        types = cio__malloc(n * sizeof *types);
        vals = cio__malloc(n * sizeof *vals);
        lens = cio__malloc(n * sizeof *lens);
        fmts = cio__malloc(n * sizeof *fmts);
        if (!types || !vals || !lens || !fmts) {
            free(types);
            free(vals);
            free(lens);
            free(fmts);
            return -ENOMEM;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const cio_pg_param *p = &s->params[i];
        types[i] = p->oid;
        fmts[i] = p->format;
        lens[i] = p->len < 0 ? 0 : p->len;
        vals[i] = p->len < 0 ? NULL : p->ptr ? p->ptr : (const char *)p->inl;
    }
    int ok = 1;
    int np = (int)n;
    int rfmt = s->text ? 0 : 1;
    switch (s->kind) {
    case STEP_PREPARE:
        ok = PQsendPrepare(c->pg, s->name, s->sql, np, types) &&
             PQsendQueryPrepared(c->pg, s->name, np, vals, lens, fmts, rfmt);
        break;
    case STEP_EXEC_PREPARED:
        ok = PQsendQueryPrepared(c->pg, s->name, np, vals, lens, fmts, rfmt);
        break;
    case STEP_DISCARD_SQL:
        ok = PQsendQueryParams(c->pg, s->sql, 0, NULL, NULL, NULL, NULL, 0);
        break;
    case STEP_DESCRIBE:
        ok = PQsendDescribePrepared(c->pg, s->name);
        break;
    case STEP_PREPARE_DESCRIBE:
        ok = PQsendPrepare(c->pg, s->name, s->sql, np, types) &&
             PQsendDescribePrepared(c->pg, s->name);
        break;
    default:
        ok = PQsendQueryParams(c->pg, s->sql, np, types, vals, lens, fmts, rfmt);
        break;
    }
    if (n > 16) {
        free(types);
        free(vals);
        free(lens);
        free(fmts);
    }
    return ok ? 0 : -EIO;
}

/* Sends the queued DEALLOCATEs of evicted statements as one internal request. */
static int send_deallocates(cio_pg_conn *c)
{
    size_t n = c->ndeallocate;
    pg_req *r = cio__pg_req_new(REQ_PIPELINE, (int)n);
    if (!r)
        return -ENOMEM;
    r->internal = 1;
    char **sqls = cio__calloc(n, sizeof *sqls);
    int err = sqls ? 0 : -ENOMEM;
    for (size_t i = 0; !err && i < n; i++) {
        if (cio__asprintf(&sqls[i], "DEALLOCATE \"%s\"", c->deallocate[i]) < 0) {
            sqls[i] = NULL;
            err = -ENOMEM;
        }
        r->steps[i].kind = STEP_DISCARD_SQL;
        r->steps[i].sql = sqls[i];
    }
    for (size_t i = 0; !err && i < n; i++)
        err = send_step(c, &r->steps[i]);
    if (!err && !PQpipelineSync(c->pg))
        err = -EIO;
    for (size_t i = 0; i < n; i++) {
        free(c->deallocate[i]);
        free(sqls ? sqls[i] : NULL);
        r->steps[i].sql = NULL;
    }
    free(sqls);
    c->ndeallocate = 0;
    if (err) {
        cio__pg_req_free(r);
        return err;
    }
    r->sent = 1;
    push(&c->infl_head, &c->infl_tail, r);
    return 0;
}

/* Bytes a step adds to libpq's output buffer, at most: Bind (with the
 * values), Describe and Execute, and Parse with its text for a new statement
 * (names are short: "cio_sN"). */
static size_t step_bytes(const pg_step *s)
{
    size_t n = 48 + 8 * s->nparams;
    for (size_t i = 0; i < s->nparams; i++)
        n += s->params[i].len > 0 ? (size_t)s->params[i].len : 0;
    if (s->kind != STEP_EXEC_PREPARED)
        n += 32 + 4 * s->nparams + (s->sql ? strlen(s->sql) : 0);
    return n;
}

/* Output queued between flushes. libpq writes by itself whenever 8 KiB are
 * buffered at the end of a message (pqPutMsgEnd), also in pipeline mode:
 * with the socket full, every message appended past that point cost a
 * failed send and a recv (W16 before: ~8,000 of each per 100k rows, and the
 * buffer grew to hold the whole request). Chunks stay below it: the driver
 * flushes each one itself and, when the socket is full, waits for it to
 * drain, reading results meanwhile. */
#define SEND_CHUNK ((size_t)7 * 1024)

/* Sends r's next steps, and its Sync after the last. Returns 0 when r is all
 * out, 1 when the socket is full (the rest goes out when it drains), or
 * -EIO. A caller that left mid-way took its steps' arguments with it: the
 * group is ended with a statement that fails to parse (a syntax error, which
 * touches no cached statement), so nothing of it commits, then the Sync. */
static int send_more(cio_pg_conn *c, pg_req *r)
{
    /* Start from an empty buffer (what earlier requests left included). */
    int f = PQflush(c->pg);
    if (f != 0)
        return f < 0 ? -EIO : 1;
    if (r->abandoned && r->nsent < r->nsteps) {
        r->nsteps = r->nsent; /* its results go to the last step sent */
        return PQsendQueryParams(c->pg, "cio: abandoned", 0, NULL, NULL, NULL, NULL, 0) &&
                       PQpipelineSync(c->pg)
                   ? 0
                   : -EIO;
    }
    size_t queued = 0;
    while (r->nsent < r->nsteps) {
        if (r->status) {
            /* A step failed: the server skips the rest of the group anyway. */
            for (int i = r->nsent; i < r->nsteps; i++)
                r->steps[i].status = -ECONNABORTED;
            r->nsteps = r->nsent;
            break;
        }
        pg_step *s = &r->steps[r->nsent];
        size_t bytes = step_bytes(s);
        if (queued && queued + bytes > SEND_CHUNK) {
            queued = 0;
            f = PQflush(c->pg);
            if (f != 0)
                return f < 0 ? -EIO : 1;
        }
        queued += bytes;
        int err = send_step(c, s);
        s->params = NULL; /* borrowed until sent */
        s->sql = NULL;
        if (err)
            return err;
        r->nsent++;
    }
    return PQpipelineSync(c->pg) ? 0 : -EIO;
}

/* Starts sending r, which goes to the tail of infl. Returns as send_more. */
static int send_req(cio_pg_conn *c, pg_req *r)
{
    r->sent = 1;
    if (r->kind == REQ_SCRIPT || r->kind == REQ_COPY) {
        push(&c->infl_head, &c->infl_tail, r);
        if (PQpipelineStatus(c->pg) != PQ_PIPELINE_OFF && !PQexitPipelineMode(c->pg))
            return -EIO;
        r->nsent = r->nsteps;
        int ok = PQsendQuery(c->pg, r->steps[0].sql);
        r->steps[0].sql = NULL;
        return ok ? 0 : -EIO;
    }
    /* Plan first: an eviction's DEALLOCATE goes out (and into infl) ahead of
     * this request. */
    int err = cio__pg_stmt_plan(c, r);
    if (!err && c->ndeallocate)
        err = send_deallocates(c);
    push(&c->infl_head, &c->infl_tail, r);
    c->sending = r;
    return err ? err : send_more(c, r);
}

static int can_send(const cio_pg_conn *c)
{
    if (!c->pend_head || c->sending || draining(c) || c->broken)
        return 0;
    /* A script runs alone, outside pipeline mode. */
    if (c->infl_head && (c->infl_head->kind != REQ_PIPELINE || c->pend_head->kind != REQ_PIPELINE))
        return 0;
    return 1;
}

static void mark_broken(cio_pg_conn *c, const char *why)
{
    (void)why;
    c->broken = 1;
}

/* Single-row mode applies to the query at the head of libpq's queue: set it
 * when a stream's query gets there. */
static void set_single_row(cio_pg_conn *c)
{
    pg_req *h = c->infl_head;
    if (h && h->stream && !h->single_set && !h->cur_open) {
        h->single_set = 1;
        PQsetSingleRowMode(c->pg);
    }
}

/* Sends what may go: first the rest of a request going out in chunks, then
 * queued requests, until one leaves the socket full. */
static void send_pending(cio_pg_conn *c)
{
    for (;;) {
        pg_req *r = c->sending;
        int err;
        if (r) {
            err = send_more(c, r);
        } else if (can_send(c)) {
            r = pop(&c->pend_head, &c->pend_tail);
            err = send_req(c, r);
            set_single_row(c);
        } else {
            return;
        }
        if (err < 0) {
            /* libpq refused a message midway: the protocol state is unknown. */
            c->sending = NULL;
            r->status = cio__pg_conn_error(c, -ECONNRESET, "send");
            mark_broken(c, "send");
            return; /* the driver fails everything in flight, r included */
        }
        if (err == 1)
            return; /* the socket is full: the driver waits for it to drain */
        c->sending = NULL;
    }
}

/* ---- receiving ---- */

int cio__pg_consume(cio_pg_conn *c)
{
    for (;;) {
        if (!PQconsumeInput(c->pg))
            return 0;
        SSL *ssl = PQsslInUse(c->pg) ? PQsslStruct(c->pg, "OpenSSL") : NULL;
        if (!ssl || SSL_pending(ssl) <= 0)
            return 1;
    }
}

/* Command tags that change session state; by the first letter, as this runs
 * for every result (a strncmp over the whole list cost ~300 instructions per
 * executemany row). */
static int is_dirty_tag(const char *tag)
{
#define TAG_IS(t) (strncmp(tag, t, sizeof t - 1) == 0)
    switch (tag[0]) {
    case 'S':
        return TAG_IS("SET") || TAG_IS("SELECT INTO");
    case 'R':
        return TAG_IS("RESET");
    case 'L':
        return TAG_IS("LISTEN") || TAG_IS("LOAD");
    case 'P':
        return TAG_IS("PREPARE");
    case 'D':
        return TAG_IS("DECLARE") || TAG_IS("DISCARD");
    case 'C':
        return TAG_IS("CREATE TABLE");
    default:
        return 0;
    }
#undef TAG_IS
}

/* PQcmdTuples' digits as a number (it is all digits or empty). */
static int64_t tag_rows(const char *digits)
{
    int64_t n = 0;
    for (; *digits >= '0' && *digits <= '9'; digits++)
        n = n * 10 + (*digits - '0');
    return n;
}

static int ring_push(pg_req *r, PGresult *res)
{
    if (r->rcount == r->rcap) {
        size_t cap = r->rcap ? 2 * r->rcap : 64;
        PGresult **n = cio__malloc(cap * sizeof *n);
        if (!n)
            return -ENOMEM;
        for (size_t i = 0; i < r->rcount; i++)
            n[i] = r->ring[(r->rhead + i) % r->rcap];
        free(r->ring);
        r->ring = n;
        r->rhead = 0;
        r->rcap = cap;
    }
    r->ring[(r->rhead + r->rcount++) % r->rcap] = res;
    cio_event_set(&r->row_ev);
    return 0;
}

static void step_result(cio_pg_conn *c, pg_req *r, PGresult *res)
{
    pg_step *s = &r->steps[r->cur];
    r->cur_open = 1;
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_FATAL_ERROR) {
        if (!s->status)
            s->status = cio__pg_errno_of(PQresultErrorField(res, PG_DIAG_SQLSTATE));
        if (!r->status) {
            r->status = cio__pg_error_from(c, res, r->sqlstate);
            PQclear(s->res);
            s->res = res;
            res = NULL;
        }
        const char *state = PQresultErrorField(res ? res : s->res, PG_DIAG_SQLSTATE);
        int parses = s->kind == STEP_PREPARE || s->kind == STEP_PREPARE_DESCRIBE;
        int named =
            s->name[0] && (parses || s->kind == STEP_EXEC_PREPARED || s->kind == STEP_DESCRIBE);
        if (parses && s->name[0] && !s->parse_done)
            cio__pg_stmt_forget(c, s->name, 0);
        else if (named && state && strcmp(state, "26000") == 0)
            cio__pg_stmt_forget(c, s->name, 0);
        else if (named && state && strcmp(state, "0A000") == 0)
            cio__pg_stmt_forget(c, s->name, 1);
    } else if (st == PGRES_PIPELINE_ABORTED) {
        s->status = -ECONNABORTED; /* skipped: an earlier step failed */
        if (!r->status)
            r->status = -EIO;
        /* Its Parse never ran: the cache must not think it prepared. */
        if ((s->kind == STEP_PREPARE || s->kind == STEP_PREPARE_DESCRIBE) && s->name[0] &&
            !s->parse_done)
            cio__pg_stmt_forget(c, s->name, 0);
    } else if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT) {
        if (!r->abandoned) {
            r->copy = st == PGRES_COPY_IN ? COPY_IN : COPY_OUT;
            r->copy_ready = 1;
            c->copy_owner = r;
            cio_event_set(&r->done_ev); /* the caller runs the data phase */
        } else if (st == PGRES_COPY_IN) {
            PQputCopyEnd(c->pg, "COPY cancelled by the client");
        } else {
            r->copy = COPY_OUT; /* the driver drains it */
        }
    } else if (st == PGRES_SINGLE_TUPLE && r->stream) {
        if (!r->abandoned && ring_push(r, res) == 0)
            res = NULL;
    } else {
        const char *tag = PQcmdStatus(res);
        if (tag && is_dirty_tag(tag))
            r->dirty = 1;
        if (!s->keep)
            r->rows += tag_rows(PQcmdTuples(res));
        if (s->keep) {
            PQclear(s->res);
            s->res = res;
            res = NULL;
        }
    }
    PQclear(res);
}

static void step_end(pg_req *r)
{
    if (!r->cur_open)
        return;
    r->cur_open = 0;
    pg_step *s = &r->steps[r->cur];
    /* A PREPARE step is two commands: Parse, then the execution. */
    if ((s->kind == STEP_PREPARE || s->kind == STEP_PREPARE_DESCRIBE) && !s->parse_done) {
        s->parse_done = 1;
        return;
    }
    if (r->cur < r->nsteps - 1)
        r->cur++;
}

static int stream_full(const cio_pg_conn *c)
{
    const pg_req *h = c->infl_head;
    return h && h->stream && !h->abandoned && h->rcount >= STREAM_ROWS;
}

static void process_input(cio_pg_conn *c)
{
    pg_req *r;
    while ((r = c->infl_head) && !c->copy_owner) {
        if (r->copy == COPY_OUT) { /* abandoned: drain its rows */
            char *buf;
            int n;
            while ((n = PQgetCopyData(c->pg, &buf, 1)) > 0)
                PQfreemem(buf);
            if (n == 0)
                break;
            r->copy = COPY_NONE;
        }
        if (stream_full(c))
            break; /* the reader is behind: stop reading */
        if (PQisBusy(c->pg))
            break;
        PGresult *res = PQgetResult(c->pg);
        if (r->kind != REQ_PIPELINE) {
            if (!res) {
                pop(&c->infl_head, &c->infl_tail);
                PQenterPipelineMode(c->pg);
                complete(c, r);
                set_single_row(c);
            } else {
                step_result(c, r, res);
            }
            continue;
        }
        if (!res) {
            if (!r->cur_open)
                break;
            step_end(r);
            continue;
        }
        if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            pop(&c->infl_head, &c->infl_tail);
            complete(c, r);
            set_single_row(c);
            continue;
        }
        step_result(c, r, res);
    }
    PGnotify *n;
    while ((n = PQnotifies(c->pg))) {
        if (c->notify_fn)
            c->notify_fn(c->notify_arg, n->relname, n->extra, n->be_pid);
        PQfreemem(n);
    }
}

/* ---- cancellation ---- */

static int cancel_thread(void *arg)
{
    cancel_job *job = arg;
    PQcancel(job->cancel, job->errbuf, sizeof job->errbuf);
    return 0;
}

static int cancel_task(void *arg)
{
    cancel_job *job = arg;
    cio_to_thread(cancel_thread, job); /* waits for the thread even if cancelled */
    cio_pg_conn *c = job->conn;
    if (c) {
        c->cancel_busy = 0;
        c->cancel_job = NULL;
        cio__pg_wake(c);
    }
    PQfreeCancel(job->cancel);
    free(job);
    return 0;
}

/* Sends a CancelRequest when the abandoned request is the only one in flight:
 * a CancelRequest hits whatever the backend runs, and nothing of anyone else
 * may run then. */
static void maybe_cancel(cio_pg_conn *c)
{
    pg_req *h = c->infl_head;
    if (!h || !h->abandoned || h->cancel_sent || c->cancel_busy || h->next)
        return;
    if (cio_now() < c->cancel_at)
        return; /* a short query usually ends by itself: cheaper than a cancel */
    h->cancel_sent = 1;
    cancel_job *job = cio__calloc(1, sizeof *job);
    if (!job)
        return;
    job->cancel = PQgetCancel(c->pg);
    job->conn = c;
    cio_task *t = NULL;
    cio_task_opts o = {.name = "pg-cancel", .stack_size = DRIVER_STACK};
    if (!job->cancel || cio_spawn_opts(&t, cancel_task, job, &o) < 0) {
        PQfreeCancel(job->cancel);
        free(job);
        return; /* the grace period closes the connection instead */
    }
    c->cancel_busy = 1;
    c->cancel_job = job;
    cio_detach(t);
}

/* Once the abandoned requests are gone: a connection left in a transaction
 * that no cio_pg_tx scope owns is rolled back before anything else runs. */
static void after_drain(cio_pg_conn *c)
{
    if (draining(c) || !c->drain_deadline)
        return;
    c->drain_deadline = 0;
    PGTransactionStatusType ts = PQtransactionStatus(c->pg);
    if ((ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) && c->tx_depth == 0) {
        pg_req *r = cio__pg_req_new(REQ_PIPELINE, 1);
        if (!r) {
            mark_broken(c, "rollback");
            return;
        }
        r->internal = 1;
        r->steps[0].kind = STEP_DISCARD_SQL;
        r->steps[0].sql = "ROLLBACK";
        r->next = c->pend_head;
        c->pend_head = r;
        if (!c->pend_tail)
            c->pend_tail = r;
    }
}

/* ---- the driver task ---- */

static int rw_helper(void *arg)
{
    cio_pg_conn *c = arg;
    if (cio_wait_readable(c->fd) == 0)
        cio__pg_wake(c);
    return 0;
}

/* Waits for the socket (readable; with want_write, writable or readable) or a
 * wake-up. Returns 0, or -ETIMEDOUT when the drain deadline passed. */
static int driver_wait(cio_pg_conn *c, int want_write, int *readable)
{
    double secs = CIO_FOREVER;
    if (draining(c) && c->drain_deadline) {
        secs = c->drain_deadline - cio_now();
        if (secs <= 0)
            return -ETIMEDOUT;
        pg_req *h = c->infl_head;
        if (h && h->abandoned && !h->cancel_sent && !h->next && c->cancel_at - cio_now() < secs)
            secs = c->cancel_at > cio_now() ? c->cancel_at - cio_now() : 0;
    }
    if (cio_timeout_enter(&c->wake, secs) < 0)
        return -ETIMEDOUT;
    c->parked = 1;
    int err;
    if (want_write) {
        cio_task *helper = cio_spawn(rw_helper, c);
        err = cio_wait_writable(c->fd);
        c->parked = 0;
        if (helper) {
            cio_cancel(helper);
            cio_join(helper);
        }
        *readable = 1; /* PQflush reads too */
    } else {
        c->parked_read = 1;
        err = cio_wait_readable(c->fd);
        c->parked_read = 0;
        c->parked = 0;
        *readable = err == 0;
    }
    int ex = cio_timeout_exit(&c->wake);
    return ex == -ETIMEDOUT && cio_now() >= c->drain_deadline ? -ETIMEDOUT : 0;
}

static int driver_main(void *arg)
{
    cio_pg_conn *c = arg;
    int readable = 1;
    while (!c->broken) {
        if (c->copy_owner || stream_full(c)) {
            /* A COPY's caller owns the socket, or a stream's reader is
             * behind: wait to be woken, touch nothing. */
            if (cio_timeout_enter(&c->wake, CIO_FOREVER) == 0) {
                c->parked = 1;
                cio_event_wait(&c->never);
                c->parked = 0;
                cio_timeout_exit(&c->wake);
            }
            if (cio_cancelled())
                break;
            readable = 1;
            if (c->copy_owner || stream_full(c))
                continue;
        }
        send_pending(c);
        int f = PQflush(c->pg);
        if (f < 0) {
            mark_broken(c, "flush");
            break;
        }
        if (readable || f == 1) {
            if (!cio__pg_consume(c)) {
                mark_broken(c, "read");
                break;
            }
        }
        process_input(c);
        if (PQstatus(c->pg) == CONNECTION_BAD) {
            mark_broken(c, "server closed");
            break;
        }
        if (c->copy_owner || stream_full(c))
            continue; /* waits at the top, off the socket */
        after_drain(c);
        maybe_cancel(c);
        if (can_send(c)) {
            readable = 0;
            continue;
        }
        int err = driver_wait(c, f == 1, &readable);
        if (cio_cancelled())
            break;
        if (err == -ETIMEDOUT) {
            mark_broken(c, "cancel grace period expired");
            break;
        }
    }
    c->broken = 1;
    cio__pg_fail_all(c, -ECONNRESET);
    if (c->notify_fn && !c->closing)
        c->notify_fn(c->notify_arg, NULL, NULL, 0);
    return 0;
}

int cio__pg_driver_start(cio_pg_conn *c)
{
    cio_task_opts o = {.name = "pg-driver", .stack_size = DRIVER_STACK};
    return cio_spawn_opts(&c->driver, driver_main, c, &o);
}

void cio__pg_driver_stop(cio_pg_conn *c)
{
    if (c->cancel_job) {
        c->cancel_job->conn = NULL;
        c->cancel_job = NULL;
    }
    if (!c->driver)
        return;
    c->closing = 1;
    cio_cancel(c->driver);
    if (cio_join(c->driver) == -EPERM) /* outside a task: the loop has ended */
        cio_detach(c->driver);
    c->driver = NULL;
}

int cio__pg_submit(cio_pg_conn *c, pg_req *r)
{
    int err = cio_cancelled();
    if (err)
        return err;
    if (c->broken || !c->driver)
        return cio_fail(-ECONNRESET, "PostgreSQL connection is broken");
    push(&c->pend_head, &c->pend_tail, r);
    /* The driver waits for the answer to what it sent: the loop has one
     * thread, so the request can go out right here, and the driver's wait
     * for readable stays valid. Waking it instead costs a cancelled poll
     * and a re-arm per query. Anything else needs the driver. */
    if (c->parked_read && can_send(c)) {
        send_pending(c);
        if (c->broken || PQflush(c->pg) != 0)
            cio__pg_wake(c);
        return 0;
    }
    cio__pg_wake(c);
    return 0;
}

void cio__pg_abandon(cio_pg_conn *c, pg_req *r)
{
    if (r->done) {
        cio__pg_req_free(r);
        return;
    }
    if (!r->sent) {
        pg_req **pp = &c->pend_head, *prev = NULL;
        while (*pp != r) {
            prev = *pp;
            pp = &(*pp)->next;
        }
        *pp = r->next;
        if (c->pend_tail == r)
            c->pend_tail = prev;
        cio__pg_req_free(r);
        return;
    }
    r->abandoned = 1;
    for (size_t i = 0; i < r->rcount; i++)
        PQclear(r->ring[(r->rhead + i) % r->rcap]);
    r->rcount = 0;
    c->abandoned_inflight++;
    /* A stream or a COPY OUT keeps producing rows: cancel it at once. */
    c->cancel_at = cio_now() + (r->stream || r->copy == COPY_OUT ? 0 : CANCEL_DELAY);
    if (!c->drain_deadline)
        c->drain_deadline = cio_now() + (c->opts.cancel_grace > 0 ? c->opts.cancel_grace : 5.0);
    cio__pg_wake(c);
}

int cio__pg_submit_wait(cio_pg_conn *c, pg_req **rp)
{
    pg_req *r = *rp;
    int err = cio__pg_submit(c, r);
    if (err)
        return err;
    err = cio_event_wait(&r->done_ev);
    if (r->done)
        return r->status;
    /* The caller leaves: an unsent request just goes; a sent one is the
     * driver's to cancel and drain. */
    *rp = NULL;
    cio__pg_abandon(c, r);
    return err;
}

void cio__pg_submit_internal(cio_pg_conn *c, const char *sql)
{
    if (c->broken || !c->driver)
        return;
    pg_req *r = cio__pg_req_new(REQ_PIPELINE, 1);
    if (!r) {
        c->broken = 1; /* the session state is now unknown */
        return;
    }
    char *copy = cio__strdup(sql);
    if (!copy) {
        cio__pg_req_free(r);
        c->broken = 1;
        return;
    }
    r->internal = 1;
    r->steps[0].kind = STEP_DISCARD_SQL;
    r->steps[0].sql = copy;
    r->steps[0].owned_sql = copy;
    push(&c->pend_head, &c->pend_tail, r);
    cio__pg_wake(c);
}
