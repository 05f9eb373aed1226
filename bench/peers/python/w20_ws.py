"""W20/W21 with python3-websockets (Debian's, 10.4): an echo server on
127.0.0.1:P at /echo; --uvloop runs it on uvloop. note=W22 (broadcast) not
implemented for this peer."""
import asyncio
import signal
import sys

import websockets


async def echo(ws, path=None):
    try:
        async for m in ws:
            await ws.send(m)
    except websockets.ConnectionClosed:
        pass


async def main(port):
    stop = asyncio.get_running_loop().create_future()
    for s in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(s, stop.set_result, None)
    async with websockets.serve(echo, "127.0.0.1", port, compression=None, max_size=1 << 20,
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
