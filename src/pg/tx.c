/* Transactions as scopes: BEGIN ... COMMIT / ROLLBACK, savepoints inside.
 *
 * A rollback requested by a cancelled task cannot wait: it is queued as an
 * internal request, which the driver sends before anything queued later (and
 * after the cancelled query is drained), so the next user of the connection
 * finds it outside any transaction. */
#include <stdio.h>
#include <string.h>

#include "pg_internal.h"

static const char *const isolation[] = {"READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE",
                                        "READ UNCOMMITTED"};

int cio_pg_tx_begin(cio_pg_tx *tx, cio_pg_conn *c, const cio_pg_tx_opts *o)
{
    if (!tx || !c)
        return -EINVAL;
    memset(tx, 0, sizeof *tx);
    cio_pg_tx_opts def = {0};
    if (!o)
        o = &def;
    if (o->isolation < 0 || o->isolation > 3)
        return -EINVAL;
    /* A transaction belongs to the task that began it: another task's
     * queries on the same connection would run inside it. */
    if (c->tx_depth > 0 && c->tx_owner != cio_current())
        return cio_fail(-EBUSY, "PostgreSQL connection is inside another task's transaction");
    int depth = c->tx_depth + 1;
    char sql[128];
    if (depth == 1)
        snprintf(sql, sizeof sql, "BEGIN ISOLATION LEVEL %s%s%s", isolation[o->isolation],
                 o->read_only ? " READ ONLY" : "", o->deferrable ? " DEFERRABLE" : "");
    else
        snprintf(sql, sizeof sql, "SAVEPOINT cio_sp_%d", depth);
    c->tx_depth = depth;
    int err = cio__pg_run(c, sql, NULL, 0, 0, NULL);
    if (err) {
        /* A BEGIN abandoned in flight is rolled back by the driver (no scope
         * owns the transaction); a savepoint's fate follows its outer scope. */
        c->tx_depth = depth - 1;
        return err;
    }
    c->tx_owner = cio_current();
    tx->priv_conn = c;
    tx->priv_depth = depth;
    tx->priv_open = 1;
    return 0;
}

static void close_scope(cio_pg_tx *tx)
{
    tx->priv_open = 0;
    tx->priv_conn->tx_depth = tx->priv_depth - 1;
}

/* Queues the rollback without waiting (the caller is cancelled). */
static void rollback_later(cio_pg_tx *tx)
{
    cio_pg_conn *c = tx->priv_conn;
    char sql[64];
    if (tx->priv_depth == 1) {
        cio__pg_submit_internal(c, "ROLLBACK");
    } else {
        snprintf(sql, sizeof sql, "ROLLBACK TO SAVEPOINT cio_sp_%d", tx->priv_depth);
        cio__pg_submit_internal(c, sql);
        snprintf(sql, sizeof sql, "RELEASE SAVEPOINT cio_sp_%d", tx->priv_depth);
        cio__pg_submit_internal(c, sql);
    }
}

int cio_pg_tx_rollback(cio_pg_tx *tx)
{
    if (!tx || !tx->priv_open)
        return -EINVAL;
    cio_pg_conn *c = tx->priv_conn;
    close_scope(tx);
    int err = cio_cancelled();
    if (err) {
        rollback_later(tx);
        return err;
    }
    char sql[64];
    if (tx->priv_depth == 1) {
        err = cio__pg_run(c, "ROLLBACK", NULL, 0, 0, NULL);
    } else {
        snprintf(sql, sizeof sql, "ROLLBACK TO SAVEPOINT cio_sp_%d", tx->priv_depth);
        err = cio__pg_run(c, sql, NULL, 0, 0, NULL);
        if (!err) {
            snprintf(sql, sizeof sql, "RELEASE SAVEPOINT cio_sp_%d", tx->priv_depth);
            err = cio__pg_run(c, sql, NULL, 0, 0, NULL);
        }
    }
    if (err && cio_cancelled())
        rollback_later(tx); /* the rollback was abandoned: queue it again */
    return err;
}

int cio_pg_tx_commit(cio_pg_tx *tx)
{
    if (!tx || !tx->priv_open)
        return -EINVAL;
    cio_pg_conn *c = tx->priv_conn;
    if (cio_cancelled()) {
        int reason = cio_cancelled();
        close_scope(tx);
        rollback_later(tx);
        return reason;
    }
    char sql[64];
    PGresult *res = NULL;
    int err;
    if (tx->priv_depth == 1) {
        err = cio__pg_run(c, "COMMIT", NULL, 0, 0, &res);
        /* COMMIT of a failed transaction succeeds with the tag ROLLBACK. */
        if (!err && res && strcmp(PQcmdStatus(res), "ROLLBACK") == 0)
            err = cio_fail(-EIO, "PostgreSQL: the transaction had failed; COMMIT rolled it back");
        PQclear(res);
        if (err && cio_cancelled()) {
            close_scope(tx);
            rollback_later(tx);
            return err;
        }
        close_scope(tx);
        return err;
    }
    snprintf(sql, sizeof sql, "RELEASE SAVEPOINT cio_sp_%d", tx->priv_depth);
    err = cio__pg_run(c, sql, NULL, 0, 0, NULL);
    if (err) {
        int reason = err;
        if (cio_cancelled()) {
            close_scope(tx);
            rollback_later(tx);
            return reason;
        }
        cio_pg_tx_rollback(tx);
        return reason;
    }
    close_scope(tx);
    return 0;
}

int cio_pg_tx_end(cio_pg_tx *tx, int err)
{
    if (!err)
        return cio_pg_tx_commit(tx);
    cio_pg_tx_rollback(tx);
    return err;
}
