/* The fault seam itself (include/cio/fault.h): rules parse or are refused
 * with a message naming the bad rule, and each rule fails exactly the points
 * it names. */
#include <sys/socket.h>

#include "cio/fault.h"
#include "cio_test.h"

/* The points 1..n of `kind` that fail under the current rules, as a bitmask. */
static uint64_t failing(enum cio_fault_kind kind, const char *name, int n)
{
    uint64_t mask = 0;
    for (int i = 1; i <= n; i++)
        if (cio_fault_hit(kind, name))
            mask |= 1ull << i;
    return mask;
}

static void test_parse_errors(void)
{
    static const char *const bad[] = {
        "bogus",
        "alloc",
        "alloc:0",
        "alloc:x",
        "alloc:every",
        "alloc:every:0",
        "alloc:random:1",
        "alloc:random:0:5",
        "op:every:3:4",
        "syscall:accept",
        "syscall:accept:0",
        "syscall:a_name_far_too_long_for_it:1",
        "count,alloc:-1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CIO_ASSERT_ERR(cio_fault_set(bad[i]), -EINVAL);
        const char *msg = cio_task_message(NULL);
        CIO_ASSERT(msg && strstr(msg, "CIO_FAULT") && strstr(msg, "cannot parse"));
    }
    CIO_ASSERT(strstr(cio_task_message(NULL), "\"alloc:-1\"")); /* names the rule */
    CIO_ASSERT_OK(cio_fault_set("alloc:2"));
    CIO_ASSERT_ERR(cio_fault_set("alloc:2,nonsense"), -EINVAL);
    /* A refused spec leaves the previous rules in force. */
    CIO_ASSERT_EQ(failing(CIO_FAULT_ALLOC, "malloc", 4), 1ull << 2);
    CIO_ASSERT_OK(cio_fault_set(NULL));
    CIO_ASSERT_EQ(cio_fault_armed, 0);
    CIO_ASSERT_OK(cio_fault_set(""));
    CIO_ASSERT_EQ(cio_fault_armed, 0);
}

static void test_nth(void)
{
    CIO_ASSERT_OK(cio_fault_set("alloc:5"));
    CIO_ASSERT_EQ(failing(CIO_FAULT_ALLOC, "malloc", 20), 1ull << 5);
    CIO_ASSERT_EQ(failing(CIO_FAULT_OP, "read", 20), 0); /* the op kind is untouched */
    CIO_ASSERT_EQ(cio_fault_points(CIO_FAULT_ALLOC), 20);
    CIO_ASSERT_EQ(cio_fault_injected(CIO_FAULT_ALLOC), 1);
    CIO_ASSERT_EQ(cio_fault_points(CIO_FAULT_OP), 20);
    CIO_ASSERT_OK(cio_fault_set("op:3,alloc:1"));
    CIO_ASSERT_EQ(cio_fault_points(CIO_FAULT_ALLOC), 0); /* counters start again */
    CIO_ASSERT_EQ(failing(CIO_FAULT_OP, "recv", 6), 1ull << 3);
    CIO_ASSERT_EQ(failing(CIO_FAULT_ALLOC, "malloc", 6), 1ull << 1);
    CIO_ASSERT_OK(cio_fault_set("count"));
    CIO_ASSERT_EQ(failing(CIO_FAULT_ALLOC, "malloc", 30) | failing(CIO_FAULT_OP, "send", 30), 0);
    CIO_ASSERT_EQ(cio_fault_points(CIO_FAULT_ALLOC), 30);
    CIO_ASSERT_EQ(cio_fault_injected(CIO_FAULT_OP), 0);
}

static void test_every(void)
{
    CIO_ASSERT_OK(cio_fault_set("alloc:every:4"));
    CIO_ASSERT_EQ(failing(CIO_FAULT_ALLOC, "malloc", 17),
                  (1ull << 4) | (1ull << 8) | (1ull << 12) | (1ull << 16));
    CIO_ASSERT_OK(cio_fault_set("op:every:1"));
    CIO_ASSERT_EQ(failing(CIO_FAULT_OP, "poll", 10), ((1ull << 11) - 1) & ~1ull);
}

static void test_random_reproducible(void)
{
    CIO_ASSERT_OK(cio_fault_set("alloc:random:42:4"));
    uint64_t a = failing(CIO_FAULT_ALLOC, "malloc", 63);
    CIO_ASSERT_OK(cio_fault_set("alloc:random:42:4"));
    uint64_t b = failing(CIO_FAULT_ALLOC, "malloc", 63);
    CIO_ASSERT_OK(cio_fault_set("alloc:random:43:4"));
    uint64_t c = failing(CIO_FAULT_ALLOC, "malloc", 63);
    CIO_ASSERT_EQ(a, b);                            /* same seed, same points */
    CIO_ASSERT_NE(a, c);                            /* another seed, others */
    CIO_ASSERT_CMP(__builtin_popcountll(a), >=, 6); /* about 1 in 4 of 63 */
    CIO_ASSERT_CMP(__builtin_popcountll(a), <=, 28);
}

/* syscall:NAME:N counts only the points of that name, and a direct syscall
 * point really fails the call with the errno it could return. */
static void test_syscall_named(void)
{
    CIO_ASSERT_OK(cio_fault_set("syscall:accept:2,syscall:connect:1"));
    CIO_ASSERT_EQ(cio_fault_hit(CIO_FAULT_OP, "read"), 0);
    CIO_ASSERT_EQ(cio_fault_hit(CIO_FAULT_OP, "accept"), 0);
    CIO_ASSERT_EQ(cio_fault_hit(CIO_FAULT_OP, "read"), 0);
    CIO_ASSERT_EQ(cio_fault_hit(CIO_FAULT_OP, "accept"), 1);
    CIO_ASSERT_EQ(cio_fault_hit(CIO_FAULT_OP, "accept"), 0);
    CIO_ASSERT_EQ(cio_fault_hit(CIO_FAULT_OP, "connect"), 1);
    CIO_ASSERT_EQ(cio_fault_hit(CIO_FAULT_OP, "connect"), 0);
    CIO_ASSERT_EQ(cio_fault_injected(CIO_FAULT_OP), 2);

    CIO_ASSERT_OK(cio_fault_set("syscall:socket:2"));
    int a = cio_socket(AF_INET, SOCK_STREAM, 0);
    CIO_ASSERT_CMP(a, >=, 0);
    CIO_ASSERT_ERR(cio_socket(AF_INET, SOCK_STREAM, 0), -EMFILE);
    int c = cio_socket(AF_INET, SOCK_STREAM, 0);
    CIO_ASSERT_CMP(c, >=, 0);
    close(a);
    close(c);
}

/* An operation through the backend completes with its kind's errno. */
static int main_op_fails(void *arg)
{
    (void)arg;
    int fds[2];
    CIO_ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds));
    CIO_ASSERT_EQ(cio_send(fds[0], "x", 1, 0), 1);
    CIO_ASSERT_OK(cio_fault_set("syscall:recv:1"));
    char c;
    CIO_ASSERT_ERR(cio_recv(fds[1], &c, 1, 0), -ECONNRESET); /* native op or syscall */
    CIO_ASSERT_EQ(cio_recv(fds[1], &c, 1, 0), 1);            /* the next one works */
    CIO_ASSERT_EQ(c, 'x');
    CIO_ASSERT_OK(cio_fault_set(NULL));
    close(fds[0]);
    close(fds[1]);
    return 0;
}

static void test_op_fails(void)
{
    CIO_ASSERT_OK(cio_test_run(main_op_fails, NULL));
}

CIO_TEST_MAIN(((cio_test_case[]){
    CIO_TEST(test_parse_errors, "bad CIO_FAULT rules are -EINVAL with a message naming the rule"),
    CIO_TEST(test_nth, "alloc:N / op:N fail exactly the Nth point of their kind; count fails none"),
    CIO_TEST(test_every, "alloc:every:N fails every Nth point"),
    CIO_TEST(test_random_reproducible, "alloc:random:SEED:N: the same seed fails the same points"),
    CIO_TEST(test_syscall_named, "syscall:NAME:N counts only NAME; cio_socket then fails -EMFILE"),
    CIO_TEST(test_op_fails, "a failed recv completes with -ECONNRESET, the next one works"),
}))
