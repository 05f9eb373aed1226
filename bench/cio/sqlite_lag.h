/* The loop's lag during a W17-W19 run: a ticker task sleeps 1 ms at a time
 * and records how late it wakes. lag_start spawns it, lag_stop ends it, and
 * lag_p99_ms gives the 99th percentile of the delays in milliseconds. */
#ifndef CIO_SQLITE_LAG_H
#define CIO_SQLITE_LAG_H

#include <stdlib.h>

#include "cio.h"

static double lag_samples[1 << 20];
static size_t lag_n;
static int lag_stopping;
static cio_task *lag_task;

static int lag_ticker(void *arg)
{
    (void)arg;
    while (!lag_stopping) {
        double t0 = cio_now();
        if (cio_sleep(0.001))
            return 0;
        if (lag_n < sizeof(lag_samples) / sizeof(lag_samples[0]))
            lag_samples[lag_n++] = cio_now() - t0 - 0.001;
    }
    return 0;
}

static inline void lag_start(void)
{
    lag_stopping = 0;
    lag_n = 0;
    lag_task = cio_spawn(lag_ticker, NULL);
}

static inline void lag_stop(void)
{
    lag_stopping = 1;
    if (lag_task)
        cio_join(lag_task);
    lag_task = NULL;
}

static int lag_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static inline double lag_p99_ms(void)
{
    qsort(lag_samples, lag_n, sizeof(lag_samples[0]), lag_cmp);
    return lag_n ? lag_samples[lag_n * 99 / 100] * 1e3 : 0;
}

#endif
