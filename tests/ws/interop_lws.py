"""libwebsockets' test programs (Debian's libwebsockets-test-server) in the
interop matrix (interop.py). They are not echo peers, so they have cells of
their own, driven through ws_peer (ws_peer_lws.c says what each side does):

  server <- cio client: libwebsockets-test-server on a free loopback port;
      `ws_peer lws-client` runs the mirror protocol (text, binary, fragmented,
      1 MiB, ping, close 4000) and dumb-increment (counting, "reset", the
      server's close 1001 "seeya"). With deflate offered, cio must agree with
      what a plain handshake shows the server doing (Debian's 4.1.6 test
      server answers without the extension).
  client -> cio server: libwebsockets-test-client --once against ws_peer's
      /count/100: cio echoes 100 of the mirror connection's circles, pings,
      and closes with 4001, which lws must answer; the dumb-increment
      connection must have negotiated its subprotocol too.
      With deflate, lws's client loops forever on the first message cio sends
      uncompressed (RFC 7692 allows it; cio does when deflate would not
      shrink it): warmcat/libwebsockets#2794, open. The cell then checks what
      it can -- deflate negotiated, lws's compressed circles inflated and
      echoed -- and reports PEER BUG instead of OK.

Every process is stopped by its PID; a cell's failure names what went wrong."""
import asyncio
import os
import signal
import socket
import tempfile

SERVER = "/usr/bin/libwebsockets-test-server"
CLIENT = "/usr/bin/libwebsockets-test-client"
ECHOES = 100


def available():
    return os.access(SERVER, os.X_OK) and os.access(CLIENT, os.X_OK)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def stop(p):
    """SIGINT (the test programs' clean exit), then SIGKILL after 5 s."""
    if p.returncode is None:
        p.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(p.wait(), 5)
        except asyncio.TimeoutError:
            p.kill()
            await p.wait()


def tail(path, n=5):
    with open(path, errors="replace") as f:
        return " | ".join(line.strip() for line in f.readlines()[-n:])


async def wait_listening(p, port, log):
    for _ in range(200):
        if p.returncode is not None:
            raise AssertionError(f"lws test server exited {p.returncode}: {tail(log)}")
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise AssertionError(f"lws test server not listening on {port}: {tail(log)}")


async def server_takes_deflate(port):
    """Whether the server answers a permessage-deflate offer with it (a
    handshake written by hand: cio is not asked)."""
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(f"GET /?mirror=probe HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: lws-mirror-protocol\r\n"
            "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n".encode())
    head = (await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 10)).decode().lower()
    w.close()
    if not head.startswith("http/1.1 101"):
        raise AssertionError(f"lws test server: {head.splitlines()[0]!r} to a plain handshake")
    return "permessage-deflate" in head


async def server_cell(peer, deflate):
    """cio's client against libwebsockets-test-server."""
    port = free_port()
    with tempfile.NamedTemporaryFile(prefix="cio-lws-server-", suffix=".log") as log:
        p = await asyncio.create_subprocess_exec(SERVER, f"--port={port}", "--interface=127.0.0.1",
                                                 stdout=log, stderr=log)
        try:
            await wait_listening(p, port, log.name)
            takes = deflate and await server_takes_deflate(port)
            c = await asyncio.create_subprocess_exec(
                peer, "lws-client", f"ws://127.0.0.1:{port}/", *(["--deflate"] if deflate else []),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await c.communicate()
            if c.returncode != 0:
                raise AssertionError("cio client: " + err.decode(errors="replace").strip())
            out = out.decode()
            if out.count(" OK") != 2 or f"deflate={int(takes)}" not in out:
                raise AssertionError(f"cio client printed {out!r}; deflate expected: {takes}")
        finally:
            await stop(p)
    return "deflate declined by lws" if deflate and not takes else ""


async def client_cell(start_cio_server, deflate):
    """libwebsockets-test-client against cio's server; start_cio_server(deflate)
    returns (process, port) of a running `ws_peer server`."""
    p, port = await start_cio_server(deflate)
    note = ""
    try:
        c = await asyncio.create_subprocess_exec(
            CLIENT, f"ws://127.0.0.1:{port}/count/{ECHOES}", "--once",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        try:
            out, _ = await asyncio.wait_for(c.communicate(), 10 if deflate else 30)
        except asyncio.TimeoutError:
            out, note = b"", "lws client stuck"
            c.kill()
            await c.wait()
        lines = {}
        for _ in range(2):  # one per connection, as each ends
            line = (await asyncio.wait_for(p.stdout.readline(), 10)).decode().split()
            fields = dict(f.split("=", 1) for f in line[1:])
            lines[fields.get("proto")] = fields
        log = " | ".join(out.decode(errors="replace").strip().splitlines()[-3:])
        want = {"echoed": str(ECHOES), "ping": "0", "close": "0", "peer": "0",
                "deflate": "1" if deflate else "0"}
        mirror = lines.get("lws-mirror-protocol")
        if note and deflate and mirror and mirror.get("deflate") == "1" and int(mirror.get("echoed", 0)) > 0:
            note = ("PEER BUG: lws's client loops on cio's first uncompressed message "
                    f"(warmcat/libwebsockets#2794); cio inflated and echoed {mirror['echoed']}")
        elif note or mirror is None or any(mirror.get(k) != v for k, v in want.items()):
            raise AssertionError(f"mirror connection: {mirror}, want {want}; lws: {log}")
        if "dumb-increment-protocol" not in lines:
            raise AssertionError(f"no dumb-increment connection: {lines}; lws: {log}")
    finally:
        p.stdin.close()
        rc = await p.wait()
    assert rc == 0, f"cio server exit status {rc} (a leak or sanitizer report under ASan)"
    return note
