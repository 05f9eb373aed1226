/* Runs the synchronization examples (examples/sync_*.c) with --scale 0.1 and
 * checks the story their output tells: the lines, their order, and timing
 * against the scaled durations — lower bounds (a sleep never ends early) and
 * loose upper bounds or ratios that tell "limited" from "sequential", never a
 * tight absolute. */
#include <time.h>

#include "example_runner.h"

static void test_lock_counter(void)
{
    run r = run_example("sync_lock_counter");
    expect_story(&r, "== with the lock ==", "task-0: counter is now 1", "task-1: counter is now 2",
                 "task-2: counter is now 3", "task-3: counter is now 4", "task-4: counter is now 5",
                 "Final counter: 5", "== without it ==", "Final counter: 1 (lost updates: 4)",
                 NULL);
    free(r.out);
}

static void test_lock_demo(void)
{
    run r = run_example("sync_lock_demo");
    expect_story(&r, "A: acquired", "main: lock held? yes",
                 "intruder: releasing a lock it does not hold -> -EPERM",
                 "D: gave up waiting: -ECANCELED", "A: released", "B: acquired", "B: released",
                 "C: acquired", "C: released", "lock held? no", "acquiring it twice -> -EDEADLK",
                 NULL);
    CIO_ASSERT_EQ(count(&r, "D: acquired"), 0); /* it left the line empty-handed */
    /* One at a time: B after A's 0.5 s, C after B's 0.3 s more. */
    double b = number_after(&r, "B: acquired (at ");
    double c = number_after(&r, "C: acquired (at ");
    double all = number_after(&r, "main: all done at ");
    CIO_ASSERT_CMP(b, >=, 0.99 * 0.5 * U);
    CIO_ASSERT_CMP(c, >=, 0.99 * 0.8 * U);
    CIO_ASSERT_CMP(all, >=, 0.99 * 1.0 * U); /* (D's turn never came: counted above) */
    free(r.out);
}

static void test_semaphore(void)
{
    run r = run_example("sync_semaphore");
    expect_story(&r, "Session 0: fetching", "Session 1: fetching", "Session 2: fetching",
                 "Session 3: fetching", "Session 9: fetching", "Total results: 10",
                 "At most 3 at once", NULL);
    /* The limit is reached and never passed. (How often exactly 3 run depends
     * on whether the holders' timers fire in one loop turn: not a property of
     * the semaphore.) */
    CIO_ASSERT_CMP(count(&r, "(3 in flight"), >=, 1);
    CIO_ASSERT_EQ(count(&r, "(4 in flight"), 0);
    /* Sessions 3-5 start only when the first three release, 0.5 s in. */
    CIO_ASSERT_CMP(number_after_in(&r, "Session 3:", "at "), >=, 0.99 * 0.5 * U);
    double took = number_after(&r, "took ");
    CIO_ASSERT_CMP(took, >=, 0.99 * 4 * 0.5 * U); /* four rounds of 0.5 s */
    /* Not one after another: "(3 in flight" above. (No bound on the total:
     * on a busy machine every timer fires late.) */
    free(r.out);
}

static void test_event(void)
{
    run r = run_example("sync_event");
    expect_story(&r, "W1: waiting for start signal", "W2: waiting for start signal",
                 "W3: waiting for start signal", "Controller: signalling all workers",
                 "W1: got signal", "W2: got signal", "W3: got signal", NULL);
    CIO_ASSERT_CMP(number_after(&r, "W1: got signal, starting work (at "), >=, 0.99 * 1 * U);
    double w3 = number_after(&r, "W3: got signal, starting work (at ");
    double signalled = number_after(&r, "Controller: signalling all workers (at ");
    CIO_ASSERT_CMP(w3 - signalled, <, 0.5 * U); /* all three at the signal, not a timer later */
    free(r.out);
}

static void test_queue_sentinel(void)
{
    run r = run_example("sync_queue_sentinel");
    expect_story(&r, "Consumed: item-0", "Consumed: item-1", "Consumed: item-2", "Consumed: item-3",
                 "Consumed: item-4", "Consumer: got the sentinel", NULL);
    CIO_ASSERT_CMP(number_after(&r, "Consumed: item-4 (at "), >=, 0.99 * 2.0 * U);
    CIO_ASSERT_CMP(number_after(&r, "sentinel, done (at "), >=, 0.99 * 2.5 * U);
    free(r.out);
}

static void test_queue_join(void)
{
    run r = run_example("sync_queue_join");
    /* (How production and consumption interleave depends on when the timers
     * fire, which a busy machine shifts: only orders that follow from the
     * queue are checked.) */
    expect_story(&r, "== maxsize=3", "Produced: job-1", "Produced: job-2", "Produced: job-3",
                 "Produced: job-7", "== join", NULL);
    expect_story(&r, "== maxsize=3", "Produced: job-1", "Consumer-A consumed: job-1",
                 "Consumer-A consumed: job-7", "== join, then shutdown ==", "main: producer done",
                 "Consumer-B consumed: job-7", "main: all 7 jobs processed",
                 "Consumer-B: the queue was shut down", NULL);
    /* Back-pressure: the queue never went beyond its maxsize (and job-7's
     * time below shows the producer waited for room). */
    CIO_ASSERT_EQ(count(&r, "4 queued"), 0);
    /* The producer (0.1 s per job) was paced by the consumer (0.3 s per job):
     * job-7 went in only after the consumer had made room. */
    double p7 = number_after(&r, "Produced: job-7 (at ");
    CIO_ASSERT_CMP(p7, >=, 0.99 * (0.1 + 3 * 0.3) * U);
    /* join waited for the last task_done: seven jobs of 0.3 s after the first. */
    CIO_ASSERT_CMP(number_after(&r, "join returned after "), >=, 0.99 * (0.1 + 7 * 0.3) * U);
    free(r.out);
}

static void test_fan_out_fan_in(void)
{
    run r = run_example("sync_fan_out_fan_in");
    for (int i = 0; i < 20; i++) {
        char line[32];
        snprintf(line, sizeof(line), "[%d] result-%d ", i, i);
        CIO_ASSERT_EQ(count(&r, line), 1);
    }
    expect_story(&r, "Processed 20 items (ids sum to 190)", NULL);
    /* Fan-in in completion order: item 3 (0.1 s) before item 1 (0.2 s). */
    expect_story(&r, "[3] result-3", "[1] result-1", NULL);
    double took = number_after(&r, "ids sum to 190) in ");
    CIO_ASSERT_CMP(took, >=, 0.99 * 0.8 * U); /* 3.9 s of work, 5 at a time */
    CIO_ASSERT_CMP(took, <, 3.9 * U);         /* less than one after another can take */
    free(r.out);
}

static void test_rate_limit(void)
{
    run r = run_example("sync_rate_limit");
    expect_story(&r, "round 1: items 0-4", "round 6: items 25-29",
                 "data from https://api.example.com/item/29", "Fetched 30 items in", NULL);
    CIO_ASSERT_CMP(number_after(&r, "round 6: items 25-29 started at "), >=, 0.99 * 0.5 * U);
    double took = number_after(&r, "Fetched 30 items in ");
    CIO_ASSERT_CMP(took, >=, 0.99 * 0.6 * U); /* six rounds of 0.1 s: 50 per second at most */
    CIO_ASSERT_CMP(took, <, 30 * 0.1 * U);    /* less than one after another can take */
    free(r.out);
}

static void test_gen_paging(void)
{
    run r = run_example("sync_gen_paging");
    expect_story(&r, "Page 1: ['item-1-0', 'item-1-1', 'item-1-2']",
                 "Page 2:", "Page 3:", "Page 4: ['item-4-0', 'item-4-1', 'item-4-2']",
                 "end of pages", "== break after page 2",
                 "Page 1:", "Page 2:", "(generator closed after page 2: cleaning up)", "closed: 0",
                 "== a page that fails ==", "Page 1:", "Page 2:",
                 "next returned -EIO: page 3: server error 500", NULL);
    CIO_ASSERT_EQ(count(&r, "Page 3:"), 1); /* lazy: no page fetched past a break */
    CIO_ASSERT_EQ(count(&r, "Page 4:"), 1);
    /* One page per 0.2 s, fetched one after another on demand. */
    CIO_ASSERT_CMP(number_after(&r, "Page 4: ['item-4-0', 'item-4-1', 'item-4-2'] (at "), >=,
                   0.99 * 0.8 * U);
    free(r.out);
}

static void test_async_counter(void)
{
    run r = run_example("sync_async_counter");
    expect_story(&r, "0 (at", "1 (at", "2 (at", "3 (at", "4 (at", "done: -ENOENT", NULL);
    CIO_ASSERT_EQ(count(&r, "(ticker: the loop is free"), 2);
    CIO_ASSERT_CMP(number_after(&r, "\n4 (at "), >=, 0.99 * 0.5 * U);
    free(r.out);
}

CIO_TEST_MAIN(((cio_test_case[]){
    CIO_TEST(test_lock_counter, "the lock-protected counter is always 5 (1 without the lock)"),
    CIO_TEST(test_lock_demo, "one holder at a time, FIFO order; -EPERM, -EDEADLK, cancel"),
    CIO_TEST(test_semaphore, "at most 3 sessions at once; four rounds of 0.5 s"),
    CIO_TEST(test_event, "the start signal wakes all three workers at 1 s, in order"),
    CIO_TEST(test_queue_sentinel, "producer/consumer ended by a NULL sentinel"),
    CIO_TEST(test_queue_join, "maxsize 3 paces the producer; join waits for task_done"),
    CIO_TEST(test_fan_out_fan_in, "20 results fanned in once each, in completion order"),
    CIO_TEST(test_rate_limit, "30 fetches 5 at a time: six rounds"),
    CIO_TEST(test_gen_paging, "async generator pages: lazy, close early, failure message"),
    CIO_TEST(test_async_counter, "the async counter yields 0..4 while other tasks run"),
}))
