/* The event loop: cio_run, the scheduler, and parking and waking tasks.
 *
 * One turn of the loop: wait for I/O (or not at all when tasks are ready),
 * refresh the clock, fire expired timers, take calls from other threads, then
 * run every task and callback that was ready when the turn began, in FIFO
 * order. Work made ready during the turn runs in the next one, so a task that
 * yields in a loop cannot starve I/O or timers. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "internal.h"

__thread cio_loop *cio__loop;

static volatile sig_atomic_t sigint_count;
static cio_loop *volatile sigint_loop;

int64_t cio__clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t cio__coarse_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void cio__update_now(cio_loop *l)
{
    if (!l->virtual_clock)
        l->now = cio__clock_ns();
}

double cio_now(void)
{
    cio_loop *l = cio__loop;
    if (!l)
        return (double)cio__clock_ns() / 1e9;
    cio__update_now(l);
    return (double)l->now / 1e9;
}

cio_loop *cio_loop_current(void)
{
    return cio__loop;
}

const char *cio_backend_name(void)
{
    cio_loop *l = cio__loop;
    return l ? l->backend.vt->name : NULL;
}

/* ---- switching ---- */

/* Scheduler -> task. */
static void resume(cio_loop *l, cio_task *t)
{
#ifdef CIO_ASAN
    void *fake = NULL;
    __sanitizer_start_switch_fiber(&fake, t->stack_lo, t->stack_size);
    cio__ctx_switch(&l->sched_ctx, &t->ctx);
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#else
    cio__ctx_switch(&l->sched_ctx, &t->ctx);
#endif
}

void cio__task_main(void *arg)
{
    cio_task *t = arg;
    cio_loop *l = t->loop;
#ifdef CIO_ASAN
    /* The first task starts from the scheduler: learn the thread stack's
     * bounds then. Later tasks may start from another task's stack. */
    if (!l->main_stack_bottom)
        __sanitizer_finish_switch_fiber(NULL, &l->main_stack_bottom, &l->main_stack_size);
    else
        __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
    for (;;) {
        t->status = t->fn(t->arg);
        t->state = CIO__DONE;
        /* The next task of the batch has never run: start it here, on this
         * stack and in this frame, instead of switching to the scheduler to
         * finish t and then to a fresh stack (W1: two switches, a stack
         * returned and another lent, a first frame built, per task). It runs
         * exactly when the scheduler would have run it, after t is finished. */
        cio_task *next = cio__batch_peek(l);
        if (!next || next->stack_lo || !cio__stack_pass(&l->stacks, t, next))
            break;
        cio__batch_take(l, next);
        l->current = NULL; /* finishing runs as on the scheduler */
        cio__task_finished(t);
        l->current = next;
        t = next;
    }
    /* Leave for good. The scheduler finishes the task off its stack. */
#ifdef CIO_ASAN
    __sanitizer_start_switch_fiber(NULL, l->main_stack_bottom, l->main_stack_size);
#endif
    cio__ctx_switch(&t->ctx, &l->sched_ctx);
    abort(); /* never resumed */
}

/* ---- parking ---- */

int cio__cancel_reason_slow(const cio_task *t)
{
    int reason = 0;
    for (const cio_scope *s = t->scope; s; s = s->priv_parent) {
        if (s->priv_reason)
            reason = s->priv_reason; /* the outermost cancelled scope wins */
        if (s->priv_kind == 3 /* shield */)
            break;
    }
    return reason;
}

int cio_cancelled(void)
{
    cio_task *t = cio__self();
    return t ? cio__cancel_reason(t) : 0;
}

void cio__park_check(cio_task *t)
{
    if (!t->guarded)
        cio__stack_check(t);
}

int cio__park(cio_task *t, const char *what, const void *obj, cio__unpark_fn unpark, void *data)
{
    return cio__park_inline(t, what, obj, unpark, data);
}

#ifdef CIO__CTX_INLINE
int cio__ctx_parked_result(cio__ctx *c)
{
    cio_task *t = (cio_task *)(void *)((char *)c - offsetof(cio_task, ctx));
    *t->loop->errno_at = t->saved_errno;
    return cio__parked_result(t, t->wake_result, t->give_back);
}
#endif

void cio__deliver_cancel(cio_task *t)
{
    if (t->state != CIO__WAITING || !t->unpark)
        return;
    int reason = cio__cancel_reason(t);
    if (!reason)
        return;
    cio__unpark_fn unpark = t->unpark;
    t->unpark = NULL; /* ask once */
    if (unpark(t, t->unpark_data)) {
        free(t->message); /* the call now fails with the reason, no message */
        t->message = NULL;
        cio__wake(t, reason);
    }
}

/* The loop reads the clock (about 20 ns) when it is about to wait, after it
 * waited, and otherwise once every CLOCK_STEPS task steps while timers are
 * armed, so expired timers fire promptly on a busy loop. New deadlines are
 * measured from cio__deadline_base (internal.h), which re-reads the clock when
 * the coarse clock shows a tick has passed. cio_now() always reads it. */
#define CLOCK_STEPS 16

static void refresh_clock(cio_loop *l)
{
    l->now = cio__clock_ns();
    l->steps_since_clock = 0;
}

int cio_yield(void)
{
    cio_task *t;
    int err = cio__checkpoint(&t);
    if (err)
        return err;
    cio_loop *l = t->loop;
    if (!l->nready && !l->backend.pending && !l->ts_pending && !l->virtual_clock) {
        /* Nothing else could run this turn: the loop would resume us at once,
         * so skip the round trip through it unless a timer is due. */
        if (++l->steps_since_clock >= CLOCK_STEPS)
            refresh_clock(l);
        if (cio__timers_next(l) > l->now)
            return 0;
    }
    cio__make_ready(t);
    cio__suspend(l, t);
    return 0;
}

/* ---- the scheduler ---- */

int cio__give_stack(cio_loop *l, cio_task *t)
{
    if (cio__stack_get(&l->stacks, t, t->stack_request) < 0)
        return -ENOMEM;
    cio__ctx_make(&t->ctx, t->stack_lo, t->stack_size, cio__task_main, t);
    return 0;
}

static void run_task(cio_loop *l, cio_task *t)
{
    if (CIO__UNLIKELY(!t->stack_lo) && cio__give_stack(l, t) < 0) {
        t->status = -ENOMEM; /* it never ran: say why */
        t->message = cio__strdup("no memory for the task's stack");
        t->state = CIO__DONE;
        cio__task_finished(t);
        return;
    }
    l->current = t;
    t->state = CIO__RUNNING;
    if (CIO__UNLIKELY(l->debug))
        t->step_start = cio__clock_ns();
    resume(l, t);
    /* Tasks may have switched among themselves: the one that came back to
     * the scheduler is the current one (always t in debug mode). */
    t = l->current;
    l->current = NULL;
    if (CIO__UNLIKELY(l->debug)) {
        int64_t ran = cio__clock_ns() - t->step_start;
        if (ran > CIO__SLOW_STEP_NS)
            cio__slow_step_check(l, t, t->step_start, ran);
    }
    if (t->state == CIO__DONE)
        cio__task_finished(t);
}

/* How long the loop may wait for I/O: 0 when work is ready, up to the next
 * timer otherwise, -1 for no limit. */
static int64_t poll_timeout(cio_loop *l)
{
    if (l->nready || l->ts_pending)
        return 0;
    int64_t next = cio__timers_next(l);
    if (next == INT64_MAX)
        return -1;
    if (l->virtual_clock)
        return 0;
    int64_t d = next - l->now;
    return d > 0 ? d : 0;
}

static void handle_sigint(cio_loop *l)
{
    if (!sigint_count)
        return;
    if (l->main_task && l->main_task->state != CIO__DONE)
        cio_cancel(l->main_task);
}

/* Nothing can ever run again: no ready work, no timer, no I/O, nothing from
 * outside. Tasks still wait, so report them and cancel them with -EDEADLK so
 * that they unwind instead of hanging. Returns 1 to stop the loop when that
 * did not help either. */
static int handle_deadlock(cio_loop *l)
{
    cio__deadlock_report(l);
    if (++l->deadlocks > 1)
        return 1;
    for (cio_task *t = l->all; t; t = t->all_next) {
        if (t->state == CIO__DONE)
            continue;
        cio__scope_set_reason(&t->root, -EDEADLK);
        cio__deliver_cancel(t);
    }
    return 0;
}

/* One turn of the loop. Returns 1 when the loop must stop (deadlock). */
static int run_once(cio_loop *l)
{
    if (!l->nready && !l->ts_pending && !l->virtual_clock)
        refresh_clock(l); /* the poll timeout must come from a fresh clock */
    int64_t timeout = poll_timeout(l);
    if (timeout != 0 || l->backend.pending) {
        if (timeout < 0 && !l->backend.pending && !l->refs && !l->ts_pending && l->nwaiting)
            return handle_deadlock(l);
        if (l->virtual_clock)
            timeout = 0;
        if (timeout != 0 && l->now - l->last_trim >= 1000000000) {
            /* About to sleep: give idle stacks' memory back, at most once a
             * second (a madvise per stack is not free). */
            cio__stacks_trim(&l->stacks);
            l->last_trim = l->now;
        }
        if (timeout != 0)
            timeout = cio__ts_sleep_begin(l, timeout);
        l->backend.vt->poll(&l->backend, timeout);
        l->backend.direct_sends = 0; /* a new turn (stream_write.c) */
        if (timeout != 0) {
            cio__ts_sleep_end(l);
            refresh_clock(l);
        }
    }
    if (l->virtual_clock) {
        if (!l->nready && !l->backend.pending && !l->ts_pending) {
            int64_t next = cio__timers_next(l);
            if (next != INT64_MAX && next > l->now)
                l->now = next; /* autojump: nothing else can happen first */
        }
    } else if (l->timers.n && l->steps_since_clock >= CLOCK_STEPS) {
        refresh_clock(l);
    }
    if (l->timers.n)
        cio__timers_run(l, l->now);
    if (l->ts_pending) {
        handle_sigint(l);
        cio__drain_threadsafe(l);
    }
    l->batch_left = l->nready;
    l->extra_steps = CIO__EXTRA_STEPS;
    if (l->batch_left)
        l->deadlocks = 0;
    if (CIO__UNLIKELY(l->debug) && l->batch_left)
        cio__slow_step_turn(l);
    while (l->batch_left) {
        l->batch_left--;
        if (++l->steps_since_clock >= CLOCK_STEPS && l->timers.n && !l->virtual_clock)
            refresh_clock(l);
        cio__runnable *r = cio__fifo_pop(&l->ready);
        l->nready--;
        if (r->kind == CIO__RUN_TASK)
            run_task(l, (cio_task *)r);
        else
            cio__run_callback(l, (struct cio_handle *)r);
    }
    return 0;
}

static size_t live_tasks(const cio_loop *l)
{
    size_t n = 0;
    for (const cio_task *t = l->all; t; t = t->all_next)
        n += t->state != CIO__DONE;
    return n;
}

/* ---- SIGINT ---- */

static void on_sigint(int sig)
{
    (void)sig;
    cio_loop *l = sigint_loop;
    if (++sigint_count > 1 || !l) {
        signal(SIGINT, SIG_DFL);
        raise(SIGINT);
        return;
    }
    l->ts_pending = 1;
    l->backend.vt->wakeup(&l->backend);
}

static void install_sigint(cio_loop *l)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    /* Only when the program has not chosen its own handling. */
    struct sigaction old;
    if (sigaction(SIGINT, NULL, &old) < 0 || old.sa_handler != SIG_DFL) {
        if (l->debug && !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_IGN)
            fprintf(stderr, "cio: SIGINT is ignored (inherited from the parent, as under nohup): "
                            "Ctrl-C will not cancel the main task; signal(SIGINT, SIG_DFL) "
                            "before cio_run restores it\n");
        return;
    }
    sigint_count = 0;
    sigint_loop = l;
    if (sigaction(SIGINT, &sa, &l->old_sigint) == 0)
        l->sigint_installed = 1;
}

static void remove_sigint(cio_loop *l)
{
    if (!l->sigint_installed)
        return;
    sigaction(SIGINT, &l->old_sigint, NULL);
    sigint_loop = NULL;
    l->sigint_installed = 0;
}

/* ---- cio_run ---- */

static int loop_open(cio_loop *l, const cio_opts *o)
{
    memset(l, 0, sizeof(*l));
    l->sched_fd = -1;
    l->debug = o->debug || cio__debug_env();
    l->virtual_clock = o->virtual_clock;
    l->stack_size = o->stack_size ? o->stack_size : CIO_DEFAULT_STACK_SIZE;
    l->next_id = 1;
    pthread_mutex_init(&l->ts_lock, NULL);
    int err = cio__stacks_init(&l->stacks, l->stack_size, l->debug);
    if (err)
        return err;
    l->stack_size = l->stacks.stack_size;
    err = cio__backend_open(&l->backend, o->backend);
    if (err) {
        cio__stacks_destroy(&l->stacks);
        return err;
    }
    l->errno_at = &errno;
    l->now = l->virtual_clock ? 0 : cio__clock_ns();
    if (l->debug) {
        cio__stack_guard_handler_install();
        cio__slow_step_open(l);
    }
    cio__executors_loop_opened();
    return 0;
}

static void loop_close(cio_loop *l)
{
    pthread_mutex_lock(&l->ts_lock);
    l->ts_closed = 1;
    pthread_mutex_unlock(&l->ts_lock);
    cio__slow_step_close(l);
    /* Handles of finished tasks that nobody joined or detached. */
    while (l->all) {
        cio_task *t = l->all;
        int failed = t->state == CIO__DONE && t->status < 0 && t->status != -ECANCELED;
        if (t->gen_producer && !t->released) {
            /* Its owner never closed it: say so, not "a task needing join". */
            if (l->debug || failed)
                fprintf(stderr,
                        "cio: an async generator (producer task %s) was never closed: call "
                        "cio_gen_close or cio_gen_destroy when done with it%s%s\n",
                        cio__task_name(t), t->message ? "; its failure: " : "",
                        t->message ? t->message : "");
        } else if (t->state == CIO__DONE) {
            if (t->status < 0 && t->status != -ECANCELED)
                cio__report_unjoined(l, t);
            else if (l->debug)
                fprintf(stderr,
                        "cio: task %s finished but its handle was never released "
                        "(cio_join or cio_detach)\n",
                        t->name);
        }
        cio__task_free(t);
    }
    for (size_t i = 0; i < l->nunjoined; i++) {
        fprintf(stderr, "cio: %s\n", l->unjoined[i]);
        free(l->unjoined[i]);
    }
    free(l->unjoined);
    cio__callbacks_destroy(l);
    cio__task_records_destroy(l);
    cio__timers_destroy(l);
    l->backend.vt->destroy(&l->backend);
    cio__stacks_destroy(&l->stacks);
    while (l->nrbuf_cache)
        free(l->rbuf_cache[--l->nrbuf_cache]);
    cio__ctx_free(&l->sched_ctx);
    pthread_mutex_destroy(&l->ts_lock);
    free(l->ts_calls);
    cio__executors_loop_closed(); /* the last loop takes the worker threads with it */
}

int cio_run(cio_fn main, void *arg)
{
    return cio_run_opts(main, arg, NULL);
}

int cio_run_opts(cio_fn main, void *arg, const cio_opts *opts)
{
    static const cio_opts defaults;
    if (!main)
        return cio__invalid(__func__);
    if (cio__loop)
        return -EBUSY;
    const cio_opts *o = opts ? opts : &defaults;
    if (o->backend < CIO_BACKEND_AUTO || o->backend > CIO_BACKEND_URING)
        return cio__invalid(__func__);
    cio_loop *l = cio__calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    int err = loop_open(l, o);
    if (err) {
        free(l);
        return err;
    }
    cio__loop = l;
    cio_task *mt;
    err = cio__spawn(l, &mt, main, arg, &(cio_task_opts){.name = "main"});
    if (err) {
        cio__loop = NULL;
        loop_close(l);
        free(l);
        return err;
    }
    l->main_task = mt;
    if (!o->no_sigint)
        install_sigint(l);
    int stop = 0;
    while (!stop && mt->state != CIO__DONE)
        stop = run_once(l);
    int status = mt->state == CIO__DONE ? mt->status : -EDEADLK;
    cio__task_release(mt);
    l->main_task = NULL;
    /* asyncio.run: cancel what is left and wait for it. */
    l->closing = 1;
    for (cio_task *t = l->all; t; t = t->all_next)
        cio_cancel(t);
    while (!stop && live_tasks(l))
        stop = run_once(l);
    remove_sigint(l);
    cio__loop = NULL;
    loop_close(l);
    free(l);
    return status;
}
