/* cio subprocesses: asyncio.create_subprocess_exec for C.
 *
 *     const char *argv[] = {"tr", "a-z", "A-Z", NULL};
 *     cio_process_opts o = {.stdin_mode = CIO_STDIO_PIPE, .stdout_mode = CIO_STDIO_PIPE};
 *     cio_process *p;
 *     int err = cio_process_spawn(&p, argv, &o);       // -ENOENT: no such program
 *     cio_process_output out;
 *     int code = cio_process_communicate(p, "hello\n", 6, &out, 5.0);
 *     // code: the exit status (0..255, 128+N after signal N) or -errno
 *     cio_process_output_free(&out);
 *     cio_process_close(p);
 *
 * What cio promises:
 *   - No zombies. Every child is reaped: by cio_process_wait, or, when the
 *     process is closed while the child still runs (say the waiting task was
 *     cancelled), by a reaper thread of cio's own that waits for it in the
 *     background. A child is never killed behind the caller's back, except by
 *     cio_process_communicate when its timeout fires or it is cancelled.
 *     Waiting uses a pidfd (Linux 5.3+), readable when the child exits, so
 *     no SIGCHLD handler is installed; without pidfds, cio polls with
 *     waitid(WNOHANG) at growing intervals (1 ms to 50 ms). Do not reap cio's
 *     children yourself (waitpid(-1), SIGCHLD set to SIG_IGN): their status
 *     is lost then and waits return -ECHILD.
 *   - No descriptor leaks. Every descriptor cio makes is close-on-exec; the
 *     child gets its three standard descriptors and, unless opts.inherit_fds
 *     is set, nothing else (Python's close_fds=True). The child starts with an
 *     empty signal mask and SIGPIPE and SIGXFSZ at their defaults.
 *   - Errors name the program: a program that cannot be run returns -ENOENT,
 *     -EACCES, ... with a cio_fail message naming it.
 *
 * Exit status, as returned by cio_process_wait and cio_process_communicate:
 * the exit code (0..255) when the child exited, 128 + N when signal N ended it
 * (the shell's convention; cio_process_term_signal tells a real exit code of
 * 137 from SIGKILL). Errors are negative, so they never mix with a status.
 *
 * A process belongs to the loop thread that spawned it. Its pipes are
 * ordinary non-blocking descriptors: use cio_read / cio_write on them, or
 * turn one into a stream with cio_process_stream.
 */
#ifndef CIO_PROCESS_H
#define CIO_PROCESS_H

#include <sys/types.h>

#include "core.h"
#include "stream.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_process cio_process;

/* Where one of the child's standard descriptors goes. */
typedef enum cio_stdio {
    CIO_STDIO_INHERIT = 0, /* the parent's own descriptor (the default) */
    CIO_STDIO_PIPE = 1,    /* a pipe to the parent (cio_process_fd) */
    CIO_STDIO_DEVNULL = 2, /* /dev/null */
    CIO_STDIO_STDOUT = 3,  /* stderr only: wherever stdout goes (2>&1) */
    CIO_STDIO_FD = 4,      /* a descriptor of the caller's (stdin_fd, ...) */
} cio_stdio;

/* Options for cio_process_spawn. Zero-initialise, then set what you need. */
typedef struct cio_process_opts {
    /* The environment, a NULL-terminated "NAME=value" array; NULL inherits the
     * caller's. A program name without a '/' is looked up in the caller's
     * PATH either way. */
    const char *const *envp;
    const char *cwd; /* working directory of the child; NULL: the caller's */
    cio_stdio stdin_mode, stdout_mode, stderr_mode;
    int stdin_fd, stdout_fd, stderr_fd; /* for CIO_STDIO_FD; stay the caller's */
    int new_process_group;              /* the child leads a new process group (setpgid 0) */
    int inherit_fds;                    /* keep the caller's descriptors that are not
                                           close-on-exec open in the child */
} cio_process_opts;

/* Starts argv[0] with arguments argv (NULL-terminated). Returns 0 and *out,
 * or -EINVAL (NULL argv, a bad mode), -ENOENT (no such program, or no such
 * cwd), -EACCES, -ENOEXEC, -EMFILE, -ENOMEM, ...; a failure to run the
 * program has a cio_fail message naming it and the reason.
 * Suspends: no; the thread pauses while the child is set up and runs exec
 * (posix_spawn, vfork-style; well under a millisecond). May be called outside
 * a task. */
CIO_API int cio_process_spawn(cio_process **out, const char *const *argv,
                              const cio_process_opts *opts);

/* The child's process id. Suspends: no. */
CIO_API pid_t cio_process_pid(const cio_process *p);

/* The parent's end of the pipe for standard descriptor `which` (0, 1 or 2),
 * non-blocking and close-on-exec, or -1 if that descriptor is not a pipe (or
 * was closed or taken). The descriptor stays p's. Suspends: no. */
CIO_API int cio_process_fd(const cio_process *p, int which);

/* Hands the pipe's descriptor over to the caller, who closes it from now on
 * (for example through cio_stream_from_fd). Returns it, or -1. Suspends: no. */
CIO_API int cio_process_take_fd(cio_process *p, int which);

/* Wraps pipe `which` in a stream (cio/stream.h), asyncio's proc.stdout /
 * proc.stdin: line and exact reads, buffered writes. The caller owns the
 * stream from now on (cio_stream_close; cio_stream_write_eof on stdin sends
 * EOF) and p forgets the descriptor. opts may be NULL. Returns 0, -EBADF if
 * that descriptor is not a pipe (or was taken), -EINVAL, -ENOMEM. Like
 * cio_process_write, a stream on stdin reports a child that stopped reading
 * as -EPIPE, never as SIGPIPE. Suspends: no. */
CIO_API int cio_process_stream(cio_process *p, int which, cio_stream **out,
                               const cio_stream_opts *opts);

/* Closes the parent's end of pipe `which` (stdin: the child reads EOF).
 * Returns 0, or -EBADF if there is none. Suspends: no. */
CIO_API int cio_process_close_fd(cio_process *p, int which);

/* Writes all len bytes to the child's stdin pipe. Returns len, or -EPIPE
 * once the child has closed its end (never SIGPIPE; a plain cio_write to the
 * pipe would raise it), -EBADF without a stdin pipe, or -errno.
 * Suspends: yes, while the pipe is full.
 * Cancellation: returns the reason; part of the data may have gone out. */
CIO_API ssize_t cio_process_write(cio_process *p, const void *buf, size_t len);

/* Waits for the child to exit and reaps it. Returns the exit status (see
 * above; at once if already reaped), or -ECHILD if someone else reaped it,
 * -EINVAL for NULL, -EPERM outside a task. Several tasks may wait at once.
 * Suspends: yes, until the child exits.
 * Cancellation: returns the reason; the child goes on running and is still
 * reaped later (by another wait or, after cio_process_close, in the
 * background). */
CIO_API int cio_process_wait(cio_process *p);

/* The exit status once reaped, else -EINPROGRESS. Suspends: no. */
CIO_API int cio_process_returncode(const cio_process *p);

/* The signal that ended the child, or 0 (it exited, or has not been reaped).
 * Suspends: no. */
CIO_API int cio_process_term_signal(const cio_process *p);

/* Sends signal sig to the child (through its pidfd, so never to a process
 * that reused the pid). Returns 0, -ESRCH once the child has been reaped,
 * -EINVAL. Suspends: no. A child that exited but was not reaped yet still
 * takes signals without effect (0). */
CIO_API int cio_process_send_signal(cio_process *p, int sig);

/* SIGTERM and SIGKILL (asyncio's terminate() and kill()). Suspends: no. */
CIO_API int cio_process_terminate(cio_process *p);
CIO_API int cio_process_kill(cio_process *p);

/* What cio_process_communicate collected. Each buffer is malloc'd and
 * NUL-terminated (the NUL is not counted), or NULL when that descriptor is not
 * a pipe. The caller frees them (cio_process_output_free). */
typedef struct cio_process_output {
    char *out;
    size_t out_len;
    char *err;
    size_t err_len;
} cio_process_output;

/* Feeds `input` to the child's stdin and closes it, reads its stdout and
 * stderr to EOF, and waits for it to exit (Process.communicate), all at once
 * so that no pipe fills up and stalls the child, and all within `timeout`
 * seconds (CIO_FOREVER: no limit). Returns the exit status, or:
 *   - -ETIMEDOUT: the timeout fired; the child was killed (SIGKILL) and
 *     reaped; *res holds what arrived before.
 *   - -EINVAL: NULL p or res, or input given without a stdin pipe.
 *   - -errno of a read or write (a child that closes its stdin early is not
 *     an error: the rest of the input is dropped, as asyncio does).
 * *res is always set (free it even on error). Input may be NULL with
 * input_len 0; a stdin pipe is then just closed.
 * Suspends: yes. Cancellation: as for the timeout (the child is killed and
 * reaped, in a shield of at most 5 s), and returns the reason.
 * Cost: two or three helper tasks; the output grows by doubling. */
CIO_API int cio_process_communicate(cio_process *p, const void *input, size_t input_len,
                                    cio_process_output *res, double timeout);

/* Frees the buffers of *res and zeroes it. NULL is a no-op. Suspends: no. */
CIO_API void cio_process_output_free(cio_process_output *res);

/* Releases p: closes the pipes it still owns and its pidfd. A child that is
 * still running is neither killed nor waited for here: cio's reaper thread
 * reaps it when it exits (if the reaper cannot take it, out of memory or
 * threads, a message on stderr says the child will not be reaped). NULL is a
 * no-op. The one exception to "close always releases": called while a task
 * still waits on p (cio_process_wait, cio_process_communicate), it releases
 * nothing, says so on stderr and returns; close p again once that wait has
 * returned. Suspends: no. */
CIO_API void cio_process_close(cio_process *p);

#ifdef __cplusplus
}
#endif
#endif
