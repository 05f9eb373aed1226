#!/usr/bin/python3
"""Conformance catalogue for libcio-ws, written from RFC 6455 and RFC 7692,
driven by a strict raw-frame peer (the role Autobahn|Testsuite plays
elsewhere; it cannot run here). The peer builds frames byte by byte, so it
also sends what a library would refuse to: reserved bits, unknown opcodes,
oversized or fragmented control frames, invalid UTF-8 split across frames,
bad close codes, lying lengths, compressed frames out of place.

Part A runs against cio's echo server (ws_peer server), part B against cio's
client (ws_peer echo-client) with this script as the server. Each case is OK
(the RFC's behaviour exactly), NON-STRICT (safe, but not what the RFC
prescribes: e.g. TCP dropped without a close frame, or another close code),
or FAILED (wrong: data accepted that must be refused, a hang, a crash). The
report lists every case; the exit status is 1 if any FAILED.

usage: conformance.py PATH/TO/ws_peer
"""
import base64
import contextlib
import hashlib
import os
import select
import socket
import struct
import subprocess
import sys
import zlib

PEER = sys.argv[1]
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
WAIT = 20.0 if os.environ.get("ASAN_OPTIONS") else 5.0
results = []


class Closed(Exception):
    pass


# ---- frames ----

def frame(opcode, payload=b"", fin=True, rsv=0, mask=True, length=None):
    n = len(payload) if length is None else length
    b = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    m = 0x80 if mask else 0
    if n < 126:
        b += bytes([m | n])
    elif n < 65536:
        b += bytes([m | 126]) + struct.pack("!H", n)
    else:
        b += bytes([m | 127]) + struct.pack("!Q", n)
    if mask:
        key = os.urandom(4)
        payload = bytes(c ^ key[i % 4] for i, c in enumerate(payload)) if len(payload) < 4096 \
            else xor_big(payload, key)
        b += key
    return b + payload


def xor_big(data, key):
    k = (key * (len(data) // 4 + 1))[:len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(k, "big")).to_bytes(len(data), "big")


class Conn:
    def __init__(self, sock, masked_out):
        self.s = sock
        self.buf = b""
        self.masked_out = masked_out

    def send(self, data):
        self.s.sendall(data)

    def frame(self, opcode, payload=b"", **kw):
        kw.setdefault("mask", self.masked_out)
        self.send(frame(opcode, payload, **kw))

    def _need(self, n, timeout):
        while len(self.buf) < n:
            r, _, _ = select.select([self.s], [], [], timeout)
            if not r:
                raise TimeoutError()
            try:
                d = self.s.recv(1 << 20)
            except ConnectionResetError:
                d = b""
            if not d:
                raise Closed()
            self.buf += d

    def read_frame(self, timeout=WAIT):
        self._need(2, timeout)
        b0, b1 = self.buf[0], self.buf[1]
        n = b1 & 0x7F
        off = 2
        if n == 126:
            self._need(4, timeout)
            n = struct.unpack("!H", self.buf[2:4])[0]
            off = 4
        elif n == 127:
            self._need(10, timeout)
            n = struct.unpack("!Q", self.buf[2:10])[0]
            off = 10
        masked = b1 & 0x80
        if masked:
            self._need(off + 4, timeout)
            key = self.buf[off:off + 4]
            off += 4
        self._need(off + n, timeout)
        payload = self.buf[off:off + n]
        if masked:
            payload = xor_big(payload, key) if n else b""
        self.buf = self.buf[off + n:]
        return dict(fin=b0 >> 7, rsv=(b0 >> 4) & 7, op=b0 & 15, data=payload, masked=bool(masked))

    def eof(self, timeout=WAIT):
        try:
            while True:
                self.read_frame(timeout)
        except Closed:
            return True
        except TimeoutError:
            return False


def client_handshake(port, path="/echo", ext=None):
    s = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16))
    req = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key.decode()}\r\n"
           "Sec-WebSocket-Version: 13\r\n")
    if ext:
        req += f"Sec-WebSocket-Extensions: {ext}\r\n"
    s.sendall((req + "\r\n").encode())
    c = Conn(s, True)
    while b"\r\n\r\n" not in c.buf:
        c._need(len(c.buf) + 1, WAIT)
    head, c.buf = c.buf.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    assert lines[0].startswith("HTTP/1.1 101"), lines[0]
    hdrs = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:]}
    want = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
    assert hdrs.get("sec-websocket-accept") == want, "bad accept hash"
    c.headers = hdrs
    return c


# ---- verdicts ----

def expect_message(c, op, data):
    """The echo of one message: frames until a data message ends (pongs skipped)."""
    got, first = b"", None
    while True:
        f = c.read_frame()
        if f["op"] == 10:
            continue
        if f["op"] == 8:
            raise AssertionError(f"closed ({close_code(f)}) instead of echoing")
        if first is None:
            first = f["op"]
        got += f["data"]
        if f["fin"]:
            break
    if first != op or got != data:
        raise AssertionError(f"echo differs (op {first}, {len(got)} bytes)")


def close_code(f):
    return struct.unpack("!H", f["data"][:2])[0] if len(f["data"]) >= 2 else None


def expect_close(c, codes, answer=True):
    """A close frame with one of codes, then TCP closed. Data frames before
    it are a NON-STRICT sign (the bad frame was echoed) unless none."""
    echoed = False
    try:
        while True:
            f = c.read_frame()
            if f["op"] == 8:
                break
            if f["op"] in (1, 2, 0):
                echoed = True
    except Closed:
        return "NON-STRICT", "TCP closed without a close frame"
    except TimeoutError:
        return "FAILED", "no close frame within 5 s"
    code = close_code(f)
    if answer:
        try:
            c.frame(8, f["data"][:2])
        except OSError:
            pass
    if echoed:
        return "FAILED", "the invalid data was delivered before the close"
    if code not in codes:
        return "NON-STRICT", f"close code {code}, expected {codes}"
    return "OK", f"close {code}"


def case(part, name):
    def deco(fn):
        CASES.append((part, name, fn))
        return fn
    return deco


CASES = []


def run(part, name, fn, *args):
    try:
        r = fn(*args)
        st, why = r if isinstance(r, tuple) else ("OK", "")
    except AssertionError as e:
        st, why = "FAILED", str(e)
    except (Closed, TimeoutError, OSError) as e:
        st, why = "FAILED", f"{type(e).__name__} {e}"
    results.append((part, name, st, why))


# ---- part A: cio's server ----

def echo_case(port, op, data, frags=None, path="/echo"):
    c = client_handshake(port, path)
    if frags:
        for i, piece in enumerate(frags):
            c.frame(op if i == 0 else 0, piece, fin=i == len(frags) - 1)
    else:
        c.frame(op, data)
    expect_message(c, op, data)
    c.frame(8, struct.pack("!H", 1000))
    return expect_close(c, [1000], answer=False)


def bad_case(port, frames, codes, path="/echo", ext=None):
    c = client_handshake(port, path, ext)
    for f in frames:
        c.send(f)
    return expect_close(c, codes)


def part_a(port, dport):
    A = "server"
    for n in (0, 1, 125, 126, 127, 65535, 65536, 1 << 20, 16 << 20):
        run(A, f"1.1 text payload {n} bytes", echo_case, port, 1, b"*" * n)
    for n in (0, 125, 65536, 1 << 20):
        run(A, f"1.2 binary payload {n} bytes", echo_case, port, 2, bytes(range(256)) * (n // 256) + b"\xfe" * (n % 256))
    run(A, "1.3 binary 1 MiB in 1-byte frames... (1,000 fragments)", echo_case, port, 2, b"x" * 1000,
        [b"x"] * 1000)

    def ping_pong(payload):
        c = client_handshake(port)
        c.frame(9, payload)
        f = c.read_frame()
        if f["op"] != 10 or f["data"] != payload:
            return "FAILED", f"answer op {f['op']}"
        return "OK", ""
    run(A, "2.1 ping, empty", ping_pong, b"")
    run(A, "2.2 ping, 125 bytes", ping_pong, bytes(range(125)))
    run(A, "2.3 ping, 126 bytes", bad_case, port, [frame(9, b"x" * 126)], [1002])
    run(A, "2.4 ping not final (fragmented control)", bad_case, port, [frame(9, b"x", fin=False)], [1002])

    def unsolicited_pong():
        c = client_handshake(port)
        c.frame(10, b"nobody asked")
        c.frame(1, b"after")
        expect_message(c, 1, b"after")
        return "OK", ""
    run(A, "2.5 unsolicited pong ignored", unsolicited_pong)

    def ping_storm():
        c = client_handshake(port)
        for i in range(100):
            c.frame(9, str(i).encode())
        for i in range(100):
            f = c.read_frame()
            if f["op"] != 10 or f["data"] != str(i).encode():
                return "FAILED", f"pong {i} wrong"
        return "OK", "100 pongs in order"
    run(A, "2.6 100 pings answered in order", ping_storm)
    for rsv in (1, 2, 4, 7):
        run(A, f"3.1 reserved bits {rsv:03b} on text", bad_case, port, [frame(1, b"x", rsv=rsv)], [1002])
    run(A, "3.2 reserved bit on ping", bad_case, port, [frame(9, b"x", rsv=4)], [1002])
    for op in (3, 4, 5, 6, 7, 11, 12, 13, 14, 15):
        run(A, f"4.1 opcode {op}", bad_case, port, [frame(op, b"x")], [1002])

    def frag_ping():
        c = client_handshake(port)
        c.frame(1, b"frag", fin=False)
        c.frame(9, b"in between")
        c.frame(0, b"ment", fin=False)
        c.frame(0, b"ed")
        f = c.read_frame()
        if f["op"] != 10:
            return "FAILED", "no pong in the middle"
        expect_message(c, 1, b"fragmented")
        return "OK", ""
    run(A, "5.1 fragments with a ping between", frag_ping)
    run(A, "5.2 continuation without a start", bad_case, port, [frame(0, b"x")], [1002])
    run(A, "5.3 text inside a fragmented message", bad_case, port,
        [frame(1, b"a", fin=False), frame(1, b"b")], [1002])
    run(A, "5.4 empty fragments", echo_case, port, 1, b"ab", [b"", b"a", b"", b"b", b""])
    run(A, "5.5 unmasked frame from a client", bad_case, port, [frame(1, b"x", mask=False)], [1002])
    run(A, "5.6 64-bit length with the high bit set", bad_case, port,
        [bytes([0x82, 0xFF]) + struct.pack("!Q", 1 << 63) + b"\0\0\0\0"], [1002, 1009])
    run(A, "5.7 non-minimal length (126 for 5 bytes)", bad_case, port,
        [bytes([0x81, 0xFE, 0, 5]) + b"\0\0\0\0hello"], [1002])

    valid = "κόσμε 𝄞 ﷽".encode()
    run(A, "6.1 valid UTF-8", echo_case, port, 1, valid)
    run(A, "6.2 valid UTF-8 split inside characters", echo_case, port, 1, valid,
        [valid[i:i + 1] for i in range(len(valid))])
    for name, bad in [("0xff", b"\xff"), ("overlong /", b"\xc0\xaf"), ("surrogate", b"\xed\xa0\x80"),
                      ("past U+10FFFF", b"\xf4\x90\x80\x80"), ("lone continuation", b"\x80"),
                      ("truncated at the end", b"ab\xe2\x82")]:
        run(A, f"6.3 invalid UTF-8: {name}", bad_case, port, [frame(1, b"ok " + bad)], [1007])
    run(A, "6.4 invalid UTF-8 split across frames", bad_case, port,
        [frame(1, b"\xce", fin=False), frame(0, b"\xff")], [1007])

    def fail_fast():
        # The first fragment already holds an invalid byte; the message never
        # ends. A fail-fast endpoint closes without waiting for the rest.
        c = client_handshake(port)
        c.frame(1, b"ok \xff and more", fin=False)
        return expect_close(c, [1007])
    run(A, "6.5 invalid UTF-8 fails fast (message never finished)", fail_fast)
    run(A, "6.6 invalid UTF-8 in a close reason", bad_case, port,
        [frame(8, struct.pack("!H", 1000) + b"\xff")], [1007, 1002])

    def close_with(payload, codes):
        c = client_handshake(port)
        c.frame(8, payload)
        try:
            f = c.read_frame()
        except Closed:
            return "NON-STRICT", "TCP closed without a close frame"
        if f["op"] != 8:
            return "FAILED", f"op {f['op']} instead of close"
        code = close_code(f)
        if code not in codes:
            return "FAILED", f"close code {code}, expected {codes}"
        if not c.eof():
            return "FAILED", "the server did not close TCP"
        return "OK", f"close {code}, TCP closed"
    for code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999):
        run(A, f"7.1 close {code} echoed", close_with, struct.pack("!H", code), [code])
    run(A, "7.2 close with reason", close_with, struct.pack("!H", 1000) + b"bye", [1000])
    run(A, "7.3 empty close", close_with, b"", [None, 1000])
    run(A, "7.4 close payload of 1 byte", close_with, b"\x03", [1002])
    for code in (0, 999, 1004, 1005, 1006, 1012, 1014, 1015, 1016, 2000, 2999, 5000, 65535):
        run(A, f"7.5 close code {code} refused", close_with, struct.pack("!H", code), [1002])
    run(A, "7.6 close with 123-byte reason", close_with, struct.pack("!H", 1000) + b"r" * 123, [1000])

    def after_close():
        c = client_handshake(port)
        c.frame(8, struct.pack("!H", 1000))
        c.frame(1, b"after close")
        f = c.read_frame()
        if f["op"] != 8:
            return "FAILED", "data after close was answered"
        return ("OK", "") if c.eof() else ("FAILED", "TCP not closed")
    run(A, "7.7 data after close ignored", after_close)

    # wslay hands a frame's header over with its first payload bytes: the
    # limit is checked then, before anything is allocated for the frame.
    run(A, "8.1 limit: header announcing 2 KiB on a 1 KiB route, 1 payload byte sent", bad_case,
        port, [frame(2, b"", length=2048)[:8] + b"x"], [1009], "/small")
    run(A, "8.2 limit: fragments adding past 1 KiB", bad_case, port,
        [frame(2, b"x" * 600, fin=False), frame(0, b"x" * 600)], [1009], "/small")
    run(A, "8.3 limit: exactly 1 KiB accepted", echo_case, port, 2, b"y" * 1024, None, "/small")
    run(A, "8.4 limit: announced 2^62 bytes", bad_case, port,
        [bytes([0x82, 0xFF]) + struct.pack("!Q", 1 << 62) + b"\0\0\0\0x"], [1009])

    # ---- RFC 7692 ----
    def negotiate(ext):
        c = client_handshake(dport, "/echo", ext)
        return c, c.headers.get("sec-websocket-extensions")

    def deflate_echo(ext, text, frags=1):
        c, got = negotiate(ext)
        if not got or "permessage-deflate" not in got:
            return "FAILED", f"not negotiated ({got})"
        co = zlib.compressobj(wbits=-15)
        data = co.compress(text) + co.flush(zlib.Z_SYNC_FLUSH)
        data = data[:-4]
        step = max(1, len(data) // frags)
        pieces = [data[i:i + step] for i in range(0, len(data), step)] or [b""]
        for i, p in enumerate(pieces):
            c.frame(1 if i == 0 else 0, p, fin=i == len(pieces) - 1, rsv=4 if i == 0 else 0)
        got_data, first = b"", None
        while True:
            f = c.read_frame()
            if first is None:
                first = f
            got_data += f["data"]
            if f["fin"]:
                break
        if first["rsv"] & 4:
            do = zlib.decompressobj(wbits=-15)
            got_data = do.decompress(got_data + b"\x00\x00\xff\xff")
        return ("OK", got) if got_data == text else ("FAILED", "echo differs")
    text = ("compress me " * 200).encode()
    run(A, "9.1 deflate: compressed text echoed", deflate_echo, "permessage-deflate", text)
    run(A, "9.2 deflate: compressed message in 5 frames", deflate_echo, "permessage-deflate", text, 5)
    run(A, "9.3 deflate: client_max_window_bits offered", deflate_echo,
        "permessage-deflate; client_max_window_bits", text)
    run(A, "9.4 deflate: server_no_context_takeover", deflate_echo,
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover", text)

    def server_bits_8():
        c, got = negotiate("permessage-deflate; server_max_window_bits=8")
        if not got or "server_max_window_bits=8" not in got:
            return "FAILED", f"answer {got}"
        c.frame(1, text)
        f = c.read_frame()
        if f["rsv"] & 4:
            return "FAILED", "compressed with 8 window bits"
        return ("OK", "accepted; cio sends uncompressed") if f["data"] == text else ("FAILED", "echo")
    run(A, "9.5 deflate: server_max_window_bits=8 (never compress with 8)", server_bits_8)

    def declined(ext):
        c, got = negotiate(ext)
        return ("OK", "declined") if not got else ("FAILED", f"accepted {got}")
    run(A, "9.6 deflate: server_max_window_bits=7 declined", declined,
        "permessage-deflate; server_max_window_bits=7")
    run(A, "9.7 deflate: unknown parameter declined", declined, "permessage-deflate; foo=1")
    run(A, "9.8 deflate: duplicate parameter declined", declined,
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover")

    def fallback():
        c, got = negotiate("permessage-deflate; foo, permessage-deflate")
        return ("OK", got) if got and got.startswith("permessage-deflate") else ("FAILED", got)
    run(A, "9.9 deflate: second offer taken when the first is bad", fallback)

    def rsv1_cont():
        c, got = negotiate("permessage-deflate")
        c.frame(1, b"a", fin=False)
        c.frame(0, b"b", rsv=4)
        return expect_close(c, [1002])
    run(A, "9.10 deflate: RSV1 on a continuation frame", rsv1_cont)
    run(A, "9.11 RSV1 without deflate negotiated", bad_case, port, [frame(1, b"x", rsv=4)], [1002])

    def bomb():
        c, got = negotiate("permessage-deflate")
        co = zlib.compressobj(wbits=-15)
        z = co.compress(b"\0" * (4 << 20)) + co.flush(zlib.Z_SYNC_FLUSH)
        c.frame(2, z[:-4], rsv=4)
        return expect_close(c, [1009])
    run(A, "9.12 deflate: 4 MiB of zeros (4 KiB on the wire) over the 1 MiB limit", bomb)

    def garbage():
        c, got = negotiate("permessage-deflate")
        c.frame(2, b"\xff\xff\xff\xff not deflate", rsv=4)
        return expect_close(c, [1007, 1002])
    run(A, "9.13 deflate: data that does not inflate", garbage)

    def inflated_utf8():
        c, got = negotiate("permessage-deflate")
        co = zlib.compressobj(wbits=-15)
        z = co.compress(b"ok \xff") + co.flush(zlib.Z_SYNC_FLUSH)
        c.frame(1, z[:-4], rsv=4)
        return expect_close(c, [1007])
    run(A, "9.14 deflate: invalid UTF-8 found after inflating", inflated_utf8)


# ---- part B: cio's client, this script the server ----

@contextlib.contextmanager
def cio_client(deflate=False):
    """Listens on a free loopback port, starts `ws_peer echo-client` against it
    and yields (the accepted socket, the client process); the client is killed
    if it is still running at the end."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    url = f"ws://127.0.0.1:{ls.getsockname()[1]}/"
    p = subprocess.Popen([PEER, "echo-client", url] + (["--deflate"] if deflate else []),
                         stdout=subprocess.PIPE, text=True)
    try:
        ls.settimeout(WAIT)
        s, _ = ls.accept()
        yield s, p
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()
        ls.close()


def upgrade(s, extensions=None):
    """Reads the client's request head and answers 101 with its accept hash
    (and the extensions line, if given); returns (the Conn, the head)."""
    c = Conn(s, False)
    while b"\r\n\r\n" not in c.buf:
        c._need(len(c.buf) + 1, WAIT)
    head, c.buf = c.buf.split(b"\r\n\r\n", 1)
    key = [l.split(b":", 1)[1].strip() for l in head.split(b"\r\n")
           if l.lower().startswith(b"sec-websocket-key:")][0]
    acc = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
    ext = f"Sec-WebSocket-Extensions: {extensions}\r\n" if extensions else ""
    s.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Accept: {acc}\r\n{ext}\r\n").encode())
    return c, head


def part_b():
    B = "client"

    def with_client(server_fn, deflate=False):
        with cio_client(deflate) as (s, p):
            c, _ = upgrade(s)
            verdict = server_fn(c)
            s.close()
            out, _ = p.communicate(timeout=15)
            return verdict(out) if callable(verdict) else verdict

    def echo_masked(c):
        c.frame(1, b"hello")
        f = c.read_frame()
        if not f["masked"]:
            return "FAILED", "the client's frame is not masked"
        if f["data"] != b"hello":
            return "FAILED", "echo differs"
        c.frame(2, b"\x00" * 70000)
        f = c.read_frame()
        if f["data"] != b"\x00" * 70000:
            return "FAILED", "binary echo differs"
        c.frame(8, struct.pack("!H", 1000))
        f = c.read_frame()
        if f["op"] != 8 or close_code(f) != 1000:
            return "FAILED", "close not echoed"
        return lambda out: ("OK", out.strip()) if "RESULT -32 1000" in out else ("FAILED", out)
    run(B, "B1 echo text/binary, masked, close 1000 echoed", with_client, echo_masked)

    def pinged(c):
        c.frame(9, b"are you there")
        f = c.read_frame()
        if f["op"] != 10 or f["data"] != b"are you there":
            return "FAILED", "no pong"
        c.frame(1, b"frag", fin=False)
        c.frame(9, b"x")
        c.frame(0, b"ment")
        f = c.read_frame()
        g = c.read_frame()
        if f["op"] != 10 or g["data"] != b"fragment":
            return "FAILED", "fragments with a ping between"
        c.frame(8, struct.pack("!H", 4000) + b"bye")
        c.read_frame()
        return lambda out: ("OK", "") if "RESULT -32 4000" in out else ("FAILED", out)
    run(B, "B2 ping answered; fragments with a ping between", with_client, pinged)

    def bad(frames, codes):
        def fn(c):
            for f in frames:
                c.send(f)
            return expect_close(c, codes)
        return fn
    run(B, "B3 masked frame from the server", with_client, bad([frame(1, b"x", mask=True)], [1002]))
    run(B, "B4 reserved bits", with_client, bad([frame(1, b"x", rsv=2, mask=False)], [1002]))
    run(B, "B5 opcode 5", with_client, bad([frame(5, b"x", mask=False)], [1002]))
    run(B, "B6 invalid UTF-8 across frames", with_client,
        bad([frame(1, b"\xe2", fin=False, mask=False), frame(0, b"\x28\xa1", mask=False)], [1007]))
    run(B, "B7 ping of 126 bytes", with_client, bad([frame(9, b"p" * 126, mask=False)], [1002]))
    run(B, "B8 close code 1005 sent", with_client,
        bad([frame(8, struct.pack("!H", 1005), mask=False)], [1002]))
    run(B, "B9 frame announcing 2 MiB (limit 1 MiB)", with_client,
        bad([frame(2, b"", length=2 << 20, mask=False) + b"x"], [1009]))

    def deflate_answer():
        # The server accepts deflate with client_max_window_bits=8: cio may
        # not compress with 8 bits, so it must send uncompressed.
        with cio_client(True) as (s, p):
            c, head = upgrade(s, "permessage-deflate; client_max_window_bits=8")
            if b"client_max_window_bits" not in head:
                return "FAILED", "client_max_window_bits not offered"
            co = zlib.compressobj(wbits=-9)
            text = b"squeeze " * 100
            z = co.compress(text) + co.flush(zlib.Z_SYNC_FLUSH)
            c.frame(1, z[:-4], rsv=4)
            f = c.read_frame()
            if f["rsv"] & 4:
                return "FAILED", "cio compressed with 8 window bits"
            if f["data"] != text:
                return "FAILED", "echo differs"
            c.frame(8, struct.pack("!H", 1000))
            c.read_frame()
            return "OK", "inflated the server's message, answered uncompressed"
    run(B, "B10 deflate: client_max_window_bits=8 from the server", deflate_answer)

    def refused(answer):
        """The client must refuse this answer to its upgrade request."""
        def fn():
            with cio_client() as (s, p):
                s.recv(4096)
                s.sendall(answer)
                out, _ = p.communicate(timeout=15)
                return ("OK", "refused") if "RESULT -71" in out else ("FAILED", out)
        return fn
    run(B, "B11 redirect refused",
        refused(b"HTTP/1.1 301 Moved\r\nLocation: ws://evil.example/\r\n\r\n"))
    run(B, "B12 wrong Sec-WebSocket-Accept refused",
        refused(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: bm90IHRoZSBoYXNo\r\n\r\n"))


def start_server(*extra):
    p = subprocess.Popen([PEER, "server"] + list(extra), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    port = int(p.stdout.readline().split()[1])
    return p, port


def main():
    srv, port = start_server("--max", str((16 << 20) + 1024))
    dsrv, dport = start_server("--deflate")
    # /small has its own 1 KiB limit; 8.4 and 9.12 use the 1 MiB default
    # where the server was started without --max... 8.4 announces 2^62.
    try:
        part_a(port, dport)
    finally:
        for p in (srv, dsrv):
            p.stdin.close()
            rc = p.wait(timeout=60)
            # Under ASan a leak or an error makes the server exit non-zero.
            results.append(("server", "cio server exits cleanly (no leak, no sanitizer report)",
                            "OK" if rc == 0 else "FAILED", f"exit {rc}" if rc else ""))
    part_b()
    counts = {"OK": 0, "NON-STRICT": 0, "FAILED": 0}
    print("conformance report (RFC 6455, RFC 7692):")
    for part, name, st, why in results:
        counts[st] += 1
        print(f"  {part:6} {st:10} {name}{'  -- ' + why if why else ''}")
    print(f"{counts['OK']} OK, {counts['NON-STRICT']} NON-STRICT, {counts['FAILED']} FAILED "
          f"of {len(results)} cases")
    return 1 if counts["FAILED"] else 0


sys.exit(main())
