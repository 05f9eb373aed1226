/* Waiting allocates nothing: every primitive's waiters live on the waiting
 * tasks' stacks. The test counts calls to the allocator (this executable
 * interposes malloc and friends) while tasks wait on each primitive, after a
 * first identical round has warmed the loop's task and stack pools. */
#include "sync_test.h"

#include <stdint.h>

#if defined(__SANITIZE_ADDRESS__)
#define NO_INTERPOSE 1 /* the sanitizer owns malloc */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NO_INTERPOSE 1
#endif
#endif

static size_t allocations;

#ifndef NO_INTERPOSE
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

void *malloc(size_t n)
{
    allocations++;
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    allocations++;
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    allocations++;
    return __libc_realloc(p, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    allocations++;
    return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    allocations++;
    void *p = __libc_memalign(align, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}
#endif

#define NW 50 /* waiters per primitive */

static cio_lock lock;
static cio_sem sem;
static cio_event ev;
static cio_cond cond;
static cio_barrier bar;
static cio_queue queue;
static int go;

static int lock_waiter(void *arg)
{
    (void)arg;
    CIO_ASSERT_OK(cio_lock_acquire(&lock));
    return cio_lock_release(&lock);
}

static int sem_waiter(void *arg)
{
    (void)arg;
    CIO_ASSERT_OK(cio_sem_acquire(&sem));
    return 0;
}

static int event_waiter(void *arg)
{
    (void)arg;
    return cio_event_wait(&ev);
}

static int gone(void *arg)
{
    (void)arg;
    return go;
}

static int cond_waiter(void *arg)
{
    (void)arg;
    CIO_ASSERT_OK(cio_cond_acquire(&cond));
    CIO_ASSERT_OK(cio_cond_wait_for(&cond, gone, NULL));
    return cio_cond_release(&cond);
}

static int barrier_waiter(void *arg)
{
    (void)arg;
    return cio_barrier_wait(&bar, NULL);
}

static int getter(void *arg)
{
    (void)arg;
    void *v;
    return cio_queue_get(&queue, &v);
}

static int putter(void *arg)
{
    return cio_queue_put(&queue, arg);
}

static int count_to_3(cio_gen *g, void *arg)
{
    (void)arg;
    for (intptr_t i = 1; i <= 3; i++) {
        int err = cio_gen_yield(g, (void *)i);
        if (err)
            return err;
    }
    return 0;
}

static void spawn_all(cio_task **t, cio_fn fn, void *arg)
{
    for (int i = 0; i < NW; i++)
        t[i] = spawn_ok(fn, arg);
}

static void finish(cio_task **t)
{
    CIO_ASSERT_OK(cio_gather(t, NW, 0));
    for (int i = 0; i < NW; i++)
        CIO_ASSERT_OK(cio_join(t[i]));
}

/* One round: NW tasks wait on each primitive and are released. */
static void round_of_waits(void)
{
    cio_task *t[NW];

    CIO_ASSERT_OK(cio_lock_acquire(&lock));
    spawn_all(t, lock_waiter, NULL);
    settle();
    CIO_ASSERT_OK(cio_lock_release(&lock));
    finish(t);

    spawn_all(t, sem_waiter, NULL);
    settle();
    for (int i = 0; i < NW; i++)
        CIO_ASSERT_OK(cio_sem_release(&sem));
    finish(t);

    cio_event_clear(&ev);
    spawn_all(t, event_waiter, NULL);
    settle();
    cio_event_set(&ev);
    finish(t);

    go = 0;
    spawn_all(t, cond_waiter, NULL);
    settle();
    CIO_ASSERT_OK(cio_cond_acquire(&cond));
    go = 1;
    CIO_ASSERT_EQ(cio_cond_notify_all(&cond), NW);
    CIO_ASSERT_OK(cio_cond_release(&cond));
    finish(t);

    spawn_all(t, barrier_waiter, NULL); /* NW parties: the last one releases all */
    finish(t);

    spawn_all(t, getter, NULL);
    settle();
    for (int i = 0; i < NW; i++)
        CIO_ASSERT_OK(cio_queue_put(&queue, &t[i]));
    finish(t);
    for (int i = 0; i < 4; i++) /* fill it: the putters wait */
        CIO_ASSERT_OK(cio_queue_put(&queue, NULL));
    spawn_all(t, putter, &lock);
    settle();
    void *v;
    for (int i = 0; i < NW + 4; i++)
        CIO_ASSERT_OK(cio_queue_get(&queue, &v));
    finish(t);
    for (int i = 0; i < 2 * NW + 4; i++)
        cio_queue_task_done(&queue);
    CIO_ASSERT_OK(cio_queue_join(&queue));

    cio_gen g;
    cio_gen_init(&g, count_to_3, NULL);
    int n = 0;
    while (cio_gen_next(&g, &v) == 0)
        n++;
    CIO_ASSERT_EQ(n, 3);
    cio_gen_destroy(&g);
}

static int main_no_alloc(void *arg)
{
    (void)arg;
    cio_lock_init(&lock);
    cio_sem_init(&sem, 0);
    cio_event_init(&ev);
    cio_cond_init(&cond, NULL);
    cio_barrier_init(&bar, NW);
    CIO_ASSERT_OK(cio_queue_init(&queue, 4)); /* bounded: storage made here */
    /* The first round warms the task records and the stack pool. */
    round_of_waits();
    allocations = 0;
    round_of_waits();
    size_t during = allocations;
    cio_queue_destroy(&queue);
    return (int)during;
}

static void test_no_allocation_per_wait(void)
{
#ifdef NO_INTERPOSE
    CIO_SKIP("the sanitizer owns malloc: the count is taken in the plain builds");
#endif
    allocations = 0;
    void *probe = malloc(16); /* the interposition is in force (not under Valgrind's) */
    free(probe);
    if (allocations == 0)
        CIO_SKIP("malloc is not interposed here (Valgrind?)");
    CIO_ASSERT_EQ(run_virtual(main_no_alloc, NULL), 0);
}

CIO_TEST_MAIN(((cio_test_case[]){
    CIO_TEST(test_no_allocation_per_wait,
             "waiting on lock, sem, event, cond, barrier, queue and gen allocates nothing"),
}))
