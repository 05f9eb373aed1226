/* cio waiting on several tasks: gather, wait, as_completed.
 *
 * A task handle can be watched by one waiter at a time (a join, a gather, a
 * wait or an as_completed); a second concurrent waiter gets -EBUSY. A handle
 * listed twice in one array is -EINVAL (with a cio_fail message naming it):
 * asyncio deduplicates, but a C array is the caller's, and its order and
 * length are what the caller reads afterwards, so cio refuses rather than
 * reorder or shrink it.
 */
#ifndef CIO_WAIT_H
#define CIO_WAIT_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* cio_gather flags. */
#define CIO_RETURN_EXCEPTIONS 1 /* let every task finish; report failures per task */

/* Waits for all n tasks (asyncio.gather). By default the first failure (a
 * negative status) cancels the others, waits for them to finish, and is
 * returned. With CIO_RETURN_EXCEPTIONS every task runs to its end and the call
 * returns 0; read each status with cio_task_status. Either way the handles stay
 * valid: release each one with cio_join (which returns at once) or cio_detach.
 * Returns 0, the first failure, -EINVAL (NULL array with n > 0, a NULL or
 * released handle, or one listed twice), -EBUSY (a handle already watched),
 * -EPERM outside a task.
 * Suspends: yes, unless all are done.
 * Cancellation: cancels every task, waits for all of them, returns the reason.
 * Cost: no allocation. */
CIO_API int cio_gather(cio_task **tasks, size_t n, int flags);

/* cio_wait's return_when. */
enum {
    CIO_ALL_COMPLETED = 0,
    CIO_FIRST_COMPLETED = 1,
    CIO_FIRST_EXCEPTION = 2, /* first negative status, else all */
};

/* Waits until the return_when condition holds or `timeout` seconds pass
 * (asyncio.wait; CIO_FOREVER for none). Never cancels the tasks. On return the
 * array is reordered: tasks[0 .. *ndone) are finished, the rest still run (their
 * relative order is kept). Returns 0 (also when the timeout passed: check
 * *ndone), -EINVAL for bad arguments (n == 0, as asyncio raises ValueError
 * for an empty set; a handle listed twice), -EBUSY, -EPERM, or the cancel reason
 * (the array is still partitioned then). Suspends: yes, unless the condition
 * already holds. Cancellation: returns the reason; the tasks are not
 * cancelled and go on running, and the array is partitioned as on a timeout.
 * Cost: no allocation. */
CIO_API int cio_wait(cio_task **tasks, size_t n, int return_when, double timeout, size_t *ndone);

/* Iterates over tasks in the order they finish (asyncio.as_completed). Embed it,
 * init it, call next until it returns -ENOENT, then destroy it. The handles are
 * not released by it. */
typedef struct cio_as_completed {
    struct {
        void (*fn)(void);
    } priv_watch;
    cio_task **priv_tasks;
    size_t priv_n;
    size_t priv_delivered;
    int64_t priv_deadline;
    void *priv_head; /* finished but not yet delivered */
    void *priv_tail;
    cio_task *priv_waiter;
    int priv_open;
} cio_as_completed;

/* Starts watching the n tasks; `timeout` (seconds, CIO_FOREVER for none) bounds
 * the whole iteration. Returns 0, -EINVAL, -EBUSY (a handle already watched; none
 * is watched then), -EPERM outside a loop. Suspends: no. */
CIO_API int cio_as_completed_init(cio_as_completed *ac, cio_task **tasks, size_t n, double timeout);

/* Stores the next task to finish in *out. Returns 0, -ENOENT when every task
 * was delivered, -ETIMEDOUT when the iteration's timeout passed (asyncio raises
 * TimeoutError), -EBUSY while another task waits in next on the same iterator
 * (one consumer per iterator), or the cancel reason.
 * Suspends: yes, until one finishes. Cancellation: returns the reason;
 * nothing is delivered or lost (the next call returns the next task), and the
 * tasks are not cancelled. */
CIO_API int cio_as_completed_next(cio_as_completed *ac, cio_task **out);

/* Stops watching the tasks not yet delivered. Never cancels them. NULL, or an
 * iterator already destroyed, is a no-op. Suspends: no. */
CIO_API void cio_as_completed_destroy(cio_as_completed *ac);

#ifdef __cplusplus
}
#endif
#endif
