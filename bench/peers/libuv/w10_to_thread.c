/* W10 to_thread with libuv: N calls of a function that returns at once, run on libuv's
 * thread pool with uv_queue_work, at most 64 in flight: each completion submits the next. */
#include <uv.h>

#include "args.h"

struct call {
    uv_work_t req;
    int result;
};

static long n, submitted, completed, total;

static int work(void)
{
    return 1;
}

static void on_work(uv_work_t *req)
{
    struct call *c = req->data;
    c->result = work();
}

static void submit(uv_loop_t *loop, struct call *c);

static void on_done(uv_work_t *req, int status)
{
    struct call *c = req->data;
    if (status == 0) {
        completed++;
        total += c->result;
    }
    if (submitted < n)
        submit(req->loop, c);
}

static void submit(uv_loop_t *loop, struct call *c)
{
    submitted++;
    c->req.data = c;
    uv_queue_work(loop, &c->req, on_work, on_done);
}

int main(int argc, char **argv)
{
    static const char *const keys[] = {"n", "inflight", NULL};
    args_check(argc, argv, keys);
    n = arg_long(argc, argv, "n", 100000);
    long inflight = arg_long(argc, argv, "inflight", 64);

    struct call *calls = calloc((size_t)inflight, sizeof(*calls));
    if (calls == NULL)
        return 1;
    uv_loop_t *loop = uv_default_loop();
    uint64_t t0 = uv_hrtime();
    for (long i = 0; i < inflight && submitted < n; i++)
        submit(loop, &calls[i]);
    uv_run(loop, UV_RUN_DEFAULT);
    double secs = (double)(uv_hrtime() - t0) / 1e9;

    if (completed != n || total != n) {
        fprintf(stderr, "w10-to-thread: libuv: FAILED: %ld calls completed, sum %ld\n", completed,
                total);
        return 1;
    }
    const char *pool = getenv("UV_THREADPOOL_SIZE");
    printf("impl=libuv workload=w10-to-thread n=%ld inflight=%ld workers=%s secs=%.6f "
           "ns_per_call=%.1f note=uv_queue_work\n",
           n, inflight, pool != NULL ? pool : "4", secs, secs * 1e9 / (double)n);
    uv_loop_close(loop);
    free(calls);
    return 0;
}
