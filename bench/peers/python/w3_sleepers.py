"""W3 sleepers: N tasks start together, task i sleeps i/N seconds; gather all."""
import asyncio
import time

import _common


async def sleeper(i, n):
    await asyncio.sleep(i / n)
    return i


def main():
    p = _common.parser("w3-sleepers", __doc__)
    p.add_argument("--n", type=int, default=100_000)
    args = p.parse_args()
    n = args.n

    async def bench():
        t0 = time.perf_counter()
        results = await asyncio.gather(*[asyncio.create_task(sleeper(i, n)) for i in range(n)])
        return sum(results), time.perf_counter() - t0

    total, secs = _common.run(bench, args)
    if total != n * (n - 1) // 2:
        _common.fail(args, f"sum of results {total}, expected {n * (n - 1) // 2}")
    _common.report(args, n=n, secs=secs, overhead_secs=secs - 1.0)


if __name__ == "__main__":
    main()
