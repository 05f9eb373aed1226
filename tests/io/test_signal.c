/* Tests of signal sets (cio/signal.h) on the backend CTest picks: delivery
 * by raise() and kill(), several waiters and sets, cancellation, closing,
 * the thread's signal mask, bad arguments, and cio_run's SIGINT handling. */
#include <pthread.h>
#include <signal.h>

#include "cio_test.h"

static int fd_count(void)
{
    int n = 0;
    char path[64];
    for (int fd = 0; fd < 1024; fd++) {
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        n += access(path, F_OK) == 0;
    }
    return n;
}

static int blocked(int sig)
{
    sigset_t cur;
    pthread_sigmask(SIG_SETMASK, NULL, &cur);
    return sigismember(&cur, sig) == 1;
}

typedef struct raiser {
    int sig;
    int count;
    int use_kill; /* process-directed instead of thread-directed */
    int raised;   /* set just before the first signal goes */
} raiser;

/* Sends r->sig r->count times, back to back (standard signals may coalesce).
 * Spawned just before the spawner waits: the loop runs it only once the
 * spawner has parked in its wait, so the signal comes while it waits (no
 * sleep hoping for that order). */
static int raise_later(void *arg)
{
    raiser *r = arg;
    r->raised = 1;
    for (int i = 0; i < r->count; i++) {
        if (r->use_kill)
            kill(getpid(), r->sig);
        else
            raise(r->sig);
    }
    return 0;
}

/* ---- delivery ---- */

static int main_raise(void *arg)
{
    (void)arg;
    int sig = SIGUSR1;
    cio_signal_set *s;
    CIO_ASSERT_OK(cio_signal_set_open(&s, &sig, 1));
    CIO_ASSERT(blocked(SIGUSR1));
    raiser r = {SIGUSR1, 1, 0, 0};
    cio_task *t = cio_spawn(raise_later, &r);
    CIO_ASSERT_EQ(cio_signal_set_wait(s), SIGUSR1);
    CIO_ASSERT(r.raised); /* it waited for the signal, raised while it waited */
    CIO_ASSERT_OK(cio_join(t));
    cio_signal_set_close(s);
    CIO_ASSERT(!blocked(SIGUSR1));
    return 0;
}

static void test_raise_wakes_waiter(void)
{
    CIO_ASSERT_OK(cio_test_run(main_raise, NULL));
}

static int main_kill(void *arg)
{
    (void)arg;
    int sigs[] = {SIGUSR1, SIGUSR2, SIGTERM};
    cio_signal_set *s;
    CIO_ASSERT_OK(cio_signal_set_open(&s, sigs, 3));
    raiser r = {SIGTERM, 1, 1, 0};
    cio_task *t = cio_spawn(raise_later, &r);
    CIO_ASSERT_EQ(cio_signal_set_wait(s), SIGTERM);
    CIO_ASSERT_OK(cio_join(t));
    cio_signal_set_close(s);
    return 0;
}

static void test_kill_process_directed(void)
{
    CIO_ASSERT_OK(cio_test_run(main_kill, NULL));
}

static int main_pending(void *arg)
{
    (void)arg;
    int sigs[] = {SIGUSR1, SIGUSR2, SIGRTMIN};
    cio_signal_set *s;
    CIO_ASSERT_OK(cio_signal_set_open(&s, sigs, 3));
    /* Sent before anyone waits: kept, standard signals coalesced, real-time
     * ones counted; the lowest number comes first. */
    raise(SIGUSR2);
    raise(SIGUSR2);
    raise(SIGRTMIN);
    raise(SIGRTMIN);
    raise(SIGUSR1);
    cio_scope sc; /* kept: each wait returns at once (a lost one would time out) */
    CIO_ASSERT_OK(cio_timeout_enter(&sc, 30));
    CIO_ASSERT_EQ(cio_signal_set_wait(s), SIGUSR1);
    CIO_ASSERT_EQ(cio_signal_set_wait(s), SIGUSR2);
    CIO_ASSERT_EQ(cio_signal_set_wait(s), SIGRTMIN);
    CIO_ASSERT_EQ(cio_signal_set_wait(s), SIGRTMIN);
    CIO_ASSERT_OK(cio_timeout_exit(&sc));
    /* Nothing more is pending. */
    CIO_ASSERT_OK(cio_timeout_enter(&sc, 0.03));
    CIO_ASSERT_ERR(cio_signal_set_wait(s), -ETIMEDOUT);
    CIO_ASSERT_ERR(cio_timeout_exit(&sc), -ETIMEDOUT);
    cio_signal_set_close(s);
    return 0;
}

static void test_pending_kept_until_wait(void)
{
    CIO_ASSERT_OK(cio_test_run(main_pending, NULL));
}

/* ---- several waiters and sets ---- */

typedef struct waiter_job {
    cio_signal_set *set;
    int got;
    int order;        /* when it got its signal */
    cio_event *woken; /* set when it got it (optional) */
} waiter_job;

static int next_order;

static int wait_job(void *arg)
{
    waiter_job *j = arg;
    j->got = cio_signal_set_wait(j->set);
    j->order = ++next_order;
    if (j->woken)
        cio_event_set(j->woken);
    return j->got > 0 ? 0 : j->got;
}

static int main_fifo(void *arg)
{
    (void)arg;
    int sig = SIGUSR1;
    cio_signal_set *s;
    CIO_ASSERT_OK(cio_signal_set_open(&s, &sig, 1));
    cio_event woken;
    CIO_ASSERT_OK(cio_event_init(&woken));
    waiter_job j[3] = {{s, 0, 0, &woken}, {s, 0, 0, &woken}, {s, 0, 0, &woken}};
    cio_task *t[3];
    for (int i = 0; i < 3; i++) {
        t[i] = cio_spawn(wait_job, &j[i]);
        CIO_ASSERT_OK(cio_yield()); /* line up in order */
    }
    /* One instance at a time: each wakes exactly one waiter, oldest first. */
    for (int k = 1; k <= 3; k++) {
        raise(SIGUSR1);
        CIO_ASSERT_OK(cio_event_wait(&woken)); /* a waiter got it, however busy */
        CIO_ASSERT_OK(cio_event_clear(&woken));
        CIO_ASSERT_OK(cio_yield()); /* a second waiter woken by the same one would run */
        int n = 0;
        for (int i = 0; i < 3; i++)
            n += j[i].got == SIGUSR1;
        CIO_ASSERT_EQ(n, k);
        CIO_ASSERT_EQ(j[k - 1].got, SIGUSR1);
    }
    cio_event_destroy(&woken);
    for (int i = 0; i < 3; i++) {
        CIO_ASSERT_OK(cio_join(t[i]));
        CIO_ASSERT_EQ(j[i].order, i + 1);
    }
    cio_signal_set_close(s);
    return 0;
}

static void test_waiters_fifo(void)
{
    CIO_ASSERT_OK(cio_test_run(main_fifo, NULL));
}

static int main_fanout(void *arg)
{
    (void)arg;
    int usr1 = SIGUSR1, usr2 = SIGUSR2;
    int both[] = {SIGUSR1, SIGUSR2};
    cio_signal_set *a, *b, *c;
    CIO_ASSERT_OK(cio_signal_set_open(&a, &usr1, 1));
    CIO_ASSERT_OK(cio_signal_set_open(&b, both, 2));
    CIO_ASSERT_OK(cio_signal_set_open(&c, &usr2, 1));
    waiter_job ja = {a, 0, 0, NULL}, jb = {b, 0, 0, NULL}, jc = {c, 0, 0, NULL};
    cio_task *ta = cio_spawn(wait_job, &ja);
    cio_task *tb = cio_spawn(wait_job, &jb);
    cio_task *tc = cio_spawn(wait_job, &jc);
    CIO_ASSERT_OK(cio_yield()); /* the three run in order (FIFO) and park */
    /* SIGUSR2 reaches b and c, whoever reads the signalfd; a waits on. */
    raise(SIGUSR2);
    CIO_ASSERT_OK(cio_join(tb));
    CIO_ASSERT_OK(cio_join(tc));
    CIO_ASSERT_EQ(jb.got, SIGUSR2);
    CIO_ASSERT_EQ(jc.got, SIGUSR2);
    CIO_ASSERT_OK(cio_yield()); /* a wrongly woken a would have run by now... */
    CIO_ASSERT_EQ(ja.got, 0);   /* ...and later, it would not report SIGUSR1 below */
    raise(SIGUSR1);
    CIO_ASSERT_OK(cio_join(ta));
    CIO_ASSERT_EQ(ja.got, SIGUSR1);
    /* b also kept its SIGUSR1 for its next wait. */
    CIO_ASSERT_EQ(cio_signal_set_wait(b), SIGUSR1);
    cio_signal_set_close(a);
    CIO_ASSERT(blocked(SIGUSR1)); /* b still watches it */
    cio_signal_set_close(b);
    CIO_ASSERT(!blocked(SIGUSR1));
    CIO_ASSERT(blocked(SIGUSR2));
    cio_signal_set_close(c);
    CIO_ASSERT(!blocked(SIGUSR2));
    return 0;
}

static void test_sets_fan_out(void)
{
    CIO_ASSERT_OK(cio_test_run(main_fanout, NULL));
}

/* ---- cancellation ---- */

static int main_cancel(void *arg)
{
    (void)arg;
    int sig = SIGUSR1;
    cio_signal_set *s;
    CIO_ASSERT_OK(cio_signal_set_open(&s, &sig, 1));
    /* The first waiter reads the signalfd; the second waits in line. */
    waiter_job j1 = {s, 0, 0, NULL}, j2 = {s, 0, 0, NULL};
    cio_task *t1 = cio_spawn(wait_job, &j1);
    CIO_ASSERT_OK(cio_yield());
    cio_task *t2 = cio_spawn(wait_job, &j2);
    CIO_ASSERT_OK(cio_yield()); /* t2 runs and waits in line */
    cio_cancel(t1);
    CIO_ASSERT_ERR(cio_join(t1), -ECANCELED);
    CIO_ASSERT_EQ(j1.got, -ECANCELED);
    /* The reading passed to the second waiter. */
    raise(SIGUSR1);
    CIO_ASSERT_OK(cio_join(t2));
    CIO_ASSERT_EQ(j2.got, SIGUSR1);

    /* A timeout consumes nothing: a signal arriving after it is kept. */
    cio_scope sc;
    CIO_ASSERT_OK(cio_timeout_enter(&sc, 0.02));
    CIO_ASSERT_ERR(cio_signal_set_wait(s), -ETIMEDOUT);
    CIO_ASSERT_ERR(cio_timeout_exit(&sc), -ETIMEDOUT);
    raise(SIGUSR1);
    CIO_ASSERT_EQ(cio_signal_set_wait(s), SIGUSR1);

    /* Cancelled before waiting: the reason at once, nothing consumed. */
    raise(SIGUSR1);
    CIO_ASSERT_OK(cio_scope_enter(&sc));
    cio_scope_cancel(&sc);
    CIO_ASSERT_ERR(cio_signal_set_wait(s), -ECANCELED);
    cio_scope_exit(&sc);
    CIO_ASSERT_EQ(cio_signal_set_wait(s), SIGUSR1);
    cio_signal_set_close(s);
    return 0;
}

static void test_cancel_while_waiting(void)
{
    CIO_ASSERT_OK(cio_test_run(main_cancel, NULL));
}

static int main_close_waiting(void *arg)
{
    (void)arg;
    int before = fd_count();
    int sig = SIGUSR1, other = SIGUSR2;
    cio_signal_set *s, *o;
    CIO_ASSERT_OK(cio_signal_set_open(&s, &sig, 1));
    CIO_ASSERT_OK(cio_signal_set_open(&o, &other, 1));
    waiter_job j1 = {s, 0, 0, NULL}, j2 = {s, 0, 0, NULL}, jo = {o, 0, 0, NULL};
    cio_task *t1 = cio_spawn(wait_job, &j1); /* reads the signalfd */
    CIO_ASSERT_OK(cio_yield());
    cio_task *t2 = cio_spawn(wait_job, &j2);
    cio_task *to = cio_spawn(wait_job, &jo);
    CIO_ASSERT_OK(cio_yield()); /* both run and park */
    cio_signal_set_close(s);
    CIO_ASSERT_ERR(cio_join(t1), -EBADF);
    CIO_ASSERT_ERR(cio_join(t2), -EBADF);
    /* The other set still works: its waiter took over the reading. */
    raise(SIGUSR2);
    CIO_ASSERT_OK(cio_join(to));
    CIO_ASSERT_EQ(jo.got, SIGUSR2);
    cio_signal_set_close(o);
    CIO_ASSERT_EQ(fd_count(), before); /* the signalfd went with the last set */
    return 0;
}

static void test_close_wakes_waiters(void)
{
    CIO_ASSERT_OK(cio_test_run(main_close_waiting, NULL));
}

/* ---- the mask, errors ---- */

static int main_mask(void *arg)
{
    (void)arg;
    /* SIGUSR2 was blocked by the program before: it stays blocked. */
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &usr2, NULL);
    int sigs[] = {SIGUSR1, SIGUSR2};
    cio_signal_set *s;
    CIO_ASSERT_OK(cio_signal_set_open(&s, sigs, 2));
    CIO_ASSERT(blocked(SIGUSR1) && blocked(SIGUSR2));
    raise(SIGUSR1); /* pending when the set closes: dropped, not delivered */
    cio_signal_set_close(s);
    CIO_ASSERT(!blocked(SIGUSR1));
    CIO_ASSERT(blocked(SIGUSR2));
    pthread_sigmask(SIG_UNBLOCK, &usr2, NULL);
    /* The one-shot form blocks only while it waits. */
    raiser r = {SIGUSR1, 1, 0, 0};
    cio_task *t = cio_spawn(raise_later, &r);
    CIO_ASSERT_EQ(cio_signal_wait(SIGUSR1), SIGUSR1);
    CIO_ASSERT(!blocked(SIGUSR1));
    CIO_ASSERT_OK(cio_join(t));
    return 0;
}

static void test_mask_restored(void)
{
    CIO_ASSERT_OK(cio_test_run(main_mask, NULL));
}

static int main_bad(void *arg)
{
    (void)arg;
    static const int bad[] = {0,       -1,     65,     1000,   SIGKILL, SIGSTOP,
                              SIGSEGV, SIGBUS, SIGFPE, SIGILL, 32,      33};
    cio_signal_set *s = (cio_signal_set *)&s;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CIO_ASSERT_ERR(cio_signal_set_open(&s, &bad[i], 1), -EINVAL);
        CIO_ASSERT(s == NULL);
        CIO_ASSERT_ERR(cio_signal_wait(bad[i]), -EINVAL);
    }
    int mixed[] = {SIGUSR1, 99};
    CIO_ASSERT_ERR(cio_signal_set_open(&s, mixed, 2), -EINVAL);
    CIO_ASSERT(!blocked(SIGUSR1)); /* nothing half-done */
    CIO_ASSERT_ERR(cio_signal_set_open(&s, NULL, 1), -EINVAL);
    CIO_ASSERT_ERR(cio_signal_set_open(&s, mixed, 0), -EINVAL);
    CIO_ASSERT_ERR(cio_signal_set_open(NULL, mixed, 1), -EINVAL);
    CIO_ASSERT_ERR(cio_signal_set_wait(NULL), -EINVAL);
    cio_signal_set_close(NULL);
    int rt = SIGRTMAX;
    CIO_ASSERT_OK(cio_signal_set_open(&s, &rt, 1));
    cio_signal_set_close(s);
    return 0;
}

static void test_bad_signals(void)
{
    CIO_ASSERT_OK(cio_test_run(main_bad, NULL));
}

static void test_outside_task(void)
{
    int sig = SIGUSR1;
    cio_signal_set *s;
    CIO_ASSERT_OK(cio_signal_set_open(&s, &sig, 1)); /* fine outside a loop */
    CIO_ASSERT_ERR(cio_signal_set_wait(s), -EPERM);
    cio_signal_set_close(s);
}

static int main_many_rounds(void *arg)
{
    (void)arg;
    int before = fd_count();
    for (int i = 0; i < 200; i++) {
        int sig = i % 2 ? SIGUSR1 : SIGUSR2;
        raiser r = {sig, 1, i % 3 == 0, 0};
        cio_task *t = cio_spawn(raise_later, &r);
        CIO_ASSERT_EQ(cio_signal_wait(sig), sig);
        CIO_ASSERT_OK(cio_join(t));
    }
    CIO_ASSERT_EQ(fd_count(), before);
    return 0;
}

static void test_many_rounds_no_leak(void)
{
    CIO_ASSERT_OK(cio_test_run(main_many_rounds, NULL));
}

/* ---- cio_run's SIGINT ---- */

static int sleep_long(void *arg)
{
    (void)arg;
    return cio_sleep(10);
}

static int main_sigint(void *arg)
{
    int *phase = arg;
    raiser r = {SIGINT, 1, 0, 0}; /* raised once main sleeps */
    cio_task *t = cio_spawn(raise_later, &r);
    cio_detach(t);
    *phase = 1;
    int err = sleep_long(NULL); /* cancelled by the first SIGINT */
    *phase = 2;
    return err;
}

/* A shell without job control starts background jobs with SIGINT ignored,
 * and cio_run keeps a disposition the program chose: start from the default. */
static void default_sigint(void)
{
    signal(SIGINT, SIG_DFL);
}

static void test_sigint_cancels_main(void)
{
    default_sigint();
    int phase = 0;
    cio_opts o = {0};
    /* -ECANCELED, not the 0 of a 10 s sleep that ran out: SIGINT ended it. */
    CIO_ASSERT_ERR(cio_test_check_backend(cio_run_opts(main_sigint, &phase, &o)), -ECANCELED);
    CIO_ASSERT_EQ(phase, 2);
}

static int main_sigint_set(void *arg)
{
    (void)arg;
    int sig = SIGINT;
    cio_signal_set *s;
    CIO_ASSERT_OK(cio_signal_set_open(&s, &sig, 1));
    raiser r = {SIGINT, 1, 0, 0};
    cio_task *t = cio_spawn(raise_later, &r);
    CIO_ASSERT_EQ(cio_signal_set_wait(s), SIGINT); /* the set took it */
    CIO_ASSERT_OK(cio_join(t));
    CIO_ASSERT_EQ(cio_cancelled(), 0); /* and main was not cancelled */
    CIO_ASSERT_OK(cio_yield());
    cio_signal_set_close(s);
    return 0;
}

static void test_sigint_set_takes_over(void)
{
    default_sigint();
    cio_opts o = {0};
    CIO_ASSERT_OK(cio_test_check_backend(cio_run_opts(main_sigint_set, NULL, &o)));
}

static int main_two_sigints(void *arg)
{
    (void)arg;
    raise(SIGINT); /* the handler cancels main... */
    raise(SIGINT); /* ...and the second one ends the process */
    for (;;)
        cio_sleep(1);
    return 0;
}

static void test_second_sigint_ends_process(void)
{
    pid_t pid = fork();
    CIO_ASSERT(pid >= 0);
    if (pid == 0) {
        default_sigint();
        cio_opts o = {0};
        cio_run_opts(main_two_sigints, NULL, &o);
        _exit(3);
    }
    int st = 0;
    CIO_ASSERT_EQ(waitpid(pid, &st, 0), pid);
    CIO_ASSERT(WIFSIGNALED(st));
    CIO_ASSERT_EQ(WTERMSIG(st), SIGINT);
}

static const cio_test_case tests[] = {
    CIO_TEST(test_raise_wakes_waiter,
             "raise() wakes a task waiting on a set; the mask is restored"),
    CIO_TEST(test_kill_process_directed, "kill() of the process reaches the set"),
    CIO_TEST(test_pending_kept_until_wait,
             "signals sent before a wait are kept (standard coalesced, real-time counted)"),
    CIO_TEST(test_waiters_fifo, "each instance wakes one waiter of a set, oldest first"),
    CIO_TEST(test_sets_fan_out, "every set watching a signal gets it; others keep waiting"),
    CIO_TEST(test_cancel_while_waiting,
             "cancelling the reader hands the reading on; a cancelled wait consumes nothing"),
    CIO_TEST(test_close_wakes_waiters, "closing a set wakes its waiters with -EBADF"),
    CIO_TEST(test_mask_restored, "close unblocks only what it blocked and drops pending ones"),
    CIO_TEST(test_bad_signals, "bad signal numbers and NULLs give -EINVAL"),
    CIO_TEST(test_outside_task, "a wait outside a task gives -EPERM"),
    CIO_TEST(test_many_rounds_no_leak, "200 one-shot waits leak no descriptor"),
    CIO_TEST(test_sigint_cancels_main, "cio_run: SIGINT cancels the main task"),
    CIO_TEST(test_sigint_set_takes_over, "a set watching SIGINT takes it from cio_run"),
    CIO_TEST(test_second_sigint_ends_process, "cio_run: a second SIGINT ends the process"),
};

CIO_TEST_MAIN(tests)
