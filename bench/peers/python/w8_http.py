"""W8 http: an aiohttp server answering GET / with 200 "Hello, World!" (text/plain).

Runs until SIGTERM or SIGINT, then exits 0. Load comes from wrk (see bench/run.sh).
"""
import asyncio

from aiohttp import web

import _common


async def hello(request):
    return web.Response(text="Hello, World!")


def main():
    p = _common.parser("w8-http", __doc__)
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args()
    if args.uvloop:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    app = web.Application()
    app.router.add_get("/", hello)
    # run_app turns SIGTERM/SIGINT into a graceful shutdown and a zero exit.
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None,
                backlog=1024)


if __name__ == "__main__":
    main()
