/* Subprocesses (include/cio/process.h).
 *
 * Spawning is posix_spawn: glibc runs it vfork-style and reports a failed
 * exec as the call's error, which gives -ENOENT for a missing program without
 * a status pipe of our own. Pipes are made close-on-exec and moved above the
 * standard descriptors before the child's dup2 actions run, so no action can
 * clobber another's source.
 *
 * Waiting: a pidfd becomes readable when the child exits; the first waiting
 * task waits for that (a POLL operation on either backend) and reaps with
 * waitid(WNOHANG); other waiting tasks park until it is done. A process closed
 * before its child was reaped hands the child to the reaper thread
 * (reaper.c). */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../core/alloc.h"
#include "cio/process.h"
#include "cio/scope.h"
#include "cio/group.h"
#include "../core/waitq.h"
#include "io_internal.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

struct cio_process {
    pid_t pid;
    int pidfd; /* -1 without pidfd support */
    int fds[3];
    int reaped;
    int code;           /* the exit status once reaped, or -ECHILD */
    int term_signal;    /* the signal that ended the child, or 0 */
    cio_task *leader;   /* the task waiting for the child's exit */
    cio__waitq waiters; /* the other waiting tasks */
};

/* ---- reaping ---- */

/* Reaps the child if it has exited. Returns 1 when reaped (p->code is set), 0
 * while it runs. */
static int try_reap(cio_process *p)
{
    if (p->reaped)
        return 1;
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    int r;
    do {
        r = cio__wait_child(p->pid, p->pidfd, &si);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        p->reaped = 1; /* someone else reaped it: the status is lost */
        p->code = -errno;
        return 1;
    }
    if (si.si_pid == 0)
        return 0;
    p->reaped = 1;
    if (si.si_code == CLD_EXITED) {
        p->code = si.si_status;
    } else {
        p->term_signal = si.si_status;
        p->code = 128 + si.si_status;
    }
    return 1; /* the pidfd stays open: a leader may still be waiting on it */
}

/* The leader is done: every parked waiter looks again (one of them leads
 * next if the child still runs). */
static void wake_waiters(cio_process *p)
{
    cio__waitq_wake_all(&p->waiters, 0);
}

int cio_process_wait(cio_process *p)
{
    if (!p)
        return cio__invalid(__func__);
    cio_task *self;
    int err = cio__checkpoint(&self);
    if (err)
        return err;
    double delay = 0.001;
    for (;;) {
        if (try_reap(p))
            return p->code;
        err = cio__cancel_reason(self); /* woken to look again, then cancelled */
        if (err)
            return err;
        if (p->leader) {
            err = cio__waitq_wait(&p->waiters, self, "process", p);
        } else {
            p->leader = self;
            if (p->pidfd >= 0) {
                err = cio_wait_readable(p->pidfd);
            } else { /* no pidfd: poll at growing intervals */
                err = cio_sleep(delay);
                delay = delay * 2 < 0.05 ? delay * 2 : 0.05;
            }
            p->leader = NULL;
            wake_waiters(p);
        }
        if (err < 0)
            return err;
    }
}

/* ---- spawning ---- */

/* Moves fd above the standard descriptors (close-on-exec). Returns the new
 * descriptor or -errno; fd is closed either way. */
static int above_stdio(int fd)
{
    if (fd > 2)
        return fd;
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    int err = errno;
    close(fd);
    return moved < 0 ? -err : moved;
}

/* A pipe for standard descriptor `which`: the child's end blocking, ours
 * non-blocking, both close-on-exec and above 2. */
static int make_pipe(int which, int *ours, int *theirs)
{
    int fds[2];
    if (CIO__SYSCALL("pipe", EMFILE, pipe2(fds, O_CLOEXEC)) < 0)
        return -errno;
    fds[0] = above_stdio(fds[0]);
    fds[1] = above_stdio(fds[1]);
    if (fds[0] < 0 || fds[1] < 0) {
        int err = fds[0] < 0 ? fds[0] : fds[1];
        if (fds[0] >= 0)
            close(fds[0]);
        if (fds[1] >= 0)
            close(fds[1]);
        return err;
    }
    int r = which == 0 ? 0 : 1; /* the child reads its stdin */
    *theirs = fds[r];
    *ours = fds[1 - r];
    int fl = fcntl(*ours, F_GETFL);
    if (fl < 0 || fcntl(*ours, F_SETFL, fl | O_NONBLOCK) < 0) {
        int err = -errno;
        close(fds[0]);
        close(fds[1]);
        return err;
    }
    return 0;
}

static int pidfd_open_(pid_t pid)
{
    long fd = syscall(SYS_pidfd_open, pid, 0);
    return fd < 0 ? -1 : (int)fd;
}

/* The three standard descriptors as spawn sees them. */
typedef struct stdio_plan {
    cio_stdio mode[3];
    int user_fd[3]; /* CIO_STDIO_FD: the caller's descriptor */
    int theirs[3];  /* the child's end (a pipe's, or a copy of user_fd), or -1 */
} stdio_plan;

/* Step 1: reads the modes from the options; -EINVAL for one that makes no
 * sense (stderr-only mode elsewhere, CIO_STDIO_FD without a descriptor). */
static int plan_stdio(stdio_plan *sp, const cio_process_opts *o)
{
    const cio_stdio modes[3] = {o->stdin_mode, o->stdout_mode, o->stderr_mode};
    const int user_fds[3] = {o->stdin_fd, o->stdout_fd, o->stderr_fd};
    for (int i = 0; i < 3; i++) {
        sp->mode[i] = modes[i];
        sp->user_fd[i] = user_fds[i];
        sp->theirs[i] = -1;
        if (modes[i] < CIO_STDIO_INHERIT || modes[i] > CIO_STDIO_FD)
            return -EINVAL;
        if (modes[i] == CIO_STDIO_STDOUT && i != 2)
            return -EINVAL;
        if (modes[i] == CIO_STDIO_FD && user_fds[i] < 0)
            return -EINVAL;
    }
    return 0;
}

/* Step 2: makes the pipes (our ends in p->fds) and copies the caller's
 * descriptors above 2, so that no dup2 in the child overwrites one first. */
static int open_stdio(stdio_plan *sp, cio_process *p)
{
    for (int i = 0; i < 3; i++) {
        if (sp->mode[i] == CIO_STDIO_PIPE) {
            int err = make_pipe(i, &p->fds[i], &sp->theirs[i]);
            if (err)
                return err;
        } else if (sp->mode[i] == CIO_STDIO_FD) {
            sp->theirs[i] = fcntl(sp->user_fd[i], F_DUPFD_CLOEXEC, 3);
            if (sp->theirs[i] < 0)
                return -errno;
        }
    }
    return 0;
}

/* Step 3: what the child does before exec: its standard descriptors, closing
 * the rest, changing directory. On failure fa is destroyed. */
static int file_actions(posix_spawn_file_actions_t *fa, const stdio_plan *sp,
                        const cio_process_opts *o)
{
    int err = -posix_spawn_file_actions_init(fa);
    if (err)
        return err;
    for (int i = 0; i < 3 && !err; i++) {
        switch (sp->mode[i]) {
        case CIO_STDIO_PIPE:
        case CIO_STDIO_FD:
            err = -posix_spawn_file_actions_adddup2(fa, sp->theirs[i], i);
            break;
        case CIO_STDIO_DEVNULL:
            err = -posix_spawn_file_actions_addopen(fa, i, "/dev/null",
                                                    i == 0 ? O_RDONLY : O_WRONLY, 0);
            break;
        case CIO_STDIO_STDOUT:
            err = -posix_spawn_file_actions_adddup2(fa, 1, 2);
            break;
        case CIO_STDIO_INHERIT:
            break;
        }
    }
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    if (!err && !o->inherit_fds)
        err = -posix_spawn_file_actions_addclosefrom_np(fa, 3);
#endif
    if (!err && o->cwd)
        err = -posix_spawn_file_actions_addchdir_np(fa, o->cwd);
    if (err)
        posix_spawn_file_actions_destroy(fa);
    return err;
}

/* Step 4: the child's signals (none blocked; SIGPIPE and SIGXFSZ back to
 * their defaults, whatever the parent does with them) and process group. */
static int spawn_attr(posix_spawnattr_t *attr, const cio_process_opts *o)
{
    int err = -posix_spawnattr_init(attr);
    if (err)
        return err;
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGXFSZ);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    posix_spawnattr_setsigmask(attr, &none);
    posix_spawnattr_setsigdefault(attr, &defaults);
    if (o->new_process_group) {
        flags |= POSIX_SPAWN_SETPGROUP;
        posix_spawnattr_setpgroup(attr, 0);
    }
    posix_spawnattr_setflags(attr, flags);
    return 0;
}

/* Step 5: starts the program (looked up in PATH when its name has no '/'). */
static int run(cio_process *p, const char *const *argv, const cio_process_opts *o,
               const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr)
{
    char *const *av = (char *const *)argv;
    char *const *env = o->envp ? (char *const *)o->envp : environ;
    int e = cio__op_fails("spawn") ? EAGAIN /* RLIMIT_NPROC */
            : strchr(argv[0], '/') ? posix_spawn(&p->pid, argv[0], fa, attr, av, env)
                                   : posix_spawnp(&p->pid, argv[0], fa, attr, av, env);
    if (e)
        return cio_fail(-e, "cannot run %s%s%s: %s", argv[0], o->cwd ? " in " : "",
                        o->cwd ? o->cwd : "", strerror(e));
    p->pidfd = pidfd_open_(p->pid);
    return 0;
}

int cio_process_spawn(cio_process **out, const char *const *argv, const cio_process_opts *opts)
{
    static const cio_process_opts defaults;
    if (!out)
        return cio__invalid(__func__);
    *out = NULL;
    if (!argv || !argv[0] || !argv[0][0])
        return cio__invalid(__func__);
    const cio_process_opts *o = opts ? opts : &defaults;
    stdio_plan sp;
    int err = plan_stdio(&sp, o);
    if (err)
        return cio_fail(err,
                        "cannot run %s: a standard descriptor's mode is invalid (or "
                        "CIO_STDIO_FD without a descriptor)",
                        argv[0]);
    cio_process *p = cio__calloc(1, sizeof(*p));
    if (!p)
        return cio_fail(-ENOMEM, "cannot run %s: out of memory", argv[0]);
    p->pidfd = -1;
    for (int i = 0; i < 3; i++)
        p->fds[i] = -1;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    err = open_stdio(&sp, p);
    if (!err)
        err = file_actions(&fa, &sp, o);
    if (err) /* (run() names its own failure) */
        cio_fail(err, "cannot run %s: its standard descriptors: %s", argv[0], cio_strerror(err));
    if (!err) {
        err = spawn_attr(&attr, o);
        if (!err) {
            err = run(p, argv, o, &fa, &attr);
            posix_spawnattr_destroy(&attr);
        }
        posix_spawn_file_actions_destroy(&fa);
    }
    for (int i = 0; i < 3; i++) {
        if (sp.theirs[i] >= 0)
            close(sp.theirs[i]); /* the child has its copies */
        if (err && p->fds[i] >= 0)
            close(p->fds[i]);
    }
    if (err) {
        free(p);
        return err;
    }
    *out = p;
    return 0;
}

/* ---- the rest of the API ---- */

pid_t cio_process_pid(const cio_process *p)
{
    return p ? p->pid : -1;
}

int cio_process_fd(const cio_process *p, int which)
{
    if (!p || which < 0 || which > 2)
        return -1;
    return p->fds[which];
}

int cio_process_take_fd(cio_process *p, int which)
{
    int fd = cio_process_fd(p, which);
    if (fd >= 0)
        p->fds[which] = -1;
    return fd;
}

int cio_process_stream(cio_process *p, int which, cio_stream **out, const cio_stream_opts *opts)
{
    if (out)
        *out = NULL;
    if (!p || !out || which < 0 || which > 2)
        return cio__invalid(__func__);
    int fd = cio_process_take_fd(p, which);
    if (fd < 0)
        return cio_fail(-EBADF, "process %d: its descriptor %d is not a pipe, or was taken",
                        (int)p->pid, which);
    return cio_stream_from_fd(out, fd, opts); /* owns fd, even on failure */
}

/* Closes our end of pipe `which` if there is one (communicate's cleanup:
 * no message). Returns 0 or -EBADF. */
static int close_ours(cio_process *p, int which)
{
    int fd = cio_process_take_fd(p, which);
    if (fd < 0)
        return -EBADF;
    close(fd);
    return 0;
}

int cio_process_close_fd(cio_process *p, int which)
{
    if (close_ours(p, which))
        return cio_fail(-EBADF, "process %d: no pipe %d to close (not a pipe, or taken or closed)",
                        p ? (int)p->pid : -1, which);
    return 0;
}

int cio_process_returncode(const cio_process *p)
{
    if (!p)
        return cio__invalid(__func__);
    return p->reaped ? p->code : -EINPROGRESS;
}

int cio_process_term_signal(const cio_process *p)
{
    return p && p->reaped ? p->term_signal : 0;
}

int cio_process_send_signal(cio_process *p, int sig)
{
    if (!p || sig < 0 || sig > SIGRTMAX)
        return cio__invalid(__func__);
    if (p->reaped)
        return cio_fail(-ESRCH, "signal %d to process %d: it has exited and was reaped", sig,
                        (int)p->pid);
    long r = -1;
    if (p->pidfd >= 0) {
        r = syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0);
        if (r < 0 && errno == ENOSYS)
            r = kill(p->pid, sig);
    } else {
        r = kill(p->pid, sig);
    }
    if (r < 0)
        return cio_fail(-errno, "signal %d to process %d: %s", sig, (int)p->pid, strerror(errno));
    return 0;
}

int cio_process_terminate(cio_process *p)
{
    return cio_process_send_signal(p, SIGTERM);
}

int cio_process_kill(cio_process *p)
{
    return cio_process_send_signal(p, SIGKILL);
}

ssize_t cio_process_write(cio_process *p, const void *buf, size_t len)
{
    if (!p || (!buf && len))
        return cio__invalid(__func__);
    cio_task *self;
    int err = cio__checkpoint(&self);
    if (err)
        return err;
    int fd = p->fds[0];
    if (fd < 0)
        return cio_fail(-EBADF, "write to process %d: its stdin is not a pipe, or was closed",
                        (int)p->pid);
    size_t done = 0;
    while (done < len) {
        ssize_t r = cio__write_nosigpipe(fd, (const char *)buf + done, len - done);
        if (r >= 0) {
            done += (size_t)r;
        } else if (r == -EAGAIN) {
            err = cio_wait_writable(fd);
            if (err)
                return err;
        } else if (r != -EINTR) {
            return cio_fail((int)r, "write to process %d's stdin: %s", (int)p->pid,
                            cio_strerror((int)r));
        }
    }
    return (ssize_t)done;
}

/* ---- communicate ---- */

typedef struct feed_job {
    cio_process *p;
    const void *input;
    size_t len;
} feed_job;

static int feed(void *arg)
{
    feed_job *j = arg;
    ssize_t r = j->len ? cio_process_write(j->p, j->input, j->len) : 0;
    close_ours(j->p, 0);
    return r >= 0 || r == -EPIPE ? 0 : (int)r; /* the child may stop reading */
}

typedef struct collect_job {
    int fd;
    char **buf;
    size_t *len;
} collect_job;

/* Reads fd to EOF into a growing buffer that stays readable after a timeout. */
static int collect(void *arg)
{
    collect_job *j = arg;
    size_t cap = 0, n = 0;
    for (;;) {
        if (cap - n < 1024) {
            size_t bigger = cap ? cap * 2 : 4096;
            char *b = cio__realloc(*j->buf, bigger + 1);
            if (!b)
                return -ENOMEM;
            *j->buf = b;
            cap = bigger;
        }
        ssize_t r = cio_read(j->fd, *j->buf + n, cap - n);
        if (r == 0)
            return 0;
        if (r == -EAGAIN) {
            int err = cio_wait_readable(j->fd);
            if (err)
                return err;
            continue;
        }
        if (r < 0 && r != -EINTR)
            return (int)r;
        if (r > 0) {
            n += (size_t)r;
            *j->len = n;
            (*j->buf)[n] = 0;
        }
    }
}

/* After a failure: SIGKILL, then reap in a shield (bounded, should the child
 * hang in the kernel; close hands it to the reaper then). */
static void kill_and_reap(cio_process *p)
{
    if (p->reaped)
        return;
    cio_process_kill(p);
    cio_scope shield, limit;
    if (cio_shield_enter(&shield))
        return;
    if (cio_timeout_enter(&limit, 5.0) == 0) {
        cio_process_wait(p);
        cio_timeout_exit(&limit);
    }
    cio_shield_exit(&shield);
}

int cio_process_communicate(cio_process *p, const void *input, size_t input_len,
                            cio_process_output *res, double timeout)
{
    if (res)
        memset(res, 0, sizeof(*res));
    if (!p || !res || (input_len && !input) || (input_len && p->fds[0] < 0) || !(timeout >= 0))
        return cio__invalid(__func__);
    cio_task *self;
    int err = cio__checkpoint(&self);
    if (!self)
        return -EPERM;
    for (int i = 1; i <= 2; i++) {
        char **buf = i == 1 ? &res->out : &res->err;
        if (p->fds[i] >= 0 && !(*buf = cio__calloc(1, 1)))
            return cio_fail(-ENOMEM, "communicate with process %d: out of memory", (int)p->pid);
    }
    cio_scope limit;
    if (!err)
        err = cio_timeout_enter(&limit, timeout);
    int entered = !err;
    feed_job fj = {p, input, input_len};
    collect_job cj[2] = {{p->fds[1], &res->out, &res->out_len},
                         {p->fds[2], &res->err, &res->err_len}};
    cio_group *g = NULL;
    if (!err)
        err = cio_group_new(&g);
    if (!err) {
        int spawned = 0;
        if (p->fds[0] >= 0)
            spawned |= cio_group_spawn(g, feed, &fj) ? 0 : 1;
        for (int i = 0; i < 2; i++)
            if (cj[i].fd >= 0)
                spawned |= cio_group_spawn(g, collect, &cj[i]) ? 0 : 1;
        if (spawned)
            cio_group_cancel(g);
        int gerr = cio_group_wait(g);
        cio_group_free(g);
        err = spawned ? -ENOMEM : gerr;
    }
    if (!err)
        err = cio_process_wait(p);
    if (entered) {
        int expired = cio_timeout_exit(&limit);
        if (expired && err < 0 && !cio_cancelled()) /* the deadline, not an outer cancel */
            err = cio_fail(expired, "communicate with process %d: not done within %g s (killed)",
                           (int)p->pid, timeout);
    }
    close_ours(p, 0);
    close_ours(p, 1);
    close_ours(p, 2);
    if (err < 0)
        kill_and_reap(p);
    return err;
}

void cio_process_output_free(cio_process_output *res)
{
    if (!res)
        return;
    free(res->out);
    free(res->err);
    memset(res, 0, sizeof(*res));
}

void cio_process_close(cio_process *p)
{
    if (!p)
        return;
    if (p->leader || !cio__waitq_empty(&p->waiters)) {
        fprintf(stderr,
                "cio: cio_process_close on process %d while a task waits for it; "
                "it is left open\n",
                (int)p->pid);
        return;
    }
    for (int i = 0; i < 3; i++)
        if (p->fds[i] >= 0)
            close(p->fds[i]);
    if (!try_reap(p)) {
        cio__reaper_adopt(p->pid, p->pidfd);
        p->pidfd = -1;
    }
    if (p->pidfd >= 0)
        close(p->pidfd);
    free(p);
}
