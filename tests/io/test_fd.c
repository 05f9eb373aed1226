/* Tests of fd-level I/O on the backend CTest picks (CIO_BACKEND): sockets,
 * cancellation of in-flight operations, errors, files and executors. */
#define _GNU_SOURCE /* pipe2 */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "cio_test.h"

static void nonblocking_pair(int sv[2])
{
    CIO_ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

typedef struct pipe_job {
    int fd;
    const char *text;
    int wrote; /* set as it writes */
} pipe_job;

/* Spawned just before the spawner waits on the other end: the loop runs it
 * only once the spawner has parked, so the data comes while it waits (no
 * sleep hoping for that order). */
static int delayed_writer(void *arg)
{
    pipe_job *j = arg;
    j->wrote = 1;
    ssize_t n = cio_write_all(j->fd, j->text, strlen(j->text), NULL);
    return n == (ssize_t)strlen(j->text) ? 0 : (int)n;
}

static int main_read_waits(void *arg)
{
    (void)arg;
    int sv[2];
    nonblocking_pair(sv);
    pipe_job j = {sv[1], "hello", 0};
    cio_task *w = cio_spawn(delayed_writer, &j);
    char buf[16] = {0};
    cio_scope sc; /* bounded: the writer may fail (the torture runner) */
    CIO_ASSERT_OK(cio_timeout_enter(&sc, 10));
    CIO_ASSERT_EQ(cio_read(sv[0], buf, sizeof(buf)), 5);
    CIO_ASSERT_OK(cio_timeout_exit(&sc));
    CIO_ASSERT(j.wrote); /* it waited for the writer, which ran while it waited */
    CIO_ASSERT_STR_EQ(buf, "hello");
    CIO_ASSERT_OK(cio_join(w));
    cio_close(sv[1]);
    CIO_ASSERT_EQ(cio_read(sv[0], buf, sizeof(buf)), 0); /* EOF */
    cio_close(sv[0]);
    return 0;
}

static void test_read_waits_for_data(void)
{
    CIO_ASSERT_OK(cio_test_run(main_read_waits, NULL));
}

static int main_cancel_read(void *arg)
{
    (void)arg;
    int sv[2];
    nonblocking_pair(sv);
    char buf[8];
    memset(buf, 'x', sizeof(buf));
    cio_scope s;
    CIO_ASSERT_OK(cio_timeout_enter(&s, 0.05));
    ssize_t r = cio_read(sv[0], buf, sizeof(buf));
    CIO_ASSERT_ERR(cio_timeout_exit(&s), -ETIMEDOUT);
    CIO_ASSERT_ERR(r, -ETIMEDOUT);
    for (size_t i = 0; i < sizeof(buf); i++)
        CIO_ASSERT_EQ(buf[i], 'x'); /* untouched */
    /* Nothing was consumed: data sent now arrives whole. */
    CIO_ASSERT_EQ(cio_write(sv[1], "abc", 3), 3);
    CIO_ASSERT_EQ(cio_read(sv[0], buf, sizeof(buf)), 3);
    CIO_ASSERT(memcmp(buf, "abc", 3) == 0);
    cio_close(sv[0]);
    cio_close(sv[1]);
    return 0;
}

static void test_cancel_in_flight_read(void)
{
    CIO_ASSERT_OK(cio_test_run(main_cancel_read, NULL));
}

static int reader_task(void *arg)
{
    char buf[4];
    return (int)cio_read(*(int *)arg, buf, sizeof(buf));
}

static int main_cancel_task_read(void *arg)
{
    (void)arg;
    int sv[2];
    nonblocking_pair(sv);
    cio_task *t = cio_spawn(reader_task, &sv[0]);
    CIO_ASSERT_OK(cio_yield()); /* it runs first (FIFO) and parks in its read */
    cio_cancel(t);
    CIO_ASSERT_ERR(cio_join(t), -ECANCELED);
    cio_close(sv[0]);
    cio_close(sv[1]);
    return 0;
}

static void test_cancel_task_in_read(void)
{
    CIO_ASSERT_OK(cio_test_run(main_cancel_task_read, NULL));
}

/* ---- TCP ---- */

static int listen_loopback(struct sockaddr_in *addr)
{
    int fd = cio_socket(AF_INET, SOCK_STREAM, 0);
    CIO_ASSERT(fd >= 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(addr, 0, sizeof(*addr));
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CIO_ASSERT_EQ(bind(fd, (struct sockaddr *)addr, sizeof(*addr)), 0);
    CIO_ASSERT_EQ(listen(fd, 128), 0);
    socklen_t len = sizeof(*addr);
    getsockname(fd, (struct sockaddr *)addr, &len);
    return fd;
}

static int echo_once(void *arg)
{
    int lfd = *(int *)arg;
    int c = cio_accept(lfd, NULL, NULL);
    if (c < 0)
        return c;
    char buf[256];
    ssize_t n;
    while ((n = cio_recv(c, buf, sizeof(buf), 0)) > 0)
        if (cio_send(c, buf, (size_t)n, 0) != n)
            break;
    cio_close(c);
    return n < 0 ? (int)n : 0;
}

static int main_tcp(void *arg)
{
    (void)arg;
    struct sockaddr_in addr;
    int lfd = listen_loopback(&addr);
    cio_task *server = cio_spawn(echo_once, &lfd);
    int fd = cio_socket(AF_INET, SOCK_STREAM, 0);
    CIO_ASSERT_OK(cio_connect(fd, (struct sockaddr *)&addr, sizeof(addr)));
    for (int i = 0; i < 100; i++) {
        char msg[32], back[32] = {0};
        int len = snprintf(msg, sizeof(msg), "message %d", i);
        CIO_ASSERT_EQ(cio_send(fd, msg, (size_t)len, 0), len);
        ssize_t got = 0;
        while (got < len) {
            ssize_t r = cio_recv(fd, back + got, sizeof(back) - 1 - (size_t)got, 0);
            CIO_ASSERT(r > 0);
            got += r;
        }
        CIO_ASSERT_STR_EQ(back, msg);
    }
    cio_close(fd);
    CIO_ASSERT_OK(cio_join(server));
    cio_close(lfd);
    return 0;
}

static void test_tcp_echo(void)
{
    CIO_ASSERT_OK(cio_test_run(main_tcp, NULL));
}

static int main_refused(void *arg)
{
    (void)arg;
    struct sockaddr_in addr;
    int lfd = listen_loopback(&addr);
    cio_close(lfd); /* nobody listens on that port now */
    int fd = cio_socket(AF_INET, SOCK_STREAM, 0);
    CIO_ASSERT_ERR(cio_connect(fd, (struct sockaddr *)&addr, sizeof(addr)), -ECONNREFUSED);
    cio_close(fd);
    return 0;
}

static void test_connect_refused(void)
{
    CIO_ASSERT_OK(cio_test_run(main_refused, NULL));
}

static cio_event client_connected;

static int accept_and_reset(void *arg)
{
    int lfd = *(int *)arg;
    int c = cio_accept(lfd, NULL, NULL);
    if (c < 0)
        return c;
    struct linger lg = {1, 0}; /* close with RST */
    setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    cio_event_wait(&client_connected); /* then it goes into its recv */
    cio_yield();
    cio_close(c);
    return 0;
}

static int main_reset(void *arg)
{
    (void)arg;
    struct sockaddr_in addr;
    int lfd = listen_loopback(&addr);
    cio_event_init(&client_connected);
    cio_task *server = cio_spawn(accept_and_reset, &lfd);
    int fd = cio_socket(AF_INET, SOCK_STREAM, 0);
    CIO_ASSERT_OK(cio_connect(fd, (struct sockaddr *)&addr, sizeof(addr)));
    cio_event_set(&client_connected);
    char buf[16];
    CIO_ASSERT_ERR(cio_recv(fd, buf, sizeof(buf), 0), -ECONNRESET); /* mid-read */
    /* Writing to the dead connection: -EPIPE (or a late -ECONNRESET), no SIGPIPE. */
    ssize_t w = 0;
    for (int i = 0; i < 10 && w >= 0; i++)
        w = cio_send(fd, "x", 1, 0);
    CIO_ASSERT(w == -EPIPE || w == -ECONNRESET);
    CIO_ASSERT_OK(cio_join(server));
    cio_close(fd);
    cio_close(lfd);
    return 0;
}

static void test_peer_reset(void)
{
    CIO_ASSERT_OK(cio_test_run(main_reset, NULL));
}

static int main_udp(void *arg)
{
    (void)arg;
    int a = cio_socket(AF_INET, SOCK_DGRAM, 0), b = cio_socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CIO_ASSERT_EQ(bind(b, (struct sockaddr *)&addr, sizeof(addr)), 0);
    socklen_t len = sizeof(addr);
    getsockname(b, (struct sockaddr *)&addr, &len);
    CIO_ASSERT_EQ(cio_sendto(a, "ping", 4, 0, (struct sockaddr *)&addr, sizeof(addr)), 4);
    char buf[16] = {0};
    struct sockaddr_in from;
    socklen_t flen = sizeof(from);
    CIO_ASSERT_EQ(cio_recvfrom(b, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen), 4);
    CIO_ASSERT_STR_EQ(buf, "ping");
    CIO_ASSERT_EQ(flen, sizeof(from));
    CIO_ASSERT_EQ(from.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    cio_close(a);
    cio_close(b);
    return 0;
}

static void test_udp(void)
{
    CIO_ASSERT_OK(cio_test_run(main_udp, NULL));
}

static int main_wait_ready(void *arg)
{
    (void)arg;
    int sv[2];
    nonblocking_pair(sv);
    CIO_ASSERT_OK(cio_wait_writable(sv[0]));
    pipe_job j = {sv[1], "!", 0};
    cio_task *w = cio_spawn(delayed_writer, &j);
    CIO_ASSERT_OK(cio_wait_readable(sv[0]));
    char c;
    CIO_ASSERT_EQ(read(sv[0], &c, 1), 1);
    CIO_ASSERT_OK(cio_join(w));
    cio_close(sv[0]);
    cio_close(sv[1]);
    CIO_ASSERT(cio_read(-1, &c, 1) < 0);
    return 0;
}

static void test_wait_readable_writable(void)
{
    CIO_ASSERT_OK(cio_test_run(main_wait_ready, NULL));
}

/* Many connections at once: 500 socket pairs, a task on each end. */
static int ping_side(void *arg)
{
    int fd = *(int *)arg;
    char buf[8];
    for (int i = 0; i < 10; i++) {
        if (cio_write(fd, "ping", 4) != 4)
            return -1;
        ssize_t got = 0;
        while (got < 4) {
            ssize_t r = cio_read(fd, buf + got, (size_t)(4 - got));
            if (r <= 0)
                return -2;
            got += r;
        }
    }
    return 0;
}

static int main_many(void *arg)
{
    (void)arg;
    enum { PAIRS = 500 };
    static int fds[PAIRS][2];
    static cio_task *t[PAIRS * 2];
    for (int i = 0; i < PAIRS; i++) {
        nonblocking_pair(fds[i]);
        t[2 * i] = cio_spawn(ping_side, &fds[i][0]);
        t[2 * i + 1] = cio_spawn(ping_side, &fds[i][1]);
    }
    CIO_ASSERT_OK(cio_gather(t, PAIRS * 2, 0));
    for (int i = 0; i < PAIRS * 2; i++)
        CIO_ASSERT_OK(cio_join(t[i]));
    for (int i = 0; i < PAIRS; i++) {
        cio_close(fds[i][0]);
        cio_close(fds[i][1]);
    }
    return 0;
}

static void test_many_connections(void)
{
    CIO_ASSERT_OK(cio_test_run(main_many, NULL));
}

/* ---- files ---- */

static int main_files(void *arg)
{
    (void)arg;
    char path[] = "/tmp/cio-test-XXXXXX";
    int tmp = mkstemp(path);
    CIO_ASSERT(tmp >= 0);
    close(tmp);
    int fd = cio_open(path, O_RDWR | O_TRUNC, 0600);
    CIO_ASSERT(fd >= 0);
    CIO_ASSERT_EQ(cio_pwrite(fd, "hello, world\n", 13, 0), 13);
    CIO_ASSERT_EQ(cio_pwrite(fd, "HELLO", 5, 0), 5);
    CIO_ASSERT_OK(cio_fsync(fd));
    char buf[32] = {0};
    CIO_ASSERT_EQ(cio_pread(fd, buf, sizeof(buf), 0), 13);
    CIO_ASSERT_STR_EQ(buf, "HELLO, world\n");
    struct stat st;
    CIO_ASSERT_OK(cio_stat(path, &st));
    CIO_ASSERT_EQ(st.st_size, 13);
    CIO_ASSERT(S_ISREG(st.st_mode));
    cio_close(fd);
    char *data;
    size_t len;
    CIO_ASSERT_OK(cio_read_file(path, &data, &len, 0));
    CIO_ASSERT_EQ(len, 13);
    CIO_ASSERT_STR_EQ(data, "HELLO, world\n");
    free(data);
    CIO_ASSERT_ERR(cio_read_file(path, &data, &len, 5), -EFBIG);
    CIO_ASSERT(data == NULL);
    unlink(path);
    CIO_ASSERT_ERR(cio_open(path, O_RDONLY, 0), -ENOENT);
    CIO_ASSERT_ERR(cio_stat(path, &st), -ENOENT);
    CIO_ASSERT_ERR(cio_read_file(path, &data, &len, 0), -ENOENT);
    CIO_ASSERT_ERR(cio_open(NULL, O_RDONLY, 0), -EINVAL);
    return 0;
}

static void test_files(void)
{
    CIO_ASSERT_OK(cio_test_run(main_files, NULL));
}

/* ---- executors ---- */

/* A blocking job that proves the loop runs while it blocks: it sends a byte
 * on `started`, then blocks in poll(2) until a task on the loop answers with
 * a byte on `release`. Run on the loop's own thread it would block the loop,
 * which could then never answer (poll gives up after 30 s). Handshakes, not
 * sleeps: the order holds however busy the machine is. */
typedef struct blocking_job {
    pthread_t thread;
    int started[2]; /* the job writes [1], the loop reads [0] */
    int release[2]; /* the loop writes [1], the job waits on [0] */
    int released;   /* the job got the loop's answer */
} blocking_job;

static void blocking_job_open(blocking_job *j)
{
    memset(j, 0, sizeof(*j));
    CIO_ASSERT_EQ(pipe2(j->started, O_NONBLOCK | O_CLOEXEC), 0);
    CIO_ASSERT_EQ(pipe2(j->release, O_NONBLOCK | O_CLOEXEC), 0);
}

static void blocking_job_close(blocking_job *j)
{
    for (int i = 0; i < 2; i++) {
        close(j->started[i]);
        close(j->release[i]);
    }
}

static int blocking_wait(void *arg)
{
    blocking_job *j = arg;
    j->thread = pthread_self();
    char c = 's';
    if (write(j->started[1], &c, 1) != 1)
        return -1;
    struct pollfd p = {.fd = j->release[0], .events = POLLIN};
    if (poll(&p, 1, 30000) != 1 || read(j->release[0], &c, 1) != 1)
        return -2; /* the loop never answered: it was blocked */
    j->released = 1;
    return 17;
}

/* On the loop: waits for the job to start, then answers it. */
static int answerer(void *arg)
{
    blocking_job *j = arg;
    char c;
    if (cio_read(j->started[0], &c, 1) != 1)
        return -1;
    return cio_write(j->release[1], "r", 1) == 1 ? 0 : -1;
}

static int main_to_thread(void *arg)
{
    (void)arg;
    blocking_job j;
    blocking_job_open(&j);
    cio_task *a = cio_spawn(answerer, &j);
    CIO_ASSERT_EQ(cio_to_thread(blocking_wait, &j), 17); /* the loop answered meanwhile */
    CIO_ASSERT(j.released && !pthread_equal(j.thread, pthread_self()));
    CIO_ASSERT_OK(cio_join(a));
    cio_executor *ex;
    CIO_ASSERT_OK(cio_executor_new(&ex, 2));
    j.released = 0;
    a = cio_spawn(answerer, &j);
    CIO_ASSERT_EQ(cio_executor_run(ex, blocking_wait, &j), 17);
    CIO_ASSERT(j.released && !pthread_equal(j.thread, pthread_self()));
    CIO_ASSERT_OK(cio_join(a));
    cio_executor_free(ex);
    CIO_ASSERT_ERR(cio_executor_run(NULL, blocking_wait, &j), -EINVAL);
    blocking_job_close(&j);
    return 0;
}

static void test_to_thread(void)
{
    CIO_ASSERT_OK(cio_test_run(main_to_thread, NULL));
    blocking_job j = {0};
    CIO_ASSERT_ERR(cio_to_thread(blocking_wait, &j), -EPERM);
}

static int to_thread_task(void *arg)
{
    return cio_to_thread(blocking_wait, arg);
}

/* Answers the job after a few turns of the loop. */
static int late_answerer(void *arg)
{
    blocking_job *j = arg;
    for (int i = 0; i < 3; i++)
        cio_yield();
    return cio_write(j->release[1], "r", 1) == 1 ? 0 : -1;
}

static int main_to_thread_cancel(void *arg)
{
    (void)arg;
    blocking_job j;
    blocking_job_open(&j);
    cio_task *t = cio_spawn(to_thread_task, &j);
    char c; /* cancelled once the job runs on its thread, however busy */
    CIO_ASSERT_EQ(cio_read(j.started[0], &c, 1), 1);
    cio_cancel(t);
    /* Answered only after t has had turns to (wrongly) return at once. */
    cio_task *a = cio_spawn(late_answerer, &j);
    CIO_ASSERT_ERR(cio_join(t), -ECANCELED);
    CIO_ASSERT_EQ(j.released, 1); /* it waited for the thread: j was still in use */
    CIO_ASSERT_OK(cio_join(a));
    blocking_job_close(&j);
    return 0;
}

static void test_to_thread_cancel_waits(void)
{
    CIO_ASSERT_OK(cio_test_run(main_to_thread_cancel, NULL));
}

/* Many tasks on one loop submit and finish jobs in batches, on two
 * executors at once; workers run with every signal blocked. */
typedef struct batch_caller_job {
    cio_executor *ex; /* NULL: the default executor */
    int calls;
    long sum;
} batch_caller_job;

static int add_one(void *arg)
{
    sigset_t mask;
    pthread_sigmask(SIG_SETMASK, NULL, &mask);
    int *v = arg;
    int all_blocked = sigismember(&mask, SIGINT) == 1 && sigismember(&mask, SIGUSR1) == 1;
    *v = all_blocked ? *v + 1 : -1000000;
    return 0;
}

static int batch_caller(void *arg)
{
    batch_caller_job *b = arg;
    for (int i = 0; i < b->calls; i++) {
        int v = i;
        int err = b->ex ? cio_executor_run(b->ex, add_one, &v) : cio_to_thread(add_one, &v);
        if (err)
            return err;
        b->sum += v;
    }
    return 0;
}

static int main_executor_batches(void *arg)
{
    (void)arg;
    enum { TASKS = 100, CALLS = 50 };
    cio_executor *ex;
    CIO_ASSERT_OK(cio_executor_new(&ex, 2));
    batch_caller_job jobs[TASKS];
    cio_task *t[TASKS];
    for (int i = 0; i < TASKS; i++) {
        jobs[i] = (batch_caller_job){i % 2 ? ex : NULL, CALLS, 0};
        t[i] = cio_spawn(batch_caller, &jobs[i]);
    }
    for (int i = 0; i < TASKS; i++) {
        CIO_ASSERT_OK(cio_join(t[i]));
        CIO_ASSERT_EQ(jobs[i].sum, CALLS * (CALLS + 1) / 2);
    }
    cio_executor_free(ex);
    return 0;
}

static void *loop_thread(void *arg)
{
    *(int *)arg = cio_test_run(main_executor_batches, NULL);
    return NULL;
}

static void test_executor_batches(void)
{
    /* Two loops on two threads share the default executor. */
    int other = -1;
    pthread_t th;
    CIO_ASSERT_EQ(pthread_create(&th, NULL, loop_thread, &other), 0);
    CIO_ASSERT_OK(cio_test_run(main_executor_batches, NULL));
    pthread_join(th, NULL);
    CIO_ASSERT_OK(other);
}

static int report_backend(void *arg)
{
    *(const char **)arg = cio_backend_name();
    return 0;
}

static void test_backend_in_use(void)
{
    const char *name = NULL;
    CIO_ASSERT_OK(cio_test_run(report_backend, &name));
    const char *want = getenv("CIO_BACKEND");
    if (want)
        CIO_ASSERT_STR_EQ(name, want);
}

/* Issue 14: cio_open, cio_read_file and cio_stat failed with no message, and
 * a suspending call outside a task gave a bare -EPERM. */
static int main_path_messages(void *arg)
{
    (void)arg;
    const char *path = "/nonexistent-cio-dir/file.txt";
    struct stat st;
    char *data;
    size_t len;
    cio_fail(-EIO, "an earlier, unrelated failure");
    CIO_ASSERT_ERR(cio_open(path, O_RDONLY, 0), -ENOENT);
    CIO_ASSERT_STR_EQ(cio_task_message(NULL), "open /nonexistent-cio-dir/file.txt: No such file "
                                              "or directory");
    cio_fail(-EIO, "an earlier, unrelated failure");
    CIO_ASSERT_ERR(cio_stat(path, &st), -ENOENT);
    CIO_ASSERT(strstr(cio_task_message(NULL), "stat /nonexistent-cio-dir/file.txt") != NULL);
    cio_fail(-EIO, "an earlier, unrelated failure");
    CIO_ASSERT_ERR(cio_read_file(path, &data, &len, 0), -ENOENT);
    CIO_ASSERT(strstr(cio_task_message(NULL), path) != NULL);
    CIO_ASSERT_ERR(cio_read_file("/proc/self/status", &data, &len, 4), -EFBIG);
    CIO_ASSERT(strstr(cio_task_message(NULL), "larger than the limit of 4 bytes") != NULL);
    return 0;
}

/* Issue 14: a call that fails on a bad argument sets its own message (or
 * none) rather than leaving the one of an earlier, unrelated failure. */
static int no_earlier_message(void)
{
    const char *m = cio_task_message(NULL);
    return !m || !strstr(m, "earlier");
}

static int main_stale_message(void *arg)
{
    (void)arg;
    char buf[8];
    cio_fail(-EIO, "an earlier, unrelated failure");
    CIO_ASSERT_ERR(cio_stream_read(NULL, buf, sizeof(buf)), -EINVAL);
    CIO_ASSERT(no_earlier_message());
    cio_fail(-EIO, "an earlier, unrelated failure");
    CIO_ASSERT_ERR(cio_stream_write(NULL, buf, 1), -EINVAL);
    CIO_ASSERT(no_earlier_message());
    cio_fail(-EIO, "an earlier, unrelated failure");
    CIO_ASSERT_ERR(cio_process_wait(NULL), -EINVAL);
    CIO_ASSERT(strstr(cio_task_message(NULL), "cio_process_wait: invalid argument") != NULL);
    cio_fail(-EIO, "an earlier, unrelated failure");
    CIO_ASSERT_ERR(cio_signal_set_wait(NULL), -EINVAL);
    CIO_ASSERT(strstr(cio_task_message(NULL), "cio_signal_set_wait: invalid argument") != NULL);
    return 0;
}

static void test_stale_message(void)
{
    CIO_ASSERT_OK(cio_test_run(main_stale_message, NULL));
}

/* The message now holds text containing `want`. */
#define ASSERT_MESSAGE_HAS(want)                                                                   \
    do {                                                                                           \
        const char *m_ = cio_task_message(NULL);                                                   \
        if (!m_ || !strstr(m_, (want)))                                                            \
            CIO_FAIL_AT("message \"%s\" lacks \"%s\"", m_ ? m_ : "(none)", (want));                \
    } while (0)

/* Issue 14: I/O calls failing on a descriptor, a stream or a process
 * returned a bare errno and left an earlier call's message standing. Each now
 * says what failed, naming the descriptor, stream or process. */
static int main_own_messages(void *arg)
{
    (void)arg;
    char buf[8], want[64];
    int sv[2];
    nonblocking_pair(sv);
    int dead = dup(sv[0]);
    close(dead); /* a descriptor number that is closed */
    cio_fail(-EIO, "an earlier, unrelated failure");
    CIO_ASSERT_ERR(cio_read(dead, buf, sizeof(buf)), -EBADF);
    snprintf(want, sizeof(want), "read fd %d", dead);
    ASSERT_MESSAGE_HAS(want);
    cio_fail(-EIO, "an earlier, unrelated failure");
    CIO_ASSERT_ERR(cio_send(dead, "x", 1, 0), -EBADF);
    snprintf(want, sizeof(want), "send fd %d", dead);
    ASSERT_MESSAGE_HAS(want);
    cio_fail(-EIO, "an earlier, unrelated failure");
    CIO_ASSERT_ERR(cio_pread(dead, buf, sizeof(buf), 0), -EBADF);
    ASSERT_MESSAGE_HAS("pread fd");
    cio_fail(-EIO, "an earlier, unrelated failure");
    CIO_ASSERT_ERR(cio_close(dead), -EBADF);
    ASSERT_MESSAGE_HAS("close fd");
    /* A timeout is not the descriptor's fault: no message, not an old one. */
    cio_fail(-EIO, "an earlier, unrelated failure");
    cio_scope sc;
    CIO_ASSERT_OK(cio_timeout_enter(&sc, 0.01));
    CIO_ASSERT_ERR(cio_read(sv[0], buf, sizeof(buf)), -ETIMEDOUT);
    cio_timeout_exit(&sc);
    CIO_ASSERT(no_earlier_message());
    /* A stream: writing after write_eof. */
    cio_stream *st;
    CIO_ASSERT_OK(cio_stream_from_fd(&st, sv[0], NULL));
    CIO_ASSERT_OK(cio_stream_write_eof(st));
    cio_fail(-EIO, "an earlier, unrelated failure");
    CIO_ASSERT_ERR(cio_stream_write(st, "x", 1), -EPIPE);
    ASSERT_MESSAGE_HAS("stream fd");
    CIO_ASSERT_OK(cio_stream_close(st));
    close(sv[1]);
    /* A process: its stdin closed twice, a signal after the reap. */
    const char *argv[] = {"true", NULL};
    cio_process_opts o = {.stdin_mode = CIO_STDIO_PIPE};
    cio_process *p;
    CIO_ASSERT_OK(cio_process_spawn(&p, argv, &o));
    CIO_ASSERT_OK(cio_process_close_fd(p, 0));
    cio_fail(-EIO, "an earlier, unrelated failure");
    CIO_ASSERT_ERR(cio_process_close_fd(p, 0), -EBADF);
    snprintf(want, sizeof(want), "process %d", (int)cio_process_pid(p));
    ASSERT_MESSAGE_HAS(want);
    cio_fail(-EIO, "an earlier, unrelated failure");
    CIO_ASSERT_ERR(cio_process_write(p, "x", 1), -EBADF);
    ASSERT_MESSAGE_HAS(want);
    CIO_ASSERT_EQ(cio_process_wait(p), 0);
    cio_fail(-EIO, "an earlier, unrelated failure");
    CIO_ASSERT_ERR(cio_process_kill(p), -ESRCH);
    ASSERT_MESSAGE_HAS(want);
    cio_process_close(p);
    return 0;
}

static void test_own_messages(void)
{
    CIO_ASSERT_OK(cio_test_run(main_own_messages, NULL));
}

static void test_path_messages(void)
{
    CIO_ASSERT_OK(cio_test_run(main_path_messages, NULL));
    /* Outside a task: the thread's message names the call. */
    CIO_ASSERT_ERR(cio_sleep(1), -EPERM);
    CIO_ASSERT(strstr(cio_task_message(NULL), "cio_sleep: not inside a task") != NULL);
    char buf[4];
    CIO_ASSERT_ERR(cio_read(0, buf, sizeof(buf)), -EPERM);
    CIO_ASSERT(strstr(cio_task_message(NULL), "not inside a task") != NULL);
}

static int noop_job(void *arg)
{
    (void)arg;
    return 0;
}

static int main_use_pools(void *arg)
{
    (void)arg;
    CIO_ASSERT_OK(cio_to_thread(noop_job, NULL));
    struct stat st;
    CIO_ASSERT_OK(cio_stat("/", &st)); /* the file pool on epoll */
    return 0;
}

static int count_threads(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    CIO_ASSERT(d != NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        /* io_uring's kernel workers (iou-wrk-N) are listed too, and leave
         * on their own after the ring closes: not ours to count. */
        char path[300], comm[32] = "";
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (f) {
            if (!fgets(comm, sizeof(comm), f))
                comm[0] = 0;
            fclose(f);
        }
        n += strncmp(comm, "iou-", 4) != 0;
    }
    closedir(d);
    return n;
}

/* Issue 14: the to_thread pool outlived cio_run until exit, where
 * LeakSanitizer saw its threads' state. It now goes with the last loop. */
static void test_pools_end_with_last_loop(void)
{
    CIO_ASSERT_EQ(count_threads(), 1);
    CIO_ASSERT_OK(cio_test_run(main_use_pools, NULL));
    CIO_ASSERT_EQ(count_threads(), 1);
    CIO_ASSERT_OK(cio_test_run(main_use_pools, NULL)); /* and come back for the next one */
    CIO_ASSERT_EQ(count_threads(), 1);
}

/* A task cancelled while its cio_open runs: the open either did not happen or
 * its descriptor reaches the caller. On epoll the worker's open(2) used to
 * finish after the cancel and its descriptor was lost. A FIFO holds the open
 * until this test opens the writing end, so the cancel lands mid-call. */
typedef struct fifo_open_job {
    const char *path;
    int result;
} fifo_open_job;

static int open_fifo_for_reading(void *arg)
{
    fifo_open_job *j = arg;
    j->result = cio_open(j->path, O_RDONLY, 0);
    return 0;
}

static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    CIO_ASSERT(d != NULL);
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static int main_cancel_open(void *arg)
{
    (void)arg;
    char dir[] = "/tmp/cio-fifo-XXXXXX", path[64];
    CIO_ASSERT(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/fifo", dir);
    CIO_ASSERT_OK(mkfifo(path, 0600));
    int before = count_fds();
    fifo_open_job j = {path, 1};
    cio_task *t = cio_spawn(open_fifo_for_reading, &j);
    /* A writer's non-blocking open succeeds once a reader is inside open(2). */
    int w;
    while ((w = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
        CIO_ASSERT_EQ(errno, ENXIO);
        CIO_ASSERT_OK(cio_sleep(0.001));
    }
    cio_cancel(t);
    CIO_ASSERT_OK(cio_join(t));
    CIO_ASSERT(j.result != 1);
    if (j.result >= 0)
        close(j.result);
    else
        CIO_ASSERT_ERR(j.result, -ECANCELED);
    close(w);
    CIO_ASSERT_EQ(count_fds(), before); /* nothing leaked either way */
    unlink(path);
    rmdir(dir);
    return 0;
}

static void test_cancel_open_keeps_fd(void)
{
    CIO_ASSERT_OK(cio_test_run(main_cancel_open, NULL));
}

CIO_TEST_MAIN(((cio_test_case[]){
    CIO_TEST(test_cancel_open_keeps_fd,
             "a task cancelled inside cio_open gets the descriptor or nothing was opened"),
    CIO_TEST(test_pools_end_with_last_loop,
             "to_thread's and the file pool's threads are joined when the last loop closes"),
    CIO_TEST(test_path_messages,
             "failing file calls name the path; outside a task: \"not inside a task\""),
    CIO_TEST(test_backend_in_use, "the loop runs on the backend CIO_BACKEND names"),
    CIO_TEST(test_read_waits_for_data, "a read suspends until data arrives; EOF reads 0"),
    CIO_TEST(test_cancel_in_flight_read,
             "a timed-out read leaves the buffer untouched and loses no data"),
    CIO_TEST(test_cancel_task_in_read, "cancelling a task blocked in read returns -ECANCELED"),
    CIO_TEST(test_tcp_echo, "TCP accept, connect, send and recv over loopback"),
    CIO_TEST(test_connect_refused, "connecting to a closed port gives -ECONNREFUSED"),
    CIO_TEST(test_peer_reset, "a reset mid-read gives -ECONNRESET; writing after it no SIGPIPE"),
    CIO_TEST(test_udp, "UDP sendto and recvfrom with the sender's address"),
    CIO_TEST(test_wait_readable_writable, "waiting for readiness on a socket"),
    CIO_TEST(test_many_connections, "500 socket pairs ping-pong concurrently"),
    CIO_TEST(test_stale_message, "a failing io call does not leave an earlier message"),
    CIO_TEST(test_own_messages,
             "fd, stream and process calls that fail say so, naming the fd, stream or process"),
    CIO_TEST(test_files, "open, pwrite, pread, fsync, stat, read_file and their errors"),
    CIO_TEST(test_to_thread, "to_thread runs on another thread while the loop goes on"),
    CIO_TEST(test_to_thread_cancel_waits, "a cancelled to_thread waits for the function"),
    CIO_TEST(test_executor_batches,
             "5,000 calls from 100 tasks on two executors and two loops; signals blocked"),
}))
