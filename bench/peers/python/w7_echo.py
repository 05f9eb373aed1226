"""W7 echo: a TCP echo server on 127.0.0.1 built on asyncio streams, one task per connection.

Runs until SIGTERM or SIGINT, then exits 0. The load client (bench/load/echo_client.c)
checks every echo and reports round trips per second.
"""
import asyncio
import signal

import _common


async def echo(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


def main():
    p = _common.parser("w7-echo", __doc__)
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args()

    async def serve():
        server = await asyncio.start_server(echo, "127.0.0.1", args.port, backlog=1024)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with server:
            await stop.wait()

    _common.run(serve, args)


if __name__ == "__main__":
    main()
