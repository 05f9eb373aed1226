/* W2 pingpong: two tasks hand a token back and forth N times, each waiting on
 * its own event. Headline: ns per round trip. */
#include "bench.h"
#include "cio.h"

static long n;
static cio_event ping, pong;
static long hops;

static int player_a(void *arg)
{
    (void)arg;
    for (long i = 0; i < n; i++) {
        cio_event_set(&pong);
        int err = cio_event_wait(&ping);
        if (err)
            return err;
        cio_event_clear(&ping);
        hops++;
    }
    return 0;
}

static int player_b(void *arg)
{
    (void)arg;
    for (long i = 0; i < n; i++) {
        int err = cio_event_wait(&pong);
        if (err)
            return err;
        cio_event_clear(&pong);
        hops++;
        cio_event_set(&ping);
    }
    return 0;
}

static int run(void *arg)
{
    double *secs = arg;
    cio_event_init(&ping);
    cio_event_init(&pong);
    double t0 = bench_now();
    cio_task *t[2] = {cio_spawn(player_a, NULL), cio_spawn(player_b, NULL)};
    int err = cio_gather(t, 2, 0);
    cio_join(t[0]);
    cio_join(t[1]);
    *secs = bench_now() - t0;
    return err ? err : hops == 2 * n ? 0 : -EPROTO;
}

int main(int argc, char **argv)
{
    static const char *const keys[] = {"n", NULL};
    args_check(argc, argv, keys);
    n = arg_long(argc, argv, "n", 1000000);
    double secs = 0;
    int err = cio_run(run, &secs);
    if (err) {
        fprintf(stderr, "w2-pingpong: cio: FAILED: %s\n", cio_strerror(err));
        return 1;
    }
    printf("impl=cio workload=w2-pingpong n=%ld secs=%.6f ns_per_rt=%.1f\n", n, secs,
           secs * 1e9 / (double)n);
    return 0;
}
