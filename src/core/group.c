/* Task groups: asyncio.TaskGroup with Trio's nursery rules.
 *
 * The group's scope sits in its owner's scope chain, so cancelling the group
 * interrupts the body's suspending calls. Children are linked in a list of
 * the live ones; a child's record is freed as soon as it finishes (after its
 * failure, if any, is copied), so a long-lived group, such as a server's,
 * does not grow with every child it ever ran. */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "internal.h"
#include "vec.h"

typedef struct group_failure {
    int status;
    char name[32];
    char *message;
} group_failure;

struct cio_group {
    cio_scope scope;
    cio_task *owner;
    cio_task *live; /* running children */
    size_t nlive;
    group_failure *failures;
    size_t nfailures, cap;
    int closed; /* cancelled or waited: no new children */
    int waited;
    int waiting;
};

int cio__group_new(cio_group **out, const char *file, int line)
{
    if (!out)
        return cio__invalid("cio_group_new");
    *out = NULL;
    cio_task *self = cio__self();
    if (!self)
        return -EPERM;
    cio_group *g = cio__calloc(1, sizeof(*g));
    if (!g)
        return -ENOMEM;
    int err = cio__scope_push(&g->scope, CIO__SCOPE_CANCEL, file, line);
    if (err) {
        free(g);
        return err;
    }
    g->owner = self;
    *out = g;
    return 0;
}

static void cancel_children(cio_group *g)
{
    for (cio_task *t = g->live; t; t = t->sib_next)
        cio_cancel(t);
}

void cio_group_cancel(cio_group *g)
{
    if (!g || g->waited)
        return;
    g->closed = 1;
    cancel_children(g);
    cio_scope_cancel(&g->scope);
}

int cio_group_spawn_opts(cio_group *g, cio_task **out, cio_fn fn, void *arg,
                         const cio_task_opts *opts)
{
    if (out)
        *out = NULL;
    if (!g || !fn)
        return cio__invalid(__func__);
    cio_loop *l = cio__loop;
    if (!l || l != g->owner->loop)
        return -EPERM;
    if (g->closed || g->scope.priv_reason)
        return -ESHUTDOWN;
    cio_task *t;
    int err = cio__spawn(l, &t, fn, arg, opts);
    if (err)
        return err;
    t->group = g;
    t->released = 1;
    t->sib_next = g->live;
    if (g->live)
        g->live->sib_prev = t;
    g->live = t;
    g->nlive++;
    if (out)
        *out = t;
    return 0;
}

cio_task *cio_group_spawn(cio_group *g, cio_fn fn, void *arg)
{
    cio_task *t;
    cio_group_spawn_opts(g, &t, fn, arg, NULL);
    return t;
}

/* Appends a failure; takes ownership of `message` (freed if it cannot be
 * kept). Returns 0 or -ENOMEM. */
static int add_failure(cio_group *g, int status, const char *name, char *message)
{
    if (cio__vec_room(g->failures, g->nfailures, g->cap, 4)) {
        fprintf(stderr, "cio: out of memory recording failure %d of task %s\n", status, name);
        free(message);
        return -ENOMEM;
    }
    group_failure *f = &g->failures[g->nfailures++];
    f->status = status;
    snprintf(f->name, sizeof(f->name), "%s", name);
    f->message = message;
    if (g->nfailures == 1)
        cio_group_cancel(g);
    return 0;
}

static void record_failure(cio_group *g, cio_task *t)
{
    char *message = t->message; /* moved: the record no longer owns it */
    t->message = NULL;
    add_failure(g, t->status, cio__task_name(t), message);
}

int cio_group_fail(cio_group *g, int status)
{
    if (!g || status >= 0 || g->waited)
        return cio__invalid(__func__);
    cio_task *self = cio__self();
    if (self != g->owner)
        return self ? -EINVAL : -EPERM;
    char *message = self->message ? cio__strdup(self->message) : NULL;
    int err = add_failure(g, status, cio__task_name(self), message);
    return err ? err : status;
}

int cio_group_absorb(cio_group *g, const cio_group *inner)
{
    if (!g || !inner || g == inner || g->waited || !inner->waited)
        return cio__invalid(__func__);
    for (size_t i = 0; i < inner->nfailures; i++) {
        const group_failure *f = &inner->failures[i];
        char *message = f->message ? cio__strdup(f->message) : NULL;
        int err = add_failure(g, f->status, f->name, message);
        if (err)
            return err;
    }
    return inner->nfailures ? inner->failures[0].status : 0;
}

void cio__group_child_done(cio_task *t)
{
    cio_group *g = t->group;
    if (t->sib_prev)
        t->sib_prev->sib_next = t->sib_next;
    else
        g->live = t->sib_next;
    if (t->sib_next)
        t->sib_next->sib_prev = t->sib_prev;
    g->nlive--;
    /* A child cancelled on its own (or by the group) is not a failure. */
    if (t->status < 0 && t->status != -ECANCELED)
        record_failure(g, t);
    cio__task_free(t);
    if (!g->nlive && g->waiting)
        cio__wake(g->owner, 0);
}

/* The body was cancelled while waiting: cancel the children, keep waiting. */
static int group_unpark(cio_task *self, void *data)
{
    (void)self;
    cancel_children(data);
    return 0;
}

int cio_group_wait(cio_group *g)
{
    if (!g || g->waited)
        return cio__invalid(__func__);
    cio_task *self = cio__self();
    if (self != g->owner)
        return self ? -EINVAL : -EPERM;
    while (g->nlive) {
        int reason = cio__cancel_reason(self);
        if (reason)
            cancel_children(g);
        g->waiting = 1;
        cio__park(self, "group", g, reason ? NULL : group_unpark, g);
        g->waiting = 0;
    }
    g->waited = g->closed = 1;
    cio_scope_exit(&g->scope);
    if (g->nfailures)
        return g->failures[0].status;
    return cio__cancel_reason(self);
}

size_t cio_group_nfailed(const cio_group *g)
{
    return g ? g->nfailures : 0;
}

int cio_group_failure(const cio_group *g, size_t i, int *status, const char **name,
                      const char **message)
{
    if (!g || i >= g->nfailures)
        return -ERANGE;
    if (status)
        *status = g->failures[i].status;
    if (name)
        *name = g->failures[i].name;
    if (message)
        *message = g->failures[i].message;
    return 0;
}

void cio_group_free(cio_group *g)
{
    if (!g)
        return;
    if (!g->waited) {
        fprintf(stderr, "cio: task group created at %s:%d freed before cio_group_wait\n",
                g->scope.priv_file, g->scope.priv_line);
        if (cio__self() != g->owner || cio_group_wait(g) == -EINVAL)
            return; /* cannot wait here: leak it rather than free live children */
    }
    for (size_t i = 0; i < g->nfailures; i++)
        free(g->failures[i].message);
    free(g->failures);
    free(g);
}
