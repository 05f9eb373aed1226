/* Command-line convention shared by the C peers (see bench/README.md): --key=value. */
#ifndef BENCH_ARGS_H
#define BENCH_ARGS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Return the integer value of --key=value in argv, or def when it is absent. Any argument
 * that is not --key=value for a known key is rejected by args_check. */
static long arg_long(int argc, char **argv, const char *key, long def)
{
    size_t len = strlen(key);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) == 0 && strncmp(a + 2, key, len) == 0 && a[2 + len] == '=') {
            char *end;
            long v = strtol(a + 3 + len, &end, 10);
            if (*end != '\0' || v < 0) {
                fprintf(stderr, "%s: bad value in %s\n", argv[0], a);
                exit(2);
            }
            return v;
        }
    }
    return def;
}

/* Reject arguments outside the NULL-terminated list of known keys. */
static void args_check(int argc, char **argv, const char *const *keys)
{
    for (int i = 1; i < argc; i++) {
        int known = 0;
        for (const char *const *k = keys; *k != NULL && !known; k++) {
            size_t len = strlen(*k);
            known = strncmp(argv[i], "--", 2) == 0 && strncmp(argv[i] + 2, *k, len) == 0 &&
                    argv[i][2 + len] == '=';
        }
        if (!known) {
            fprintf(stderr, "%s: unknown argument %s\n", argv[0], argv[i]);
            exit(2);
        }
    }
}

#endif
