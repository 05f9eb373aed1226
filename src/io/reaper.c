/* The reaper thread (see process.c): children whose process was closed
 * before they exited are reaped here, so that none is left a zombie.
 *
 * One detached thread poll()s the pidfds of such children (and an eventfd
 * that says "a new orphan"), reaps them as they exit, and ends when none is
 * left; the next orphan starts a new one. Children without a pidfd (old
 * kernels) are looked at every 50 ms. */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../core/alloc.h"
#include "../core/vec.h"
#include "io_internal.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static int have_p_pidfd = 1; /* waitid(P_PIDFD) works (Linux 5.4+) */

/* waitid(WEXITED | WNOHANG) by pidfd where possible, else by pid. */
int cio__wait_child(pid_t pid, int pidfd, siginfo_t *si)
{
    if (pidfd >= 0 && __atomic_load_n(&have_p_pidfd, __ATOMIC_RELAXED)) {
        int r = waitid((idtype_t)P_PIDFD, (id_t)pidfd, si, WEXITED | WNOHANG);
        if (!(r < 0 && errno == EINVAL))
            return r;
        __atomic_store_n(&have_p_pidfd, 0, __ATOMIC_RELAXED);
    }
    return waitid(P_PID, (id_t)pid, si, WEXITED | WNOHANG);
}

typedef struct orphan {
    pid_t pid;
    int pidfd;
} orphan;

static pthread_mutex_t reap_lock = PTHREAD_MUTEX_INITIALIZER;
static orphan *orphans;
static size_t norphans, orphans_cap;
static int reaper_running;
static int reaper_wakefd = -1;

/* Reaps the orphans that exited. Called with reap_lock held. */
static void reap_orphans(void)
{
    size_t keep = 0;
    for (size_t i = 0; i < norphans; i++) {
        orphan *o = &orphans[i];
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        int r = cio__wait_child(o->pid, o->pidfd, &si);
        if (r == 0 && si.si_pid == 0) {
            orphans[keep++] = *o;
            continue;
        }
        if (o->pidfd >= 0)
            close(o->pidfd);
    }
    norphans = keep;
}

static void *reaper(void *arg)
{
    (void)arg;
    struct pollfd *fds = NULL;
    size_t cap = 0;
    pthread_mutex_lock(&reap_lock);
    for (;;) {
        reap_orphans();
        if (norphans == 0)
            break;
        if (cap < norphans + 1) {
            struct pollfd *bigger = cio__realloc(fds, (norphans + 1) * sizeof(*fds));
            if (bigger) {
                fds = bigger;
                cap = norphans + 1;
            }
        }
        size_t n = 0;
        int timeout = -1;
        if (cap) {
            fds[n++] = (struct pollfd){.fd = reaper_wakefd, .events = POLLIN};
            for (size_t i = 0; i < norphans && n < cap; i++) {
                if (orphans[i].pidfd >= 0)
                    fds[n++] = (struct pollfd){.fd = orphans[i].pidfd, .events = POLLIN};
                else
                    timeout = 50; /* no pidfd: look again soon */
            }
        }
        if (n < norphans + 1)
            timeout = 50;
        int wakefd = reaper_wakefd;
        pthread_mutex_unlock(&reap_lock);
        poll(fds, n, timeout);
        uint64_t v;
        while (read(wakefd, &v, sizeof(v)) > 0) {
        }
        pthread_mutex_lock(&reap_lock);
    }
    close(reaper_wakefd);
    reaper_wakefd = -1;
    reaper_running = 0;
    pthread_mutex_unlock(&reap_lock);
    free(fds);
    return NULL;
}

/* A forked child has no reaper thread, and its parent's orphans are not its
 * children. */
static void reaper_atfork_child(void)
{
    for (size_t i = 0; i < norphans; i++)
        if (orphans[i].pidfd >= 0)
            close(orphans[i].pidfd);
    norphans = 0;
    if (reaper_wakefd >= 0)
        close(reaper_wakefd);
    reaper_wakefd = -1;
    reaper_running = 0;
    pthread_mutex_init(&reap_lock, NULL);
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, reaper_atfork_child);
}

/* Hands a child that still runs to the reaper thread (which owns pidfd from
 * now on). */
void cio__reaper_adopt(pid_t pid, int pidfd)
{
    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_lock(&reap_lock);
    if (cio__vec_room(orphans, norphans, orphans_cap, 16)) {
        pthread_mutex_unlock(&reap_lock);
        fprintf(stderr, "cio: out of memory: child %d will not be reaped\n", (int)pid);
        if (pidfd >= 0)
            close(pidfd);
        return;
    }
    orphans[norphans++] = (orphan){pid, pidfd};
    if (reaper_running) {
        uint64_t one = 1;
        ssize_t r = write(reaper_wakefd, &one, sizeof(one));
        (void)r;
    } else {
        reaper_wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        /* The thread takes no signals: they are for the program's threads. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        pthread_t th;
        if (reaper_wakefd >= 0 && pthread_create(&th, &attr, reaper, NULL) == 0) {
            reaper_running = 1;
        } else {
            fprintf(stderr, "cio: cannot start the reaper thread: child %d will not be reaped\n",
                    (int)pid);
            if (reaper_wakefd >= 0)
                close(reaper_wakefd);
            reaper_wakefd = -1;
            if (pidfd >= 0)
                close(pidfd);
            norphans--;
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&attr);
    }
    pthread_mutex_unlock(&reap_lock);
}
