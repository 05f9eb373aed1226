/* Transactions as scopes. A write transaction is BEGIN IMMEDIATE on the
 * writer, which it then owns: the writer takes only that transaction's
 * requests until it ends (worker.c, eligible()), so statements of other tasks
 * queue behind it and never join it. Requests of the owning task are tagged
 * with the transaction when they are submitted. Nested transactions are
 * savepoints. A transaction ends on the writer whatever happens: a failed
 * commit rolls back, and the writer's ownership always ends with the
 * outermost transaction. */
#include <stdio.h>
#include <string.h>

#include "sqlite_internal.h"

_Static_assert(sizeof(cio_sqlite_tx) <= 48, "cio_sqlite_tx stays small: it lives on task stacks");

/* ---- on the writer ---- */

static void tx_error(request *r, int status, const char *msg)
{
    r->rc = 0;
    r->status = status;
    snprintf(r->msg, sizeof(r->msg), "%s", msg);
}

void cio__sqlite_run_tx(worker *w, request *r)
{
    int depth = (int)r->nargs;
    char undo[96];
    if (depth)
        snprintf(undo, sizeof(undo), "ROLLBACK TO cio_sp%d; RELEASE cio_sp%d", depth, depth);
    else
        snprintf(undo, sizeof(undo), "ROLLBACK");
    switch (r->tx_op) {
    case TX_BEGIN:
        cio__sqlite_exec_cached(w, r, r->sql);
        if (!r->status && !depth)
            w->owner = r->tx;
        return;
    case TX_COMMIT:
        if (sqlite3_get_autocommit(w->conn)) {
            tx_error(r, -EIO, "the transaction was already rolled back after an earlier error");
        } else {
            cio__sqlite_exec_cached(w, r, r->sql);
            if (r->status && !sqlite3_get_autocommit(w->conn))
                sqlite3_exec(w->conn, undo, NULL, NULL, NULL);
        }
        break;
    case TX_ROLLBACK:
        if (!sqlite3_get_autocommit(w->conn))
            cio__sqlite_exec_cached(w, r, r->sql);
        break;
    }
    if (!depth) {
        if (!sqlite3_get_autocommit(w->conn))
            sqlite3_exec(w->conn, "ROLLBACK", NULL, NULL, NULL);
        w->owner = NULL;
    }
}

/* A statement must not leave a transaction open that no cio_sqlite_tx
 * owns: the writer would then run other tasks' statements inside it. */
void cio__sqlite_check_autocommit(worker *w, request *r)
{
    if (!w->conn || sqlite3_get_autocommit(w->conn))
        return;
    if (w->is_writer && w->owner && r->tx == w->owner)
        return;
    sqlite3_exec(w->conn, "ROLLBACK", NULL, NULL, NULL);
    if (!r->status)
        tx_error(r, -EINVAL,
                 "the statement left a transaction open; it was rolled back "
                 "(use cio_sqlite_begin)");
}

/* ---- on the loop ---- */

/* Ends tx (commit or roll back) on the writer; always runs to completion. */
static int tx_finish(cio_sqlite_tx *tx, int op)
{
    cio_sqlite *db = tx->priv_db;
    int depth = tx->priv_depth;
    char sql[96];
    if (op == TX_COMMIT && depth)
        snprintf(sql, sizeof(sql), "RELEASE cio_sp%d", depth);
    else if (op == TX_COMMIT)
        snprintf(sql, sizeof(sql), "COMMIT");
    else if (depth)
        snprintf(sql, sizeof(sql), "ROLLBACK TO cio_sp%d; RELEASE cio_sp%d", depth, depth);
    else
        snprintf(sql, sizeof(sql), "ROLLBACK");
    request r = {0};
    r.kind = REQ_TX;
    r.tx_op = op;
    r.sql = sql;
    r.tx = tx->priv_outer;
    r.nargs = (size_t)depth;
    r.to_writer = 1;
    cio_scope sh;
    int shield_err = cio_shield_enter(&sh); /* fails only outside a task */
    int err = cio__sqlite_submit_wait(db, &r);
    if (!shield_err)
        cio_shield_exit(&sh);
    tx->priv_open = 0;
    if (depth == 0) {
        if (db->tx == tx) {
            db->tx = NULL;
            db->tx_task = NULL;
            db->tx_depth = 0;
        }
    } else {
        db->tx_depth = depth - 1;
    }
    cio__sqlite_kick(db);
    return err;
}

int cio_sqlite_begin(cio_sqlite *db, cio_sqlite_tx *tx)
{
    if (!db || !tx)
        return -EINVAL;
    memset(tx, 0, sizeof(*tx));
    cio_task *self = cio_current();
    if (!self)
        return -EPERM;
    if (!db->writer)
        return cio_fail(-EROFS, "sqlite %s: opened read-only: no write transaction", db->path);
    int nested = db->tx && db->tx_task == self;
    int depth = nested ? db->tx_depth + 1 : 0;
    char sql[48];
    if (nested)
        snprintf(sql, sizeof(sql), "SAVEPOINT cio_sp%d", depth);
    else
        snprintf(sql, sizeof(sql), "BEGIN IMMEDIATE");
    request r = {0};
    r.kind = REQ_TX;
    r.tx_op = TX_BEGIN;
    r.sql = sql;
    r.tx = nested ? db->tx : tx;
    r.nargs = (size_t)depth;
    r.to_writer = 1;
    int err = cio__sqlite_submit_wait(db, &r);
    tx->priv_db = db;
    tx->priv_task = self;
    tx->priv_depth = depth;
    tx->priv_outer = nested ? db->tx : tx;
    int began = r.ran_on && r.status == 0;
    if (began) {
        tx->priv_open = 1;
        if (nested) {
            db->tx_depth = depth;
        } else {
            db->tx = tx;
            db->tx_task = self;
            db->tx_depth = 0;
        }
    }
    if (err && began)
        tx_finish(tx, TX_ROLLBACK); /* cancelled just as it began */
    return err;
}

int cio_sqlite_commit(cio_sqlite_tx *tx)
{
    if (!tx || !tx->priv_open)
        return -EINVAL;
    int reason = cio_cancelled();
    if (reason) {
        tx_finish(tx, TX_ROLLBACK);
        return reason;
    }
    return tx_finish(tx, TX_COMMIT);
}

int cio_sqlite_rollback(cio_sqlite_tx *tx)
{
    if (!tx || !tx->priv_open)
        return -EINVAL;
    return tx_finish(tx, TX_ROLLBACK);
}

int cio_sqlite_tx_end(cio_sqlite_tx *tx, int status)
{
    if (status) {
        cio_sqlite_rollback(tx);
        return status;
    }
    return cio_sqlite_commit(tx);
}

int cio_sqlite_transaction(cio_sqlite *db, cio_fn fn, void *arg)
{
    if (!fn)
        return -EINVAL;
    cio_sqlite_tx tx;
    int err = cio_sqlite_begin(db, &tx);
    if (err)
        return err;
    return cio_sqlite_tx_end(&tx, fn(arg));
}
