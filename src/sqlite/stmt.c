/* On a worker thread: prepared statements (an LRU cache per connection),
 * binds, stepping rows into a cursor's chunk, and SQLite's errors.
 * Nothing here touches the loop: the results go back in the request. */
#include <stdio.h>
#include <stdlib.h>
#include <libgen.h>
#include <string.h>
#include <unistd.h>

#include "../core/alloc.h"
#include "sqlite_internal.h"

/* ---- errors ---- */

static int errno_of(int rc, int syserr)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
        return 0;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_READONLY:
        return -EROFS;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return -EBADMSG;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_TOOBIG:
        return -E2BIG;
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return -EACCES;
    case SQLITE_INTERRUPT:
        return -ECANCELED;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
        return syserr > 0 ? -syserr : -EIO;
    default:
        return -EINVAL;
    }
}

/* Records SQLite's error of `conn` (or `rc` without one) in r. */
int cio__sqlite_error(request *r, sqlite3 *conn, int rc)
{
    int ext = conn ? sqlite3_extended_errcode(conn) : rc;
    if ((ext & 0xff) != (rc & 0xff))
        ext = rc; /* the connection's code is from an earlier call */
    r->rc = ext;
    r->syserr = conn ? sqlite3_system_errno(conn) : 0;
    snprintf(r->msg, sizeof(r->msg), "%s", conn ? sqlite3_errmsg(conn) : sqlite3_errstr(rc));
    r->status = errno_of(ext, r->syserr);
    return r->status;
}

/* An error of cio's own (no SQLite code). */
static void fail_msg(request *r, int status, const char *msg)
{
    r->rc = 0;
    r->status = status;
    snprintf(r->msg, sizeof(r->msg), "%s", msg);
}

/* ---- the statement cache ---- */

void cio__sqlite_cache_free(worker *w)
{
    for (size_t i = 0; i < w->ncache; i++)
        sqlite3_finalize(w->cache[i].stmt);
    free(w->cache);
    w->cache = NULL;
    w->ncache = 0;
}

static cached_stmt *cache_find(worker *w, const char *sql, uint64_t h)
{
    for (size_t i = 0; i < w->ncache; i++) {
        cached_stmt *c = &w->cache[i];
        if (c->hash == h && !c->busy && !strcmp(sqlite3_sql(c->stmt), sql))
            return c;
    }
    return NULL;
}

/* A slot for a new statement: a free one, else the least recently used
 * statement that no cursor holds (finalized). NULL when every one is held. */
static cached_stmt *cache_slot(worker *w)
{
    size_t cap = w->db->opts.stmt_cache;
    if (!w->cache) {
        w->cache = cio__calloc(cap, sizeof(*w->cache));
        if (!w->cache)
            return NULL;
    }
    if (w->ncache < cap)
        return &w->cache[w->ncache++];
    cached_stmt *lru = NULL;
    for (size_t i = 0; i < w->ncache; i++)
        if (!w->cache[i].busy && (!lru || w->cache[i].used < lru->used))
            lru = &w->cache[i];
    if (lru) {
        sqlite3_finalize(lru->stmt);
        memset(lru, 0, sizeof(*lru));
    }
    return lru;
}

/* Prepares sql (one statement) or takes it from the cache. Sets *cached.
 * Returns NULL with r's error set, or NULL without error for an empty
 * statement. */
static sqlite3_stmt *prepare(worker *w, request *r, const char *sql, int *cached)
{
    uint64_t h = cio__sqlite_hash(sql);
    cached_stmt *c = cache_find(w, sql, h);
    *cached = 0;
    if (c) {
        c->used = ++w->clock;
        *cached = 1;
        return c->stmt;
    }
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    int rc = sqlite3_prepare_v3(w->conn, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, &tail);
    if (rc != SQLITE_OK) {
        cio__sqlite_error(r, w->conn, rc);
        return NULL;
    }
    while (tail &&
           (*tail == ' ' || *tail == '\n' || *tail == '\t' || *tail == '\r' || *tail == ';'))
        tail++;
    if (tail && *tail) {
        sqlite3_finalize(st);
        fail_msg(r, -EINVAL, "one statement per call (use cio_sqlite_executescript for more)");
        return NULL;
    }
    if (!st)
        return NULL;
    c = cache_slot(w);
    if (c) {
        c->stmt = st;
        c->hash = h;
        c->used = ++w->clock;
        *cached = 1;
    }
    return st;
}

/* Gives a statement back: reset into the cache, or finalized. */
static void release(worker *w, sqlite3_stmt *st, int cached)
{
    if (!st)
        return;
    if (!cached) {
        sqlite3_finalize(st);
        return;
    }
    sqlite3_reset(st);
    for (size_t i = 0; i < w->ncache; i++)
        if (w->cache[i].stmt == st)
            w->cache[i].busy = 0;
}

static void hold(worker *w, sqlite3_stmt *st)
{
    for (size_t i = 0; i < w->ncache; i++)
        if (w->cache[i].stmt == st)
            w->cache[i].busy = 1;
}

/* Runs one statement without parameters, such as BEGIN, COMMIT or a
 * SAVEPOINT, through the statement cache: a transaction's bookkeeping is then
 * not parsed again each time (sqlite3_exec prepares and finalizes its SQL on
 * every call). Text holding several statements goes to sqlite3_exec. Records
 * the first error in r and returns SQLite's result code. */
int cio__sqlite_exec_cached(worker *w, request *r, const char *sql)
{
    int rc;
    if (strchr(sql, ';')) {
        rc = sqlite3_exec(w->conn, sql, NULL, NULL, NULL);
    } else {
        int cached, had = r->status;
        sqlite3_stmt *st = prepare(w, r, sql, &cached);
        if (!st)
            return r->status != had ? SQLITE_ERROR : SQLITE_OK;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            ;
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
        if (rc != SQLITE_OK && !r->status)
            cio__sqlite_error(r, w->conn, rc);
        release(w, st, cached);
        return rc;
    }
    if (rc != SQLITE_OK && !r->status)
        cio__sqlite_error(r, w->conn, rc);
    return rc;
}

/* ---- binds ---- */

/* Whether binding a[0..n) by position sets every parameter of st, so the
 * previous call's values need no clearing. */
static int binds_all(sqlite3_stmt *st, const cio_sqlite_arg *a, size_t n)
{
    if ((size_t)sqlite3_bind_parameter_count(st) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (a[i].name)
            return 0;
    return 1;
}

static int bind_args(request *r, sqlite3 *conn, sqlite3_stmt *st, const cio_sqlite_arg *a, size_t n)
{
    if (!binds_all(st, a, n))
        sqlite3_clear_bindings(st);
    for (size_t i = 0; i < n; i++) {
        int idx = (int)i + 1;
        if (a[i].name) {
            idx = sqlite3_bind_parameter_index(st, a[i].name);
            if (!idx) {
                char m[160];
                snprintf(m, sizeof(m), "no parameter named %.100s", a[i].name);
                fail_msg(r, -EINVAL, m);
                r->rc = SQLITE_RANGE;
                return -EINVAL;
            }
        }
        int rc;
        switch (a[i].type) {
        case CIO_SQLITE_NULL:
            rc = sqlite3_bind_null(st, idx);
            break;
        case CIO_SQLITE_INTEGER:
            rc = sqlite3_bind_int64(st, idx, a[i].i);
            break;
        case CIO_SQLITE_FLOAT:
            rc = sqlite3_bind_double(st, idx, a[i].d);
            break;
        case CIO_SQLITE_TEXT:
            if (!a[i].p)
                rc = sqlite3_bind_null(st, idx);
            else if (a[i].len == (size_t)-1)
                rc = sqlite3_bind_text(st, idx, a[i].p, -1, SQLITE_TRANSIENT);
            else
                rc = sqlite3_bind_text64(st, idx, a[i].p, a[i].len, SQLITE_TRANSIENT, SQLITE_UTF8);
            break;
        case CIO_SQLITE_BLOB:
            rc = sqlite3_bind_blob64(st, idx, a[i].p ? a[i].p : "", a[i].len, SQLITE_TRANSIENT);
            break;
        default:
            fail_msg(r, -EINVAL, "an argument of unknown type");
            return -EINVAL;
        }
        if (rc != SQLITE_OK)
            return cio__sqlite_error(r, conn, rc);
    }
    return 0;
}

/* ---- rows into chunks ---- */

void cio__sqlite_chunk_init(chunk *c)
{
    c->cells = c->inl_cells;
    c->cap_cells = CHUNK_INLINE_CELLS;
    c->data = c->inl_data;
    c->cap_data = CHUNK_INLINE_DATA;
    c->ncells = c->used = c->nrows = 0;
}

void cio__sqlite_chunk_free(chunk *c)
{
    if (c->cells != c->inl_cells)
        free(c->cells);
    if (c->data != c->inl_data)
        free(c->data);
    cio__sqlite_chunk_init(c);
}

/* Grows *p (inline storage `inl` or the heap) to hold `need` elements. */
static int grow(void **p, size_t *cap, size_t need, size_t elem, void *inl)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap * 2 > 64 ? *cap * 2 : 64;
    while (n < need)
        n *= 2;
    void *q;
    if (*p == inl) {
        q = cio__malloc(n * elem);
        if (q)
            memcpy(q, inl, *cap * elem);
    } else {
        q = cio__realloc(*p, n * elem);
    }
    if (!q)
        return -ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

/* Copies the current row of st into c. Reads each column through its
 * sqlite3_value: one call finds the column, and the value getters skip the
 * per-call mutex and error bookkeeping of the sqlite3_column_* ones (the
 * connection is this thread's alone, SQLITE_OPEN_NOMUTEX). */
static int append_row(chunk *c, sqlite3_stmt *st, int ncols)
{
    if (c->ncells + (size_t)ncols > c->cap_cells &&
        grow((void **)&c->cells, &c->cap_cells, c->ncells + (size_t)ncols, sizeof(cell),
             c->inl_cells))
        return -ENOMEM;
    cell *x = &c->cells[c->ncells];
    for (int i = 0; i < ncols; i++, x++) {
        sqlite3_value *v = sqlite3_column_value(st, i);
        x->type = sqlite3_value_type(v);
        x->len = 0;
        switch (x->type) {
        case SQLITE_INTEGER:
            x->v.i = sqlite3_value_int64(v);
            break;
        case SQLITE_FLOAT:
            x->v.d = sqlite3_value_double(v);
            break;
        case SQLITE_TEXT:
        case SQLITE_BLOB: {
            /* text first, then its length (SQLite's order for conversions) */
            const void *p = x->type == SQLITE_TEXT ? (const void *)sqlite3_value_text(v)
                                                   : sqlite3_value_blob(v);
            size_t len = (size_t)sqlite3_value_bytes(v);
            if (c->used + len + 1 > c->cap_data &&
                grow((void **)&c->data, &c->cap_data, c->used + len + 1, 1, c->inl_data))
                return -ENOMEM;
            if (len)
                memcpy(c->data + c->used, p, len);
            c->data[c->used + len] = 0;
            x->v.off = c->used;
            x->len = len;
            c->used += len + 1;
            break;
        }
        default:
            x->type = SQLITE_NULL;
        }
    }
    c->ncells += (size_t)ncols;
    c->nrows++;
    return 0;
}

/* Copies the column names into the cursor: the pointers, then the text, in
 * the inline block when they fit, else in one allocation. */
static int take_names(cio_sqlite_cursor *cur, sqlite3_stmt *st)
{
    int ncols = sqlite3_column_count(st);
    if (!ncols)
        return 0;
    size_t size = (size_t)ncols * sizeof(char *);
    for (int i = 0; i < ncols; i++) {
        const char *n = sqlite3_column_name(st, i);
        size += (n ? strlen(n) : 0) + 1;
    }
    char **names = cur->names_inl;
    if (size > sizeof(cur->names_inl) && !(names = cio__malloc(size)))
        return -ENOMEM;
    char *text = (char *)(names + ncols);
    for (int i = 0; i < ncols; i++) {
        const char *n = sqlite3_column_name(st, i);
        size_t len = n ? strlen(n) : 0;
        memcpy(text, n ? n : "", len + 1);
        names[i] = text;
        text += len + 1;
    }
    cur->names = names;
    cur->ncols = ncols;
    return 0;
}

/* Steps st into the cursor's chunk until the chunk holds `limit` bytes (the
 * statement stays open, pinned to this worker), max_rows rows, or the end. */
static void fill(worker *w, request *r, cio_sqlite_cursor *cur, sqlite3_stmt *st, int cached)
{
    chunk *c = r->into ? r->into : cur->ch;
    c->ncells = c->used = c->nrows = 0;
    for (;;) {
        if (cur->max_rows && c->nrows >= (size_t)cur->max_rows)
            break;
        if (c->nrows && c->ncells * sizeof(cell) + c->used >= cur->limit) {
            if (cached)
                hold(w, st);
            cur->pin = w;
            cur->stmt = st;
            cur->cached = cached;
            return;
        }
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            if (append_row(c, st, cur->ncols)) {
                fail_msg(r, -ENOMEM, "out of memory for a chunk of rows");
                break;
            }
            continue;
        }
        if (rc != SQLITE_DONE)
            cio__sqlite_error(r, w->conn, rc);
        break;
    }
    r->changes = sqlite3_changes64(w->conn);
    r->last_id = sqlite3_last_insert_rowid(w->conn);
    cur->done = 1;
    cur->pin = NULL;
    cur->stmt = NULL;
    release(w, st, cached);
}

/* ---- the requests ---- */

static void run_exec(worker *w, request *r)
{
    int cached;
    sqlite3_stmt *st = prepare(w, r, r->sql, &cached);
    if (!st)
        return;
    r->wrote = !sqlite3_stmt_readonly(st);
    if (bind_args(r, w->conn, st, r->args, r->nargs) == 0) {
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            ;
        if (rc != SQLITE_DONE)
            cio__sqlite_error(r, w->conn, rc);
    }
    r->changes = sqlite3_changes64(w->conn);
    r->last_id = sqlite3_last_insert_rowid(w->conn);
    release(w, st, cached);
}

static int run_query(worker *w, request *r)
{
    cio_sqlite_cursor *cur = r->cur;
    int cached;
    sqlite3_stmt *st = prepare(w, r, r->sql, &cached);
    if (!st) {
        cur->done = 1;
        return 0;
    }
    r->wrote = !sqlite3_stmt_readonly(st);
    if (r->wrote && !w->is_writer && w->db->writer) {
        release(w, st, cached);
        cio__sqlite_forward(w, r);
        return 1;
    }
    if (bind_args(r, w->conn, st, r->args, r->nargs) || (!cur->names && take_names(cur, st))) {
        if (!r->status)
            fail_msg(r, -ENOMEM, "out of memory for column names");
        cur->done = 1;
        release(w, st, cached);
        return 0;
    }
    fill(w, r, cur, st, cached);
    return 0;
}

/* executemany: all rows in one transaction (a savepoint inside the owner's). */
static void run_many(worker *w, request *r)
{
    int in_tx = !sqlite3_get_autocommit(w->conn);
    const char *begin = in_tx ? "SAVEPOINT cio_many" : "BEGIN IMMEDIATE";
    int rc = cio__sqlite_exec_cached(w, r, begin);
    if (rc != SQLITE_OK)
        return;
    int cached;
    sqlite3_stmt *st = prepare(w, r, r->sql, &cached);
    int64_t changes = 0;
    for (size_t row = 0; st && row < r->nrows && !r->status; row++) {
        if (bind_args(r, w->conn, st, r->args + row * r->nargs, r->nargs))
            break;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            ;
        if (rc != SQLITE_DONE)
            cio__sqlite_error(r, w->conn, rc);
        changes += sqlite3_changes64(w->conn);
        sqlite3_reset(st);
    }
    release(w, st, cached);
    r->changes = changes;
    r->last_id = sqlite3_last_insert_rowid(w->conn);
    const char *end = in_tx ? "RELEASE cio_many" : "COMMIT";
    if (r->status) {
        if (sqlite3_get_autocommit(w->conn))
            return; /* SQLite rolled it all back itself */
        end = in_tx ? "ROLLBACK TO cio_many; RELEASE cio_many" : "ROLLBACK";
        sqlite3_exec(w->conn, end, NULL, NULL, NULL);
        return;
    }
    rc = cio__sqlite_exec_cached(w, r, end);
    if (rc != SQLITE_OK) {
        if (!in_tx && !sqlite3_get_autocommit(w->conn))
            sqlite3_exec(w->conn, "ROLLBACK", NULL, NULL, NULL);
    }
}

static void run_script(worker *w, request *r)
{
    int rc = sqlite3_exec(w->conn, r->sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        cio__sqlite_error(r, w->conn, rc);
    r->changes = sqlite3_changes64(w->conn);
    r->last_id = sqlite3_last_insert_rowid(w->conn);
}

/* SQLite retries a failed read-write open read-only, so its errno says
 * ENOENT when the directory refused the new file: name the directory. */
static void explain_cantopen(request *r, cio_sqlite *db)
{
    if (db->memory || db->opts.read_only || access(db->path, F_OK) == 0)
        return;
    char *copy = cio__strdup(db->path);
    if (!copy)
        return;
    const char *d = dirname(copy);
    if (access(d, W_OK) != 0) {
        r->status = -errno;
        snprintf(r->msg, sizeof(r->msg), "cannot create a file in %.200s: %s", d, strerror(errno));
    }
    free(copy);
}

static void run_open(worker *w, request *r)
{
    cio_sqlite *db = w->db;
    int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI;
    if (db->memory)
        flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    else if (!w->is_writer)
        flags |= SQLITE_OPEN_READONLY;
    else
        flags |= SQLITE_OPEN_READWRITE | (db->opts.no_create ? 0 : SQLITE_OPEN_CREATE);
    int rc = sqlite3_open_v2(db->path, &w->conn, flags, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_extended_result_codes(w->conn, 1);
        cio__sqlite_install_handlers(w);
        /* Reads the header now, so a file that is not a database fails here. */
        rc = sqlite3_exec(w->conn, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK && w->is_writer && !db->opts.no_wal && !db->memory)
        rc = sqlite3_exec(w->conn, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
    if (rc == SQLITE_OK && !db->opts.no_foreign_keys)
        rc = sqlite3_exec(w->conn, "PRAGMA foreign_keys=ON", NULL, NULL, NULL);
    if (rc == SQLITE_OK) {
        char sql[48];
        snprintf(sql, sizeof(sql), "PRAGMA synchronous=%s", db->sync);
        rc = sqlite3_exec(w->conn, sql, NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        cio__sqlite_error(r, w->conn, rc);
        if ((rc & 0xff) == SQLITE_CANTOPEN)
            explain_cantopen(r, db);
        sqlite3_close_v2(w->conn);
        w->conn = NULL;
    }
}

static void run_next(worker *w, request *r)
{
    cio_sqlite_cursor *cur = r->cur;
    sqlite3_stmt *st = cur->stmt;
    int cached = cur->cached;
    if (cached)
        for (size_t i = 0; i < w->ncache; i++)
            if (w->cache[i].stmt == st)
                w->cache[i].busy = 0; /* fill holds it again if rows remain */
    cur->pin = NULL;
    cur->stmt = NULL;
    fill(w, r, cur, st, cached);
}

static void run_interact(worker *w, request *r)
{
    r->fn_status = r->fn(w->conn, r->fn_arg);
    r->status = r->fn_status;
    r->changes = sqlite3_changes64(w->conn);
    r->last_id = sqlite3_last_insert_rowid(w->conn);
}

/* One slice of a backup; pages < 0 ends it early. */
static void run_backup(worker *w, request *r)
{
    int rc;
    if (r->pages < 0)
        goto finish;
    if (!r->backup) {
        rc =
            sqlite3_open_v2(r->backup_path, &r->backup_dest,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
        if (rc == SQLITE_OK)
            r->backup = sqlite3_backup_init(r->backup_dest, "main", w->conn, "main");
        if (!r->backup) {
            cio__sqlite_error(r, r->backup_dest, sqlite3_errcode(r->backup_dest));
            goto finish;
        }
    }
    rc = sqlite3_backup_step(r->backup, r->pages);
    r->remaining = sqlite3_backup_remaining(r->backup);
    r->total = sqlite3_backup_pagecount(r->backup);
    if (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        return; /* more slices */
    if (rc != SQLITE_DONE)
        cio__sqlite_error(r, r->backup_dest, rc);
    r->remaining = 0;
finish:
    if (r->backup)
        sqlite3_backup_finish(r->backup);
    r->backup = NULL;
    if (r->backup_dest)
        sqlite3_close_v2(r->backup_dest);
    r->backup_dest = NULL;
}

int cio__sqlite_run(worker *w, request *r)
{
    r->rc = 0;
    r->status = 0;
    r->msg[0] = 0;
    if (r->kind == REQ_OPEN) {
        run_open(w, r);
        return 0;
    }
    if (r->kind == REQ_RESET) {
        release(w, (sqlite3_stmt *)r->fn_arg, (int)r->nargs);
        return 0;
    }
    switch (r->kind) {
    case REQ_EXEC:
        run_exec(w, r);
        break;
    case REQ_QUERY:
        if (run_query(w, r))
            return 1;
        break;
    case REQ_NEXT:
        run_next(w, r);
        break;
    case REQ_MANY:
        run_many(w, r);
        break;
    case REQ_SCRIPT:
        run_script(w, r);
        break;
    case REQ_TX:
        cio__sqlite_run_tx(w, r);
        return 0;
    case REQ_INTERACT:
        run_interact(w, r);
        break;
    case REQ_BACKUP:
        run_backup(w, r);
        return 0;
    }
    cio__sqlite_check_autocommit(w, r);
    return 0;
}
