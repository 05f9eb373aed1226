/* Debug aids: task dumps, the deadlock report, the guard-page handler. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "alloc.h"
#include "cio/debug.h"
#include "internal.h"

const char *cio__state_name(int state)
{
    switch (state) {
    case CIO__READY:
        return "ready";
    case CIO__RUNNING:
        return "running";
    case CIO__WAITING:
        return "waiting";
    case CIO__DONE:
        return "done";
    }
    return "?";
}

int cio__debug_env(void)
{
    const char *e = getenv("CIO_DEBUG");
    return e && *e && strcmp(e, "0") != 0;
}

int cio_debug_enabled(void)
{
    return cio__loop ? cio__loop->debug : 0;
}

static void describe_wait(FILE *out, cio_task *t)
{
    if (t->state != CIO__WAITING)
        return;
    fprintf(out, " on %s", t->wait_what ? t->wait_what : "?");
    if (t->wait_obj && t->wait_what &&
        (!strcmp(t->wait_what, "join") || !strcmp(t->wait_what, "shield")))
        fprintf(out, " %s", cio__task_name((cio_task *)t->wait_obj));
    else if (t->wait_obj)
        fprintf(out, " %p", t->wait_obj);
}

static int dump(cio_loop *l, FILE *out, int only_waiting)
{
    int n = 0;
    for (cio_task *t = l->all; t; t = t->all_next) {
        if (only_waiting && t->state != CIO__WAITING)
            continue;
        fprintf(out, "  %-20s %s", cio__task_name(t), cio__state_name(t->state));
        describe_wait(out, t);
        if (t->state == CIO__DONE)
            fprintf(out, " status %d", t->status);
        if (t->nscopes)
            fprintf(out, " (innermost scope entered at %s:%d)", t->scope_file, t->scope_line);
        fputc('\n', out);
        n++;
    }
    return n;
}

int cio_dump_tasks(FILE *out)
{
    cio_loop *l = cio__loop;
    if (!l)
        return -EPERM;
    if (!out)
        out = stderr;
    fprintf(out, "cio: %zu live task(s), %zu waiting, %zu ready, %u timer(s)\n", l->nlive,
            l->nwaiting, l->nready, l->timers.n);
    return dump(l, out, 0);
}

void cio__deadlock_report(cio_loop *l)
{
    fprintf(stderr,
            "cio: deadlock: no task can run, no timer or I/O is pending, and %zu task(s) "
            "wait for each other or for nothing%s:\n",
            l->nwaiting,
            l->deadlocks ? " (cancelling did not help: abandoning them)"
                         : "; cancelling them with EDEADLK");
    dump(l, stderr, 1);
}

/* ---- guard pages (debug mode) ---- */

static struct sigaction old_segv;

/* The stack pointer at the fault, or NULL where cio does not know how. */
static char *fault_sp(void *ucv)
{
    ucontext_t *uc = ucv;
#if defined(__x86_64__)
    return (char *)uc->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
    return (char *)uc->uc_mcontext.sp;
#else
    (void)uc;
    return NULL;
#endif
}

/* A fault in t's guard region, or with t's stack pointer below its stack (a
 * frame larger than the guard), is t's stack overflow. */
static int is_overflow(const cio_task *t, const cio_loop *l, const char *addr, const char *sp)
{
    const char *lo = t->stack_lo;
    if (!t->guarded || !lo)
        return 0;
    if (addr >= lo - l->stacks.guard && addr < lo)
        return 1;
    return sp && sp < lo && addr < lo && lo - sp < (ptrdiff_t)(64 * CIO__DEBUG_GUARD);
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    cio_loop *l = cio__loop;
    cio_task *t = l ? l->current : NULL;
    char *addr = si->si_addr;
    if (t && is_overflow(t, l, addr, fault_sp(uc))) {
        /* Only async-signal-safe calls from here on. */
        static const char a[] = "cio: stack overflow in task ";
        static const char b[] = " (raise cio_task_opts.stack_size or cio_opts.stack_size)\n";
        ssize_t r = write(2, a, sizeof(a) - 1);
        r = write(2, t->name[0] ? t->name : "(unnamed)", t->name[0] ? strlen(t->name) : 9);
        r = write(2, b, sizeof(b) - 1);
        (void)r;
    }
    /* Hand the fault to whoever handled it before (by default: die). */
    sigaction(SIGSEGV, &old_segv, NULL);
    if (old_segv.sa_flags & SA_SIGINFO && old_segv.sa_sigaction)
        old_segv.sa_sigaction(sig, si, uc);
}

void cio__stack_guard_handler_install(void)
{
    static __thread char *altstack;
    if (!altstack) {
        size_t size = 64 * 1024;
        altstack = cio__malloc(size);
        if (!altstack)
            return;
        stack_t ss = {.ss_sp = altstack, .ss_size = size};
        if (sigaltstack(&ss, NULL) < 0)
            return;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    struct sigaction cur;
    sigaction(SIGSEGV, NULL, &cur);
    if (cur.sa_sigaction == on_segv)
        return;
    sigaction(SIGSEGV, &sa, &old_segv);
}

/* ---- slow steps (debug mode) ----
 *
 * A step that kept the loop over CIO__SLOW_STEP_NS is a blocking call in a
 * task (sleep(), a busy loop, a synchronous read) — unless the thread spent
 * that time waiting for a CPU because the machine is busy. The kernel counts
 * that wait (the second field of /proc/thread-self/schedstat). It is read
 * only in debug mode: once per loop turn as a baseline, and again only for a
 * step that ran over the limit. The wait between the baseline and the step's
 * start is at most that interval, so subtracting it leaves a lower bound on
 * the wait during the step: a preempted step may still be reported when the
 * turn's earlier steps ran long, a blocking one is never excused. */

void cio__slow_step_open(cio_loop *l)
{
    l->sched_fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
}

void cio__slow_step_close(cio_loop *l)
{
    if (l->sched_fd >= 0)
        close(l->sched_fd);
    l->sched_fd = -1;
}

/* The thread's total run-queue wait in ns, or -1 when unknown. */
static int64_t run_queue_wait(cio_loop *l)
{
    char buf[96];
    if (l->sched_fd < 0)
        return -1;
    ssize_t n = pread(l->sched_fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    char *p = strchr(buf, ' ');
    return p ? strtoll(p + 1, NULL, 10) : -1;
}

void cio__slow_step_turn(cio_loop *l)
{
    l->turn_clock = cio__clock_ns();
    l->turn_wait = run_queue_wait(l);
}

void cio__slow_step_check(cio_loop *l, const cio_task *t, int64_t start, int64_t ran)
{
    int64_t wait = run_queue_wait(l);
    if (wait >= 0 && l->turn_wait >= 0) {
        int64_t preempted = (wait - l->turn_wait) - (start - l->turn_clock);
        if (preempted > 0)
            ran -= preempted;
    }
    if (ran > CIO__SLOW_STEP_NS)
        fprintf(stderr,
                "cio: task %s ran %.0f ms without suspending (a blocking call in a "
                "task stalls every other task)\n",
                cio__task_name((cio_task *)t), (double)ran / 1e6);
}
