/* W5 queue: P producers and P consumers over one bounded queue (maxsize 128);
 * N integers in total; each consumer ends at an end-of-stream marker. Checks
 * the sum. Headline: ns per item. */
#include <stdint.h>

#include "bench.h"
#include "cio.h"

static long n, pairs, maxsize;
static cio_queue queue;

typedef struct producer_arg {
    long lo, hi;
} producer_arg;

typedef struct consumer_arg {
    long long total;
} consumer_arg;

/* Items travel as value+1, so that NULL can be the end-of-stream marker. */
static int producer(void *arg)
{
    producer_arg *p = arg;
    for (long i = p->lo; i < p->hi; i++) {
        int err = cio_queue_put(&queue, (void *)(intptr_t)(i + 1));
        if (err)
            return err;
    }
    return 0;
}

static int consumer(void *arg)
{
    consumer_arg *c = arg;
    for (;;) {
        void *v;
        int err = cio_queue_get(&queue, &v);
        if (err)
            return err;
        if (!v)
            return 0;
        c->total += (intptr_t)v - 1;
    }
}

typedef struct result {
    long long sum;
    double secs;
} result;

static int run(void *arg)
{
    result *res = arg;
    int err = cio_queue_init(&queue, (size_t)maxsize);
    if (err)
        return err;
    cio_task **prod = calloc((size_t)pairs, sizeof(*prod));
    cio_task **cons = calloc((size_t)pairs, sizeof(*cons));
    producer_arg *pa = calloc((size_t)pairs, sizeof(*pa));
    consumer_arg *ca = calloc((size_t)pairs, sizeof(*ca));
    if (!prod || !cons || !pa || !ca)
        return -ENOMEM;
    double t0 = bench_now();
    for (long k = 0; k < pairs; k++) {
        if (!(cons[k] = cio_spawn(consumer, &ca[k])))
            return -ENOMEM;
    }
    for (long k = 0; k < pairs; k++) {
        pa[k].lo = n * k / pairs;
        pa[k].hi = n * (k + 1) / pairs;
        if (!(prod[k] = cio_spawn(producer, &pa[k])))
            return -ENOMEM;
    }
    err = cio_gather(prod, (size_t)pairs, 0);
    for (long k = 0; k < pairs && !err; k++)
        err = cio_queue_put(&queue, NULL); /* one end-of-stream marker per consumer */
    int cerr = cio_gather(cons, (size_t)pairs, 0);
    for (long k = 0; k < pairs; k++) {
        cio_join(prod[k]);
        cio_join(cons[k]);
        res->sum += ca[k].total;
    }
    res->secs = bench_now() - t0;
    cio_queue_destroy(&queue);
    free(prod);
    free(cons);
    free(pa);
    free(ca);
    return err ? err : cerr;
}

int main(int argc, char **argv)
{
    static const char *const keys[] = {"n", "p", "maxsize", NULL};
    args_check(argc, argv, keys);
    n = arg_long(argc, argv, "n", 1000000);
    pairs = arg_long(argc, argv, "p", 1);
    maxsize = arg_long(argc, argv, "maxsize", 128);
    if (pairs < 1) {
        fprintf(stderr, "w5-queue: --p must be at least 1\n");
        return 2;
    }
    result res = {0, 0};
    int err = cio_run(run, &res);
    if (err) {
        fprintf(stderr, "w5-queue: cio: FAILED: %s\n", cio_strerror(err));
        return 1;
    }
    long long want = (long long)n * (n - 1) / 2;
    if (res.sum != want) {
        fprintf(stderr, "w5-queue: cio: FAILED: sum is %lld, expected %lld\n", res.sum, want);
        return 1;
    }
    double secs = res.secs;
    printf("impl=cio workload=w5-queue n=%ld p=%ld maxsize=%ld secs=%.6f ns_per_item=%.1f\n", n,
           pairs, maxsize, secs, secs * 1e9 / (double)(n ? n : 1));
    return 0;
}
