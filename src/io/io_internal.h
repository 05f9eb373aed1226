/* Internal parts of the I/O layer shared by its files. Never installed. */
#ifndef CIO_IO_INTERNAL_H
#define CIO_IO_INTERNAL_H

#include <signal.h>
#include <sys/stat.h>

#include "../core/alloc.h"
#include "../core/internal.h"
#include "cio/io.h"

/* Submits op on the running task's loop and parks until it completes.
 * Returns op->res, or the cancel reason when cancellation cut it short. */
CIO__MUST_CHECK int cio__op_run(cio_task *self, cio__op *op, const char *what);

/* The executor that runs file calls on the epoll backend (4 threads). */
cio_executor *cio__file_executor(void);

void cio__statx_to_stat(const struct statx *x, struct stat *st);

/* fd.c: write(2) that reports a closed pipe as -EPIPE without raising
 * SIGPIPE (blocked around the call; taken back if the write raised it). Does
 * not wait: -EAGAIN on a full non-blocking pipe. Returns the count or -errno. */
ssize_t cio__write_nosigpipe(int fd, const void *buf, size_t len);

/* reaper.c: waitid(WEXITED | WNOHANG) for one child, by pidfd where the kernel
 * can (pidfd may be -1), else by pid. Returns waitid's result. */
int cio__wait_child(pid_t pid, int pidfd, siginfo_t *si);
/* reaper.c: hands a child that still runs to the reaper thread, which owns
 * pidfd from now on and reaps the child when it exits. */
void cio__reaper_adopt(pid_t pid, int pidfd);

#endif
