/* cio plain callbacks: call_soon, call_later, call_soon_threadsafe.
 *
 * A callback runs on the loop, outside any task, so it must not suspend: a
 * suspending call made from a callback returns -EPERM. Callbacks and task steps
 * share one FIFO ready queue, so their order is asyncio's.
 */
#ifndef CIO_CALLBACK_H
#define CIO_CALLBACK_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*cio_callback_fn)(void *arg);
typedef struct cio_handle cio_handle;

/* Schedules fn(arg) to run once on the current loop, after the tasks and
 * callbacks already ready (loop.call_soon). Returns a handle for
 * cio_handle_cancel, or NULL outside a loop or out of memory. The handle is
 * the loop's: it is valid until the callback has run or been cancelled, and it
 * needs no release. Suspends: no. */
CIO_API cio_handle *cio_call_soon(cio_callback_fn fn, void *arg);

/* Schedules fn(arg) to run `delay` seconds from now (loop.call_later). NULL for
 * a negative or NaN delay too. Suspends: no. */
CIO_API cio_handle *cio_call_later(double delay, cio_callback_fn fn, void *arg);

/* Cancels a callback that has not run yet; no effect once it ran. Only valid
 * while the handle is (see cio_call_soon). Suspends: no. */
CIO_API void cio_handle_cancel(cio_handle *h);

/* Schedules fn(arg) on `loop` from any thread and wakes it
 * (loop.call_soon_threadsafe). The only cio call that may be made from another
 * thread. Returns 0, -EINVAL, -ENOMEM, or -ESHUTDOWN once the loop is closing.
 * The loop pointer must still be alive: keep the loop running (for example with
 * a task waiting for the result) until the callback has run. Suspends: no. */
CIO_API int cio_call_soon_threadsafe(cio_loop *loop, cio_callback_fn fn, void *arg);

/* Tells the current loop that something outside it (a thread that will call
 * cio_call_soon_threadsafe) may still wake a waiting task, so an idle loop is
 * not a deadlock. Pair with cio_loop_unref from the loop's thread.
 * Suspends: no. */
CIO_API void cio_loop_ref(void);
CIO_API void cio_loop_unref(void);

#ifdef __cplusplus
}
#endif
#endif
