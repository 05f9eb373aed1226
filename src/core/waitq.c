/* The out-of-line parts of the waiter FIFO (waitq.h). */
#include "waitq.h"

int cio__waitq_unpark(cio_task *t, void *waiter)
{
    (void)t;
    cio__waiter *w = waiter;
    if (w->q)
        cio__waitq_remove(w);
    return 1;
}

void cio__waitq_destroy(cio__waitq *q, const char *what, const void *obj)
{
    size_t n = 0;
    for (cio__waiter *w = q->priv_head; w; w = w->next)
        n++;
    if (!n)
        return;
    fprintf(stderr,
            "cio: %s %p destroyed while %zu task(s) wait on it (first: %s); they get -EIDRM\n",
            what, obj, n, cio__task_name(q->priv_head->task));
    cio__waitq_wake_all(q, -EIDRM);
}
