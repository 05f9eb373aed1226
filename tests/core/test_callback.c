/* Tests of plain callbacks and timer ordering. */
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <stdint.h>
#include <stdlib.h>

#include "cio_test.h"

static char trace[128];
static size_t ntrace;

static void note(void *arg)
{
    trace[ntrace++] = *(const char *)arg;
}

static int task_note(void *arg)
{
    note(arg);
    return 0;
}

static int main_order(void *arg)
{
    (void)arg;
    cio_call_soon(note, "1");
    cio_task *t = cio_spawn(task_note, "T");
    cio_call_soon(note, "2");
    cio_handle *h = cio_call_soon(note, "X");
    cio_handle_cancel(h); /* never runs */
    CIO_ASSERT_OK(cio_yield());
    CIO_ASSERT_OK(cio_join(t));
    CIO_ASSERT_STR_EQ(trace, "1T2"); /* one FIFO for callbacks and tasks */
    return 0;
}

static void test_call_soon_order(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_order, NULL));
}

static int main_later(void *arg)
{
    (void)arg;
    CIO_ASSERT(cio_call_later(3, note, "c") != NULL);
    CIO_ASSERT(cio_call_later(1, note, "a") != NULL);
    cio_handle *h = cio_call_later(2, note, "X");
    CIO_ASSERT(cio_call_later(2, note, "b") != NULL);
    CIO_ASSERT(cio_call_later(-1, note, "X") == NULL);
    cio_handle_cancel(h);
    CIO_ASSERT_OK(cio_sleep(5));
    CIO_ASSERT_STR_EQ(trace, "abc");
    return 0;
}

static void test_call_later(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_later, NULL));
}

static int sleeper(void *arg)
{
    int secs = *(const char *)arg - '0';
    if (cio_sleep(secs) == 0)
        note(arg);
    return 0;
}

static int main_sleep_order(void *arg)
{
    (void)arg;
    const char *order = "3121";
    cio_task *t[4];
    for (int i = 0; i < 4; i++)
        t[i] = cio_spawn(sleeper, (void *)&order[i]);
    CIO_ASSERT_OK(cio_gather(t, 4, 0));
    for (int i = 0; i < 4; i++)
        cio_join(t[i]);
    /* Earlier deadlines first; equal deadlines in the order they were armed. */
    CIO_ASSERT_STR_EQ(trace, "1123");
    CIO_ASSERT(trace[0] == order[1] && &order[1] != &order[3]);
    return 0;
}

static void test_sleep_order(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_sleep_order, NULL));
}

/* ---- the timer heap under a random mix of arms and cancels ---- */

#define HEAP_N 5000

typedef struct fired_log {
    int order[HEAP_N]; /* indices in firing order */
    int n;
} fired_log;

static fired_log heap_log;
static int heap_delay[HEAP_N];

static void log_fire(void *arg)
{
    heap_log.order[heap_log.n++] = (int)(intptr_t)arg;
}

static int main_heap_property(void *arg)
{
    (void)arg;
    static cio_handle *h[HEAP_N];
    static char cancelled[HEAP_N];
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < HEAP_N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        heap_delay[i] = (int)(x % 50); /* few distinct deadlines: many ties */
        h[i] = cio_call_later((double)heap_delay[i] / 1000.0, log_fire, (void *)(intptr_t)i);
        CIO_ASSERT(h[i] != NULL);
        if (i % 3 == 1) { /* cancel an older one: removals from all over the heap */
            int victim = (int)((x >> 20) % (uint64_t)(i + 1));
            if (!cancelled[victim]) {
                cio_handle_cancel(h[victim]);
                cancelled[victim] = 1;
            }
        }
    }
    int live = 0;
    for (int i = 0; i < HEAP_N; i++)
        live += !cancelled[i];
    CIO_ASSERT_OK(cio_sleep(1));
    CIO_ASSERT_CMP(heap_log.n, ==, live);
    for (int k = 0; k < heap_log.n; k++) {
        int i = heap_log.order[k];
        CIO_ASSERT(!cancelled[i]);
        if (k > 0) { /* by deadline, ties in arming order */
            int prev = heap_log.order[k - 1];
            CIO_ASSERT(heap_delay[prev] < heap_delay[i] ||
                       (heap_delay[prev] == heap_delay[i] && prev < i));
        }
    }
    return 0;
}

static void test_heap_property(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_heap_property, NULL));
}

static void blocking_from_callback(void *arg)
{
    *(int *)arg = cio_sleep(1);
}

static int main_callback_cannot_block(void *arg)
{
    (void)arg;
    int r = 0;
    cio_call_soon(blocking_from_callback, &r);
    CIO_ASSERT_OK(cio_yield());
    CIO_ASSERT_ERR(r, -EPERM);
    return 0;
}

static void test_callback_cannot_suspend(void)
{
    CIO_ASSERT_OK(cio_test_run_virtual(main_callback_cannot_block, NULL));
}

/* ---- call_soon_threadsafe ---- */

typedef struct ts_state {
    cio_loop *loop;
    cio_task *waiter;
    int value;
    pthread_t thread;
    pid_t loop_tid; /* the loop's thread */
} ts_state;

static void deliver(void *arg)
{
    ts_state *s = arg;
    s->value = 42;
    cio_cancel(s->waiter); /* wake the waiting task */
}

/* Whether thread tid sleeps in the kernel (state S in its stat line). */
static int thread_sleeps(pid_t tid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int sleeping = 0;
    if (fgets(line, sizeof(line), f)) {
        const char *close = strrchr(line, ')'); /* the state follows the name */
        sleeping = close && close[1] == ' ' && close[2] == 'S';
    }
    fclose(f);
    return sleeping;
}

static void *worker(void *arg)
{
    ts_state *s = arg;
    /* Call once the loop sleeps in its poll, so that the call must wake it
     * (looked for, not hoped for after a fixed sleep; up to 30 s). */
    for (int i = 0; i < 30000 && !thread_sleeps(s->loop_tid); i++)
        usleep(1000);
    if (cio_call_soon_threadsafe(s->loop, deliver, s) != 0)
        s->value = -1;
    return NULL;
}

static int main_threadsafe(void *arg)
{
    (void)arg;
    ts_state s = {cio_loop_current(), cio_current(), 0, 0, (pid_t)syscall(SYS_gettid)};
    cio_loop_ref(); /* the worker may still wake us: not a deadlock */
    CIO_ASSERT_EQ(pthread_create(&s.thread, NULL, worker, &s), 0);
    cio_scope sc;
    CIO_ASSERT_OK(cio_scope_enter(&sc));
    int err = cio_sleep(30);
    cio_scope_exit(&sc);
    cio_loop_unref();
    pthread_join(s.thread, NULL);
    CIO_ASSERT_ERR(err, -ECANCELED);
    CIO_ASSERT_EQ(s.value, 42);
    CIO_ASSERT_ERR(cio_call_soon_threadsafe(NULL, deliver, &s), -EINVAL);
    return 0;
}

static void test_call_soon_threadsafe(void)
{
    double t0 = cio_now();
    CIO_ASSERT_OK(cio_run(main_threadsafe, NULL));
    CIO_ASSERT_CMP(cio_now() - t0, <, 10.0); /* woken by the thread, not the 30 s timer */
}

/* ---- call_soon_threadsafe against a loop that keeps falling asleep ----
 *
 * A thread that posts while the loop is awake skips the eventfd write
 * (callback.c); a post that races with the loop going to sleep must still
 * wake it. Each thread here posts a burst of 1-3 calls and waits until the
 * loop has run them all, so the loop, with nothing else to do, blocks
 * between bursts thousands of times, and every burst lands just before,
 * during or after that. One lost wakeup leaves a thread waiting and the loop
 * asleep: the main task's timeout then fails the test (no other timer or
 * I/O could wake the loop). */
#define PP_THREADS 4
#define PP_ROUNDS 3000

typedef struct pp_thread {
    struct pp_state *s;
    pthread_t thread;
    unsigned sent;
    unsigned acked; /* atomic: calls of this thread the loop has run */
    int err;
} pp_thread;

typedef struct pp_state {
    cio_loop *loop;
    cio_event all_done;
    int abort;      /* atomic: the test failed, posters stop */
    unsigned total; /* loop only */
    pp_thread t[PP_THREADS];
} pp_state;

static void pp_deliver(void *arg)
{
    pp_thread *t = arg;
    __atomic_add_fetch(&t->acked, 1, __ATOMIC_RELEASE);
    if (++t->s->total == PP_THREADS * PP_ROUNDS * 2)
        cio_event_set(&t->s->all_done);
}

static void *pp_poster(void *arg)
{
    pp_thread *t = arg;
    for (unsigned round = 0; t->sent < PP_ROUNDS * 2 && !t->err; round++) {
        unsigned burst = 1 + round % 3;
        for (unsigned i = 0; i < burst && t->sent < PP_ROUNDS * 2; i++) {
            t->err = cio_call_soon_threadsafe(t->s->loop, pp_deliver, t);
            if (t->err)
                return NULL;
            t->sent++;
        }
        /* Watch closely at first (to post again the moment the loop has
         * run the burst, as it turns to sleep), then let the loop's thread
         * have the CPU. */
        for (unsigned spins = 0; __atomic_load_n(&t->acked, __ATOMIC_ACQUIRE) != t->sent;) {
            if (__atomic_load_n(&t->s->abort, __ATOMIC_ACQUIRE))
                return NULL;
            if (++spins > 200)
                sched_yield();
        }
    }
    return NULL;
}

static int main_threadsafe_pingpong(void *arg)
{
    (void)arg;
    pp_state *s = calloc(1, sizeof(*s));
    CIO_ASSERT(s != NULL);
    s->loop = cio_loop_current();
    cio_event_init(&s->all_done);
    cio_loop_ref(); /* the threads wake us: not a deadlock */
    for (int i = 0; i < PP_THREADS; i++) {
        s->t[i].s = s;
        CIO_ASSERT_EQ(pthread_create(&s->t[i].thread, NULL, pp_poster, &s->t[i]), 0);
    }
    cio_scope to;
    int err = cio_timeout_enter(&to, 60);
    if (!err)
        err = cio_event_wait(&s->all_done);
    int expired = err == 0 && cio_timeout_expired(&to);
    int exit_err = cio_timeout_exit(&to);
    cio_loop_unref();
    __atomic_store_n(&s->abort, 1, __ATOMIC_RELEASE); /* a stuck poster stops */
    for (int i = 0; i < PP_THREADS; i++)
        pthread_join(s->t[i].thread, NULL);
    CIO_ASSERT_OK(err);
    CIO_ASSERT_OK(exit_err);
    CIO_ASSERT(!expired);
    CIO_ASSERT_EQ(s->total, PP_THREADS * PP_ROUNDS * 2);
    for (int i = 0; i < PP_THREADS; i++) {
        CIO_ASSERT_OK(s->t[i].err);
        CIO_ASSERT_EQ(s->t[i].acked, PP_ROUNDS * 2);
    }
    free(s);
    return 0;
}

static void test_call_soon_threadsafe_no_lost_wakeup(void)
{
    CIO_ASSERT_OK(cio_run(main_threadsafe_pingpong, NULL));
}

CIO_TEST_MAIN(((cio_test_case[]){
    CIO_TEST(test_call_soon_order, "callbacks and tasks share one FIFO; cancelled ones never run"),
    CIO_TEST(test_call_later, "call_later fires in deadline order; cancel and bad delay"),
    CIO_TEST(test_sleep_order, "sleeps wake by deadline, ties in arming order"),
    CIO_TEST(test_heap_property,
             "5,000 timers, a third cancelled at random: the rest fire once each, in order"),
    CIO_TEST(test_callback_cannot_suspend, "a suspending call from a callback is -EPERM"),
    CIO_TEST(test_call_soon_threadsafe,
             "another thread wakes the loop through call_soon_threadsafe"),
    CIO_TEST(test_call_soon_threadsafe_no_lost_wakeup,
             "4 threads post 24,000 calls in bursts to a loop that sleeps between them: "
             "every call runs, no wakeup is lost"),
}))
