/* cio scopes: cancel scopes, timeouts (asyncio.timeout, wait_for) and shields.
 *
 * A scope is a struct on the task's stack, entered and exited explicitly, in
 * LIFO order. While a scope is cancelled (by cio_scope_cancel or its deadline),
 * every suspending call inside it returns the scope's reason without suspending:
 * -ECANCELED for a cancel, -ETIMEDOUT for a deadline. Where several enclosing
 * scopes are cancelled, the outermost one's reason wins (an external cancel is
 * never mistaken for a timeout). A shield scope stops cancellation of everything
 * outside it from reaching the code inside it.
 *
 * A scope exited out of order, or still open when its task returns, is
 * reported on stderr with the file and line where it was entered; the scopes
 * inside it are closed with it.
 */
#ifndef CIO_SCOPE_H
#define CIO_SCOPE_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Private: a loop timer (embedded in scopes and sleeps). */
typedef struct cio__timer {
    int64_t deadline; /* ns on the loop clock */
    uint64_t seq;     /* ties break in arming order */
    void (*fn)(struct cio__timer *);
    uint32_t idx; /* heap slot + 1; 0 when not armed */
} cio__timer;

typedef struct cio_scope {
    struct cio_scope *priv_parent;
    cio_task *priv_task;
    const char *priv_file;
    int priv_line;
    int priv_kind;   /* cancel, timeout or shield */
    int priv_reason; /* 0 while not cancelled */
    int priv_open;
    cio__timer priv_timer;
} cio_scope;

/* Enters a plain cancel scope (Trio's CancelScope): cancel it with
 * cio_scope_cancel, leave it with cio_scope_exit. Returns 0, or -EPERM outside
 * a task, -EINVAL for NULL. */
#define cio_scope_enter(s) cio__scope_enter((s), __FILE__, __LINE__)

/* Enters a timeout scope whose deadline is `seconds` from now (asyncio.timeout).
 * CIO_FOREVER sets no deadline. Returns 0, -EINVAL for NULL or a negative or
 * NaN duration (nothing is entered then), -EPERM outside a task.
 * Cost: one timer-heap insert, no allocation. */
#define cio_timeout_enter(s, seconds) cio__timeout_enter((s), (seconds), __FILE__, __LINE__)

/* Enters a timeout scope with an absolute deadline on the cio_now() clock
 * (asyncio.timeout_at). A deadline in the past expires at once. */
#define cio_timeout_at_enter(s, when) cio__timeout_at_enter((s), (when), __FILE__, __LINE__)

/* Enters a shield scope: cancellation of scopes outside it (including
 * cio_cancel of the task) does not reach the code inside it until it exits.
 * Scopes entered inside the shield still work. Returns 0, -EPERM, -EINVAL. */
#define cio_shield_enter(s) cio__shield_enter((s), __FILE__, __LINE__)

/* The functions behind the enter macros above: they record where the scope
 * was entered, for reports of scopes left open. Suspends: no. */
CIO_API int cio__scope_enter(cio_scope *s, const char *file, int line);
CIO_API int cio__timeout_enter(cio_scope *s, double seconds, const char *file, int line);
CIO_API int cio__timeout_at_enter(cio_scope *s, double when, const char *file, int line);
CIO_API int cio__shield_enter(cio_scope *s, const char *file, int line);

/* Leaves scope s (any kind). Returns -ETIMEDOUT if s is a timeout scope whose
 * deadline fired (and, if the task has no failure message yet, sets "timed
 * out: the timeout entered at FILE:LINE expired"; cio_wait_for sets "cio_wait_for
 * timed out after N s"), -ECANCELED if s itself was cancelled with cio_scope_cancel,
 * 0 otherwise; CIO_ESCOPE (after a report naming where both scopes were
 * entered) if s is not the innermost open scope: the scopes inside s are
 * closed too. -EINVAL for NULL or a scope that is not open.
 * Suspends: no. Cost: a timer-heap removal if the deadline is armed. */
CIO_API int cio_scope_exit(cio_scope *s);

/* Same as cio_scope_exit; the names read like asyncio's `async with`.
 * Suspends: no. */
CIO_API int cio_timeout_exit(cio_scope *s);
CIO_API int cio_shield_exit(cio_scope *s);

/* Cancels scope s with -ECANCELED: the code inside it sees the reason from
 * its suspending calls until it leaves s. May be called from any task or
 * callback of the same loop while s is open. Idempotent. Suspends: no. */
CIO_API void cio_scope_cancel(cio_scope *s);

/* Moves s's deadline to `seconds` from now (CIO_FOREVER: no deadline), like
 * asyncio.Timeout.reschedule. `seconds` <= 0 (a deadline already past)
 * expires the scope at once. A scope that already expired stays expired.
 * Returns 0 or -EINVAL (NULL, not open, not a timeout scope, NaN).
 * Suspends: no. */
CIO_API int cio_timeout_reschedule(cio_scope *s, double seconds);

/* s's deadline on the cio_now() clock, or CIO_FOREVER. Suspends: no. */
CIO_API double cio_timeout_deadline(const cio_scope *s);

/* 1 if s's deadline has fired, else 0. Suspends: no. */
CIO_API int cio_timeout_expired(const cio_scope *s);

/* Runs fn(arg) in the current task under a timeout (asyncio.wait_for): returns
 * fn's status, or -ETIMEDOUT if the deadline fired while fn ran and fn
 * unwound with -ETIMEDOUT or -ECANCELED (what its suspending calls returned).
 * As in asyncio 3.12, a real failure fn returns (say -EIO) and a result fn
 * finished with anyway (timeout 0 around a join of a task already done) come
 * back as they are. A stackful task needs no new task for this: fn runs
 * inline. Returns -EINVAL for NULL fn or a bad timeout.
 * Suspends: only as fn does.
 * Cancellation: an outer cancel wins over the timeout (its reason is returned). */
CIO_API int cio_wait_for(cio_fn fn, void *arg, double timeout);

/* Waits for t like cio_join, but the caller's cancellation does not reach t
 * (asyncio.shield): if the caller is cancelled, cio_shield returns the reason
 * at once and t goes on running, detached (the loop still owns it and reports
 * its failure). Otherwise returns t's status and releases the handle.
 * Returns -EINVAL for NULL, -EBUSY if t is already being waited on.
 * Suspends: yes, until t finishes (not when it had).
 * Cancellation: returns the reason at once; t is detached, not cancelled, and
 * the handle is no longer the caller's. */
CIO_API int cio_shield(cio_task *t);

/* For __attribute__((cleanup)): `cio_scope s CIO_SCOPE_AUTO = {0};` exits s
 * at the end of the block if it is still open. (Every enter call leaves s
 * zeroed when it fails, so the cleanup is safe after a failed enter too.)
 *
 * Entering a scope that is already open in the task (the same struct twice)
 * is refused with -EINVAL and leaves it as it was; debug mode also reports it
 * on stderr with both places it was entered. */
#define CIO_SCOPE_AUTO __attribute__((cleanup(cio__scope_cleanup)))
/* CIO_SCOPE_AUTO's cleanup: exits s if it is still open. Suspends: no. */
CIO_API void cio__scope_cleanup(cio_scope *s);

#ifdef __cplusplus
}
#endif
#endif
