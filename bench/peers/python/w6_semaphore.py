"""W6 semaphore: N tasks, a semaphore of 100; each acquires, yields once, releases."""
import asyncio
import time

import _common


def main():
    p = _common.parser("w6-semaphore", __doc__)
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--limit", type=int, default=100)
    args = p.parse_args()

    async def bench():
        sem = asyncio.Semaphore(args.limit)
        holders = peak = done = 0

        async def task():
            nonlocal holders, peak, done
            async with sem:
                holders += 1
                peak = max(peak, holders)
                await asyncio.sleep(0)
                holders -= 1
                done += 1

        t0 = time.perf_counter()
        await asyncio.gather(*[asyncio.create_task(task()) for _ in range(args.n)])
        return done, peak, time.perf_counter() - t0

    done, peak, secs = _common.run(bench, args)
    if done != args.n or peak > args.limit:
        _common.fail(args, f"{done} of {args.n} done, peak holders {peak} (limit {args.limit})")
    _common.report(args, n=args.n, limit=args.limit, peak=peak, secs=secs,
                   ns_per_task=secs * 1e9 / args.n)


if __name__ == "__main__":
    main()
