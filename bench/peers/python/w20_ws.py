"""W20-W22 with python3-websockets (Debian's, 10.4): a server on 127.0.0.1:P,
/echo sends every message back; W22's /room and /control are in
_ws_broadcast.py. --uvloop runs it on uvloop."""
import asyncio
import signal
import sys

import websockets

import _ws_broadcast


async def echo(ws):
    try:
        async for m in ws:
            await ws.send(m)
    except websockets.ConnectionClosed:
        pass


ROUTES = {"/echo": echo, "/room": _ws_broadcast.member, "/control": _ws_broadcast.control}


async def handler(ws, path=None):
    route = ROUTES.get(ws.path.split("?")[0])
    if route is None:
        await ws.close(1008, "no such path")
        return
    await route(ws)


async def main(port):
    stop = asyncio.get_running_loop().create_future()
    for s in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(s, stop.set_result, None)
    async with websockets.serve(handler, "127.0.0.1", port, compression=None, max_size=1 << 20,
                                ping_interval=None, backlog=4096):
        print(f"w20-ws: python websockets listening on 127.0.0.1:{port}", file=sys.stderr)
        await stop


if __name__ == "__main__":
    port = 0
    for a in sys.argv[1:]:
        if a.startswith("--port="):
            port = int(a[7:])
    if "--uvloop" in sys.argv:
        import uvloop

        uvloop.install()
    asyncio.run(main(port))
