/* Helpers shared by the tests of cio's synchronization primitives. */
#ifndef CIO_SYNC_TEST_H
#define CIO_SYNC_TEST_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strerrorname_np, fmemopen */
#endif

#include <stdarg.h>

#include "cio_test.h"

/* A trace of what the tasks did, in order: "A1 B1 A2 ...". */
static char trace_buf[8192];

__attribute__((unused)) static void trace(const char *fmt, ...) CIO_PRINTF(1, 2);
static void trace(const char *fmt, ...)
{
    size_t len = strlen(trace_buf);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(trace_buf + len, sizeof(trace_buf) - len, fmt, ap);
    va_end(ap);
    len = strlen(trace_buf);
    if (len + 1 < sizeof(trace_buf)) {
        trace_buf[len] = ' ';
        trace_buf[len + 1] = 0;
    }
}

/* The trace without its trailing space. */
__attribute__((unused)) static const char *traced(void)
{
    static char copy[sizeof(trace_buf)];
    memcpy(copy, trace_buf, sizeof(copy));
    size_t len = strlen(copy);
    if (len && copy[len - 1] == ' ')
        copy[len - 1] = 0;
    return copy;
}

__attribute__((unused)) static cio_task *spawn_ok(cio_fn fn, void *arg)
{
    cio_task *t = cio_spawn(fn, arg);
    CIO_ASSERT(t != NULL);
    return t;
}

/* Lets every ready task run until all are parked (a few rounds of the loop). */
__attribute__((unused)) static void settle(void)
{
    for (int i = 0; i < 8; i++)
        CIO_ASSERT_OK(cio_yield());
}

/* cio_test_run_virtual with an empty trace (tests also run in one process with
 * CIO_TEST_NOFORK=1). */
__attribute__((unused)) static int run_virtual(cio_fn main, void *arg)
{
    trace_buf[0] = 0;
    return cio_test_run_virtual(main, arg);
}

/* "0", "ECANCELED", "ETIMEDOUT", ... for traces. */
__attribute__((unused)) static const char *ename(int err)
{
    if (!err)
        return "0";
    const char *n = strerrorname_np(err < 0 ? -err : err);
    return n ? n : "?";
}

#endif
