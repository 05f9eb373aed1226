/* cpu_bound_executor — CPU-heavy work on an executor sized to the cores.
 *
 *     def cpu_heavy(data: list[int]) -> int:
 *         return sum(x ** 2 for x in data)      # pure computation
 *
 *     async def pipeline(items):
 *         loop = asyncio.get_running_loop()
 *         with ProcessPoolExecutor() as pool:
 *             return await loop.run_in_executor(pool, cpu_heavy, items)
 *
 *     data = list(range(100_000))
 *     print(f"Sum of squares: {await pipeline(data)}")   # 333328333350000
 *
 * Python needs processes because of the GIL. C has none: threads of one
 * executor run in parallel, share memory, and need no pickling. Here the sum
 * of squares of 0 .. N-1 is split into chunks and gathered, first on an
 * executor of one thread, then on one thread per core, and the program
 * prints both times and the speedup it measured. The loop stays free all
 * along: a heartbeat task ticks meanwhile.
 *
 * --scale S multiplies the amount of work (N = S x 2,000,000,000). Each chunk
 * really computes its sum: the compiler is kept from vectorizing the loop or
 * replacing it with the closed form, which it would otherwise do. */
#include <time.h>
#include <unistd.h>

#include "example.h"

typedef struct chunk {
    uint64_t lo, hi; /* [lo, hi) */
    uint64_t sum;    /* the sum of squares, modulo 2^64 */
} chunk;

static int running, most_running; /* chunks being computed at once, and the peak */

/* def cpu_heavy(data): return sum(x ** 2 for x in data) — over [lo, hi). */
static int cpu_heavy(void *arg)
{
    chunk *c = arg;
    int now = __atomic_add_fetch(&running, 1, __ATOMIC_RELAXED);
    int peak = __atomic_load_n(&most_running, __ATOMIC_RELAXED);
    while (now > peak && !__atomic_compare_exchange_n(&most_running, &peak, now, 1,
                                                      __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    uint64_t sum = 0;
    for (uint64_t x = c->lo; x < c->hi; x++) {
        uint64_t v = x;
        __asm__("" : "+r"(v)); /* opaque: one multiply-add per number, honestly */
        sum += v * v;
    }
    c->sum = sum;
    __atomic_sub_fetch(&running, 1, __ATOMIC_RELAXED);
    return 0;
}

/* CPU seconds the whole process has used. */
static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* n(n-1)(2n-1)/6, modulo 2^64 like the chunks' sums. */
static uint64_t closed_form(uint64_t n)
{
    unsigned __int128 s = (unsigned __int128)n * (n - 1) * (2 * n - 1) / 6;
    return (uint64_t)s;
}

typedef struct chunk_call {
    cio_executor *pool;
    chunk c;
} chunk_call;

static int run_chunk(void *arg)
{
    chunk_call *cc = arg;
    return cio_executor_run(cc->pool, cpu_heavy, &cc->c);
}

static int ticks;

static int heartbeat(void *arg)
{
    (void)arg;
    while (cio_sleep(0.01) == 0)
        ticks++;
    return 0;
}

/* Sums squares of [0, n) in `nchunks` chunks on a pool of `threads`, and
 * says how many chunks ran at once at most and how many cores were busy on
 * average (the CPU time used over the wall time). Returns the seconds it
 * took, or a negative error. */
static double sum_on_pool(uint64_t n, size_t nchunks, size_t threads, uint64_t *sum, int *peak,
                          double *busy)
{
    cio_executor *pool;
    int err = cio_executor_new(&pool, threads);
    if (err)
        return err;
    chunk_call *calls = calloc(nchunks, sizeof(*calls));
    cio_task **t = calloc(nchunks, sizeof(*t));
    if (!calls || !t) {
        free(calls);
        free(t);
        cio_executor_free(pool);
        return -ENOMEM;
    }
    most_running = 0;
    double t0 = cio_now(), cpu0 = cpu_seconds();
    size_t spawned = 0;
    for (size_t i = 0; i < nchunks; i++) {
        calls[i] = (chunk_call){pool, {n * i / nchunks, n * (i + 1) / nchunks, 0}};
        if (!(t[spawned] = cio_spawn(run_chunk, &calls[i])))
            break;
        spawned++;
    }
    err = spawned == nchunks ? cio_gather(t, spawned, 0) : -ENOMEM;
    double secs = cio_now() - t0;
    *busy = (cpu_seconds() - cpu0) / secs;
    *peak = most_running;
    *sum = 0;
    for (size_t i = 0; i < spawned; i++) {
        cio_join(t[i]);
        *sum += calls[i].c.sum;
    }
    free(calls);
    free(t);
    cio_executor_free(pool);
    return err ? err : secs;
}

static int story(void *arg)
{
    (void)arg;
    cio_task *hb = cio_spawn(heartbeat, NULL);
    if (!hb)
        return -ENOMEM;

    /* The guide's program: one call on the pool. */
    chunk_call guide = {NULL, {0, 100000, 0}};
    int err = cio_executor_new(&guide.pool, 0);
    if (err)
        return err;
    err = run_chunk(&guide);
    cio_executor_free(guide.pool);
    if (err)
        return err;
    printf("Sum of squares: %llu\n", (unsigned long long)guide.c.sum);

    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    size_t cores = ncpu > 0 ? (size_t)ncpu : 1;
    uint64_t n = (uint64_t)(example_scale * 2e9);
    size_t nchunks = 4 * cores; /* a few per thread: the slowest thread sets the pace */
    printf("== sum of squares of 0 .. %llu in %zu chunks ==\n", (unsigned long long)(n - 1),
           nchunks);
    uint64_t want = closed_form(n), sum1, sumn;
    int peak1, peakn;
    double busy1, busyn;
    int ticks0 = ticks;
    double one = sum_on_pool(n, nchunks, 1, &sum1, &peak1, &busy1);
    if (one < 0)
        return (int)one;
    printf("1 thread: %.3f s, sum %s, %d chunk(s) at once, %.2f cores busy\n", one,
           sum1 == want ? "correct" : "WRONG", peak1, busy1);
    double many = sum_on_pool(n, nchunks, cores, &sumn, &peakn, &busyn);
    if (many < 0)
        return (int)many;
    printf("%zu threads: %.3f s, sum %s, %d chunk(s) at once, %.2f cores busy\n", cores, many,
           sumn == want ? "correct" : "WRONG", peakn, busyn);
    printf("speedup: %.2fx on %zu cores (no GIL: the threads ran in parallel)\n", one / many,
           cores);
    printf("heartbeat ticked %d times while the pools computed\n", ticks - ticks0);
    cio_cancel(hb);
    cio_join(hb);
    return sum1 == want && sumn == want ? 0 : -EPROTO;
}

int main(int argc, char **argv)
{
    example_init(argc, argv);
    int err = cio_run(story, NULL);
    if (err)
        fprintf(stderr, "failed: %s\n", cio_strerror(err));
    return err ? 1 : 0;
}
