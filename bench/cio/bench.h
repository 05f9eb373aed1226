/* Shared bits of cio's benchmark programs: the --key=value arguments of
 * bench/README.md and a monotonic clock. */
#ifndef CIO_BENCH_H
#define CIO_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "args.h" /* bench/peers/libuv/args.h: the C peers' convention */

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The backend label: cio-epoll or cio-uring, from the loop that ran. */
static inline const char *bench_impl(const char *backend)
{
    static char buf[32];
    snprintf(buf, sizeof(buf), "cio-%s", backend ? backend : "?");
    return buf;
}

#endif
