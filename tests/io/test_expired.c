/* Level-triggered cancellation, call by call: inside a timeout scope that has
 * already expired (a timeout of 0 s), every suspending call of the library
 * returns -ETIMEDOUT without waiting, whatever it would wait for, and leaves
 * what it was given as it found it. One table row per call; a call that hung
 * would take the row's whole 2 s budget, and the test says which one. */
#define _GNU_SOURCE 1 /* pipe2 */
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <unistd.h>

#include "net_test.h"

/* The things the calls wait on, made ready to wait for ever. */
static cio_event never_set;
static cio_lock held;
static cio_sem empty_sem;
static cio_lock cond_lock;
static cio_cond cond;
static cio_queue empty_q, full_q, unfinished_q;
static cio_barrier barrier;
static cio_gen gen;
static cio_task *sleeper;
static int pipe_rd = -1, pipe_wr = -1, listen_fd = -1;
static cio_stream *idle_stream;
static cio_server *server, *closing_server;
static int silent_client = -1;
static cio_udp *udp;
static cio_process *child;
static cio_signal_set *watched_signals;

static int sleep_long(void *arg)
{
    (void)arg;
    return cio_sleep(3600);
}

static int gen_body(cio_gen *g, void *arg)
{
    (void)g;
    (void)arg;
    return cio_sleep(3600); /* never yields */
}

static int quick(void *arg)
{
    *(int *)arg = 1;
    return 0;
}

static int holder(void *arg)
{
    (void)arg;
    return cio_lock_acquire(&held); /* and keeps it */
}

/* ---- one row per suspending call ---- */

static int c_sleep(void)
{
    return cio_sleep(3600);
}
static int c_yield(void)
{
    return cio_yield();
}
static int c_event(void)
{
    return cio_event_wait(&never_set);
}
static int c_lock(void)
{
    return cio_lock_acquire(&held);
}
static int c_sem(void)
{
    return cio_sem_acquire(&empty_sem);
}
static int c_cond(void)
{
    /* The lock is taken before the scope (a cancelled acquire would fail). */
    return cio_cond_wait(&cond);
}
static int c_queue_get(void)
{
    void *v;
    return cio_queue_get(&empty_q, &v);
}
static int c_queue_put(void)
{
    return cio_queue_put(&full_q, (void *)1);
}
static int c_queue_join(void)
{
    return cio_queue_join(&unfinished_q);
}
static int c_barrier(void)
{
    return cio_barrier_wait(&barrier, NULL);
}
static int c_gen(void)
{
    void *v;
    return cio_gen_next(&gen, &v);
}
static int c_wait(void)
{
    size_t ndone;
    return cio_wait(&sleeper, 1, CIO_ALL_COMPLETED, CIO_FOREVER, &ndone);
}
static int c_read(void)
{
    char b[8];
    return (int)cio_read(pipe_rd, b, sizeof(b));
}
static int c_readable(void)
{
    return cio_wait_readable(pipe_rd);
}
static int c_accept(void)
{
    return cio_accept(listen_fd, NULL, NULL);
}
static int c_stream_read(void)
{
    char b[8];
    return (int)cio_stream_read(idle_stream, b, sizeof(b));
}
static int c_stream_line(void)
{
    char b[8];
    return (int)cio_stream_read_line(idle_stream, b, sizeof(b));
}
static int c_udp(void)
{
    char b[8];
    return (int)cio_udp_recv(udp, b, sizeof(b));
}
static int c_dns(void)
{
    struct addrinfo *res = NULL;
    int err = cio_getaddrinfo("localhost", "80", NULL, &res);
    if (res)
        freeaddrinfo(res);
    return err;
}
static int c_to_thread(void)
{
    int ran = 0;
    int err = cio_to_thread(quick, &ran);
    return err;
}
static int c_process(void)
{
    return cio_process_wait(child);
}
static int c_signal(void)
{
    return cio_signal_set_wait(watched_signals);
}
static int c_serve_forever(void)
{
    return cio_server_serve_forever(server);
}
static int c_open_connection(void)
{
    cio_stream *s = NULL;
    int err = cio_open_connection(&s, "127.0.0.1", cio_server_port(server), NULL);
    if (!err)
        cio_stream_close(s);
    return err;
}

static int c_gather(void)
{
    /* gather passes the cancellation on and waits for its task. */
    cio_task *t = cio_spawn(sleep_long, NULL);
    int err = cio_gather(&t, 1, 0);
    CIO_ASSERT(cio_task_done(t));
    cio_join(t);
    return err;
}
static int c_server_close(void)
{
    /* The expired caller skips the grace period, cancels the handler that
     * waits on its silent client, and waits only for that. */
    return cio_server_close(closing_server, 5.0);
}

typedef struct row {
    const char *name;
    int (*call)(void);
} row;

static const row rows[] = {
    {"cio_sleep", c_sleep},
    {"cio_yield", c_yield},
    {"cio_event_wait", c_event},
    {"cio_lock_acquire", c_lock},
    {"cio_sem_acquire", c_sem},
    {"cio_cond_wait", c_cond},
    {"cio_queue_get", c_queue_get},
    {"cio_queue_put", c_queue_put},
    {"cio_queue_join", c_queue_join},
    {"cio_barrier_wait", c_barrier},
    {"cio_gen_next", c_gen},
    {"cio_wait", c_wait},
    {"cio_read", c_read},
    {"cio_wait_readable", c_readable},
    {"cio_accept", c_accept},
    {"cio_stream_read", c_stream_read},
    {"cio_stream_read_line", c_stream_line},
    {"cio_udp_recv", c_udp},
    {"cio_getaddrinfo", c_dns},
    {"cio_to_thread", c_to_thread},
    {"cio_process_wait", c_process},
    {"cio_signal_set_wait", c_signal},
    {"cio_server_serve_forever", c_serve_forever},
    {"cio_open_connection", c_open_connection},
    {"cio_gather", c_gather},
    {"cio_server_close", c_server_close},
};

static int main_expired(void *arg)
{
    (void)arg;
    cio_event_init(&never_set);
    cio_lock_init(&held);
    cio_task *h = cio_spawn(holder, NULL);
    CIO_ASSERT_OK(cio_sleep(0)); /* the holder takes the lock */
    CIO_ASSERT(cio_lock_locked(&held));
    cio_sem_init(&empty_sem, 0);
    cio_lock_init(&cond_lock);
    cio_cond_init(&cond, &cond_lock);
    CIO_ASSERT_OK(cio_queue_init(&empty_q, 0));
    CIO_ASSERT_OK(cio_queue_init(&full_q, 1));
    CIO_ASSERT_OK(cio_queue_put_nowait(&full_q, (void *)1));
    CIO_ASSERT_OK(cio_queue_init(&unfinished_q, 0));
    CIO_ASSERT_OK(cio_queue_put_nowait(&unfinished_q, (void *)1));
    cio_barrier_init(&barrier, 2);
    cio_gen_init(&gen, gen_body, NULL);
    sleeper = cio_spawn(sleep_long, NULL);
    int p[2];
    CIO_ASSERT(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
    pipe_rd = p[0];
    pipe_wr = p[1];
    server = net_server(net_echo_handler, NULL, NULL);
    int unused_port;
    listen_fd = net_loopback_socket(8, &unused_port);
    CIO_ASSERT(fcntl(listen_fd, F_SETFL, O_NONBLOCK) == 0);
    CIO_ASSERT_OK(cio_open_connection(&idle_stream, "127.0.0.1", cio_server_port(server), NULL));
    CIO_ASSERT_OK(cio_udp_open(&udp, "127.0.0.1", 0, NULL, 0, NULL));
    closing_server = net_server(net_echo_handler, NULL, NULL);
    silent_client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in to = net_loopback(cio_server_port(closing_server));
    CIO_ASSERT(connect(silent_client, (struct sockaddr *)&to, sizeof(to)) == 0);
    NET_WAIT_UNTIL(cio_server_connections(closing_server) != 0, 30);
    CIO_ASSERT_EQ(cio_server_connections(closing_server), 1); /* its handler waits */
    /* A child that outlives a failed test must not hold the runner's
     * output open, nor live long. */
    const char *argv[] = {"sleep", "60", NULL};
    cio_process_opts po = {.stdin_mode = CIO_STDIO_DEVNULL,
                           .stdout_mode = CIO_STDIO_DEVNULL,
                           .stderr_mode = CIO_STDIO_DEVNULL};
    CIO_ASSERT_OK(cio_process_spawn(&child, argv, &po));
    int sigs[] = {SIGUSR2};
    CIO_ASSERT_OK(cio_signal_set_open(&watched_signals, sigs, 1));

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        if (rows[i].call == c_cond)
            CIO_ASSERT_OK(cio_lock_acquire(&cond_lock));
        double t0 = cio_now();
        cio_scope budget, sc; /* budget: a call that parks anyway wakes in 2 s */
        CIO_ASSERT_OK(cio_timeout_enter(&budget, 2.0));
        CIO_ASSERT_OK(cio_timeout_enter(&sc, 0));
        int r = rows[i].call();
        int expired = cio_timeout_exit(&sc);
        cio_timeout_exit(&budget);
        double took = cio_now() - t0;
        if (rows[i].call == c_cond) {
            CIO_ASSERT(cio_lock_locked(&cond_lock)); /* held again, as asyncio's */
            cio_lock_release(&cond_lock);
        }
        if (r != -ETIMEDOUT || expired != -ETIMEDOUT || took > 1.0)
            CIO_FAIL_AT("%s in an expired scope: returned %d (%s), scope %d, after %.3f s",
                        rows[i].name, r, cio_strerror(r), expired, took);
    }

    /* Nothing was taken on the way out. */
    CIO_ASSERT_EQ(cio_queue_qsize(&full_q), 1);
    CIO_ASSERT_EQ(cio_queue_qsize(&unfinished_q), 1);
    CIO_ASSERT_EQ(cio_sem_value(&empty_sem), 0);
    CIO_ASSERT_ERR(cio_process_returncode(child), -EINPROGRESS); /* still running */

    cio_process_kill(child);
    CIO_ASSERT_EQ(cio_process_wait(child), 128 + SIGKILL);
    cio_process_close(child);
    cio_signal_set_close(watched_signals);
    cio_udp_close(udp);
    cio_stream_close(idle_stream);
    CIO_ASSERT_OK(cio_server_close(server, 1.0));
    close(silent_client);
    close(listen_fd);
    close(pipe_rd);
    close(pipe_wr);
    cio_gen_destroy(&gen);
    cio_cancel(sleeper);
    cio_join(sleeper);
    cio_cancel(h);
    cio_join(h);
    cio_queue_destroy(&empty_q);
    cio_queue_destroy(&full_q);
    cio_queue_destroy(&unfinished_q);
    cio_barrier_destroy(&barrier);
    cio_cond_destroy(&cond);
    cio_sem_destroy(&empty_sem);
    cio_event_destroy(&never_set);
    return 0;
}

static void test_expired_scope(void)
{
    CIO_ASSERT_OK(net_run(main_expired, NULL));
}

static const cio_test_case tests[] = {
    CIO_TEST(test_expired_scope, "in an expired timeout scope, every suspending call returns "
                                 "-ETIMEDOUT at once and takes nothing"),
};

CIO_TEST_MAIN(tests)
