"""W2 pingpong: two tasks hand a token back and forth N times, each waiting on its own Event."""
import asyncio
import time

import _common


def main():
    p = _common.parser("w2-pingpong", __doc__)
    p.add_argument("--n", type=int, default=1_000_000, help="round trips")
    args = p.parse_args()
    n = args.n

    async def bench():
        ping, pong = asyncio.Event(), asyncio.Event()
        token = 0

        async def ponger():
            nonlocal token
            for _ in range(n):
                await pong.wait()
                pong.clear()
                token += 1
                ping.set()

        t0 = time.perf_counter()
        other = asyncio.create_task(ponger())
        for _ in range(n):
            token += 1
            pong.set()
            await ping.wait()
            ping.clear()
        await other
        return token, time.perf_counter() - t0

    token, secs = _common.run(bench, args)
    if token != 2 * n:
        _common.fail(args, f"token is {token}, expected {2 * n}")
    _common.report(args, n=n, secs=secs, ns_per_rt=secs * 1e9 / n, note="event-pair")


if __name__ == "__main__":
    main()
