/* Cancel scopes, timeout scopes and shields; wait_for and shield(task).
 *
 * Each task keeps a chain of its open scopes, innermost first, ending at the
 * task's root scope (the one cio_cancel cancels). A task's cancel reason is
 * read off that chain when it calls something that suspends (cio__cancel_reason
 * in loop.c): the outermost cancelled scope below the nearest shield wins. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The struct is public (callers embed it); its size is kept in check here,
 * outside the header, which C++ must compile too. */
_Static_assert(sizeof(cio_scope) <= 96, "cio_scope stays small: it lives on task stacks");

static void set_innermost(cio_task *t, cio_scope *s)
{
    t->scope = s;
    t->scope_file = s->priv_file;
    t->scope_line = s->priv_line;
}

static int is_open_in(const cio_task *t, const cio_scope *s)
{
    for (const cio_scope *c = t->scope; c != &t->root; c = c->priv_parent)
        if (c == s)
            return 1;
    return 0;
}

/* A scope entered again while it is open would become its own parent, and
 * cancel delivery would loop on it for ever: refuse, leaving it untouched.
 * The task's chain of open scopes is searched rather than s read: s is
 * usually uninitialised here (and Valgrind would say so). The chain is as
 * deep as the scopes nested in the task, a handful. */
static int reentered(cio_scope *s, const char *file, int line)
{
    cio_task *t = cio__self();
    if (!t || !t->nscopes || !is_open_in(t, s))
        return 0;
    if (t->loop->debug)
        fprintf(stderr,
                "cio: task %s enters at %s:%d the scope it entered at %s:%d and has not "
                "exited; refused (-EINVAL)\n",
                cio__task_name(t), file, line, s->priv_file, s->priv_line);
    cio_fail(-EINVAL, "scope entered at %s:%d is entered again at %s:%d while open", s->priv_file,
             s->priv_line, file, line);
    return 1;
}

int cio__scope_push(cio_scope *s, int kind, const char *file, int line)
{
    if (!s)
        return cio__invalid("cio_scope_enter");
    if (reentered(s, file, line))
        return -EINVAL;       /* with its message */
    memset(s, 0, sizeof(*s)); /* a failed enter leaves a closed scope (CIO_SCOPE_AUTO) */
    cio_task *t = cio__self();
    if (!t)
        return -EPERM;
    s->priv_parent = t->scope;
    s->priv_task = t;
    s->priv_file = file;
    s->priv_line = line;
    s->priv_kind = kind;
    s->priv_open = 1;
    s->priv_timer.deadline = INT64_MAX;
    set_innermost(t, s);
    t->nscopes++;
    return 0;
}

int cio__scope_enter(cio_scope *s, const char *file, int line)
{
    return cio__scope_push(s, CIO__SCOPE_CANCEL, file, line);
}

int cio__shield_enter(cio_scope *s, const char *file, int line)
{
    return cio__scope_push(s, CIO__SCOPE_SHIELD, file, line);
}

static void expire(cio_scope *s)
{
    cio__scope_set_reason(s, -ETIMEDOUT);
    cio__deliver_cancel(s->priv_task);
}

static void timeout_fired(cio__timer *tm)
{
    expire((cio_scope *)((char *)tm - offsetof(cio_scope, priv_timer)));
}

/* Sets s's deadline to `deadline` ns on the loop clock (INT64_MAX: none). */
static int set_deadline(cio_scope *s, int64_t deadline)
{
    cio_loop *l = s->priv_task->loop;
    cio__timer_disarm(l, &s->priv_timer);
    s->priv_timer.deadline = deadline;
    if (s->priv_reason || deadline == INT64_MAX)
        return 0;
    if (deadline <= l->now) {
        expire(s);
        return 0;
    }
    s->priv_timer.fn = timeout_fired;
    int err = cio__timer_arm(l, &s->priv_timer, deadline);
    s->priv_timer.deadline = deadline;
    return err;
}

static int enter_timeout(cio_scope *s, int64_t deadline, const char *file, int line)
{
    int err = cio__scope_push(s, CIO__SCOPE_TIMEOUT, file, line);
    if (err)
        return err;
    err = set_deadline(s, deadline);
    if (err)
        cio_scope_exit(s);
    return err;
}

int cio__timeout_enter(cio_scope *s, double seconds, const char *file, int line)
{
    int64_t ns;
    if (s && reentered(s, file, line))
        return -EINVAL; /* with its message */
    if (s)
        memset(s, 0, sizeof(*s));
    if (cio__duration_ns(seconds, &ns) < 0)
        return cio__invalid("cio_timeout_enter");
    cio_loop *l = cio__loop;
    if (!l || !l->current)
        return -EPERM;
    return enter_timeout(s, seconds == CIO_FOREVER ? INT64_MAX : cio__deadline_base(l) + ns, file,
                         line);
}

int cio__timeout_at_enter(cio_scope *s, double when, const char *file, int line)
{
    if (when != when)
        return cio__invalid("cio_timeout_at_enter");
    cio_loop *l = cio__loop;
    if (!l || !l->current)
        return -EPERM;
    int64_t deadline;
    if (when == CIO_FOREVER)
        deadline = INT64_MAX;
    else if (when * 1e9 <= (double)INT64_MIN / 2)
        deadline = 0;
    else if (when * 1e9 >= (double)(l->now + CIO__FAR_FUTURE))
        deadline = l->now + CIO__FAR_FUTURE;
    else
        deadline = (int64_t)(when * 1e9);
    return enter_timeout(s, deadline, file, line);
}

/* Closes the innermost open scope of t. */
static void pop(cio_task *t)
{
    cio_scope *s = t->scope;
    cio__timer_disarm(t->loop, &s->priv_timer);
    s->priv_open = 0;
    t->nscopes--;
    if (s->priv_reason)
        t->ncancelled--;
    set_innermost(t, s->priv_parent);
}

int cio_scope_exit(cio_scope *s)
{
    if (!s || !s->priv_open || s == &s->priv_task->root)
        return cio__invalid(__func__);
    cio_task *t = s->priv_task;
    if (t != cio__self() || !is_open_in(t, s))
        return cio__invalid(__func__);
    int ret = 0;
    if (t->scope != s) {
        fprintf(stderr,
                "cio: task %s exits the scope entered at %s:%d while the scope entered at "
                "%s:%d inside it is still open; closing both\n",
                cio__task_name(t), s->priv_file, s->priv_line, t->scope->priv_file,
                t->scope->priv_line);
        while (t->scope != s)
            pop(t);
        ret = CIO_ESCOPE;
    }
    pop(t);
    if (!ret && s->priv_reason == -ETIMEDOUT && s->priv_kind == CIO__SCOPE_TIMEOUT && !t->message)
        /* Whatever the code inside returned, the task says why it stopped. */
        cio_fail(-ETIMEDOUT, "timed out: the timeout entered at %s:%d expired", s->priv_file,
                 s->priv_line);
    return ret ? ret : s->priv_reason;
}

int cio_timeout_exit(cio_scope *s)
{
    return cio_scope_exit(s);
}

int cio_shield_exit(cio_scope *s)
{
    return cio_scope_exit(s);
}

void cio__scope_cleanup(cio_scope *s)
{
    if (s && s->priv_open)
        cio_scope_exit(s);
}

void cio_scope_cancel(cio_scope *s)
{
    if (!s || !s->priv_open)
        return;
    cio__scope_set_reason(s, -ECANCELED);
    cio__deliver_cancel(s->priv_task);
}

int cio_timeout_reschedule(cio_scope *s, double seconds)
{
    int64_t ns = 0;
    if (!s || !s->priv_open || s->priv_kind != CIO__SCOPE_TIMEOUT || seconds != seconds)
        return cio__invalid(__func__);
    if (seconds > 0 && cio__duration_ns(seconds, &ns) < 0)
        return cio__invalid(__func__);
    /* A deadline already past (seconds <= 0) expires the scope at once, as
     * asyncio's reschedule to a past time does. */
    cio_loop *l = s->priv_task->loop;
    return set_deadline(s, seconds == CIO_FOREVER ? INT64_MAX : cio__deadline_base(l) + ns);
}

double cio_timeout_deadline(const cio_scope *s)
{
    if (!s || s->priv_timer.deadline == INT64_MAX)
        return CIO_FOREVER;
    return (double)s->priv_timer.deadline / 1e9;
}

int cio_timeout_expired(const cio_scope *s)
{
    return s && s->priv_kind == CIO__SCOPE_TIMEOUT && s->priv_reason == -ETIMEDOUT;
}

void cio__scope_close_leaked(cio_task *t)
{
    cio_loop *l = t->loop;
    fprintf(stderr,
            "cio: task %s returned with %zu scope(s) still open; the innermost was entered "
            "at %s:%d\n",
            cio__task_name(t), t->nscopes, t->scope_file ? t->scope_file : "?", t->scope_line);
    /* The scopes lived in frames that are gone: find their timers by address
     * instead of walking the chain. */
    const char *lo = t->stack_lo, *hi = lo + t->stack_size;
    for (uint32_t i = 0; i < l->timers.n;) {
        const char *p = (const char *)l->timers.a[i].timer;
        if (p >= lo && p < hi)
            cio__timer_remove_at(l, i);
        else
            i++;
    }
    t->scope = &t->root;
    t->nscopes = 0;
    t->ncancelled = t->root.priv_reason ? 1 : 0;
}

int cio_wait_for(cio_fn fn, void *arg, double timeout)
{
    if (!fn)
        return cio__invalid(__func__);
    cio_scope s;
    int err = cio_timeout_enter(&s, timeout);
    if (err)
        return err;
    int status = fn(arg);
    err = cio_scope_exit(&s);
    int outer = cio_cancelled();
    if (outer)
        return outer;
    if (err == CIO_ESCOPE)
        return err;
    /* As asyncio's timeout(): only the cancellation the deadline caused turns
     * into the timeout. A real error, or a result fn finished with (a join of
     * a task already done, say), is what fn returned and comes back. */
    if (err == -ETIMEDOUT && (status == -ETIMEDOUT || status == -ECANCELED))
        return cio_fail(-ETIMEDOUT, "cio_wait_for timed out after %g s", timeout);
    return status;
}

/* The caller of cio_shield was cancelled: leave t running on its own. */
static int shield_unpark(cio_task *self, void *target)
{
    (void)self;
    cio_task *t = target;
    t->watch = NULL;
    cio_detach(t);
    return 1;
}

int cio_shield(cio_task *t)
{
    cio_task *self;
    int reason, status;
    int r = cio__join_begin(t, &self, &reason, &status);
    if (r)
        return r < 0 ? r : status;
    if (reason) {
        cio_detach(t);
        return reason;
    }
    cio__join_watch jw = {{cio__join_notify}, self};
    t->watch = &jw.w;
    r = cio__park(self, "shield", t, shield_unpark, t);
    if (r)
        return r; /* cancelled: t was detached */
    status = t->status;
    cio__task_release(t);
    return status;
}
