/* W3 sleepers with libuv: N timers start together; timer i fires after i/N seconds (libuv
 * timers count whole milliseconds); the run ends when every timer has fired and closed. */
#include <uv.h>

#include "args.h"

static long fired;
static long long sum;

static void on_timer(uv_timer_t *t)
{
    fired++;
    sum += (long)(uintptr_t)t->data;
    uv_close((uv_handle_t *)t, NULL);
}

int main(int argc, char **argv)
{
    static const char *const keys[] = {"n", NULL};
    args_check(argc, argv, keys);
    long n = arg_long(argc, argv, "n", 100000);

    uv_timer_t *timers = malloc(sizeof(*timers) * (size_t)n);
    if (timers == NULL)
        return 1;
    uv_loop_t *loop = uv_default_loop();
    uv_update_time(loop);
    uint64_t t0 = uv_hrtime();
    for (long i = 0; i < n; i++) {
        /* libuv counts whole milliseconds from a loop time rounded down; round the
         * deadline t0 + i/N up, so no timer fires before its i/N seconds are out. */
        uint64_t deadline_ns = t0 + (uint64_t)(i * 1000000000LL / n);
        uint64_t timeout_ms = (deadline_ns + 999999) / 1000000 - uv_now(loop);
        uv_timer_init(loop, &timers[i]);
        timers[i].data = (void *)(uintptr_t)i;
        uv_timer_start(&timers[i], on_timer, timeout_ms, 0);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    double secs = (double)(uv_hrtime() - t0) / 1e9;

    if (fired != n || sum != (long long)n * (n - 1) / 2) {
        fprintf(stderr, "w3-sleepers: libuv: FAILED: %ld timers fired, sum %lld\n", fired, sum);
        return 1;
    }
    printf("impl=libuv workload=w3-sleepers n=%ld secs=%.6f overhead_secs=%.6f note=uv_timer-ms\n",
           n, secs, secs - 1.0);
    uv_loop_close(loop);
    free(timers);
    return 0;
}
