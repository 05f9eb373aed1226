/* cio fd-level I/O: the calls a task makes on sockets, pipes and files.
 *
 * Each call suspends the calling task (never the thread) until the operation
 * completes, and runs natively on io_uring or through readiness and
 * non-blocking system calls on epoll. Descriptors given to these calls should
 * be non-blocking for epoll's sake; cio_socket, cio_accept and cio_open make
 * theirs so.
 *
 * Cancellation (for every suspending call here): the in-flight operation is
 * cancelled in the kernel and the task stays parked until the kernel has
 * confirmed it, so the buffer is never written after the call returned. If the
 * operation completed anyway (its result won the race), that result is
 * returned and the cancellation shows at the task's next suspending call;
 * otherwise the call returns the cancel reason and the buffer holds nothing
 * the call reports.
 */
#ifndef CIO_IO_H
#define CIO_IO_H

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reads up to len bytes (read(2)). Returns the count, 0 at end of file, or
 * -errno. Suspends: yes, until some data or EOF.
 * Cancellation: as above (the reason, or the result that won the race). */
CIO_API ssize_t cio_read(int fd, void *buf, size_t len);

/* Writes up to len bytes (write(2)); may write fewer. Returns the count or
 * -errno. Suspends: yes, until some room.
 * Cancellation: as above; a write that won the race is returned (a count). */
CIO_API ssize_t cio_write(int fd, const void *buf, size_t len);

/* Writes all len bytes, suspending as often as needed. Returns len, or -errno
 * (then *written, if not NULL, says how much went out before the error).
 * Suspends: yes, while the descriptor has no room.
 * Cancellation: returns the reason; *written says how much went out. */
CIO_API ssize_t cio_write_all(int fd, const void *buf, size_t len, size_t *written);

/* recv(2) / send(2). send always adds MSG_NOSIGNAL: a peer that went away
 * gives -EPIPE, never SIGPIPE. Suspends: yes, until data / room.
 * Cancellation: as above. */
CIO_API ssize_t cio_recv(int fd, void *buf, size_t len, int flags);
CIO_API ssize_t cio_send(int fd, const void *buf, size_t len, int flags);

/* recvfrom(2) / sendto(2) for datagram sockets. addr/alen may be NULL.
 * Suspends: yes, until a datagram / room. Cancellation: as above. */
CIO_API ssize_t cio_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *addr,
                             socklen_t *alen);
CIO_API ssize_t cio_sendto(int fd, const void *buf, size_t len, int flags,
                           const struct sockaddr *addr, socklen_t alen);

/* Accepts a connection on a listening socket. Returns the new descriptor
 * (close-on-exec, non-blocking) or -errno. addr/alen may be NULL.
 * Suspends: yes, until a connection arrives.
 * Cancellation: as above; an accept that won the race returns its descriptor
 * (the caller owns it). */
CIO_API int cio_accept(int fd, struct sockaddr *addr, socklen_t *alen);

/* Connects a socket (made by cio_socket). Returns 0 or -errno
 * (-ECONNREFUSED, -ETIMEDOUT, -ENETUNREACH, ...). Suspends: yes, until
 * connected or refused. Cancellation: returns the reason; the socket is left
 * half-connected: close it. */
CIO_API int cio_connect(int fd, const struct sockaddr *addr, socklen_t alen);

/* Waits until fd is readable / writable (or has an error or hang-up): what a
 * foreign library such as libpq or libcurl needs. Returns 0 or -errno.
 * Suspends: yes. Cancellation: returns the reason; nothing was read or
 * written. */
CIO_API int cio_wait_readable(int fd);
CIO_API int cio_wait_writable(int fd);

/* socket(2) with SOCK_NONBLOCK | SOCK_CLOEXEC. Returns the fd or -errno.
 * Suspends: no. */
CIO_API int cio_socket(int domain, int type, int protocol);

/* Closes fd. Returns 0 or -errno. Suspends: no. */
CIO_API int cio_close(int fd);

/* ---- files (aiofiles) ----
 * Native io_uring operations on that backend; on epoll, regular files never
 * report readiness, so these run on the loop's file worker pool. For buffered
 * reads and reading line by line, wrap a file in a stream
 * (cio_stream_open_file in cio/stream.h). The calls taking a path set a
 * cio_fail message naming it when they fail ("open /x/y: No such file or
 * directory"). All suspend; Cancellation: return the reason. */

/* open(2) with O_CLOEXEC added, pread(2), pwrite(2), fsync(2). Return the fd,
 * the count, 0 or -errno.
 * Suspends: yes, until the operation is done.
 * Cancellation: the reason when the operation had not run; a result that won
 * the race is returned instead (an fd to close, a count). On epoll the worker
 * thread's system call cannot be interrupted, so a call cancelled while it
 * runs waits for it and returns its result, as io_uring does. */
CIO_API int cio_open(const char *path, int flags, mode_t mode);
CIO_API ssize_t cio_pread(int fd, void *buf, size_t len, off_t offset);
CIO_API ssize_t cio_pwrite(int fd, const void *buf, size_t len, off_t offset);
CIO_API int cio_fsync(int fd);
/* stat(2). Returns 0 or -errno. Suspends: yes. Cancellation: as cio_open. */
CIO_API int cio_stat(const char *path, struct stat *st);

/* Reads a whole file into a malloc'd buffer (NUL-terminated for convenience;
 * the NUL is not counted). Returns 0 and sets *data and *len, or -errno (and
 * -EFBIG past `limit` bytes; 0 means no limit). The caller frees *data.
 * Suspends: yes (open, reads). Cancellation: returns the reason; nothing is
 * left allocated or open. */
CIO_API int cio_read_file(const char *path, char **data, size_t *len, size_t limit);

/* ---- executors: run blocking functions on threads ----
 * C has no GIL: CPU-bound work on an executor sized to the cores runs in
 * parallel. The function runs on another thread: it must not call cio
 * functions (other than cio_call_soon_threadsafe). */

typedef struct cio_executor cio_executor;

/* Creates an executor with `threads` worker threads (0: the number of CPUs).
 * Threads start lazily. Returns 0, -EINVAL, -ENOMEM. Suspends: no. */
CIO_API int cio_executor_new(cio_executor **out, size_t threads);

/* Runs fn(arg) on one of ex's threads and waits for it (run_in_executor).
 * Returns fn's status. Suspends: yes.
 * Cancellation: a thread cannot be interrupted and arg usually lives on the
 * caller's stack, so the call still waits for fn to return, then returns the
 * cancel reason. Cost: one queue hand-off each way, no allocation. */
CIO_API int cio_executor_run(cio_executor *ex, cio_fn fn, void *arg);

/* Stops ex's threads after the queued work is done and frees it. Must not be
 * called while a cio_executor_run on it is waiting. NULL is a no-op.
 * Suspends: no, but blocks the thread (the whole loop) until the queued work
 * is done. Cost: one pthread_join per worker thread. */
CIO_API void cio_executor_free(cio_executor *ex);

/* Runs fn(arg) on the default executor (asyncio.to_thread): created on first
 * use with max(4, CPUs) threads, freed at process exit. Same rules as
 * cio_executor_run. Returns fn's status, or -ENOMEM when the executor cannot
 * be made. Suspends: yes. Cancellation: as cio_executor_run (waits for fn,
 * then returns the reason). */
CIO_API int cio_to_thread(cio_fn fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif
