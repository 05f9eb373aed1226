/* cio core: the loop, tasks, sleeping and failure messages.
 *
 * asyncio's model for C: straight-line code runs inside tasks (stackful
 * coroutines); a call that would block suspends the calling task and the loop
 * runs the others meanwhile. One loop per thread.
 *
 * Conventions used by every cio header:
 *   - Calls that can fail return 0 (or a count) on success and a negative errno
 *     on failure. cio never sets errno.
 *   - "Suspends: yes" means the call may switch to other tasks before returning.
 *   - "Cancellation:" says what the call returns when the calling task is (or
 *     becomes) cancelled. Cancellation is level-triggered: inside a cancelled
 *     scope every suspending call returns the scope's reason at once (-ECANCELED
 *     for cio_cancel, -ETIMEDOUT for an expired timeout) until the code leaves
 *     the scope. See docs/guide.md.
 *   - A suspending call made outside a task (no running loop) returns -EPERM.
 *   - One release per constructor, by its verb: _new / _free, _open / _connect
 *     / _spawn / _start / _serve / _listener_new... / _close, _init /
 *     _destroy, _enter / _exit, _begin / _commit, _rollback or _end, cio_spawn
 *     / cio_join or cio_detach. A release accepts NULL as a no-op and always
 *     releases, also when it returns an error or the caller is cancelled. The
 *     few exceptions say so in their comments; docs/guide.md ("Handles and
 *     their release") lists them.
 *   - scripts/check-contract.py checks these notes against the code (CTest:
 *     test_contract).
 */
#ifndef CIO_CORE_H
#define CIO_CORE_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h> /* ssize_t, off_t, mode_t: every cio header may use them */

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CIO_BUILDING) && defined(__GNUC__)
#define CIO_API __attribute__((visibility("default")))
#else
#define CIO_API
#endif

#if defined(__GNUC__)
#define CIO_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CIO_PRINTF(f, a)
#endif

/* Codes of cio's own, all of them: below -4000, so never an errno value;
 * cio_strerror names each (src/core/error.c). -4001 is retired. */
#define CIO_ESCOPE (-4002) /* a scope was exited out of order */
#define CIO_ETLS (-4003)   /* TLS handshake or protocol failure (the message says which) */
#define CIO_ECERT (-4004)  /* the peer's certificate failed verification */

/* Private: a FIFO of waiting tasks (their entries live on their stacks),
 * embedded in the sync primitives (cio/sync.h); src/core/waitq.h works it. */
struct cio__waiter;
typedef struct cio__waitq {
    struct cio__waiter *priv_head, *priv_tail;
} cio__waitq;

/* A duration meaning "no limit", for every timeout argument. */
#define CIO_FOREVER (__builtin_inf())

/* A task body: returns 0 or a negative errno. Results other than the status
 * travel through `arg`. */
typedef int (*cio_fn)(void *arg);

typedef struct cio_task cio_task;
typedef struct cio_loop cio_loop;

/* Which I/O backend the loop uses. AUTO picks io_uring where the kernel allows
 * it and the build has it, else epoll, and epoll under Valgrind (which cannot
 * follow the kernel's writes into io_uring buffers); the CIO_BACKEND
 * environment variable ("uring" or "epoll") overrides AUTO. */
typedef enum cio_backend_kind {
    CIO_BACKEND_AUTO = 0,
    CIO_BACKEND_EPOLL = 1,
    CIO_BACKEND_URING = 2,
} cio_backend_kind;

/* Options for cio_run_opts (a loop). Zero-initialise, then set what you need. */
typedef struct cio_opts {
    /* Debug mode (also turned on by the environment variable CIO_DEBUG=1):
     * a guard page under every stack with a "stack overflow in task NAME"
     * message, warnings for a task that runs over 100 ms without suspending
     * (time on the CPU or blocked in a system call; time spent waiting for
     * a CPU on a busy machine is not counted), and a report of leaked
     * handles at close. */
    int debug;
    /* Default stack size of the loop's tasks in bytes, rounded up to pages.
     * 0 means CIO_DEFAULT_STACK_SIZE. */
    size_t stack_size;
    cio_backend_kind backend;
    /* Virtual clock (Trio's autojump clock): time starts at 0 and, whenever
     * no task is runnable and no I/O is pending, jumps straight to the next
     * timer. Sleep and timeout tests then run instantly and deterministically. */
    int virtual_clock;
    /* Do not install cio_run's SIGINT handler. */
    int no_sigint;
} cio_opts;

/* 64 KiB: the default virtual size of a task's stack. Only touched pages cost
 * memory; an idle task costs one page. Size it for the deepest call chain
 * plus its largest local arrays (a 64 KiB buffer on the stack does not fit:
 * use the heap, or give the task more with cio_task_opts.stack_size, or every
 * task with cio_opts.stack_size). Protection: in release mode the first 4096
 * pool stacks (and every task with its own stack_size) have a one-page guard,
 * so a deep recursion faults (a plain SIGSEGV); the rest have a red zone
 * checked when the task ends. Debug mode guards every stack with
 * 1 MiB of address space and prints "stack overflow in task NAME" for a
 * fault in it, or with the task's stack pointer below its stack (a frame
 * larger than the guard), before the process dies. */
#define CIO_DEFAULT_STACK_SIZE ((size_t)64 * 1024)

/* Runs `main(arg)` as the first task of a new loop on this thread, like
 * asyncio.run: when main returns, every task still running is cancelled and
 * awaited, failures that nobody joined are reported on stderr, and the loop is
 * closed. The first SIGINT cancels the main task; a second one ends the process.
 * Returns main's status, or -EBUSY if a loop already runs on this thread,
 * -ENOMEM, -EINVAL for bad options, or the backend's error.
 * Suspends: no: it blocks the thread while the loop runs (inside a task it is
 * -EBUSY). */
CIO_API int cio_run(cio_fn main, void *arg);

/* cio_run with options (NULL means defaults). Suspends: no. */
CIO_API int cio_run_opts(cio_fn main, void *arg, const cio_opts *opts);

/* The loop running on this thread, or NULL. The pointer may be handed to
 * another thread for cio_call_soon_threadsafe. Suspends: no. */
CIO_API cio_loop *cio_loop_current(void);

/* The backend the current loop uses: "epoll", "uring", or NULL with no loop.
 * Suspends: no. */
CIO_API const char *cio_backend_name(void);

/* Options for cio_spawn_opts. Zero-initialise. */
typedef struct cio_task_opts {
    const char *name;  /* copied; NULL gives "Task-N" */
    size_t stack_size; /* 0: the loop's default */
} cio_task_opts;

/* Creates a task running fn(arg), like asyncio.create_task. It first runs when
 * the caller next suspends; ready tasks run in FIFO order. The handle must be
 * released exactly once, by cio_join (or a call documented to release it) or
 * cio_detach. Returns the handle, or NULL outside a loop or out of memory; use
 * cio_spawn_opts to tell the two apart.
 * Suspends: no. Cost: no allocation with a warm stack pool. */
CIO_API cio_task *cio_spawn(cio_fn fn, void *arg);

/* cio_spawn with options; stores the handle in *out. Returns 0, -EPERM outside
 * a loop, -EINVAL for a NULL fn or out, -ENOMEM. Suspends: no. */
CIO_API int cio_spawn_opts(cio_task **out, cio_fn fn, void *arg, const cio_task_opts *opts);

/* Waits for t to finish and releases the handle (`await task`). Returns t's
 * status. Suspends: yes, unless t has finished.
 * Cancellation: cancels t too and still waits for it to finish (asyncio's
 * propagation), then returns the caller's cancel reason, unless t ended with
 * a failure of its own (a negative status other than -ECANCELED): that
 * failure is returned, and the caller's next suspending call sees the reason.
 * Errors (the handle is not released then): -EINVAL for NULL, a handle already
 * released (the natural port of `await asyncio.wait_for(asyncio.shield(t))`
 * then `await t`: cio_shield released t when it was cancelled; debug mode
 * reports it on stderr, and the task's message says so), or a group's
 * child; -EBUSY if t is already being waited on; -EPERM outside a task;
 * -EDEADLK for a task joining itself. */
CIO_API int cio_join(cio_task *t);

/* Releases the handle without waiting (fire and forget). The loop still owns
 * the task: cio_run waits for it, and a failure of it is reported on stderr.
 * Suspends: no. */
CIO_API void cio_detach(cio_task *t);

/* Requests cancellation of t: t's suspending calls return -ECANCELED from now
 * on, except inside shield scopes. Idempotent; no effect on a finished task or
 * NULL. Suspends: no. */
CIO_API void cio_cancel(cio_task *t);

/* The running task, or NULL in a plain callback or outside a loop.
 * Suspends: no. */
CIO_API cio_task *cio_current(void);

/* Whether t has finished (1) or not (0). Suspends: no. */
CIO_API int cio_task_done(const cio_task *t);

/* t's status once finished (its body's return value), -EINPROGRESS before, or
 * -EINVAL for NULL. Suspends: no. */
CIO_API int cio_task_status(const cio_task *t);

/* The failure message t set with cio_fail, or NULL. Valid until the handle is
 * released. NULL t means the running task, or outside any task the thread's
 * own message (a suspending call made outside a task sets "NAME: not inside a
 * task"); that one is valid until the next cio_fail outside a task.
 * A message is the latest cio_fail's: read it right after the call that
 * failed. cio's calls that fail with something to say (a path, a host, a
 * limit) set one; -EINVAL for a bad argument says "NAME: invalid argument";
 * a cancel reason clears it (NULL), and an expired timeout's scope exit
 * says where it was entered: a message never tells of an earlier call.
 * Suspends: no. */
CIO_API const char *cio_task_message(const cio_task *t);

/* t's name ("Task-N" unless set). Valid until the handle is released.
 * Suspends: no. */
CIO_API const char *cio_task_name(const cio_task *t);

/* Renames t (copied, truncated to 31 bytes). NULL t means the current task.
 * Suspends: no. */
CIO_API void cio_task_set_name(cio_task *t, const char *name);

/* Attaches a message to the current task's failure, as a Python exception
 * carries text, and returns err so that `return cio_fail(-EIO, "...")` reads
 * naturally. A later call replaces the message. Outside a task the message
 * goes to the thread (see cio_task_message(NULL)). Suspends: no. */
CIO_API int cio_fail(int err, const char *fmt, ...) CIO_PRINTF(2, 3);

/* Suspends the current task for `seconds` (asyncio.sleep). 0 yields once.
 * Returns 0, -EINVAL for a negative or NaN duration, -EPERM outside a task.
 * Suspends: yes. Cancellation: returns the reason at once; the timer is gone.
 * Cost: one timer-heap insert and removal, no allocation. */
CIO_API int cio_sleep(double seconds);

/* Lets every other ready task run once, then continues (asyncio.sleep(0)).
 * Returns 0, the cancel reason, or -EPERM outside a task. Suspends: yes
 * (unless nothing else can run and no timer is due: then it returns at once).
 * Cancellation: the reason is returned only when the task was cancelled
 * before the call; a cancel that arrives while it yields shows at the next
 * suspending call (cio_yield returns 0). */
CIO_API int cio_yield(void);

/* Seconds on the loop's monotonic clock (asyncio's loop.time()); the virtual
 * time with a virtual clock. Outside a loop, the system's monotonic clock.
 * Suspends: no. */
CIO_API double cio_now(void);

/* The cancel reason the current task would get from a suspending call now,
 * or 0 when it is not cancelled. Suspends: no. */
CIO_API int cio_cancelled(void);

/* A short description of a cio return code: strerror for errno values and
 * cio's own text for its codes below -4000. Accepts positive or negative.
 * Suspends: no. */
CIO_API const char *cio_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
