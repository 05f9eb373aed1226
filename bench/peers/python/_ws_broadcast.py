"""W22 with python3-websockets: /room joins the broadcast room; /control takes a
text "go K", runs K fan-outs of 64 B, 10 ms apart, and answers "fanouts=K
ms_median=.. ms_max=.. closed=N members=M".

A fan-out is websockets.broadcast(), which has no cap of its own (its docs:
"there's no backpressure"; a slow reader's buffer grows until a ping times
out). As close to cio's W22 cap (8 KiB, SO_SNDBUF 4 KiB) as the library
allows, each fan-out first aborts the members whose transport holds more than
CAP bytes; that check is part of the fan-out's time."""
import asyncio
import socket
import time

import websockets

CAP = 8192
room = set()


async def member(ws):
    sock = ws.transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    room.add(ws)
    try:
        await ws.wait_closed()
    finally:
        room.discard(ws)


def fanout(data):
    for ws in [w for w in room if w.transport.get_write_buffer_size() > CAP]:
        room.discard(ws)
        ws.transport.abort()
    websockets.broadcast(room, data)


async def control(ws):
    async for m in ws:
        parts = m.split() if isinstance(m, str) else []
        if len(parts) != 2 or parts[0] != "go" or not parts[1].isdigit() or int(parts[1]) < 1:
            continue
        k, members, ms = int(parts[1]), len(room), []
        for i in range(k):
            data = (b"%08d" % i).ljust(64, b"b")  # the readers check the order
            t0 = time.perf_counter()
            fanout(data)
            ms.append((time.perf_counter() - t0) * 1000)
            await asyncio.sleep(0.01)
        still_open = sum(1 for w in room if w.open)
        ms.sort()
        await ws.send(f"fanouts={k} ms_median={ms[k // 2]:.3f} ms_max={ms[-1]:.3f} "
                      f"closed={members - still_open} members={members}")
