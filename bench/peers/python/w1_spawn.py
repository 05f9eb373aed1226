"""W1 spawn: create N tasks whose body returns at once, in batches; gather each batch."""
import asyncio
import time

import _common


async def body():
    return 1


def main():
    p = _common.parser("w1-spawn", __doc__)
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--batch", type=int, default=10_000)
    args = p.parse_args()

    async def bench():
        done = 0
        t0 = time.perf_counter()
        for start in range(0, args.n, args.batch):
            size = min(args.batch, args.n - start)
            results = await asyncio.gather(*[asyncio.create_task(body()) for _ in range(size)])
            done += sum(results)
        return done, time.perf_counter() - t0

    done, secs = _common.run(bench, args)
    if done != args.n:
        _common.fail(args, f"{done} tasks returned, expected {args.n}")
    _common.report(args, n=args.n, batch=args.batch, secs=secs, ns_per_task=secs * 1e9 / args.n)


if __name__ == "__main__":
    main()
