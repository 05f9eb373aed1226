/* Tasks: spawn, join, detach, cancel, names, failure messages, sleep.
 *
 * Ownership: the loop owns every task until it finishes. The handle returned
 * by cio_spawn is released exactly once, by cio_join (or cio_shield) or
 * cio_detach; the record is freed when the task is both finished and released.
 * A detached task that fails is reported when the loop closes. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "internal.h"

const char *cio__task_name(cio_task *t)
{
    if (!t->name[0]) /* made on first use: spawning stays cheap */
        snprintf(t->name, sizeof(t->name), "Task-%llu", (unsigned long long)t->id);
    return t->name;
}

#define RECORDS_PER_CHUNK 256

/* memset(t, 0, sizeof(*t)) compiles to `rep stosq` for a record this size,
 * whose start-up alone costs more than the two dozen 16-byte stores of this
 * loop (measured: about 3x slower per record on the benchmark machine; W1
 * clears one record per task). Unaligned stores: a record is 16-byte aligned
 * only when its size is a multiple of 16. */
typedef char cio__zero16 __attribute__((vector_size(16), may_alias, aligned(1)));

static void zero_record(cio_task *t)
{
    cio__zero16 *q = (cio__zero16 *)(void *)t;
    const cio__zero16 zero = {0};
#pragma GCC unroll 32
    for (size_t i = 0; i < sizeof(*t) / 16; i++)
        q[i] = zero;
    memset((char *)t + sizeof(*t) / 16 * 16, 0, sizeof(*t) % 16);
}

cio_task *cio__task_alloc(cio_loop *l)
{
    if (!l->task_free) {
        void **chunks = cio__realloc(l->task_chunks, (l->ntask_chunks + 1) * sizeof(*chunks));
        if (!chunks)
            return NULL;
        l->task_chunks = chunks;
        cio_task *c = aligned_alloc(64, RECORDS_PER_CHUNK * sizeof(cio_task));
        if (!c)
            return NULL;
        chunks[l->ntask_chunks++] = c;
        for (size_t i = RECORDS_PER_CHUNK; i-- > 0;) {
            c[i].all_next = l->task_free;
            l->task_free = &c[i];
        }
    }
    cio_task *t = l->task_free;
    l->task_free = t->all_next;
    zero_record(t);
    return t;
}

void cio__task_records_destroy(cio_loop *l)
{
    for (size_t i = 0; i < l->ntask_chunks; i++)
        free(l->task_chunks[i]);
    free(l->task_chunks);
    l->task_chunks = NULL;
    l->task_free = NULL;
}

int cio__spawn(cio_loop *l, cio_task **out, cio_fn fn, void *arg, const cio_task_opts *opts)
{
    cio_task *t = cio__task_alloc(l);
    if (!t)
        return -ENOMEM;
    t->stack_request = opts ? opts->stack_size : 0;
    t->magic = CIO__TASK_LIVE;
    t->run.kind = CIO__RUN_TASK;
    t->loop = l;
    t->fn = fn;
    t->arg = arg;
    t->id = l->next_id++;
    if (opts && opts->name) {
        /* Not snprintf: glibc's printf reaches kilobytes down the spawner's
         * stack, pages a long-lived task then keeps resident. */
        size_t n = strnlen(opts->name, sizeof(t->name) - 1);
        memcpy(t->name, opts->name, n);
        t->name[n] = 0;
    } else if (CIO__UNLIKELY(l->debug))
        cio__task_name(t); /* the guard-page handler cannot format one */
    t->root.priv_kind = CIO__SCOPE_CANCEL;
    t->root.priv_task = t;
    t->root.priv_open = 1;
    t->scope = &t->root;
    t->all_next = l->all;
    if (l->all)
        l->all->all_prev = t;
    l->all = t;
    l->nlive++;
    cio__make_ready(t);
    *out = t;
    return 0;
}

int cio_spawn_opts(cio_task **out, cio_fn fn, void *arg, const cio_task_opts *opts)
{
    if (!out)
        return cio__invalid(__func__);
    *out = NULL;
    if (!fn)
        return cio__invalid(__func__);
    cio_loop *l = cio__loop;
    if (!l)
        return -EPERM;
    return cio__spawn(l, out, fn, arg, opts);
}

cio_task *cio_spawn(cio_fn fn, void *arg)
{
    cio_loop *l = cio__loop;
    cio_task *t = NULL;
    if (!fn || !l)
        cio_spawn_opts(&t, fn, arg, NULL); /* the same failure, with its message */
    else if (cio__spawn(l, &t, fn, arg, NULL) < 0)
        t = NULL;
    return t;
}

void cio__task_free(cio_task *t)
{
    cio_loop *l = t->loop;
    if (t->all_prev)
        t->all_prev->all_next = t->all_next;
    else
        l->all = t->all_next;
    if (t->all_next)
        t->all_next->all_prev = t->all_prev;
    if (t->state != CIO__DONE)
        l->nlive--; /* a task abandoned at close (deadlock) */
    if (t->message) {
        free(t->message);
        t->message = NULL;
    }
    t->magic = CIO__TASK_DEAD;
    cio__ctx_free(&t->ctx);
    if (t->stack_lo)
        cio__stack_put(&l->stacks, t);
    t->all_next = l->task_free;
    l->task_free = t;
}

void cio__report_unjoined(cio_loop *l, cio_task *t)
{
    cio__task_name(t);
    char *line = NULL;
    int n = cio__asprintf(&line, "task %s failed with %d (%s)%s%s, and nobody joined it", t->name,
                          t->status, cio_strerror(t->status), t->message ? ": " : "",
                          t->message ? t->message : "");
    char **a = cio__realloc(l->unjoined, (l->nunjoined + 1) * sizeof(*a));
    if (n < 0 || !a) { /* out of memory: say it now rather than never */
        fprintf(stderr, "cio: task %s failed with %d and nobody joined it\n", t->name, t->status);
        free(n < 0 ? NULL : line);
        if (a)
            l->unjoined = a;
        return;
    }
    l->unjoined = a;
    l->unjoined[l->nunjoined++] = line;
}

void cio__task_finished(cio_task *t)
{
    cio_loop *l = t->loop;
    l->nlive--;
    if (CIO__UNLIKELY(t->nscopes))
        cio__scope_close_leaked(t);
    if (t->stack_lo) /* the next task to run reuses it while hot */
        cio__stack_put(&l->stacks, t);
    if (t->group) {
        cio__group_child_done(t); /* the group owns and frees its children */
        return;
    }
    if (t->watch) {
        cio__watch *w = t->watch;
        t->watch = NULL;
        w->notify(w, t);
    }
    if (t->released) {
        if (t->detached && t->status < 0 && t->status != -ECANCELED)
            cio__report_unjoined(l, t);
        cio__task_free(t);
    }
}

void cio__task_release(cio_task *t)
{
    t->released = 1;
    if (t->state == CIO__DONE)
        cio__task_free(t);
}

void cio__join_notify(cio__watch *w, cio_task *done)
{
    (void)done;
    cio__wake(((cio__join_watch *)w)->waiter, 0);
}

/* The joiner was cancelled: pass the cancellation on and keep waiting. */
static int join_unpark(cio_task *self, void *target)
{
    (void)self;
    cio_cancel(target);
    return 0;
}

/* A call on a handle that was already released: its status is gone. The
 * record is still readable (records are recycled, never unmapped, while the
 * loop lives) unless a new task took it, which nothing can tell apart. */
static void released_handle(const cio_task *t, const char *call)
{
    cio_loop *l = cio__loop;
    int dead = t && (t->magic == CIO__TASK_DEAD || (t->magic == CIO__TASK_LIVE && t->released));
    if (!dead || t->group) {
        cio__invalid_message(call);
        return;
    }
    if (l && l->debug)
        fprintf(stderr,
                "cio: %s on a task handle already released (by cio_join, cio_shield or "
                "cio_detach): its status is lost\n",
                call);
    cio_fail(-EINVAL, "%s on a task handle already released", call);
}

int cio__join_begin(cio_task *t, cio_task **self, int *reason, int *status)
{
    if (!cio__task_valid(t) || t->released || t->group) {
        released_handle(t, "cio_join");
        return -EINVAL;
    }
    *reason = cio__checkpoint(self);
    if (!*self)
        return -EPERM;
    if (t->watch)
        return -EBUSY;
    if (t->state == CIO__DONE) {
        *status = t->status;
        cio__task_release(t);
        return 1;
    }
    return t == *self ? -EDEADLK : 0;
}

int cio_join(cio_task *t)
{
    cio_task *self;
    int reason, status;
    int r = cio__join_begin(t, &self, &reason, &status);
    if (r)
        return r < 0 ? r : status;
    if (reason)
        cio_cancel(t);
    cio__join_watch jw = {{cio__join_notify}, self};
    t->watch = &jw.w;
    cio__park(self, "join", t, reason ? NULL : join_unpark, t);
    status = t->status;
    cio__task_release(t);
    reason = cio__cancel_reason(self);
    /* t's real failure beats our cancellation (asyncio propagates the task's
     * exception when it ended with one); our next suspending call still sees
     * the reason, cancellation being level-triggered. */
    if (reason && !(status < 0 && status != -ECANCELED))
        return reason;
    return status;
}

void cio_detach(cio_task *t)
{
    if (!cio__task_valid(t) || t->released || t->group) {
        released_handle(t, "cio_detach");
        return;
    }
    t->detached = 1;
    if (t->state == CIO__DONE && t->status < 0 && t->status != -ECANCELED)
        cio__report_unjoined(t->loop, t);
    cio__task_release(t);
}

void cio_cancel(cio_task *t)
{
    if (!cio__task_valid(t) || t->state == CIO__DONE)
        return;
    cio__scope_set_reason(&t->root, -ECANCELED);
    cio__deliver_cancel(t);
}

cio_task *cio_current(void)
{
    return cio__self();
}

int cio_task_done(const cio_task *t)
{
    return cio__task_valid(t) && t->state == CIO__DONE;
}

int cio_task_status(const cio_task *t)
{
    if (!cio__task_valid(t))
        return cio__invalid(__func__);
    return t->state == CIO__DONE ? t->status : -EINPROGRESS;
}

/* cio_fail's message outside any task (a thread's code before or after
 * cio_run, a plain callback, a to_thread function): a fixed buffer, so that a
 * thread that ends leaves nothing to free. */
static __thread char thread_message[256];

const char *cio_task_message(const cio_task *t)
{
    if (!t) {
        cio_task *self = cio__self();
        return self ? self->message : thread_message[0] ? thread_message : NULL;
    }
    return cio__task_valid(t) ? t->message : NULL;
}

void cio__clear_message(void)
{
    cio_task *t = cio__self();
    if (!t)
        thread_message[0] = 0;
    else if (t->message) {
        free(t->message);
        t->message = NULL;
    }
}

void cio__invalid_message(const char *func)
{
    if (!func)
        cio__clear_message();
    else
        cio_fail(-EINVAL,
                 "%s: invalid argument (NULL, out of range, or not in the state "
                 "the call needs)",
                 func);
}

int cio__not_in_task(const char *func)
{
    return cio_fail(-EPERM,
                    "%s: not inside a task (suspending calls run in a task started by "
                    "cio_run or cio_spawn)",
                    func);
}

const char *cio_task_name(const cio_task *t)
{
    return cio__task_valid(t) ? cio__task_name((cio_task *)t) : NULL;
}

void cio_task_set_name(cio_task *t, const char *name)
{
    if (!t)
        t = cio__self();
    if (!cio__task_valid(t) || !name)
        return;
    snprintf(t->name, sizeof(t->name), "%s", name);
}

int cio_fail(int err, const char *fmt, ...)
{
    cio_task *t = cio__self();
    if (!fmt)
        return err;
    va_list ap;
    va_start(ap, fmt);
    if (!t) {
        vsnprintf(thread_message, sizeof(thread_message), fmt, ap);
        va_end(ap);
        return err;
    }
    char *msg = NULL;
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        return err; /* out of memory: the status still says what failed */
    free(t->message);
    t->message = msg;
    return err;
}

/* ---- sleeping ---- */

static void sleep_done(cio__timer *tm)
{
    cio__wake(((cio__timer_waiter *)tm)->task, 0);
}

static int sleep_unpark(cio_task *t, void *data)
{
    cio__timer_disarm(t->loop, &((cio__timer_waiter *)data)->timer);
    return 1;
}

int cio_sleep(double seconds)
{
    int64_t ns;
    if (cio__duration_ns(seconds, &ns) < 0)
        return cio__invalid(__func__);
    if (ns == 0)
        return cio_yield();
    cio_task *t;
    int err = cio__checkpoint(&t);
    if (err)
        return err;
    cio_loop *l = t->loop;
    cio__timer_waiter s = {.timer = {.fn = sleep_done}, .task = t};
    if (cio__timer_arm(l, &s.timer, cio__deadline_base(l) + ns) < 0)
        return -ENOMEM;
    return cio__park(t, "sleep", NULL, sleep_unpark, &s);
}
