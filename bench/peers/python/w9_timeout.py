"""W9 timeout: N times, open a 10-second timeout scope around one yield and close it."""
import asyncio
import time

import _common


def main():
    p = _common.parser("w9-timeout", __doc__)
    p.add_argument("--n", type=int, default=1_000_000)
    args = p.parse_args()

    async def bench():
        done = 0
        t0 = time.perf_counter()
        for _ in range(args.n):
            async with asyncio.timeout(10):
                await asyncio.sleep(0)
            done += 1
        return done, time.perf_counter() - t0

    done, secs = _common.run(bench, args)
    if done != args.n:
        _common.fail(args, f"{done} scopes closed, expected {args.n}")
    _common.report(args, n=args.n, secs=secs, ns_per_scope=secs * 1e9 / args.n)


if __name__ == "__main__":
    main()
