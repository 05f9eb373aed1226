/* On a worker thread: how a running statement learns that its task was
 * cancelled, and how it waits for another connection's lock.
 *
 * Each connection has a progress handler that SQLite calls every
 * PROGRESS_STEPS virtual-machine steps; it returns the cancel flag of the
 * request the worker runs (w->cur), so SQLite stops that statement with
 * SQLITE_INTERRUPT. The flag belongs to one request: unlike
 * sqlite3_interrupt, it can never stop the statement that runs next.
 *
 * A user's progress hook (cio_sqlite_progress_hook) runs from the same
 * handler, after the flag.
 *
 * The busy handler replaces SQLite's (whose growing sleeps make older waiters
 * wait longer): it sleeps BUSY_SLEEP_NS at a time, gives up at busy_timeout,
 * and stops at once when the request is cancelled. */
#include <time.h>

#include "sqlite_internal.h"

#define PROGRESS_STEPS 1000
#define BUSY_SLEEP_NS 1000000L /* 1 ms */

static int on_progress(void *arg)
{
    worker *w = arg;
    request *r = w->cur;
    if (r && __atomic_load_n(&r->cancel, __ATOMIC_RELAXED))
        return 1;
    return w->user_progress ? w->user_progress(w->user_progress_arg) : 0;
}

int cio_sqlite_progress_hook(struct sqlite3 *conn, int (*fn)(void *arg), void *arg)
{
    worker *w = cio__sqlite_self;
    if (!w || w->conn != conn)
        return -EPERM;
    w->user_progress = fn;
    w->user_progress_arg = arg;
    return 0;
}

static int on_busy(void *arg, int count)
{
    worker *w = arg;
    request *r = w->cur;
    if (r && __atomic_load_n(&r->cancel, __ATOMIC_RELAXED))
        return 0;
    double limit = w->db->opts.busy_timeout;
    if (limit < 0)
        return 0;
    double now = cio__sqlite_mono();
    if (count == 0)
        w->busy_start = now;
    if (now - w->busy_start >= limit)
        return 0;
    struct timespec ts = {0, BUSY_SLEEP_NS};
    nanosleep(&ts, NULL);
    return 1;
}

void cio__sqlite_install_handlers(worker *w)
{
    sqlite3_progress_handler(w->conn, PROGRESS_STEPS, on_progress, w);
    sqlite3_busy_handler(w->conn, on_busy, w);
}
