/* cio_queue: asyncio.Queue, LifoQueue and PriorityQueue, with Python 3.13's
 * shutdown.
 *
 * Items always live in the queue's storage: a ring (FIFO), a stack (LIFO) or a
 * binary heap of (item, sequence) pairs (priority; the sequence keeps equal
 * items in put order). A bounded queue allocates its storage once at init; an
 * unbounded one doubles it as needed.
 *
 * Hand-off by claims. When an item arrives while getters wait, the first getter
 * is woken with a claim on one item (gclaim counts them); when a slot frees up
 * while putters wait, the first putter is woken with a claim on one slot
 * (pclaim). A claim keeps the item or slot for the woken task until it runs, so
 * a later caller of get_nowait / put_nowait cannot take it first (asyncio lets
 * it, and the woken task goes back to the end of the line). A woken task that
 * finds itself cancelled gives its claim to the next waiter, or lets it lapse:
 * the item stays queued, the slot stays free. So cancellation never loses or
 * duplicates an item, and the queue never holds more than maxsize items.
 *
 * Invariants: getters wait only while every queued item is claimed
 * (n == gclaim); putters wait only while n + pclaim >= maxsize. */
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "sync.h"

/* The struct is public (callers embed it); its size is kept in check here,
 * outside the header, which C++ must compile too. */
_Static_assert(sizeof(cio_queue) <= 20 * sizeof(void *), "cio_queue stays small");

enum { FIFO = 0, LIFO, PRIORITY };
enum { OPEN = 0, SHUTDOWN, SHUTDOWN_IMMEDIATE };

typedef struct pq_entry {
    void *item;
    uint64_t seq;
} pq_entry;

#define MIN_CAP 16

static size_t entry_size(const cio_queue *q)
{
    return q->priv_kind == PRIORITY ? sizeof(pq_entry) : sizeof(void *);
}

/* ---- storage ---- */

/* Makes room for one more item in an unbounded queue. */
static int grow(cio_queue *q)
{
    size_t cap = q->priv_cap ? q->priv_cap * 2 : MIN_CAP;
    size_t esize = entry_size(q);
    if (cap < q->priv_cap || cap > SIZE_MAX / esize)
        return -ENOMEM;
    char *buf = cio__malloc(cap * esize);
    if (!buf)
        return -ENOMEM;
    if (q->priv_kind == FIFO) {
        /* Unwrap the ring: head .. end, then 0 .. the rest. */
        void **old = q->priv_buf;
        size_t first = q->priv_cap - q->priv_head;
        if (first > q->priv_n)
            first = q->priv_n;
        if (q->priv_n) {
            memcpy(buf, old + q->priv_head, first * esize);
            memcpy(buf + first * esize, old, (q->priv_n - first) * esize);
        }
        q->priv_head = 0;
    } else if (q->priv_n) {
        memcpy(buf, q->priv_buf, q->priv_n * esize);
    }
    free(q->priv_buf);
    q->priv_buf = buf;
    q->priv_cap = cap;
    return 0;
}

static int heap_before(const cio_queue *q, const pq_entry *a, const pq_entry *b)
{
    int c = q->priv_cmp(a->item, b->item, q->priv_cmp_arg);
    return c < 0 || (c == 0 && a->seq < b->seq);
}

static void heap_push(cio_queue *q, void *item)
{
    pq_entry *h = q->priv_buf;
    pq_entry e = {item, q->priv_seq++};
    size_t i = q->priv_n;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!heap_before(q, &e, &h[parent]))
            break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = e;
}

static void *heap_pop(cio_queue *q)
{
    pq_entry *h = q->priv_buf;
    void *top = h[0].item;
    size_t n = q->priv_n - 1; /* entries left after the pop */
    pq_entry last = h[n];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n)
            break;
        if (child + 1 < n && heap_before(q, &h[child + 1], &h[child]))
            child++;
        if (!heap_before(q, &h[child], &last))
            break;
        h[i] = h[child];
        i = child;
    }
    if (n)
        h[i] = last;
    return top;
}

/* Stores an item; the caller made sure a bounded queue has room. */
static int store_push(cio_queue *q, void *item)
{
    if (CIO__UNLIKELY(q->priv_n == q->priv_cap)) {
        int err = grow(q);
        if (err)
            return err;
    }
    if (q->priv_kind == FIFO) {
        size_t tail = q->priv_head + q->priv_n;
        if (tail >= q->priv_cap)
            tail -= q->priv_cap;
        ((void **)q->priv_buf)[tail] = item;
    } else if (q->priv_kind == LIFO) {
        ((void **)q->priv_buf)[q->priv_n] = item;
    } else {
        heap_push(q, item);
    }
    q->priv_n++;
    return 0;
}

/* Removes the next item; the queue is not empty. */
static void *store_pop(cio_queue *q)
{
    void *item;
    if (q->priv_kind == FIFO) {
        item = ((void **)q->priv_buf)[q->priv_head];
        if (++q->priv_head == q->priv_cap)
            q->priv_head = 0;
    } else if (q->priv_kind == LIFO) {
        item = ((void **)q->priv_buf)[q->priv_n - 1];
    } else {
        item = heap_pop(q);
    }
    q->priv_n--;
    return item;
}

/* ---- claims ---- */

static int has_room(const cio_queue *q)
{
    return !q->priv_maxsize || q->priv_n + q->priv_pclaim < q->priv_maxsize;
}

/* Hands each unclaimed item to a waiting getter. */
static void wake_getters(cio_queue *q)
{
    while (q->priv_n > q->priv_gclaim && !cio__waitq_empty(&q->priv_getters)) {
        q->priv_gclaim++;
        cio__waitq_wake_one(&q->priv_getters, 0);
    }
}

/* Hands each unclaimed free slot to a waiting putter. */
static void wake_putters(cio_queue *q)
{
    while (has_room(q) && !cio__waitq_empty(&q->priv_putters)) {
        q->priv_pclaim++;
        cio__waitq_wake_one(&q->priv_putters, 0);
    }
}

static int insert(cio_queue *q, void *item)
{
    int err = store_push(q, item);
    if (CIO__UNLIKELY(err))
        return err;
    q->priv_unfinished++;
    if (CIO__UNLIKELY(!cio__waitq_empty(&q->priv_getters)))
        wake_getters(q);
    return 0;
}

static void *take(cio_queue *q)
{
    void *item = store_pop(q);
    if (CIO__UNLIKELY(!cio__waitq_empty(&q->priv_putters)))
        wake_putters(q);
    return item;
}

/* ---- life cycle ---- */

static int init(cio_queue *q, int kind, size_t maxsize, cio_queue_cmp_fn cmp, void *cmp_arg)
{
    if (!q)
        return cio__invalid(NULL);
    memset(q, 0, sizeof(*q));
    q->priv_kind = kind;
    q->priv_maxsize = maxsize;
    q->priv_cmp = cmp;
    q->priv_cmp_arg = cmp_arg;
    if (maxsize) {
        size_t esize = entry_size(q);
        if (maxsize > SIZE_MAX / esize)
            return -ENOMEM;
        q->priv_buf = cio__malloc(maxsize * esize);
        if (!q->priv_buf)
            return -ENOMEM;
        q->priv_cap = maxsize;
    }
    return 0;
}

int cio_queue_init(cio_queue *q, size_t maxsize)
{
    return init(q, FIFO, maxsize, NULL, NULL);
}

int cio_queue_init_lifo(cio_queue *q, size_t maxsize)
{
    return init(q, LIFO, maxsize, NULL, NULL);
}

int cio_queue_init_priority(cio_queue *q, size_t maxsize, cio_queue_cmp_fn cmp, void *cmp_arg)
{
    if (!cmp)
        return cio__invalid(__func__);
    return init(q, PRIORITY, maxsize, cmp, cmp_arg);
}

void cio_queue_destroy(cio_queue *q)
{
    if (!q)
        return;
    cio__waitq_destroy(&q->priv_getters, "cio_queue", q);
    cio__waitq_destroy(&q->priv_putters, "cio_queue", q);
    cio__waitq_destroy(&q->priv_joiners, "cio_queue", q);
    free(q->priv_buf);
    q->priv_buf = NULL;
    q->priv_cap = q->priv_n = q->priv_head = 0;
}

/* ---- put and get ---- */

int cio_queue_put_nowait(cio_queue *q, void *item)
{
    if (!q)
        return cio__invalid(__func__);
    if (q->priv_shutdown)
        return -ESHUTDOWN;
    if (!has_room(q))
        return -EAGAIN;
    return insert(q, item);
}

/* What a wait that ended without a claim returns. */
static int unclaimed(cio_task *self, int r)
{
    if (r == -EIDRM)
        return r;
    int reason = cio__cancel_reason(self);
    return reason ? reason : r;
}

int cio_queue_put(cio_queue *q, void *item)
{
    if (!q)
        return cio__invalid(__func__);
    cio_task *self;
    int err = cio__checkpoint(&self);
    if (err)
        return err;
    if (q->priv_shutdown)
        return -ESHUTDOWN;
    if (CIO__LIKELY(has_room(q)))
        return insert(q, item);
    int r = cio__sync_wait(&q->priv_putters, self, "queue put", q);
    if (r)
        return unclaimed(self, r); /* cancelled in line, or shut down */
    /* A slot was kept for us. */
    q->priv_pclaim--;
    int reason = cio__cancel_reason(self);
    if (CIO__UNLIKELY(reason)) {
        wake_putters(q); /* the next putter may have it */
        return reason;
    }
    if (q->priv_shutdown)
        return -ESHUTDOWN;
    return insert(q, item);
}

int cio_queue_get_nowait(cio_queue *q, void **item)
{
    if (!q || !item)
        return cio__invalid(__func__);
    if (q->priv_n == q->priv_gclaim)
        return q->priv_shutdown ? -ESHUTDOWN : -EAGAIN;
    *item = take(q);
    return 0;
}

int cio_queue_get(cio_queue *q, void **item)
{
    if (!q || !item)
        return cio__invalid(__func__);
    cio_task *self;
    int err = cio__checkpoint(&self);
    if (err)
        return err;
    if (CIO__LIKELY(q->priv_n > q->priv_gclaim)) {
        *item = take(q);
        return 0;
    }
    if (q->priv_shutdown)
        return -ESHUTDOWN;
    int r = cio__sync_wait(&q->priv_getters, self, "queue get", q);
    if (r)
        return unclaimed(self, r);
    if (q->priv_shutdown == SHUTDOWN_IMMEDIATE)
        return unclaimed(self, -ESHUTDOWN); /* our item was dropped */
    /* An item was kept for us. */
    q->priv_gclaim--;
    int reason = cio__cancel_reason(self);
    if (CIO__UNLIKELY(reason)) {
        wake_getters(q); /* the next getter may have it; else it stays queued */
        return reason;
    }
    *item = take(q);
    return 0;
}

/* ---- task_done, join, shutdown ---- */

int cio_queue_task_done(cio_queue *q)
{
    if (!q)
        return cio__invalid(__func__);
    if (!q->priv_unfinished)
        return -EOVERFLOW;
    if (--q->priv_unfinished == 0)
        cio__waitq_wake_all(&q->priv_joiners, 0);
    return 0;
}

int cio_queue_join(cio_queue *q)
{
    if (!q)
        return cio__invalid(__func__);
    cio_task *self;
    int err = cio__checkpoint(&self);
    if (err || !q->priv_unfinished)
        return err;
    int r = cio__sync_wait(&q->priv_joiners, self, "queue join", q);
    return unclaimed(self, r);
}

static int shutdown_queue(cio_queue *q, int immediate, cio_queue_drop_fn drop, void *arg)
{
    if (!q)
        return cio__invalid(NULL);
    if (immediate) {
        size_t dropped = q->priv_n;
        q->priv_shutdown = SHUTDOWN_IMMEDIATE;
        /* In the order gets would have taken them; drop must not touch q. */
        while (drop && q->priv_n)
            drop(store_pop(q), arg);
        q->priv_n = q->priv_head = q->priv_gclaim = 0;
        q->priv_unfinished -= dropped < q->priv_unfinished ? dropped : q->priv_unfinished;
        if (!q->priv_unfinished)
            cio__waitq_wake_all(&q->priv_joiners, 0);
    } else if (!q->priv_shutdown) {
        q->priv_shutdown = SHUTDOWN;
    }
    /* Getters wait only when every item is claimed: none is left for them. */
    cio__waitq_wake_all(&q->priv_getters, -ESHUTDOWN);
    cio__waitq_wake_all(&q->priv_putters, -ESHUTDOWN);
    return 0;
}

int cio_queue_shutdown(cio_queue *q, int immediate)
{
    return shutdown_queue(q, immediate, NULL, NULL);
}

int cio_queue_shutdown_drop(cio_queue *q, cio_queue_drop_fn drop, void *arg)
{
    if (!drop)
        return cio__invalid(__func__);
    return shutdown_queue(q, 1, drop, arg);
}

/* ---- sizes ---- */

size_t cio_queue_qsize(const cio_queue *q)
{
    return q ? q->priv_n - q->priv_gclaim : 0;
}

size_t cio_queue_maxsize(const cio_queue *q)
{
    return q ? q->priv_maxsize : 0;
}

int cio_queue_empty(const cio_queue *q)
{
    return !q || q->priv_n == q->priv_gclaim;
}

int cio_queue_full(const cio_queue *q)
{
    return q && !has_room(q);
}
