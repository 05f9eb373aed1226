"""W10 to_thread: N calls of a function that returns at once, run on the default thread pool
through asyncio.to_thread, at most 64 in flight."""
import asyncio
import time

import _common


def work():
    return 1


def main():
    p = _common.parser("w10-to-thread", __doc__)
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--inflight", type=int, default=64)
    args = p.parse_args()

    async def bench():
        started = total = 0

        async def caller():
            nonlocal started, total
            while started < args.n:
                started += 1
                result = await asyncio.to_thread(work)
                total += result

        t0 = time.perf_counter()
        await asyncio.gather(*[asyncio.create_task(caller()) for _ in range(args.inflight)])
        return total, time.perf_counter() - t0

    total, secs = _common.run(bench, args)
    if total != args.n:
        _common.fail(args, f"{total} calls returned, expected {args.n}")
    _common.report(args, n=args.n, inflight=args.inflight, secs=secs,
                   ns_per_call=secs * 1e9 / args.n)


if __name__ == "__main__":
    main()
