/* Randomized stress of the primitives under cancellation: thousands of tasks,
 * random timeouts and random cio_cancel calls from a chaos task, all driven by
 * a seeded PRNG on the virtual clock, so a failing seed replays exactly
 * (CIO_STRESS_SEED=n picks one; the default runs several).
 *
 * Invariants checked at the end: the lock was never held twice and ends free;
 * the semaphore never let more than its value in and ends with every permit;
 * every item put into the queue was taken exactly once and no other item was;
 * the condition's counter matches the notifications acted on. */
#include "sync_test.h"

#include <stdint.h>

static uint64_t rng_state;

static uint64_t rnd(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static unsigned rnd_below(unsigned n)
{
    return (unsigned)(rnd() % n);
}

/* A random short duration in seconds: 0 to 2 ms in 0.1 ms steps. */
static double rnd_secs(void)
{
    return rnd_below(21) * 1e-4;
}

/* Pauses the way real code would between steps: not at all, a yield or a sleep. */
static int pause_randomly(void)
{
    switch (rnd_below(3)) {
    case 0:
        return 0;
    case 1:
        return cio_yield();
    default:
        return cio_sleep(rnd_secs());
    }
}

/* ---- the chaos task: cancels random tasks at random moments ---- */

static size_t last_cancels;

typedef struct chaos {
    cio_task **tasks;
    size_t n;
    int stop;
    size_t cancels;
} chaos;

/* White-box: the primitive's own invariants (read off its priv_ fields),
 * checked between every two steps of the chaos task and after every operation
 * of the workers. A wakeup lost by a cancelled waiter shows up here at once,
 * even where a later operation would have hidden it. */
static void (*check_invariants)(void);

static void check(void)
{
    if (check_invariants)
        check_invariants();
}

static int chaos_main(void *arg)
{
    chaos *c = arg;
    while (!c->stop) {
        if (rnd_below(2))
            cio_yield(); /* lands right after wakeups: hand-off moments */
        else
            cio_sleep(rnd_secs());
        check();
        cio_task *t = c->tasks[rnd_below((unsigned)c->n)];
        if (!cio_task_done(t)) {
            cio_cancel(t);
            c->cancels++;
        }
    }
    return 0;
}

/* Runs n tasks of fn (arg: the task's index) with a chaos task cancelling
 * about one in `cancel_every` of them, and joins them all. */
static void run_with_chaos(cio_fn fn, size_t n, void **args)
{
    cio_task **t = calloc(n, sizeof(*t));
    CIO_ASSERT(t != NULL);
    for (size_t i = 0; i < n; i++)
        t[i] = spawn_ok(fn, args[i]);
    chaos c = {t, n, 0, 0};
    cio_task *ct = spawn_ok(chaos_main, &c);
    CIO_ASSERT_OK(cio_gather(t, n, CIO_RETURN_EXCEPTIONS));
    c.stop = 1;
    CIO_ASSERT_OK(cio_join(ct));
    CIO_ASSERT(c.cancels > 0);
    last_cancels = c.cancels;
    for (size_t i = 0; i < n; i++)
        cio_join(t[i]);
    free(t);
}

/* A task's body runs its attempts, each under a random timeout half the time. */
static int maybe_timeout_enter(cio_scope *s)
{
    if (rnd_below(2))
        return 0;
    CIO_ASSERT_OK(cio_timeout_enter(s, rnd_secs()));
    return 1;
}

/* Who waits, in arrival order, as the tasks themselves record it: the head is
 * the task a release or put hands over to. Hitting it right after the hand-off
 * (a cancel, or a timeout that expires now) is the race cancellation safety is
 * about; the chaos task alone would rarely land in that window. */
typedef struct line_entry {
    struct line_entry *prev, *next;
    cio_task *task;
    cio_scope *scope; /* its open timeout scope, or NULL */
} line_entry;

typedef struct line {
    line_entry *head, *tail;
} line;

static void line_join(line *l, line_entry *e, cio_scope *scope)
{
    e->task = cio_current();
    e->scope = scope;
    e->next = NULL;
    e->prev = l->tail;
    if (l->tail)
        l->tail->next = e;
    else
        l->head = e;
    l->tail = e;
}

static void line_leave(line *l, line_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        l->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        l->tail = e->prev;
}

static size_t hits;

/* Now and then, cancels or times out the first in line. */
static void hit_head(line *l)
{
    line_entry *e = l->head;
    if (!e || rnd_below(3))
        return;
    if (e->scope && rnd_below(3)) {
        CIO_ASSERT_OK(cio_timeout_reschedule(e->scope, 0)); /* ends one attempt */
        hits++;
    } else if (!rnd_below(4)) {
        cio_cancel(e->task); /* ends the task */
        hits++;
    }
}

/* ---- lock ---- */

#define NTASKS 3000
#define ATTEMPTS 4

static cio_lock lock;
static cio_task *holder;
static size_t lock_ok, lock_failed;

static line lock_line;

static void lock_invariants(void)
{
    /* Hand-off: while tasks wait, the lock always has an owner. */
    if (lock.priv_waiters.priv_head)
        CIO_ASSERT(lock.priv_owner != NULL);
}

static int lock_worker(void *arg)
{
    (void)arg;
    for (int k = 0; k < ATTEMPTS; k++) {
        cio_scope s;
        line_entry me;
        int scoped = maybe_timeout_enter(&s);
        line_join(&lock_line, &me, scoped ? &s : NULL);
        int err = cio_lock_acquire(&lock);
        line_leave(&lock_line, &me);
        check();
        if (!err) {
            CIO_ASSERT(holder == NULL); /* mutual exclusion */
            holder = cio_current();
            pause_randomly(); /* may be cancelled in here: still must release */
            CIO_ASSERT(holder == cio_current());
            holder = NULL;
            CIO_ASSERT_OK(cio_lock_release(&lock));
            hit_head(&lock_line);
            lock_ok++;
        } else {
            CIO_ASSERT(err == -ECANCELED || err == -ETIMEDOUT);
            lock_failed++;
        }
        if (scoped)
            cio_timeout_exit(&s);
        if (cio_cancelled())
            return -ECANCELED;
        pause_randomly();
    }
    return 0;
}

static int main_lock(void *arg)
{
    (void)arg;
    cio_lock_init(&lock);
    check_invariants = lock_invariants;
    lock_ok = lock_failed = 0;
    hits = 0;
    void **args = calloc(NTASKS, sizeof(void *));
    run_with_chaos(lock_worker, NTASKS, args);
    free(args);
    CIO_ASSERT_EQ(cio_lock_locked(&lock), 0); /* no lock leaked */
    CIO_ASSERT(lock_ok > 0 && lock_failed > 0);
    printf("  lock: %zu critical sections, %zu waits ended by cancel or timeout, %zu cancels, "
           "%zu hand-off hits, %.3f virtual s\n",
           lock_ok, lock_failed, last_cancels, hits, cio_now());
    CIO_ASSERT_OK(cio_lock_try_acquire(&lock));
    cio_lock_release(&lock);
    cio_lock_destroy(&lock);
    return 0;
}

/* ---- semaphore ---- */

#define PERMITS 7

static cio_sem sem;
static int inside;
static size_t sem_ok, sem_failed;

static line sem_line;

static void sem_invariants(void)
{
    /* Hand-off: while tasks wait, no permit sits in the counter. */
    if (sem.priv_waiters.priv_head)
        CIO_ASSERT_EQ(sem.priv_value, 0);
    CIO_ASSERT(sem.priv_value <= PERMITS);
}

static int sem_worker(void *arg)
{
    (void)arg;
    for (int k = 0; k < ATTEMPTS; k++) {
        cio_scope s;
        line_entry me;
        int scoped = maybe_timeout_enter(&s);
        line_join(&sem_line, &me, scoped ? &s : NULL);
        int err = cio_sem_acquire(&sem);
        line_leave(&sem_line, &me);
        check();
        if (!err) {
            CIO_ASSERT(++inside <= PERMITS);
            pause_randomly();
            inside--;
            CIO_ASSERT_OK(cio_sem_release(&sem));
            hit_head(&sem_line);
            sem_ok++;
        } else {
            sem_failed++;
        }
        if (scoped)
            cio_timeout_exit(&s);
        if (cio_cancelled())
            return -ECANCELED;
        pause_randomly();
    }
    return 0;
}

static int main_sem(void *arg)
{
    (void)arg;
    cio_sem_init_bounded(&sem, PERMITS);
    check_invariants = sem_invariants;
    sem_ok = sem_failed = 0;
    hits = 0;
    void **args = calloc(NTASKS, sizeof(void *));
    run_with_chaos(sem_worker, NTASKS, args);
    free(args);
    CIO_ASSERT_EQ(cio_sem_value(&sem), PERMITS);       /* permits == initial */
    CIO_ASSERT_ERR(cio_sem_release(&sem), -EOVERFLOW); /* none duplicated */
    CIO_ASSERT(sem_ok > 0 && sem_failed > 0);
    printf("  sem: %zu acquired, %zu waits ended by cancel or timeout, %zu cancels, %zu hand-off "
           "hits\n",
           sem_ok, sem_failed, last_cancels, hits);
    return 0;
}

/* ---- queue ---- */

#define NPRODUCERS 60
#define NCONSUMERS 60
#define PER_PRODUCER 100
#define NITEMS (NPRODUCERS * PER_PRODUCER)

static cio_queue queue;
static unsigned char put_count[NITEMS], got_count[NITEMS];

static line getters, putters;

static void queue_invariants(void)
{
    /* Getters wait only while every queued item is promised to a woken
     * getter; putters only while every free slot is promised to a woken
     * putter; never more items than maxsize. */
    CIO_ASSERT(queue.priv_gclaim <= queue.priv_n);
    if (queue.priv_getters.priv_head)
        CIO_ASSERT_EQ(queue.priv_n, queue.priv_gclaim);
    if (queue.priv_putters.priv_head)
        CIO_ASSERT(queue.priv_n + queue.priv_pclaim >= queue.priv_maxsize);
    CIO_ASSERT(queue.priv_n + queue.priv_pclaim <= queue.priv_maxsize);
}

static int producer(void *arg)
{
    int p = (int)(intptr_t)arg;
    for (int i = 0; i < PER_PRODUCER; i++) {
        int id = p * PER_PRODUCER + i;
        for (;;) {
            cio_scope s;
            line_entry me;
            int scoped = maybe_timeout_enter(&s);
            line_join(&putters, &me, scoped ? &s : NULL);
            int err = cio_queue_put(&queue, (void *)(intptr_t)id);
            line_leave(&putters, &me);
            check();
            if (!err)
                hit_head(&getters); /* the item may have gone to the first getter */
            if (scoped)
                cio_timeout_exit(&s);
            if (!err) {
                put_count[id]++;
                break;
            }
            if (cio_cancelled())
                return -ECANCELED;           /* item `id` was never put */
            CIO_ASSERT_ERR(err, -ETIMEDOUT); /* a timeout: try again */
        }
        pause_randomly();
    }
    return 0;
}

static int consumer(void *arg)
{
    (void)arg;
    for (;;) {
        cio_scope s;
        line_entry me;
        int scoped = maybe_timeout_enter(&s);
        line_join(&getters, &me, scoped ? &s : NULL);
        void *v;
        int err = cio_queue_get(&queue, &v);
        line_leave(&getters, &me);
        check();
        if (!err)
            hit_head(&putters); /* the freed slot may have gone to the first putter */
        if (scoped)
            cio_timeout_exit(&s);
        if (!err) {
            got_count[(intptr_t)v]++;
            cio_queue_task_done(&queue);
        } else if (err == -ESHUTDOWN || cio_cancelled()) {
            return err;
        }
        pause_randomly();
    }
}

static int main_queue(void *arg)
{
    int kind = *(int *)arg;
    if (kind == 0)
        CIO_ASSERT_OK(cio_queue_init(&queue, 8));
    else
        CIO_ASSERT_OK(cio_queue_init_lifo(&queue, 5));
    check_invariants = queue_invariants;
    size_t n = NPRODUCERS + NCONSUMERS;
    void **args = calloc(n, sizeof(void *));
    cio_task **t = calloc(n, sizeof(*t));
    for (size_t i = 0; i < n; i++) {
        args[i] = (void *)(intptr_t)i;
        t[i] = spawn_ok(i < NPRODUCERS ? producer : consumer, args[i]);
    }
    chaos c = {t, n, 0, 0};
    cio_task *ct = spawn_ok(chaos_main, &c);
    /* Wait for the producers; then let whoever consumes drain and stop. */
    CIO_ASSERT_OK(cio_gather(t, NPRODUCERS, CIO_RETURN_EXCEPTIONS));
    c.stop = 1;
    CIO_ASSERT_OK(cio_join(ct));
    cio_queue_shutdown(&queue, 0);
    CIO_ASSERT_OK(cio_gather(t + NPRODUCERS, NCONSUMERS, CIO_RETURN_EXCEPTIONS));
    void *v;
    while (cio_queue_get_nowait(&queue, &v) == 0) { /* if every consumer was cancelled */
        got_count[(intptr_t)v]++;
        cio_queue_task_done(&queue);
    }
    CIO_ASSERT_OK(cio_queue_join(&queue)); /* every put was marked done */
    size_t produced = 0;
    for (int id = 0; id < NITEMS; id++) {
        CIO_ASSERT(put_count[id] <= 1);
        CIO_ASSERT_EQ(got_count[id], put_count[id]); /* consumed exactly once */
        produced += put_count[id];
    }
    CIO_ASSERT(produced > 0 && produced < NITEMS); /* some producers were cancelled */
    printf("  queue: %zu of %d items put and taken once each, %zu cancels, %zu hand-off hits\n",
           produced, NITEMS, c.cancels, hits);
    for (size_t i = 0; i < n; i++)
        cio_join(t[i]);
    cio_queue_destroy(&queue);
    free(t);
    free(args);
    return 0;
}

/* ---- condition: tokens handed out by notify ---- */

#define NCOND 1000

static cio_cond cond;
static int tokens, taken, parked;

static line cond_line;

static int cond_consumer(void *arg)
{
    (void)arg;
    for (int k = 0; k < ATTEMPTS; k++) {
        cio_scope s;
        int scoped = maybe_timeout_enter(&s);
        int err = cio_cond_acquire(&cond);
        if (!err) {
            while (!tokens) {
                line_entry me;
                line_join(&cond_line, &me, scoped ? &s : NULL);
                parked++;
                err = cio_cond_wait(&cond);
                parked--;
                line_leave(&cond_line, &me);
                /* Whatever happened, the lock is held again here. */
                CIO_ASSERT(cio_cond_locked(&cond));
                if (err)
                    break;
            }
            if (!err) {
                tokens--;
                taken++;
            }
            CIO_ASSERT_OK(cio_cond_release(&cond));
        }
        if (scoped)
            cio_timeout_exit(&s);
        if (cio_cancelled())
            return -ECANCELED;
    }
    return 0;
}

static int main_cond(void *arg)
{
    (void)arg;
    cio_cond_init(&cond, NULL);
    check_invariants = NULL;
    cio_task **t = calloc(NCOND, sizeof(*t));
    for (size_t i = 0; i < NCOND; i++)
        t[i] = spawn_ok(cond_consumer, NULL);
    chaos c = {t, NCOND, 0, 0};
    cio_task *ct = spawn_ok(chaos_main, &c);
    int given = 0;
    size_t left = NCOND;
    while (left) {
        cio_sleep(rnd_secs());
        CIO_ASSERT_OK(cio_cond_acquire(&cond));
        int n = 1 + (int)rnd_below(8);
        tokens += n;
        given += n;
        cio_cond_notify(&cond, n);
        hit_head(&cond_line); /* the first one notified */
        CIO_ASSERT_OK(cio_cond_release(&cond));
        /* Let everything that can run at this instant run (the clock stands
         * still while tasks are ready). Then a task still parked while a token
         * is left means a notification was lost. */
        for (int i = 0; i < 200; i++)
            cio_yield();
        CIO_ASSERT(!(tokens > 0 && parked > 0));
        left = 0;
        for (size_t i = 0; i < NCOND; i++)
            left += !cio_task_done(t[i]);
    }
    c.stop = 1;
    CIO_ASSERT_OK(cio_join(ct));
    CIO_ASSERT_EQ(taken + tokens, given); /* no token lost or taken twice */
    CIO_ASSERT(taken > 0);
    CIO_ASSERT_EQ(cio_cond_locked(&cond), 0);
    printf("  cond: %d tokens given, %d taken, %zu cancels, %zu hand-off hits\n", given, taken,
           c.cancels, hits);
    for (size_t i = 0; i < NCOND; i++)
        cio_join(t[i]);
    free(t);
    return 0;
}

/* ---- runner ---- */

static void for_each_seed(cio_fn fn, void *arg)
{
    const char *env = getenv("CIO_STRESS_SEED");
    uint64_t first = env ? strtoull(env, NULL, 10) : 1, last = env ? first : 3;
    for (uint64_t seed = first; seed <= last; seed++) {
        rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;
        holder = NULL;
        hits = 0;
        inside = 0;
        tokens = taken = parked = 0;
        memset(put_count, 0, sizeof(put_count));
        memset(got_count, 0, sizeof(got_count));
        int err = cio_test_run_virtual(fn, arg);
        if (err)
            CIO_FAIL_AT("seed %llu: %s", (unsigned long long)seed, cio_strerror(err));
    }
}

static void test_lock_stress(void)
{
    for_each_seed(main_lock, NULL);
}

static void test_sem_stress(void)
{
    for_each_seed(main_sem, NULL);
}

static void test_queue_stress(void)
{
    int fifo = 0, lifo = 1;
    for_each_seed(main_queue, &fifo);
    for_each_seed(main_queue, &lifo);
}

static void test_cond_stress(void)
{
    for_each_seed(main_cond, NULL);
}

CIO_TEST_MAIN(((cio_test_case[]){
    CIO_TEST(test_lock_stress,
             "3000 tasks, random timeouts and cancels: never two holders, no lock leaked"),
    CIO_TEST(test_sem_stress,
             "3000 tasks, random timeouts and cancels: at most N inside, permits == initial"),
    CIO_TEST(test_queue_stress,
             "60 producers, 60 consumers, random cancels: each item put is taken exactly once"),
    CIO_TEST(test_cond_stress,
             "1000 waiters on a condition, random cancels: no notification lost or doubled"),
}))
