/* What every example shares: the --scale option and a stopwatch.
 *
 * Each example takes `--scale S`, a multiplier on every sleep it makes (default
 * 1.0), so that tests run the same stories ten times faster with --scale 0.1.
 * The durations in the code are the guide's; S() scales them. */
#ifndef CIO_EXAMPLE_H
#define CIO_EXAMPLE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cio.h"

static double example_scale = 1.0;
static double example_t0;
static int example_virtual_clock;

/* A duration from the guide, scaled by --scale. */
static inline double S(double seconds)
{
    return seconds * example_scale;
}

/* Parses --scale S (or --scale=S) and --virtual-clock (see example_run), starts the stopwatch,
 * makes stdout line buffered so that the story reads in order even through a pipe. Exits 2 on a bad
 * argument. */
static inline void example_init(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--virtual-clock")) {
            example_virtual_clock = 1;
            continue;
        }
        const char *v = NULL;
        if (!strcmp(argv[i], "--scale") && i + 1 < argc)
            v = argv[++i];
        else if (!strncmp(argv[i], "--scale=", 8))
            v = argv[i] + 8;
        char *end = NULL;
        double s = v ? strtod(v, &end) : -1;
        if (!v || end == v || *end || !(s > 0)) {
            fprintf(stderr, "usage: %s [--scale S]   (S > 0 multiplies every sleep)\n", argv[0]);
            exit(2);
        }
        example_scale = s;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    example_t0 = cio_now();
}

/* cio_run, or with --virtual-clock a loop on the virtual clock (cio_opts):
 * time jumps from timer to timer, so the story's timings are exact whatever
 * the machine's load. Tests use it where the story is an ordering of timers. */
static inline int example_run(cio_fn story, void *arg)
{
    if (!example_virtual_clock)
        return cio_run(story, arg);
    example_t0 = 0; /* the virtual clock starts at 0: elapsed() inside the loop */
    return cio_run_opts(story, arg, &(cio_opts){.virtual_clock = 1});
}

/* Seconds since example_init (real time, on the loop's clock). */
static inline double elapsed(void)
{
    return cio_now() - example_t0;
}

/* The name of a cio return code for printing: "0", "-ECANCELED", ... */
static inline const char *errname(int err)
{
    switch (err) {
    case 0:
        return "0";
    case -ECANCELED:
        return "-ECANCELED";
    case -ETIMEDOUT:
        return "-ETIMEDOUT";
    case -EINVAL:
        return "-EINVAL";
    case -EIO:
        return "-EIO";
    case -ECONNREFUSED:
        return "-ECONNREFUSED";
    case -EDEADLK:
        return "-EDEADLK";
    case -ENOENT:
        return "-ENOENT";
    }
    return cio_strerror(err);
}

#endif
