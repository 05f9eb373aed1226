"""W12-W16 for asyncpg (the peer cio's libcio-pg measures itself against).

    pg_asyncpg.py --workload=w12|w13|w14|w15|w16 [--n=N] [--uvloop]

The server comes from the environment variable CIO_PG_DSN (a libpq DSN; a
"host=... port=..." string is turned into asyncpg's keywords)."""
import asyncio
import os
import sys
import time

import _common


def connect_kwargs():
    dsn = os.environ.get("CIO_PG_DSN", "")
    if dsn.startswith("postgres"):
        return {"dsn": dsn}
    kw = dict(part.split("=", 1) for part in dsn.split())
    out = {"host": kw.get("host"), "port": int(kw.get("port", 5432)), "user": kw.get("user")}
    out["database"] = kw.get("dbname")
    return out


async def w12(args, asyncpg):
    conn = await asyncpg.connect(**connect_kwargs())
    t0 = time.perf_counter()
    for i in range(args.n):
        if await conn.fetchval("SELECT $1::int", i) != i:
            _common.fail(args, "wrong value")
    secs = time.perf_counter() - t0
    await conn.close()
    _common.report(args, n=args.n, secs=secs, qps=args.n / secs)


async def w13(args, asyncpg):
    conn = await asyncpg.connect(**connect_kwargs())
    it = iter(range(args.n))

    async def sharer():
        for i in it:
            if await conn.fetchval("SELECT $1::int", i) != i:
                _common.fail(args, "wrong value")

    # asyncpg runs one query at a time per connection: 100 tasks queue on it.
    t0 = time.perf_counter()
    try:
        await asyncio.gather(*(sharer() for _ in range(100)))
    except Exception as e:  # InterfaceError: another operation is in progress
        _common.fail(args, f"shared connection: {e!r}")
    secs = time.perf_counter() - t0
    await conn.close()
    _common.report(args, n=args.n, shared_secs=secs, shared_qps=args.n / secs)


async def w14(args, asyncpg):
    pool = await asyncpg.create_pool(min_size=10, max_size=10, **connect_kwargs())
    iters = args.n // 100

    async def worker():
        for _ in range(iters):
            async with pool.acquire() as conn:
                if await conn.fetchval("SELECT 1") != 1:
                    _common.fail(args, "wrong value")

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(100)))
    secs = time.perf_counter() - t0
    await pool.close()
    _common.report(args, queries=iters * 100, secs=secs, qps=iters * 100 / secs)


async def w15(args, asyncpg):
    conn = await asyncpg.connect(**connect_kwargs())
    sql = "SELECT i, i::text, i::float8 FROM generate_series(1, $1::int) i"
    t0 = time.perf_counter()
    rows = await conn.fetch(sql, args.n)
    total = 0
    for r in rows:
        total += r[0] + len(r[1]) + int(r[2])
    secs = time.perf_counter() - t0
    if len(rows) != args.n:
        _common.fail(args, "row count")
    del rows
    t0 = time.perf_counter()
    count = 0
    async with conn.transaction():
        async for r in conn.cursor(sql, args.n, prefetch=1000):
            total += r[0] + len(r[1]) + int(r[2])
            count += 1
    stream_secs = time.perf_counter() - t0
    await conn.close()
    _common.report(args, n=args.n, secs=secs, rows_per_sec=args.n / secs,
                   stream_secs=stream_secs, stream_rows_per_sec=count / stream_secs)


async def w16(args, asyncpg):
    conn = await asyncpg.connect(**connect_kwargs())
    await conn.execute("DROP TABLE IF EXISTS w16; CREATE TABLE w16 (id int, name text)")
    rows = [(i, f"name {i}") for i in range(args.n)]
    t0 = time.perf_counter()
    await conn.executemany("INSERT INTO w16 VALUES ($1, $2)", rows)
    secs = time.perf_counter() - t0
    await conn.execute("TRUNCATE w16")
    t0 = time.perf_counter()
    await conn.copy_records_to_table("w16", records=rows)
    copy_secs = time.perf_counter() - t0
    await conn.close()
    _common.report(args, n=args.n, secs=secs, rows_per_sec=args.n / secs,
                   copy_secs=copy_secs, copy_rows_per_sec=args.n / copy_secs)


def main():
    p = _common.parser("pg", "W12-W16 on asyncpg")
    p.add_argument("--workload", required=True, choices=["w12", "w13", "w14", "w15", "w16"])
    p.add_argument("--n", type=int, default=0)
    args = p.parse_args()
    defaults = {"w12": 20000, "w13": 100000, "w14": 20000, "w15": 1000000, "w16": 100000}
    args.n = args.n or defaults[args.workload]
    names = {"w12": "w12-pg-roundtrips", "w13": "w13-pg-pipelined", "w14": "w14-pg-pool",
             "w15": "w15-pg-rows", "w16": "w16-pg-bulk"}
    try:
        import asyncpg
    except ImportError:
        print("pg_asyncpg: python3-asyncpg is not installed", file=sys.stderr)
        sys.exit(77)
    fn = globals()[args.workload]
    args.workload = names[args.workload]
    _common.impl = lambda _args: "asyncpg"  # the driver names the row, not the loop
    _common.run(lambda: fn(args, asyncpg), args)


if __name__ == "__main__":
    main()
