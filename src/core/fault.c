/* The fault seam (include/cio/fault.h): rules parsed from CIO_FAULT, counters
 * shared by every thread, and the at-exit report the torture runner reads.
 *
 * Each kind keeps one counter of points passed. A point fails when its index
 * matches the kind's rule (the Nth, every Nth, or a seeded 1-in-N draw that
 * depends only on the index, so a run is reproducible whatever the threads do)
 * or when a named syscall rule matches the point's own per-name count. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cio/fault.h"

enum { RULE_NONE, RULE_NTH, RULE_EVERY, RULE_RANDOM };

typedef struct {
    int mode;
    uint64_t n;
    uint64_t seed;
} rule;

enum { MAX_NAMED = 8 };

typedef struct {
    char name[24];
    uint64_t n;
    _Atomic uint64_t seen;
} named_rule;

static rule g_rule[2];
static named_rule g_named[MAX_NAMED];
static int g_named_count;
static _Atomic uint64_t g_points[2], g_injected[2];

CIO_API int cio_fault_armed;

static uint64_t mix(uint64_t x) /* splitmix64 finaliser */
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static int rule_fires(const rule *r, uint64_t index)
{
    switch (r->mode) {
    case RULE_NTH:
        return index == r->n;
    case RULE_EVERY:
        return index % r->n == 0;
    case RULE_RANDOM:
        return mix(r->seed ^ index) % r->n == 0;
    default:
        return 0;
    }
}

CIO_API int cio_fault_hit(enum cio_fault_kind kind, const char *name)
{
    if (kind != CIO_FAULT_ALLOC && kind != CIO_FAULT_OP)
        return 0;
    uint64_t index = atomic_fetch_add(&g_points[kind], 1) + 1;
    int fire = rule_fires(&g_rule[kind], index);
    if (kind == CIO_FAULT_OP && name) {
        for (int i = 0; i < g_named_count; i++) {
            named_rule *nr = &g_named[i];
            if (strcmp(nr->name, name) == 0 && atomic_fetch_add(&nr->seen, 1) + 1 == nr->n)
                fire = 1;
        }
    }
    if (fire)
        atomic_fetch_add(&g_injected[kind], 1);
    return fire;
}

CIO_API uint64_t cio_fault_points(enum cio_fault_kind kind)
{
    return kind == CIO_FAULT_ALLOC || kind == CIO_FAULT_OP ? atomic_load(&g_points[kind]) : 0;
}

CIO_API uint64_t cio_fault_injected(enum cio_fault_kind kind)
{
    return kind == CIO_FAULT_ALLOC || kind == CIO_FAULT_OP ? atomic_load(&g_injected[kind]) : 0;
}

static int parse_count(const char *s, uint64_t *out)
{
    char *end;
    if (!s || *s < '0' || *s > '9') /* strtoull would take "-1" and " 1" */
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || v == 0)
        return -1;
    *out = v;
    return 0;
}

/* Parses one rule ("alloc:every:3") into the staging tables. */
static int parse_rule(char *text, rule *rules, named_rule *named, int *named_count)
{
    char *fields[4] = {0};
    int nf = 0;
    for (char *save = NULL, *f = strtok_r(text, ":", &save); f && nf < 4;
         f = strtok_r(NULL, ":", &save))
        fields[nf++] = f;
    if (nf == 1 && strcmp(fields[0], "count") == 0)
        return 0;
    if (nf >= 2 && strcmp(fields[0], "syscall") == 0) {
        if (nf != 3 || *named_count == MAX_NAMED || strlen(fields[1]) >= sizeof named->name)
            return -1;
        named_rule *nr = &named[(*named_count)++];
        strcpy(nr->name, fields[1]);
        return parse_count(fields[2], &nr->n);
    }
    int kind;
    if (nf >= 2 && (strcmp(fields[0], "alloc") == 0 || strcmp(fields[0], "malloc") == 0))
        kind = CIO_FAULT_ALLOC;
    else if (nf >= 2 && strcmp(fields[0], "op") == 0)
        kind = CIO_FAULT_OP;
    else
        return -1;
    rule *r = &rules[kind];
    if (nf == 2) {
        r->mode = RULE_NTH;
        return parse_count(fields[1], &r->n);
    }
    if (nf == 3 && strcmp(fields[1], "every") == 0) {
        r->mode = RULE_EVERY;
        return parse_count(fields[2], &r->n);
    }
    if (nf == 4 && strcmp(fields[1], "random") == 0) {
        r->mode = RULE_RANDOM;
        return parse_count(fields[3], &r->n) || parse_count(fields[2], &r->seed) ? -1 : 0;
    }
    return -1;
}

CIO_API int cio_fault_set(const char *spec)
{
    rule rules[2] = {{0}};
    named_rule named[MAX_NAMED];
    int named_count = 0;
    int counting = 0;
    memset(named, 0, sizeof named);
    if (spec && *spec) {
        char *copy = strdup(spec); /* not cio__strdup: the seam must not fail itself */
        if (!copy)
            return -ENOMEM;
        for (char *save = NULL, *t = strtok_r(copy, ",", &save); t;
             t = strtok_r(NULL, ",", &save)) {
            char bad[64];
            snprintf(bad, sizeof bad, "%s", t);
            if (parse_rule(t, rules, named, &named_count) < 0) {
                free(copy);
                return cio_fail(-EINVAL, "CIO_FAULT: cannot parse rule \"%s\"", bad);
            }
        }
        free(copy);
        counting = 1;
    }
    cio_fault_armed = 0;
    memcpy(g_rule, rules, sizeof rules);
    memcpy(g_named, named, sizeof named);
    g_named_count = named_count;
    for (int k = 0; k < 2; k++) {
        atomic_store(&g_points[k], 0);
        atomic_store(&g_injected[k], 0);
    }
    cio_fault_armed = counting;
    return 0;
}

static const char *g_report_path;

static void write_report(void)
{
    FILE *f = fopen(g_report_path, "w");
    if (!f)
        return;
    fprintf(f, "alloc %llu %llu\nop %llu %llu\n",
            (unsigned long long)atomic_load(&g_points[CIO_FAULT_ALLOC]),
            (unsigned long long)atomic_load(&g_injected[CIO_FAULT_ALLOC]),
            (unsigned long long)atomic_load(&g_points[CIO_FAULT_OP]),
            (unsigned long long)atomic_load(&g_injected[CIO_FAULT_OP]));
    fclose(f);
}

/* Armed before main so that the first allocation already counts. */
__attribute__((constructor)) static void fault_from_environment(void)
{
    const char *spec = getenv("CIO_FAULT");
    if (!spec || !*spec)
        return;
    if (cio_fault_set(spec) < 0) {
        fprintf(stderr, "cio: CIO_FAULT=\"%s\" does not parse; the seam stays off\n", spec);
        return;
    }
    g_report_path = getenv("CIO_FAULT_REPORT");
    if (g_report_path && *g_report_path)
        atexit(write_report);
}
