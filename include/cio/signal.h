/* cio signals: tasks that wait for Unix signals (asyncio's
 * loop.add_signal_handler, written as a wait).
 *
 *     int sigs[] = {SIGTERM, SIGHUP};
 *     cio_signal_set *set;
 *     int err = cio_signal_set_open(&set, sigs, 2);
 *     for (;;) {
 *         int sig = cio_signal_set_wait(set);    // SIGTERM or SIGHUP, or -errno
 *         if (sig < 0 || sig == SIGTERM)
 *             break;
 *         reload_config();
 *     }
 *     cio_signal_set_close(set);
 *
 * How it works, and what it does to the process:
 *   - Per thread. Opening a set blocks its signals in the calling thread
 *     (pthread_sigmask) and adds them to one signalfd that the thread's sets
 *     share; a waiting task reads that signalfd (a readiness wait, then a
 *     non-blocking read on the loop's thread, the same on io_uring and epoll).
 *     When the last set watching a signal closes, the signal is unblocked
 *     again (unless it was blocked before the first set took it) and a
 *     pending instance of it is discarded. Sets belong to the thread that
 *     opened them.
 *   - Thread-directed signals (raise(), pthread_kill) reach the set at once.
 *     A process-directed signal (kill(), Ctrl-C from a terminal) goes to any
 *     thread that does not block it: block it in every thread for it to reach
 *     the set. Threads inherit the mask of the thread that creates them, so
 *     opening sets before starting threads does it; cio's own worker threads
 *     (executors, the subprocess reaper) block every signal.
 *   - Every open set watching a signal gets each instance of it (fan-out).
 *     Within one set an instance goes to one waiting task, the one that has
 *     waited longest (FIFO). Instances that arrive while nobody waits are kept
 *     for the next wait: standard signals coalesce as the kernel does (two
 *     SIGUSR1 before a read count as one), real-time signals are counted.
 *   - SIGINT: cio_run's own SIGINT handling (the first Ctrl-C cancels the
 *     main task, the second ends the process) is a classic handler, not a
 *     set: it must work while a task blocks the loop (that is when a user
 *     presses Ctrl-C twice) and in whichever thread the kernel picks, and it
 *     keeps no wait pending that would hide a deadlock. It runs only where
 *     SIGINT is not blocked: a set watching SIGINT takes SIGINT over in its
 *     thread.
 *   - Children started with cio_process_spawn begin with an empty signal mask,
 *     whatever the sets of the parent block.
 *
 * Valid signals: 1..31 and SIGRTMIN..SIGRTMAX, except SIGKILL and SIGSTOP
 * (they cannot be caught) and the synchronous fault signals SIGSEGV, SIGBUS,
 * SIGFPE and SIGILL (blocking those is undefined). Anything else is -EINVAL.
 */
#ifndef CIO_SIGNAL_H
#define CIO_SIGNAL_H

#include <stddef.h>

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_signal_set cio_signal_set;

/* Opens a set watching the n signals in signos (duplicates are fine) and
 * blocks them in the calling thread; from now on their instances are kept
 * for cio_signal_set_wait. Returns 0 and *out, -EINVAL (NULL, n == 0, a signal
 * that is not valid, see above), -ENOMEM, or signalfd's error (-EMFILE, ...).
 * Suspends: no. May be called outside a task. */
CIO_API int cio_signal_set_open(cio_signal_set **out, const int *signos, size_t n);

/* Waits for one of the set's signals and consumes it. Returns the signal
 * number (> 0), or -EINVAL for NULL or a set of another thread, -EPERM outside
 * a task, -EBADF if the set is closed while the task waits.
 * Suspends: yes, unless a signal is already pending.
 * Cancellation: returns the reason; no signal is consumed (one that arrives
 * meanwhile stays pending for the next wait). Several tasks may wait on the
 * same set or on different sets at once. */
CIO_API int cio_signal_set_wait(cio_signal_set *s);

/* Closes the set: its pending signals are dropped, tasks still waiting on it
 * wake with -EBADF, and signals no other set watches get the thread's
 * previous handling back (see above). Always releases. NULL is a no-op.
 * Suspends: no. Must be called on the thread that opened the set. */
CIO_API void cio_signal_set_close(cio_signal_set *s);

/* Waits for one signal: a set of one, opened for the duration of the call.
 * The signal is blocked only while the call waits, so an instance sent before
 * the call has the thread's usual handling; use a set to miss none.
 * Returns signo or -errno as cio_signal_set_wait (-EINVAL for a bad signo).
 * Suspends: yes. Cancellation: returns the reason; the set is closed, so a
 * signal arriving after the call gets the thread's usual handling. */
CIO_API int cio_signal_wait(int signo);

#ifdef __cplusplus
}
#endif
#endif
