/* cio task groups (asyncio.TaskGroup, Trio's nursery).
 *
 *     cio_group *g;
 *     int err = cio_group_new(&g);          // enters the group's scope
 *     cio_group_spawn(g, fetch, &a);
 *     cio_group_spawn(g, fetch, &b);
 *     err = cio_group_wait(g);              // waits for every child
 *     cio_group_free(g);
 *
 * The group is a cancel scope for its body and its children: the first child
 * that fails (a negative status other than -ECANCELED) cancels every sibling and
 * interrupts the body's suspending calls with -ECANCELED. cio_group_wait returns
 * that first failure; every failure stays readable until cio_group_free.
 */
#ifndef CIO_GROUP_H
#define CIO_GROUP_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_group cio_group;

/* Creates a group owned by the current task and enters its scope (so the group
 * must be waited in that task, in LIFO order with other scopes).
 * Returns 0, -EPERM outside a task, -EINVAL for NULL, -ENOMEM. */
#define cio_group_new(out) cio__group_new((out), __FILE__, __LINE__)
/* The function behind cio_group_new: it records where the group was made.
 * Suspends: no. */
CIO_API int cio__group_new(cio_group **out, const char *file, int line);

/* Starts fn(arg) as a child of g. The group owns the child: the returned
 * handle is borrowed (read its name or cancel it; never join or detach it) and
 * valid while the child runs: its record is freed when it finishes (its
 * failure, if any, is kept by the group). Returns NULL once g has been
 * cancelled or waited, outside g's loop, or out of memory;
 * cio_group_spawn_opts says which. Suspends: no. */
CIO_API cio_task *cio_group_spawn(cio_group *g, cio_fn fn, void *arg);

/* cio_group_spawn with options and an error code: 0, -EINVAL (NULL), -ESHUTDOWN
 * (g was cancelled, failed or waited), -EPERM, -ENOMEM. Suspends: no. */
CIO_API int cio_group_spawn_opts(cio_group *g, cio_task **out, cio_fn fn, void *arg,
                                 const cio_task_opts *opts);

/* Waits for every child, then leaves the group's scope. Returns 0, the first
 * child failure, or the body's outer cancel reason (the children were cancelled
 * and awaited first). Suspends: yes. Cancellation: cancels the children, waits
 * for all of them, returns the reason. Call once; -EINVAL after that. */
CIO_API int cio_group_wait(cio_group *g);

/* Cancels every child and the body (cio_scope_cancel on the group's scope),
 * and closes the group to new children. The group's own cancellation is not a
 * failure: cio_group_wait then returns 0 unless a child failed (Trio's rule).
 * Suspends: no. */
CIO_API void cio_group_cancel(cio_group *g);

/* Records a failure of the body itself (the code between cio_group_new and
 * cio_group_wait), as asyncio's TaskGroup puts the body's exception into its
 * ExceptionGroup with the children's: the failure joins the list under the
 * owner's name with its current cio_fail message, and, if it is the first,
 * cancels the group like a child's failure. Call it from the owner before
 * cio_group_wait (which then returns the first failure). Returns `status`,
 * -EINVAL (status >= 0, NULL, after the wait, not the owner), -EPERM outside
 * a task, -ENOMEM. Suspends: no.
 *
 *     if ((err = step(g)) < 0)
 *         cio_group_fail(g, err);      // the children are cancelled
 *     err = cio_group_wait(g);         // every failure is listed */
CIO_API int cio_group_fail(cio_group *g, int status);

/* Copies every failure of `inner`, a group already waited (typically nested
 * in g's body), into g's list, the way an ExceptionGroup raised by an inner
 * TaskGroup becomes part of the outer one's; any failure cancels g as a
 * child's would. `inner` is unchanged (free it as usual). Returns inner's
 * first failure status, 0 if it had none, -EINVAL (NULL, same group, inner
 * not waited, g waited), -ENOMEM. Suspends: no. */
CIO_API int cio_group_absorb(cio_group *g, const cio_group *inner);

/* Number of failures recorded: children, the body (cio_group_fail) and
 * absorbed inner groups. Suspends: no. */
CIO_API size_t cio_group_nfailed(const cio_group *g);

/* The i-th failure (in the order they happened): status, and the child's name
 * and cio_fail message (NULL if none) valid until cio_group_free. Returns 0 or
 * -ERANGE. Any out-pointer may be NULL. Suspends: no. */
CIO_API int cio_group_failure(const cio_group *g, size_t i, int *status, const char **name,
                              const char **message);

/* Frees the group. Must follow cio_group_wait; a group freed while open is
 * waited first (reported as a bug on stderr; from a task other than the
 * owner, or when that wait fails, the group is leaked rather than freed under
 * live children). NULL is a no-op.
 * Suspends: only for that forgotten wait, as cio_group_wait.
 * Cancellation: as cio_group_wait (the children are cancelled and waited for),
 * then the group is freed. */
CIO_API void cio_group_free(cio_group *g);

#ifdef __cplusplus
}
#endif
#endif
