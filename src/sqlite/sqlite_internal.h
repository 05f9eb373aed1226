/* libcio-sqlite internals: the database, its worker threads and the requests
 * that travel between a task and a worker. See docs/internals/sqlite.md. */
#ifndef CIO_SQLITE_INTERNAL_H
#define CIO_SQLITE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>

#include "cio.h"
#include "../core/checked.h"
#include "cio/sqlite.h"

typedef struct worker worker;
typedef struct request request;

/* What a request asks a worker to do. */
enum req_kind {
    REQ_OPEN,     /* open this worker's connection */
    REQ_EXEC,     /* one statement to completion, rows discarded */
    REQ_QUERY,    /* one statement, rows into the cursor's chunk */
    REQ_NEXT,     /* the next chunk of a cursor's open statement */
    REQ_RESET,    /* reset a cursor's statement; nobody waits (heap) */
    REQ_MANY,     /* executemany */
    REQ_SCRIPT,   /* executescript */
    REQ_TX,       /* begin / commit / rollback (sql holds the statement) */
    REQ_INTERACT, /* a user function with the connection */
    REQ_BACKUP,   /* one slice of an online backup */
};

/* Where a request is (db->mu guards it). */
enum req_state { RS_NEW, RS_QUEUED, RS_RUNNING, RS_DONE };

/* Who ends a polled request's wait (request.c, worker.c). */
enum { HANDOFF_OPEN, HANDOFF_TAKEN /* by the worker: done */, HANDOFF_SLEEP /* by the task */ };

/* Transaction operations of REQ_TX. */
enum tx_op { TX_BEGIN, TX_COMMIT, TX_ROLLBACK };

/* One chunk of rows: cells of ncols columns, text and blobs in data. */
typedef struct cell {
    union {
        int64_t i;
        double d;
        size_t off;
    } v;
    size_t len;
    int type;
} cell;

/* A small result (a fetchone, a short fetchall) fits the inline arrays, so
 * it costs no allocation on the worker and no cross-thread free on the loop;
 * a bigger one moves to the heap (cells != inl_cells). */
#define CHUNK_INLINE_CELLS 16
#define CHUNK_INLINE_DATA 512

typedef struct chunk {
    cell *cells;
    size_t ncells, cap_cells;
    char *data;
    size_t used, cap_data;
    size_t nrows;
    cell inl_cells[CHUNK_INLINE_CELLS];
    char inl_data[CHUNK_INLINE_DATA];
} chunk;

/* A cursor's chunks grow: the first holds opts.chunk_bytes, each refill
 * doubles that, up to CHUNK_GROWTH times it (cursor.c). */
#define CHUNK_GROWTH 16

/* Column names of up to NAMES_INLINE bytes (pointers and text) live in the
 * cursor; longer ones in one allocation. */
#define NAMES_INLINE 256

/* A prepared statement kept by a worker (LRU by `used`). */
typedef struct cached_stmt {
    sqlite3_stmt *stmt;
    uint64_t hash;
    uint64_t used;
    int busy; /* pinned by an open cursor: not handed out again */
} cached_stmt;

struct cio_sqlite_cursor {
    cio_sqlite *db;
    worker *pin; /* the worker holding the open statement, or NULL */
    sqlite3_stmt *stmt;
    int cached; /* stmt belongs to pin's cache */
    int done;   /* no more rows to fetch */
    int max_rows;
    size_t limit; /* bytes per chunk */
    size_t row;   /* rows consumed from the chunk; the current one is row - 1 */
    int ncols;
    char **names;    /* names_inl, or one allocation holding pointers and text */
    chunk *ch;       /* the rows being read: buf[0] or buf[1] */
    chunk buf[2];    /* the other one receives the prefetch */
    request *pre;    /* the prefetch of the next chunk (cursor.c), or NULL */
    int prefetching; /* pre is out: pin, stmt, cached, done belong to the worker */
    int orphan;      /* closed while prefetching: freed when pre comes back */
    int prefetch_ok; /* on a reader, outside any transaction */
    char *names_inl[NAMES_INLINE / sizeof(char *)];
};

struct request {
    request *next, *prev;         /* in a worker queue (db->mu) */
    request *done_next;           /* in db->inbox */
    request *all_next, *all_prev; /* db->outstanding list (loop side) */
    int kind;
    int state;
    int cancel;  /* atomic: set by the waiting task when it is cancelled */
    int polled;  /* the task watches handoff instead of sleeping on done */
    int handoff; /* atomic, when polled: HANDOFF_* */
    int to_writer;
    worker *pin;   /* the worker it must run on, or NULL */
    worker *queue; /* the queue it waits in (NULL: the readers' shared one) */
    worker *ran_on;
    cio_sqlite_tx *tx; /* the outermost transaction it belongs to, or NULL */
    int tx_op;
    const char *sql;
    const cio_sqlite_arg *args;
    size_t nargs, nrows;
    cio_sqlite_cursor *cur;
    chunk *into;                 /* REQ_NEXT: the chunk to fill (NULL: cur->ch) */
    void (*on_done)(request *r); /* on the loop, instead of setting done */
    cio_sqlite_fn fn;
    void *fn_arg;
    int fn_status;
    sqlite3_backup *backup;
    sqlite3 *backup_dest;
    const char *backup_path;
    int pages, remaining, total;
    /* results */
    int rc;     /* SQLite extended result code */
    int syserr; /* sqlite3_system_errno */
    int status; /* 0 or negative errno */
    int wrote;  /* the statement was not read-only */
    int64_t last_id, changes;
    char msg[256];
    cio_event done;
};

struct worker {
    cio_sqlite *db;
    pthread_t thread;
    int started;
    int is_writer;
    int idle;
    pthread_cond_t cond;
    request *head, *tail; /* requests for this worker only */
    unsigned queued;      /* requests ever put in head (atomic: watched while spinning) */
    sqlite3 *conn;
    request *cur;         /* the request running (for the handlers) */
    cio_sqlite_tx *owner; /* writer: the transaction that owns it */
    cached_stmt *cache;
    size_t ncache;
    uint64_t clock;
    double busy_start;
    int (*user_progress)(void *); /* cio_sqlite_progress_hook */
    void *user_progress_arg;
};

/* The worker running on this thread (NULL on other threads). */
extern __thread worker *cio__sqlite_self;

/* SQL text known to write (learned from a reader's hand-off). */
#define HINT_SLOTS 256

/* What a task has learnt about one class of request (its SQL and kind,
 * hashed into POLL_CLASSES slots; loop side only): how long it takes from
 * submit to result, and whether polling for it has been paying (request.c). */
#define POLL_CLASSES 64

typedef struct poll_class {
    double avg;      /* seconds, a moving average */
    unsigned skip;   /* requests of this class to go before one polls again */
    unsigned misses; /* polls in a row that ran out of time */
} poll_class;

struct cio_sqlite {
    char *path;
    const char *open_file;
    int open_line;
    cio_sqlite_opts opts;
    int memory;
    const char *sync; /* PRAGMA synchronous */
    cio_loop *loop;
    pthread_mutex_t mu;
    worker *writer; /* NULL when read-only */
    worker *readers;
    int nreaders;
    pthread_cond_t rcond;   /* idle readers wait here for shared work */
    request *rhead, *rtail; /* shared reader queue */
    unsigned rqueued;       /* requests ever put in the shared queue (atomic) */
    int stopping;           /* threads: exit when drained (mu) */
    request *inbox;         /* finished requests (lock-free stack) */
    /* loop side */
    int closing;
    int closed_by_guard;
    size_t outstanding;
    request *all; /* every request out (for close to interrupt) */
    cio_event idle;
    cio_event guard_stop; /* close tells the guard to end */
    cio_event guard_done; /* the guard ended */
    cio_task *guard;
    cio_sqlite_tx *tx;    /* the outermost open transaction */
    cio_task *tx_task;    /* the task that owns it */
    int tx_depth;         /* savepoints open inside it */
    poll_class polls[POLL_CLASSES]; /* request.c: how long each kind of request takes */
    uint64_t hints[HINT_SLOTS];
    int64_t last_id, changes;
    int last_rc;
    char last_msg[256];
};

/* request.c: on the loop, submitting and waiting. */
int cio__sqlite_submit_wait(cio_sqlite *db, request *r);
int cio__sqlite_withdraw(cio_sqlite *db, request *r);
void cio__sqlite_submit_detached(cio_sqlite *db, request *r);
int cio__sqlite_finish(cio_sqlite *db, request *r);
void cio__sqlite_submit_start(cio_sqlite *db, request *r);
void cio__sqlite_untrack(cio_sqlite *db, request *r);
uint64_t cio__sqlite_hash(const char *s);

/* worker.c: queues (db->mu held) and threads. */
worker *cio__sqlite_enqueue_locked(cio_sqlite *db, request *r, worker *qw); /* who to wake */
void cio__sqlite_wake(worker *w);
void cio__sqlite_unlink_queued(cio_sqlite *db, request *r, worker *qw);
int cio__sqlite_start_thread(worker *w);
int cio__sqlite_join_threads(void *arg);
double cio__sqlite_mono(void);

/* stmt.c: on a worker. */
int cio__sqlite_run(worker *w, request *r); /* 1: handed to the writer */
void cio__sqlite_forward(worker *w, request *r);
void cio__sqlite_kick(cio_sqlite *db);
void cio__sqlite_cache_free(worker *w);
int cio__sqlite_exec_cached(worker *w, request *r, const char *sql);
int cio__sqlite_error(request *r, sqlite3 *conn, int rc);
void cio__sqlite_chunk_init(chunk *c);
void cio__sqlite_chunk_free(chunk *c);

/* cancel.c: on a worker. */
void cio__sqlite_install_handlers(worker *w);

/* tx.c: on the writer. */
void cio__sqlite_run_tx(worker *w, request *r);
void cio__sqlite_check_autocommit(worker *w, request *r);

#endif
