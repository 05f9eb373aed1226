/* Shared by the tests that run examples/ programs and check the story their
 * output tells: run one with --scale U, find lines in order, read the numbers
 * (times) printed after labels. Include after cio_test.h, with
 * CIO_EXAMPLES_DIR defined to the directory of the built examples. */
#ifndef CIO_EXAMPLE_RUNNER_H
#define CIO_EXAMPLE_RUNNER_H

#include <stdarg.h>

#include "cio_test.h"

#ifndef CIO_EXAMPLES_DIR
#error "build with -DCIO_EXAMPLES_DIR=<directory of the built examples>"
#endif

#define U 0.1 /* the scale the examples run at: one second of the guide */

typedef struct run {
    char *out;  /* what the program wrote to stdout */
    int status; /* exit status; 128 + N when killed by signal N */
} run;

/* Runs `cmd` through the shell and captures its stdout. */
static inline run run_cmd(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        CIO_FAIL_AT("popen(%s) failed", cmd);
    run r = {0};
    size_t len = 0, cap = 4096;
    r.out = malloc(cap);
    CIO_ASSERT(r.out != NULL);
    for (;;) {
        size_t n = fread(r.out + len, 1, cap - len - 1, p);
        if (n == 0)
            break;
        len += n;
        if (cap - len < 1024) {
            cap *= 2;
            r.out = realloc(r.out, cap);
            CIO_ASSERT(r.out != NULL);
        }
    }
    r.out[len] = 0;
    int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    return r;
}

/* Runs examples/<name> --scale U plus `extra` arguments and fails unless it
 * exited 0. */
static inline run run_example_with(const char *name, const char *extra)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "'%s/%s' --scale %g %s", CIO_EXAMPLES_DIR, name, U, extra);
    run r = run_cmd(cmd);
    if (r.status != 0)
        CIO_FAIL_AT("%s exited %d; its output:\n%s", name, r.status, r.out);
    return r;
}

static inline run run_example(const char *name)
{
    return run_example_with(name, "");
}

/* The index of the first line at or after line `from` that contains
 * `needle`, or -1. */
static inline int line_of_from(const char *out, const char *needle, int from)
{
    int line = 0;
    for (const char *p = out; *p; line++) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (line >= from) {
            char *copy = strndup(p, len);
            int hit = copy && strstr(copy, needle) != NULL;
            free(copy);
            if (hit)
                return line;
        }
        if (!end)
            break;
        p = end + 1;
    }
    return -1;
}

static inline int line_of(const char *out, const char *needle)
{
    return line_of_from(out, needle, 0);
}

/* How many lines contain `needle`. */
static inline int count_lines(const char *out, const char *needle)
{
    int n = 0;
    for (int at = line_of(out, needle); at >= 0; at = line_of_from(out, needle, at + 1))
        n++;
    return n;
}

static inline void expect_no_line(const run *r, const char *needle)
{
    if (line_of(r->out, needle) >= 0)
        CIO_FAIL_AT("unexpected \"%s\" in:\n%s", needle, r->out);
}

/* Fails unless the needles appear in this order (each after the previous). */
static inline void expect_story(const run *r, ...)
{
    va_list ap;
    va_start(ap, r);
    const char *at = r->out, *prev = "(start)";
    for (const char *needle = va_arg(ap, const char *); needle; needle = va_arg(ap, const char *)) {
        const char *hit = strstr(at, needle);
        if (!hit)
            CIO_FAIL_AT("no \"%s\" after \"%s\" in:\n%s", needle, prev, r->out);
        at = hit + strlen(needle);
        prev = needle;
    }
    va_end(ap);
}

static inline int count(const run *r, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(r->out, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* The number right after the first `label` at or after `from` in the output. */
static inline double number_after_in(const run *r, const char *from, const char *label)
{
    const char *start = from ? strstr(r->out, from) : r->out;
    const char *p = start ? strstr(start, label) : NULL;
    if (!p)
        CIO_FAIL_AT("no \"%s\" in:\n%s", label, r->out);
    char *end;
    double v = strtod(p + strlen(label), &end);
    if (end == p + strlen(label))
        CIO_FAIL_AT("no number after \"%s\" in:\n%s", label, r->out);
    return v;
}

static inline double number_after(const run *r, const char *label)
{
    return number_after_in(r, NULL, label);
}

/* The number printed right after the n-th (from 1) occurrence of `label`. */
static inline double nth_number_after(const run *r, const char *label, int nth)
{
    const char *p = r->out;
    for (int i = 0; p && i < nth; i++) {
        p = strstr(p, label);
        if (p && i + 1 < nth)
            p += strlen(label);
    }
    if (!p)
        CIO_FAIL_AT("no \"%s\" (#%d) in:\n%s", label, nth, r->out);
    char *end;
    double v = strtod(p + strlen(label), &end);
    if (end == p + strlen(label))
        CIO_FAIL_AT("no number after \"%s\" in:\n%s", label, r->out);
    return v;
}

#endif
