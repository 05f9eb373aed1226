#!/usr/bin/python3
"""Interop matrix: Debian's WebSocket peers against cio.

Each peer (python3-websockets, python3-aiohttp, node-ws, Go's
gorilla/websocket) runs as a client
against cio's echo server and as an echo server for cio's client, with
permessage-deflate off and on. The scenario: text, binary, a fragmented
message, 1 MiB, a ping, and a close with code 4000 (which the other side
must see). libwebsockets' test programs are not echo peers: their cells are
in interop_lws.py. Prints the matrix; exits 1 if a cell FAILED, 77 if no peer
is installed. A cell marked PEER BUG failed on the peer's side for a known,
filed reason (the note names it) after the checks cio's side allows passed.

usage: interop.py PATH/TO/ws_peer
"""
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree for the import below
import interop_lws  # noqa: E402

PEER = sys.argv[1]
TIMEOUT = 60
NODE_PATH = "/usr/share/nodejs"
BIG = bytes((i * 7) & 0xFF for i in range(1 << 20))


# ---- python3-websockets ----

async def websockets_client(url, deflate):
    import websockets

    comp = "deflate" if deflate else None
    async with websockets.connect(url, compression=comp, max_size=1 << 21) as ws:
        if deflate and not ws.extensions:
            raise AssertionError("deflate not negotiated")
        await ws.send("hello, wörld")
        assert await ws.recv() == "hello, wörld"
        await ws.send(bytes(range(256)))
        assert await ws.recv() == bytes(range(256))
        await ws.send(["frag", "men", "ted"])  # one message in three frames
        assert await ws.recv() == "fragmented"
        await ws.send(BIG)
        assert await ws.recv() == BIG
        await asyncio.wait_for(await ws.ping(b"ping!"), 10)
        await ws.close(code=4000, reason="bye")
    return "closed"


async def websockets_server(deflate, run_client):
    import websockets

    codes = []

    async def handler(ws, path=None):
        try:
            async for m in ws:
                await ws.send(m)
        except websockets.ConnectionClosed:
            pass
        codes.append(ws.close_code)

    comp = "deflate" if deflate else None
    async with websockets.serve(handler, "127.0.0.1", 0, compression=comp,
                                max_size=1 << 21) as srv:
        port = srv.sockets[0].getsockname()[1]
        await run_client(f"ws://127.0.0.1:{port}/echo")
        for _ in range(100):
            if codes:
                break
            await asyncio.sleep(0.05)
    assert codes == [4000], f"server saw close codes {codes}"


# ---- python3-aiohttp ----

async def aiohttp_client(url, deflate):
    import aiohttp

    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(url, compress=15 if deflate else 0,
                                max_msg_size=1 << 21, autoping=True) as ws:
            if deflate and not ws.compress:
                raise AssertionError("deflate not negotiated")
            await ws.send_str("hello, wörld")
            assert (await ws.receive_str()) == "hello, wörld"
            await ws.send_bytes(bytes(range(256)))
            assert (await ws.receive_bytes()) == bytes(range(256))
            # aiohttp cannot send fragments: a whole message stands in
            await ws.send_str("fragmented")
            assert (await ws.receive_str()) == "fragmented"
            await ws.send_bytes(BIG)
            assert (await ws.receive_bytes()) == BIG
            await ws.ping(b"ping!")
            await ws.close(code=4000, message=b"bye")
    return "closed"


async def aiohttp_server(deflate, run_client):
    from aiohttp import web, WSMsgType

    codes = []

    async def handler(request):
        ws = web.WebSocketResponse(compress=deflate, max_msg_size=1 << 21)
        await ws.prepare(request)
        async for m in ws:
            if m.type == WSMsgType.TEXT:
                await ws.send_str(m.data)
            elif m.type == WSMsgType.BINARY:
                await ws.send_bytes(m.data)
        codes.append(ws.close_code)
        return ws

    app = web.Application()
    app.router.add_get("/echo", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        await run_client(f"ws://127.0.0.1:{port}/echo")
        for _ in range(100):
            if codes:
                break
            await asyncio.sleep(0.05)
    finally:
        await runner.cleanup()
    assert codes == [4000], f"server saw close codes {codes}"


# ---- node-ws ----

NODE_CLIENT = r"""
const WebSocket = require('ws');
const [url, deflate] = [process.argv[2], process.argv[3] === '1'];
const big = Buffer.alloc(1 << 20); for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 255;
const ws = new WebSocket(url, {perMessageDeflate: deflate, maxPayload: 1 << 21});
const want = [['hello, wörld', false], [Buffer.from([...Array(256).keys()]), true],
              ['fragmented', false], [big, true]];
let i = 0;
function fail(m) { console.error(m); process.exit(1); }
ws.on('open', () => {
  if (deflate && !ws.extensions.includes('permessage-deflate')) fail('no deflate');
  ws.send(want[0][0]);
});
ws.on('message', (data, isBinary) => {
  const [w, b] = want[i];
  if (isBinary !== b || !Buffer.from(data).equals(Buffer.from(w))) fail('echo ' + i + ' differs');
  i++;
  if (i === 2) {  // a fragmented message: fin false, then the rest
    ws.send('frag', {fin: false}); ws.send('men', {fin: false}); ws.send('ted', {fin: true});
  } else if (i < want.length) ws.send(want[i][0]);
  else ws.ping('ping!');
});
ws.on('pong', () => ws.close(4000, 'bye'));
ws.on('close', (code) => process.exit(0));
ws.on('error', (e) => fail(String(e)));
setTimeout(() => fail('timeout'), 30000);
"""

NODE_SERVER = r"""
const WebSocket = require('ws');
const deflate = process.argv[2] === '1';
const wss = new WebSocket.Server({host: '127.0.0.1', port: 0, perMessageDeflate: deflate,
                                  maxPayload: 1 << 21});
wss.on('listening', () => console.log('PORT ' + wss.address().port));
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, {binary: isBinary}));
  ws.on('close', (code) => { console.log('CLOSE ' + code); });
});
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
"""


def node_available():
    return subprocess.run(["/usr/bin/node", "-e", "require('ws')"], env=node_env(),
                          capture_output=True).returncode == 0


def node_env():
    return dict(os.environ, NODE_PATH=NODE_PATH)


async def node_client(url, deflate):
    with tempfile.NamedTemporaryFile("w", suffix=".js", delete=False) as f:
        f.write(NODE_CLIENT)
    try:
        p = await asyncio.create_subprocess_exec("/usr/bin/node", f.name, url,
                                                 "1" if deflate else "0", env=node_env(),
                                                 stderr=asyncio.subprocess.PIPE)
        _, err = await p.communicate()
        if p.returncode != 0:
            raise AssertionError("node client: " + err.decode(errors="replace").strip())
    finally:
        os.unlink(f.name)
    return "closed"


async def node_server(deflate, run_client):
    with tempfile.NamedTemporaryFile("w", suffix=".js", delete=False) as f:
        f.write(NODE_SERVER)
    try:
        p = await asyncio.create_subprocess_exec("/usr/bin/node", f.name, "1" if deflate else "0",
                                                 env=node_env(), stdin=asyncio.subprocess.PIPE,
                                                 stdout=asyncio.subprocess.PIPE)
        line = (await p.stdout.readline()).decode()
        port = int(line.split()[1])
        try:
            await run_client(f"ws://127.0.0.1:{port}/echo")
            line = (await asyncio.wait_for(p.stdout.readline(), 10)).decode().strip()
            assert line == "CLOSE 4000", f"node server saw {line!r}"
        finally:
            p.stdin.close()
            await p.wait()
    finally:
        os.unlink(f.name)


# ---- Go gorilla/websocket ----

GORILLA = None


def gorilla_available():
    """Builds tests/ws/gorilla_peer.go in GOPATH mode against Debian's package."""
    global GORILLA
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gorilla_peer.go")
    if not os.path.isdir("/usr/share/gocode/src/github.com/gorilla/websocket"):
        return False
    # Its own binary per run (the backends' runs may build at once); the
    # build cache is shared (go locks it).
    out = os.path.join(tempfile.mkdtemp(prefix="cio-gorilla-"), "gorilla_peer")
    cache = os.path.join(os.path.dirname(os.path.abspath(PEER)), ".gocache")
    env = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode", GOFLAGS="",
               GOTOOLCHAIN="local", GOCACHE=cache)
    try:
        r = subprocess.run(["go", "build", "-o", out, src], env=env, capture_output=True)
    except FileNotFoundError:
        return False
    if r.returncode != 0:
        print(r.stderr.decode(errors="replace"), file=sys.stderr)
        return False
    GORILLA = out
    return True


async def gorilla_client(url, deflate):
    p = await asyncio.create_subprocess_exec(GORILLA, "client", url,
                                             *(["deflate"] if deflate else []),
                                             stderr=asyncio.subprocess.PIPE)
    _, err = await p.communicate()
    if p.returncode != 0:
        raise AssertionError("gorilla client: " + err.decode(errors="replace").strip())
    return "closed"


async def gorilla_server(deflate, run_client):
    p = await asyncio.create_subprocess_exec(GORILLA, "server", *(["deflate"] if deflate else []),
                                             stdin=asyncio.subprocess.PIPE,
                                             stdout=asyncio.subprocess.PIPE)
    try:
        port = int((await p.stdout.readline()).decode().split()[1])
        await run_client(f"ws://127.0.0.1:{port}/echo")
        line = (await asyncio.wait_for(p.stdout.readline(), 10)).decode().strip()
        assert line == "CLOSE 4000", f"gorilla server saw {line!r}"
    finally:
        p.stdin.close()
        await p.wait()


# ---- cio's side ----

async def start_cio_server(deflate):
    """A `ws_peer server` (ends when its stdin closes) and its port."""
    args = [PEER, "server"] + (["--deflate"] if deflate else [])
    p = await asyncio.create_subprocess_exec(*args, stdin=asyncio.subprocess.PIPE,
                                             stdout=asyncio.subprocess.PIPE)
    try:
        return p, int((await p.stdout.readline()).decode().split()[1])
    except (IndexError, ValueError):
        p.stdin.close()
        await p.wait()
        raise AssertionError(f"ws_peer server did not print its port (exit {p.returncode})")


async def cio_server(deflate, run_client):
    p, port = await start_cio_server(deflate)
    try:
        await run_client(f"ws://127.0.0.1:{port}/echo", deflate)
        line = (await asyncio.wait_for(p.stdout.readline(), 10)).decode().strip()
        assert line.startswith("CLOSE 4000 -32 bye"), f"cio server saw {line!r}"
    finally:
        p.stdin.close()
        rc = await p.wait()
    assert rc == 0, f"cio server exit status {rc} (a leak or sanitizer report under ASan)"


async def cio_client(url, deflate):
    args = [PEER, "client", url] + (["--deflate"] if deflate else [])
    p = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE,
                                             stderr=asyncio.subprocess.PIPE)
    out, err = await p.communicate()
    if p.returncode != 0:
        raise AssertionError("cio client: " + err.decode(errors="replace").strip())


# name: (cell with the peer as client, cell with the peer as server, available);
# a cell takes deflate (True/False) and returns a note or raises.
PEERS = {
    name: ((lambda c: lambda d: cio_server(d, c))(client),
           (lambda s: lambda d: s(d, lambda url: cio_client(url, d)))(server), available)
    for name, (client, server, available) in {
        "python3-websockets": (websockets_client, websockets_server, lambda: True),
        "python3-aiohttp": (aiohttp_client, aiohttp_server, lambda: True),
        "node-ws": (node_client, node_server, node_available),
        "go gorilla/websocket": (gorilla_client, gorilla_server, gorilla_available),
    }.items()
}
PEERS["libwebsockets (test apps)"] = (
    lambda d: interop_lws.client_cell(start_cio_server, d),
    lambda d: interop_lws.server_cell(PEER, d), interop_lws.available)


async def cell(coro):
    try:
        note = await asyncio.wait_for(coro, TIMEOUT) or ""
        return ("PEER BUG" if note.startswith("PEER BUG") else "OK"), note
    except Exception as e:  # the report names it
        return "FAILED", f"{type(e).__name__}: {e}"


async def main():
    rows = []
    for name, (client, server, available) in PEERS.items():
        if not available():
            rows.append((name, "-", "-", "SKIPPED", "not installed"))
            continue
        for deflate in (False, True):
            mode = "deflate" if deflate else "plain"
            st, why = await cell(client(deflate))
            rows.append((name, "client -> cio server", mode, st, why))
            st, why = await cell(server(deflate))
            rows.append((name, "server <- cio client", mode, st, why))
    print("interop matrix (text, binary, fragmented, 1 MiB, ping, close 4000;")
    print("libwebsockets: the cases interop_lws.py lists):")
    for r in rows:
        print(f"  {r[0]:25} {r[1]:22} {r[2]:8} {r[3]:8} {r[4]}")
    failed = sum(1 for r in rows if r[3] == "FAILED")
    ok = sum(1 for r in rows if r[3] == "OK")
    bugs = sum(1 for r in rows if r[3] == "PEER BUG")
    print(f"{ok} OK, {bugs} PEER BUG, {failed} FAILED")
    if failed:
        return 1
    return 0 if ok else 77


try:
    status = asyncio.run(main())
finally:
    if GORILLA:
        shutil.rmtree(os.path.dirname(GORILLA), ignore_errors=True)
sys.exit(status)
