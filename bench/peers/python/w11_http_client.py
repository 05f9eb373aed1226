"""W11 http client: fetch GET / from a local server N times with aiohttp, at most 100 requests
in flight over one keep-alive connection pool; check every status and body."""
import asyncio
import time

import aiohttp

import _common

BODY = b"Hello, World!"


def main():
    p = _common.parser("w11-http-client", __doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--n", type=int, default=20_000)
    p.add_argument("--inflight", type=int, default=100)
    args = p.parse_args()
    url = f"http://127.0.0.1:{args.port}/"

    async def bench():
        started = ok = 0
        connector = aiohttp.TCPConnector(limit=args.inflight)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def worker():
                nonlocal started, ok
                while started < args.n:
                    started += 1
                    async with session.get(url) as resp:
                        body = await resp.read()
                        if resp.status == 200 and body == BODY:
                            ok += 1

            t0 = time.perf_counter()
            await asyncio.gather(*[asyncio.create_task(worker()) for _ in range(args.inflight)])
            return ok, time.perf_counter() - t0

    ok, secs = _common.run(bench, args)
    if ok != args.n:
        _common.fail(args, f"{ok} good responses, expected {args.n}")
    _common.report(args, n=args.n, inflight=args.inflight, secs=secs, rps=args.n / secs)


if __name__ == "__main__":
    main()
