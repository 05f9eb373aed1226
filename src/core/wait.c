/* Waiting on several tasks: gather, wait, as_completed.
 *
 * Each puts one watch (cio__watch) on every task it waits for; the task's
 * completion calls the watch's notify on the loop, which decides whether to
 * wake the waiter. Nothing is allocated: the state lives on the waiter's
 * stack (or in the caller's cio_as_completed). */
#include <string.h>

#include "cio/wait.h"
#include "internal.h"

/* Checks handles for a multi-task wait: -EINVAL for a bad one or one listed
 * twice (a duplicate would be counted twice and never finish twice, so the
 * wait could never end), -EBUSY for one already watched. Linear: each handle
 * is marked while the array is scanned, then the marks are cleared. */
static int check_handles(cio_task **tasks, size_t n)
{
    if (n && !tasks)
        return cio__invalid(NULL);
    int err = 0;
    cio_task *twice = NULL;
    size_t i;
    for (i = 0; i < n && !err; i++) {
        cio_task *t = tasks[i];
        if (!cio__task_valid(t) || t->released || t->group)
            err = -EINVAL;
        else if (t->listed)
            twice = t;
        else if (t->watch)
            err = -EBUSY;
        else
            t->listed = 1;
        if (twice)
            err = -EINVAL;
    }
    for (size_t j = 0; j < i; j++)
        if (cio__task_valid(tasks[j]))
            tasks[j]->listed = 0;
    if (twice)
        cio_fail(err, "task %s is listed twice", cio__task_name(twice));
    return err;
}

static void unwatch(cio_task **tasks, size_t n, cio__watch *w)
{
    for (size_t i = 0; i < n; i++)
        if (tasks[i]->watch == w)
            tasks[i]->watch = NULL;
}

static void cancel_unfinished(cio_task **tasks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (tasks[i]->state != CIO__DONE)
            cio_cancel(tasks[i]);
}

/* ---- gather ---- */

typedef struct gather_state {
    cio__watch w;
    cio_task *waiter;
    cio_task **tasks;
    size_t n, pending;
    int first_failure;
    int flags;
} gather_state;

static int failed(const cio_task *t)
{
    return t->status < 0;
}

static void gather_notify(cio__watch *w, cio_task *done)
{
    gather_state *g = (gather_state *)w;
    g->pending--;
    if (failed(done) && !g->first_failure && !(g->flags & CIO_RETURN_EXCEPTIONS)) {
        g->first_failure = done->status;
        cancel_unfinished(g->tasks, g->n);
    }
    if (!g->pending)
        cio__wake(g->waiter, 0);
}

/* The gatherer was cancelled: cancel the tasks and keep waiting for them. */
static int gather_unpark(cio_task *self, void *data)
{
    (void)self;
    gather_state *g = data;
    cancel_unfinished(g->tasks, g->n);
    return 0;
}

int cio_gather(cio_task **tasks, size_t n, int flags)
{
    int err = check_handles(tasks, n);
    if (err)
        return err;
    cio_task *self;
    int reason = cio__checkpoint(&self);
    if (!self)
        return -EPERM;
    gather_state g = {{gather_notify}, self, tasks, n, 0, 0, flags};
    /* One pass: the watch goes on every unfinished task now (cancelling them
     * below cannot finish them: that takes a step of theirs). */
    for (size_t i = 0; i < n; i++) {
        if (tasks[i]->state != CIO__DONE) {
            g.pending++;
            tasks[i]->watch = &g.w;
        } else if (failed(tasks[i]) && !g.first_failure && !(flags & CIO_RETURN_EXCEPTIONS)) {
            g.first_failure = tasks[i]->status;
        }
    }
    if (reason || g.first_failure)
        cancel_unfinished(tasks, n);
    if (g.pending) {
        /* Once cancellation has been passed on, wait without interruption:
         * gather never returns while a task it owns still runs. */
        int cancellable = !reason && !g.first_failure;
        cio__park(self, "gather", NULL, cancellable ? gather_unpark : NULL, &g);
    }
    reason = cio__cancel_reason(self);
    return reason ? reason : g.first_failure;
}

/* ---- wait ---- */

typedef struct wait_state {
    cio__watch w;
    cio__timer timer;
    cio_task *waiter;
    size_t n, ndone;
    int any_failed;
    int return_when;
} wait_state;

static int wait_satisfied(const wait_state *s)
{
    if (s->ndone == s->n)
        return 1;
    if (s->return_when == CIO_FIRST_COMPLETED)
        return s->ndone > 0;
    if (s->return_when == CIO_FIRST_EXCEPTION)
        return s->any_failed;
    return 0;
}

static void wait_notify(cio__watch *w, cio_task *done)
{
    wait_state *s = (wait_state *)w;
    s->ndone++;
    s->any_failed |= failed(done);
    if (wait_satisfied(s))
        cio__wake(s->waiter, 0);
}

static void wait_timed_out(cio__timer *tm)
{
    wait_state *s = (wait_state *)((char *)tm - offsetof(wait_state, timer));
    cio__wake(s->waiter, 0);
}

static int wait_unpark(cio_task *self, void *data)
{
    (void)self;
    (void)data;
    return 1; /* cio_wait never cancels the tasks: just stop waiting */
}

/* Moves finished tasks to the front, keeping the order within both parts.
 * Returns how many are finished. */
static size_t partition_done(cio_task **tasks, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (tasks[i]->state != CIO__DONE)
            continue;
        cio_task *t = tasks[i];
        memmove(&tasks[k + 1], &tasks[k], (i - k) * sizeof(*tasks));
        tasks[k++] = t;
    }
    return k;
}

int cio_wait(cio_task **tasks, size_t n, int return_when, double timeout, size_t *ndone)
{
    int64_t ns;
    if (!ndone || return_when < CIO_ALL_COMPLETED || return_when > CIO_FIRST_EXCEPTION ||
        cio__duration_ns(timeout, &ns) < 0)
        return cio__invalid(__func__);
    *ndone = 0;
    if (!n) /* asyncio raises ValueError: nothing could ever complete */
        return cio_fail(-EINVAL, "cio_wait on an empty set of tasks");
    int err = check_handles(tasks, n);
    if (err)
        return err;
    cio_task *self;
    err = cio__checkpoint(&self);
    if (!self)
        return -EPERM;
    wait_state s = {.w = {wait_notify},
                    .timer = {.fn = wait_timed_out},
                    .waiter = self,
                    .n = n,
                    .return_when = return_when};
    for (size_t i = 0; i < n; i++) {
        if (tasks[i]->state == CIO__DONE) {
            s.ndone++;
            s.any_failed |= failed(tasks[i]);
        }
    }
    if (!err && !wait_satisfied(&s) && ns > 0) {
        cio_loop *l = self->loop;
        if (timeout != CIO_FOREVER && cio__timer_arm(l, &s.timer, cio__deadline_base(l) + ns) < 0)
            return -ENOMEM;
        for (size_t i = 0; i < n; i++)
            if (tasks[i]->state != CIO__DONE)
                tasks[i]->watch = &s.w;
        err = cio__park(self, "wait", NULL, wait_unpark, NULL);
        unwatch(tasks, n, &s.w);
        cio__timer_disarm(l, &s.timer);
    }
    *ndone = partition_done(tasks, n);
    return err;
}

/* ---- as_completed ---- */

static cio_as_completed *ac_of(cio__watch *w)
{
    return (cio_as_completed *)((char *)w - offsetof(cio_as_completed, priv_watch));
}

static void ac_push(cio_as_completed *ac, cio_task *t)
{
    t->done_next = NULL;
    if (ac->priv_tail)
        ((cio_task *)ac->priv_tail)->done_next = t;
    else
        ac->priv_head = t;
    ac->priv_tail = t;
}

static void ac_notify(cio__watch *w, cio_task *done)
{
    cio_as_completed *ac = ac_of(w);
    ac_push(ac, done);
    if (ac->priv_waiter)
        cio__wake(ac->priv_waiter, 0);
}

int cio_as_completed_init(cio_as_completed *ac, cio_task **tasks, size_t n, double timeout)
{
    int64_t ns;
    if (!ac || cio__duration_ns(timeout, &ns) < 0)
        return cio__invalid(__func__);
    memset(ac, 0, sizeof(*ac));
    int err = check_handles(tasks, n);
    if (err)
        return err;
    cio_loop *l = cio__loop;
    if (!l)
        return -EPERM;
    ac->priv_tasks = tasks;
    ac->priv_n = n;
    ac->priv_deadline = timeout == CIO_FOREVER ? INT64_MAX : cio__deadline_base(l) + ns;
    ac->priv_watch.fn = (void (*)(void))ac_notify;
    for (size_t i = 0; i < n; i++) {
        if (tasks[i]->state == CIO__DONE)
            ac_push(ac, tasks[i]);
        else
            tasks[i]->watch = (cio__watch *)&ac->priv_watch;
    }
    ac->priv_open = 1;
    return 0;
}

static void ac_timed_out(cio__timer *tm)
{
    cio__wake(((cio__timer_waiter *)tm)->task, -ETIMEDOUT);
}

int cio_as_completed_next(cio_as_completed *ac, cio_task **out)
{
    if (!ac || !out || !ac->priv_open)
        return cio__invalid(__func__);
    *out = NULL;
    if (ac->priv_delivered == ac->priv_n)
        return -ENOENT;
    cio_task *self;
    int err = cio__checkpoint(&self);
    if (err)
        return err;
    if (ac->priv_waiter) /* one waiter at a time: a second would never wake */
        return cio_fail(-EBUSY, "another task (%s) waits on this as_completed iterator",
                        cio__task_name(ac->priv_waiter));
    if (!ac->priv_head) {
        cio_loop *l = self->loop;
        if (ac->priv_deadline <= l->now)
            return -ETIMEDOUT;
        cio__timer_waiter timer = {.timer = {.fn = ac_timed_out}, .task = self};
        if (ac->priv_deadline != INT64_MAX &&
            cio__timer_arm(l, &timer.timer, ac->priv_deadline) < 0)
            return -ENOMEM;
        ac->priv_waiter = self;
        err = cio__park(self, "as_completed", NULL, wait_unpark, NULL);
        ac->priv_waiter = NULL;
        cio__timer_disarm(l, &timer.timer);
        if (err)
            return err;
    }
    cio_task *t = ac->priv_head;
    ac->priv_head = t->done_next;
    if (!ac->priv_head)
        ac->priv_tail = NULL;
    ac->priv_delivered++;
    *out = t;
    return 0;
}

void cio_as_completed_destroy(cio_as_completed *ac)
{
    if (!ac || !ac->priv_open)
        return;
    unwatch(ac->priv_tasks, ac->priv_n, (cio__watch *)&ac->priv_watch);
    ac->priv_open = 0;
}
