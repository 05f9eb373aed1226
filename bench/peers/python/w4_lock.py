"""W4 lock: T tasks, each K times: lock, read counter, yield once, write counter+1, unlock."""
import asyncio
import time

import _common


def main():
    p = _common.parser("w4-lock", __doc__)
    p.add_argument("--tasks", type=int, default=1_000)
    p.add_argument("--iters", type=int, default=1_000)
    args = p.parse_args()

    async def bench():
        lock = asyncio.Lock()
        counter = 0

        async def worker():
            nonlocal counter
            for _ in range(args.iters):
                async with lock:
                    value = counter
                    await asyncio.sleep(0)
                    counter = value + 1

        t0 = time.perf_counter()
        await asyncio.gather(*[asyncio.create_task(worker()) for _ in range(args.tasks)])
        return counter, time.perf_counter() - t0

    counter, secs = _common.run(bench, args)
    n = args.tasks * args.iters
    if counter != n:
        _common.fail(args, f"counter is {counter}, expected {n}")
    _common.report(args, n=n, tasks=args.tasks, iters=args.iters, secs=secs,
                   ns_per_op=secs * 1e9 / n)


if __name__ == "__main__":
    main()
