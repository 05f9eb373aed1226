/* Tests of plain callbacks and timer ordering. */
#include <pthread.h>
#include <sys/syscall.h>
#include <stdint.h>

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

CIO_TEST_MAIN(((cio_test_case[]){
    CIO_TEST(test_call_soon_order, "callbacks and tasks share one FIFO; cancelled ones never run"),
    CIO_TEST(test_call_later, "call_later fires in deadline order; cancel and bad delay"),
    CIO_TEST(test_sleep_order, "sleeps wake by deadline, ties in arming order"),
    CIO_TEST(test_heap_property,
             "5,000 timers, a third cancelled at random: the rest fire once each, in order"),
    CIO_TEST(test_callback_cannot_suspend, "a suspending call from a callback is -EPERM"),
    CIO_TEST(test_call_soon_threadsafe,
             "another thread wakes the loop through call_soon_threadsafe"),
}))
