/* libcio-sqlite: SQLite the aiosqlite way — one writer thread, parallel
 * readers, cancellation that stops the query.
 *
 * SQLite has no non-blocking API, so a database runs its connections on
 * threads of its own: one writer thread and N reader threads (default 2),
 * each with its own connection opened SQLITE_OPEN_NOMUTEX and confined to it.
 * A task submits a request and suspends; the worker runs it and wakes the task
 * through the loop (cio_call_soon_threadsafe). Reads go to readers, writes to
 * the writer, so in WAL mode readers never wait for the writer.
 *
 * Routing. cio_sqlite_exec, executemany, executescript, transactions and
 * cio_sqlite_interact(CIO_SQLITE_WRITE) run on the writer. Queries
 * (cio_sqlite_execute, fetchall, fetchone, fetchval) go to a reader, which
 * prepares the statement and hands it to the writer when
 * sqlite3_stmt_readonly says it writes; the database remembers that for the
 * SQL text, so the next call goes to the writer directly. Inside a
 * transaction every statement of the task that owns it runs on the writer.
 * A database without readers (readers < 0, or ":memory:") runs everything on
 * the writer; a read-only database has no writer.
 *
 * ":memory:" (and "", SQLite's temporary database) is one private database
 * per connection in SQLite, so such a database has a single connection, the
 * writer, and no readers: every task sees the same data.
 *
 * A database belongs to the loop that opened it: use it from that loop's
 * tasks only. Every call below that suspends returns -EPERM outside a task.
 *
 * Errors: a negative errno (SQLITE_BUSY -EBUSY, READONLY -EROFS, FULL
 * -ENOSPC, CORRUPT and NOTADB -EBADMSG, NOMEM -ENOMEM, TOOBIG -E2BIG,
 * PERM and AUTH -EACCES, CANTOPEN and IOERR the system's errno (or -EIO),
 * CONSTRAINT, MISMATCH, RANGE and plain ERROR -EINVAL), with the message
 * "sqlite PATH: MESSAGE (CODE NAME)" attached by cio_fail. The extended
 * SQLite code and message are kept for cio_sqlite_errcode / errmsg.
 *
 * Cancellation: a task cancelled (or timed out) while its request waits in a
 * queue takes it back at once; while its statement runs, the statement is
 * interrupted by a flag of that request, checked by a progress handler every
 * 1,000 VM steps and by the busy handler between its short sleeps, so
 * the call returns within milliseconds and the connection stays usable. A
 * C function given to cio_sqlite_interact is not interrupted (only its
 * SQLite calls are).
 */
#ifndef CIO_SQLITE_H
#define CIO_SQLITE_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sqlite3;

typedef struct cio_sqlite cio_sqlite;
typedef struct cio_sqlite_cursor cio_sqlite_cursor;

/* Value types, SQLite's numbering. */
enum {
    CIO_SQLITE_INTEGER = 1,
    CIO_SQLITE_FLOAT = 2,
    CIO_SQLITE_TEXT = 3,
    CIO_SQLITE_BLOB = 4,
    CIO_SQLITE_NULL = 5,
};

/* A bound parameter. `name` NULL binds by position (the n-th `?`, counting
 * named parameters too, as sqlite3_bind_*); otherwise by name, with its
 * prefix (":id", "@id", "$id"). Text and blobs are copied by SQLite during
 * the call; len (size_t)-1 for text means NUL-terminated. Build them with the
 * CIO_SQLITE_* macros below. */
typedef struct cio_sqlite_arg {
    const char *name;
    int type;
    int64_t i;
    double d;
    const void *p;
    size_t len;
} cio_sqlite_arg;

#define CIO_SQLITE_ARG_NULL() ((cio_sqlite_arg){NULL, CIO_SQLITE_NULL, 0, 0, NULL, 0})
#define CIO_SQLITE_ARG_INT(v) ((cio_sqlite_arg){NULL, CIO_SQLITE_INTEGER, (int64_t)(v), 0, NULL, 0})
#define CIO_SQLITE_ARG_DOUBLE(v) ((cio_sqlite_arg){NULL, CIO_SQLITE_FLOAT, 0, (double)(v), NULL, 0})
#define CIO_SQLITE_ARG_TEXT(s) ((cio_sqlite_arg){NULL, CIO_SQLITE_TEXT, 0, 0, (s), (size_t)-1})
#define CIO_SQLITE_ARG_TEXTN(s, n) ((cio_sqlite_arg){NULL, CIO_SQLITE_TEXT, 0, 0, (s), (n)})
#define CIO_SQLITE_ARG_BLOB(p, n) ((cio_sqlite_arg){NULL, CIO_SQLITE_BLOB, 0, 0, (p), (n)})
/* Gives an argument a name: CIO_SQLITE_NAMED(":id", CIO_SQLITE_ARG_INT(7)). */
#define CIO_SQLITE_NAMED(nm, arg) (cio__sqlite_named((nm), (arg)))

static inline cio_sqlite_arg cio__sqlite_named(const char *name, cio_sqlite_arg a)
{
    a.name = name;
    return a;
}

/* Options for cio_sqlite_open. Zero-initialise; zero means the default. */
typedef struct cio_sqlite_opts {
    int readers;         /* reader threads: 0 gives 2; negative: none */
    int read_only;       /* SQLITE_OPEN_READONLY, no writer thread */
    int no_create;       /* fail with -ENOENT instead of creating the file */
    int no_wal;          /* keep the file's journal mode (default: WAL) */
    int no_foreign_keys; /* default: PRAGMA foreign_keys=ON */
    /* PRAGMA synchronous: NULL gives "NORMAL" */
    const char *synchronous;
    /* How long a statement waits for a lock another connection holds, in
     * seconds: 0 gives 5 s; negative: fail with -EBUSY at once. The wait
     * sleeps 1 ms at a time (fair: no growing back-off) and stops when the
     * request is cancelled. */
    double busy_timeout;
    size_t stmt_cache; /* prepared statements kept per connection: 0 gives 64 */
    /* Bytes of rows a cursor fetches in its first hop: 0 gives 64 KiB. Each
     * later hop of the same cursor fetches twice the one before, up to 16
     * times this (a scan then pays few hops per row). */
    size_t chunk_bytes;
    double close_timeout; /* how long close lets queued work finish: 0 gives 5 s */
    /* How long a worker that ran out of work keeps watching its queue,
     * yielding the CPU between looks, before it sleeps, in seconds: 0 gives
     * 200 us; negative: never. Requests that follow each other closely then
     * cost no futex wakeup of the worker. Also how long a task whose request
     * is the database's only one out polls for its result (letting the other
     * tasks run) before it sleeps: then the result costs no wakeup of the
     * loop either. */
    double spin;
} cio_sqlite_opts;

/* Opens the database at `path` (aiosqlite.connect): starts its threads, opens
 * their connections and applies the options. ":memory:" and "" open one
 * private database served by a single connection (see above). Stores the
 * handle in *out (NULL on failure). Returns 0, -EINVAL, -ENOENT (no_create or
 * read_only and no file), -EACCES, -EBADMSG (not a database), -ENOMEM,
 * -EAGAIN (no thread), with a message naming the path.
 * The database must be closed with cio_sqlite_close; one still open when
 * cio_run's main task ends is closed then and reported on stderr with the
 * place it was opened.
 * Suspends: yes (the files open on the worker threads).
 * Cancellation: returns the reason; nothing is left open. */
#define cio_sqlite_open(out, path, opts) cio__sqlite_open((out), (path), (opts), __FILE__, __LINE__)
CIO_API int cio__sqlite_open(cio_sqlite **out, const char *path, const cio_sqlite_opts *opts,
                             const char *file, int line);

/* Closes the database: refuses new requests (-ESHUTDOWN), lets queued and
 * running ones finish for up to close_timeout, then interrupts what is left,
 * rolls back an unfinished transaction, closes the connections and joins the
 * threads. Always releases db (NULL is a no-op). Returns 0, or -ETIMEDOUT if
 * work had to be interrupted, -EBUSY when a close is already under way.
 * Close the cursors first; the task that owns a transaction must end it
 * before close returns (else it is rolled back and its tx must not be used).
 * Suspends: yes. Cancellation: ignored (close always completes). */
CIO_API int cio_sqlite_close(cio_sqlite *db);

/* The path db was opened with. Suspends: no. */
CIO_API const char *cio_sqlite_path(const cio_sqlite *db);

/* ---- statements ---- */

/* Runs one statement on the writer to completion, discarding rows. Returns 0
 * or an error (see above). cio_sqlite_last_insert_id and cio_sqlite_changes
 * then tell its effect.
 * Suspends: yes. Cancellation: the statement is interrupted (in a transaction
 * SQLite may roll it all back); returns the reason. Cost: one hop each way. */
CIO_API int cio_sqlite_exec(cio_sqlite *db, const char *sql, const cio_sqlite_arg *args,
                            size_t nargs);

/* Runs one statement once per row of arguments (args holds nrows * nargs,
 * row after row), all on the writer in one hop and one transaction (a
 * savepoint inside cio_sqlite_begin's): all rows or none. Returns 0 or the
 * first error. cio_sqlite_changes counts every row's changes.
 * Suspends: yes. Cancellation: interrupted and rolled back; the reason. */
CIO_API int cio_sqlite_executemany(cio_sqlite *db, const char *sql, const cio_sqlite_arg *args,
                                   size_t nargs, size_t nrows);

/* Runs a script of statements without parameters on the writer in one hop
 * (sqlite3_exec). A script must leave no transaction open (use
 * cio_sqlite_begin for that): one that does is rolled back and gets -EINVAL.
 * Suspends: yes. Cancellation: interrupted; the reason. */
CIO_API int cio_sqlite_executescript(cio_sqlite *db, const char *sql);

/* Runs a statement and returns a cursor over its rows (db.execute): the
 * first chunk of rows (chunk_bytes) arrives with this call, and the next one
 * is fetched meanwhile (on a reader, outside a transaction: the worker steps
 * while the task reads), so a big scan neither holds the table in memory (two
 * chunks at most, of up to 16 x chunk_bytes each) nor pays a hop per row.
 * While rows remain, the statement stays open on its worker (a reader's read
 * transaction stays open too: close the cursor when done). Stores the cursor
 * in *cur (NULL on failure).
 * Suspends: yes. Cancellation: the statement is interrupted; the reason. */
CIO_API int cio_sqlite_execute(cio_sqlite *db, cio_sqlite_cursor **cur, const char *sql,
                               const cio_sqlite_arg *args, size_t nargs);

/* cio_sqlite_execute that fetches every row in one hop (fetchall): the
 * cursor's cio_sqlite_next never suspends. Suspends: yes. Cancellation: as
 * cio_sqlite_execute. Cost: the whole result in memory. */
CIO_API int cio_sqlite_fetchall(cio_sqlite *db, cio_sqlite_cursor **cur, const char *sql,
                                const cio_sqlite_arg *args, size_t nargs);

/* Runs a query for its first row (fetchone) and resets the statement at
 * once. Returns 1 with *cur on the row (read it with the column getters), 0
 * when there was none (*cur valid, no row), or an error (*cur NULL).
 * Suspends: yes. Cancellation: as cio_sqlite_execute. */
CIO_API int cio_sqlite_fetchone(cio_sqlite *db, cio_sqlite_cursor **cur, const char *sql,
                                const cio_sqlite_arg *args, size_t nargs);

/* The first column of the first row (fetchval): 0, -ENODATA without a row,
 * or an error. fetchval_text stores a malloc'd copy in *out (NULL for SQL
 * NULL); the caller frees it. Suspends: yes. Cancellation: as
 * cio_sqlite_execute; *out untouched. */
CIO_API int cio_sqlite_fetchval_int64(cio_sqlite *db, int64_t *out, const char *sql,
                                      const cio_sqlite_arg *args, size_t nargs);
CIO_API int cio_sqlite_fetchval_double(cio_sqlite *db, double *out, const char *sql,
                                       const cio_sqlite_arg *args, size_t nargs);
CIO_API int cio_sqlite_fetchval_text(cio_sqlite *db, char **out, const char *sql,
                                     const cio_sqlite_arg *args, size_t nargs);

/* What the calling task's last statement on db did: the rowid of its last
 * insert and the rows it changed (sqlite3_last_insert_rowid / changes64).
 * Valid until the task suspends again. Suspends: no. */
CIO_API int64_t cio_sqlite_last_insert_id(const cio_sqlite *db);
CIO_API int64_t cio_sqlite_changes(const cio_sqlite *db);

/* SQLite's extended result code and message (sqlite3_extended_errcode,
 * sqlite3_errmsg) of the last call on db that failed in SQLite, or 0 and "".
 * Read them before the task suspends again. Suspends: no. */
CIO_API int cio_sqlite_errcode(const cio_sqlite *db);
CIO_API const char *cio_sqlite_errmsg(const cio_sqlite *db);

/* ---- cursors ---- */

/* Steps to the next row: 1 when there is one, 0 at the end, or an error.
 * Fetches the next chunk with a hop when the current one is used up.
 * Suspends: only to fetch a chunk. Cancellation: the reason; the statement is
 * reset and the cursor at its end. */
CIO_API int cio_sqlite_next(cio_sqlite_cursor *cur);

/* The current row's columns. Text and blob views point into the cursor's
 * chunk (no copy) and stay valid until the next cio_sqlite_next or close;
 * text is NUL-terminated. Getters do not convert between types as
 * sqlite3_column_* do: a value of another type reads as 0 / 0.0 / NULL with
 * len 0 (read column_type first when that matters). Out-of-range columns,
 * and any column before the first or after the last row, read as NULL. Names
 * are valid until close. Suspends: no. */
CIO_API int cio_sqlite_column_count(const cio_sqlite_cursor *cur);
CIO_API const char *cio_sqlite_column_name(const cio_sqlite_cursor *cur, int col);
CIO_API int cio_sqlite_column_type(const cio_sqlite_cursor *cur, int col);
CIO_API int64_t cio_sqlite_column_int64(const cio_sqlite_cursor *cur, int col);
CIO_API double cio_sqlite_column_double(const cio_sqlite_cursor *cur, int col);
CIO_API const char *cio_sqlite_column_text(const cio_sqlite_cursor *cur, int col, size_t *len);
CIO_API const void *cio_sqlite_column_blob(const cio_sqlite_cursor *cur, int col, size_t *len);

/* Releases the cursor; a statement still open on its worker is reset there
 * (queued, not waited for). NULL is a no-op. Suspends: no. */
CIO_API void cio_sqlite_cursor_close(cio_sqlite_cursor *cur);

/* ---- a whole function on a worker ---- */

#define CIO_SQLITE_WRITE 0 /* run on the writer (in the caller's transaction) */
#define CIO_SQLITE_READ 1  /* run on a reader (the writer if there is none) */

typedef int (*cio_sqlite_fn)(struct sqlite3 *conn, void *arg);

/* Runs fn(conn, arg) on a worker thread with its connection (deadpool's
 * interact), so a batch of statements costs one hop. fn must not call cio
 * (it runs on another thread), must leave no statement running and, on the
 * writer, no transaction open unless the caller owns one (else it is rolled
 * back and the call fails with -EINVAL). Returns fn's status.
 * Suspends: yes. Cancellation: fn's SQLite calls are interrupted
 * (SQLITE_INTERRUPT); fn itself runs on; returns the reason once it ends. */
CIO_API int cio_sqlite_interact(cio_sqlite *db, cio_sqlite_fn fn, void *arg, int where);

/* Runs fn on every connection of db in turn (the writer first), for what each
 * connection needs: user functions (sqlite3_create_function_v2), collations,
 * an authorizer, trace hooks. Those callbacks then run on the worker threads,
 * never on the loop: they must not call cio. Stops at the first non-zero
 * status and returns it. Do not replace the progress or busy handlers (they
 * carry cancellation; see cio_sqlite_progress_hook). Suspends: yes, one hop
 * per connection. Cancellation: returns the reason; connections fn already
 * ran on keep what it set, the others are not visited. */
CIO_API int cio_sqlite_interact_all(cio_sqlite *db, cio_sqlite_fn fn, void *arg);

/* Installs a progress hook on the connection of the worker thread this is
 * called on (so: from a function run by cio_sqlite_interact or
 * cio_sqlite_interact_all): fn(arg) runs every 1,000 virtual-machine steps of
 * that connection's statements, after cio's own cancellation check (SQLite
 * keeps one progress handler per connection, and cio's carries
 * cancellation); a non-zero return interrupts the statement, which then
 * fails with -ECANCELED. fn NULL removes it. Returns 0, or -EPERM off a
 * worker thread or for another connection. Suspends: no. */
CIO_API int cio_sqlite_progress_hook(struct sqlite3 *conn, int (*fn)(void *arg), void *arg);

/* ---- transactions ---- */

/* A transaction scope on the caller's stack. */
typedef struct cio_sqlite_tx {
    cio_sqlite *priv_db;
    struct cio_sqlite_tx *priv_outer;
    cio_task *priv_task;
    int priv_depth; /* 0: the outermost transaction; n: savepoint n */
    int priv_open;
} cio_sqlite_tx;

/* Starts a write transaction: BEGIN IMMEDIATE on the writer, which the
 * transaction then owns until it ends: statements of other tasks queue behind
 * it, never join it. Inside an open transaction of the same task it starts a
 * savepoint instead (nested). Every statement the task runs on db meanwhile
 * runs inside it. Returns 0, -EBUSY (another connection kept the write lock
 * past busy_timeout), -EROFS (read-only), -ESHUTDOWN.
 * Suspends: yes, also while another task's transaction runs.
 * Cancellation: returns the reason; nothing started. */
CIO_API int cio_sqlite_begin(cio_sqlite *db, cio_sqlite_tx *tx);

/* Commits (or releases the savepoint). A failed commit rolls back; the
 * transaction has ended either way. Returns 0 or the error.
 * Suspends: yes. Cancellation: a cancelled task's commit rolls back and
 * returns the reason. */
CIO_API int cio_sqlite_commit(cio_sqlite_tx *tx);

/* Rolls back (to the savepoint). Returns 0 or an error; the transaction has
 * ended either way. Suspends: yes. Cancellation: ignored (it always runs). */
CIO_API int cio_sqlite_rollback(cio_sqlite_tx *tx);

/* Ends tx by the task's outcome, as `async with db.transaction()`: commits
 * when status is 0 and the task is not cancelled, otherwise rolls back.
 * Returns status when it is non-zero, else the commit's result.
 * Suspends: yes. Cancellation: rolls back (the rollback always runs) and
 * returns status, or the reason when status was 0. */
CIO_API int cio_sqlite_tx_end(cio_sqlite_tx *tx, int status);

/* Runs fn(arg) inside a transaction and ends it with cio_sqlite_tx_end:
 * committed if fn returns 0, rolled back if it fails or the task is
 * cancelled. Returns fn's status or the commit's error.
 * Suspends: yes (begin, fn's own calls, commit or rollback).
 * Cancellation: as cio_sqlite_begin before fn runs, then as
 * cio_sqlite_tx_end. */
CIO_API int cio_sqlite_transaction(cio_sqlite *db, cio_fn fn, void *arg);

/* ---- WAL, backup ---- */

/* PRAGMA wal_checkpoint(mode) on the writer; mode is "PASSIVE", "FULL",
 * "RESTART" or "TRUNCATE" (NULL: PASSIVE). Stores the WAL's frames and the
 * frames checkpointed when the pointers are not NULL. Returns 0, -EBUSY when
 * readers kept it from completing (FULL and stronger), or an error.
 * Suspends: yes. Cancellation: the reason. */
CIO_API int cio_sqlite_checkpoint(cio_sqlite *db, const char *mode, int *wal_frames,
                                  int *checkpointed);

/* The size of db's WAL file in bytes (0 without one), a metric to watch:
 * continuous readers can starve checkpoints and let it grow. Suspends: no
 * (one stat). Returns the size or a negative errno. */
CIO_API int64_t cio_sqlite_wal_size(const cio_sqlite *db);

/* Progress of a backup: pages left and total; return non-zero to stop it. */
typedef int (*cio_sqlite_progress_fn)(int remaining, int total, void *arg);

/* Copies db into the file dest_path with SQLite's online backup, in slices of
 * `pages` pages (0 gives 256), one hop each, on the writer: other statements
 * run between slices, and SQLite copies what they write into the backup as
 * they write it (a backup on another connection would restart at every write,
 * and never end under steady writes). A read-only database is copied on a
 * reader. The result is a consistent snapshot as of the last slice.
 * progress (may be NULL) runs on the loop after every slice. Returns 0,
 * -ECANCELED when progress stopped it, or an error; a stopped or failed
 * backup leaves dest_path incomplete.
 * Suspends: yes. Cancellation: stops between or inside slices; the reason. */
CIO_API int cio_sqlite_backup(cio_sqlite *db, const char *dest_path, int pages,
                              cio_sqlite_progress_fn progress, void *arg);

#ifdef __cplusplus
}
#endif
#endif
