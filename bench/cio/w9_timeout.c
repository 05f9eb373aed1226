/* W9 timeout: N times, open a 10-second timeout scope around one yield and
 * close it; the deadline never fires. Headline: ns per scope. */
#include "bench.h"
#include "cio.h"

static long n;
static const char *backend;

static int run(void *arg)
{
    double *secs = arg;
    backend = cio_backend_name();
    long completed = 0;
    double t0 = bench_now();
    for (long i = 0; i < n; i++) {
        cio_scope s;
        int err = cio_timeout_enter(&s, 10.0);
        if (err)
            return err;
        err = cio_yield();
        int fired = cio_timeout_exit(&s);
        if (err || fired)
            return err ? err : fired;
        completed++;
    }
    *secs = bench_now() - t0;
    return completed == n ? 0 : -EPROTO;
}

int main(int argc, char **argv)
{
    static const char *const keys[] = {"n", NULL};
    args_check(argc, argv, keys);
    n = arg_long(argc, argv, "n", 1000000);
    double secs = 0;
    int err = cio_run(run, &secs);
    if (err) {
        fprintf(stderr, "w9-timeout: cio: FAILED: %s\n", cio_strerror(err));
        return 1;
    }
    printf("impl=%s workload=w9-timeout n=%ld secs=%.6f ns_per_scope=%.1f\n", bench_impl(backend),
           n, secs, secs * 1e9 / (double)n);
    return 0;
}
