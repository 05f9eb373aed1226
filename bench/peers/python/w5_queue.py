"""W5 queue: P producers and P consumers over one bounded queue; N integers; check the sum."""
import asyncio
import time

import _common


def main():
    p = _common.parser("w5-queue", __doc__)
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--p", type=int, default=1, help="producers and consumers each")
    p.add_argument("--maxsize", type=int, default=128)
    args = p.parse_args()
    n, pairs = args.n, args.p

    async def bench():
        queue = asyncio.Queue(maxsize=args.maxsize)

        async def producer(lo, hi):
            for i in range(lo, hi):
                await queue.put(i)

        async def consumer():
            total = 0
            while (item := await queue.get()) is not None:
                total += item
            return total

        t0 = time.perf_counter()
        consumers = [asyncio.create_task(consumer()) for _ in range(pairs)]
        bounds = [n * k // pairs for k in range(pairs + 1)]
        await asyncio.gather(*[asyncio.create_task(producer(bounds[k], bounds[k + 1]))
                               for k in range(pairs)])
        for _ in range(pairs):
            await queue.put(None)  # one end-of-stream marker per consumer
        total = sum(await asyncio.gather(*consumers))
        return total, time.perf_counter() - t0

    total, secs = _common.run(bench, args)
    if total != n * (n - 1) // 2:
        _common.fail(args, f"sum is {total}, expected {n * (n - 1) // 2}")
    _common.report(args, n=n, p=pairs, secs=secs, ns_per_item=secs * 1e9 / n)


if __name__ == "__main__":
    main()
