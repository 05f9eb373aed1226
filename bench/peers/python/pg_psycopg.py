"""W12-W16 for psycopg 3 (python3-psycopg), async, on uvloop: the other Python
driver WORKLOADS.md names beside asyncpg. psycopg runs on libpq, as cio does.

    pg_psycopg.py --workload=w12|w13|w14|w15|w16 [--n=N] [--uvloop]

The server comes from the environment variable CIO_PG_DSN (a libpq DSN, which
psycopg takes as it is). Queries use server-side prepared statements
(prepare=True) and binary results where psycopg offers them, its fastest
settings."""
import asyncio
import os
import sys
import time

import _common


def dsn():
    return os.environ.get("CIO_PG_DSN", "")


async def w12(args, psycopg):
    conn = await psycopg.AsyncConnection.connect(dsn(), autocommit=True)
    cur = conn.cursor(binary=True)
    t0 = time.perf_counter()
    for i in range(args.n):
        await cur.execute("SELECT %s::int", (i,), prepare=True)
        if (await cur.fetchone())[0] != i:
            _common.fail(args, "wrong value")
    secs = time.perf_counter() - t0
    await conn.close()
    _common.report(args, n=args.n, secs=secs, qps=args.n / secs)


async def w13(args, psycopg):
    # psycopg's pipeline mode (libpq's): queries sent without waiting, results
    # read as they come; one cursor per query in flight.
    conn = await psycopg.AsyncConnection.connect(dsn(), autocommit=True)
    depth = 1000
    t0 = time.perf_counter()
    done = 0
    async with conn.pipeline() as p:
        while done < args.n:
            batch = min(depth, args.n - done)
            curs = []
            for i in range(done, done + batch):
                cur = conn.cursor(binary=True)
                await cur.execute("SELECT %s::int", (i,), prepare=True)
                curs.append((i, cur))
            await p.sync()
            for i, cur in curs:
                if (await cur.fetchone())[0] != i:
                    _common.fail(args, "wrong value")
            done += batch
    secs = time.perf_counter() - t0
    await conn.close()
    _common.report(args, n=args.n, depth=depth, secs=secs, qps=args.n / secs)


async def w14(args, psycopg):
    try:
        from psycopg_pool import AsyncConnectionPool
    except ImportError:
        _common.fail(args, "python3-psycopg-pool is not installed")
    pool = AsyncConnectionPool(dsn(), min_size=10, max_size=10, open=False,
                               kwargs={"autocommit": True})
    await pool.open(wait=True)
    iters = args.n // 100

    async def worker():
        for _ in range(iters):
            async with pool.connection() as conn:
                cur = await conn.execute("SELECT 1", prepare=True)
                if (await cur.fetchone())[0] != 1:
                    _common.fail(args, "wrong value")

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(100)))
    secs = time.perf_counter() - t0
    await pool.close()
    _common.report(args, queries=iters * 100, secs=secs, qps=iters * 100 / secs)


async def w15(args, psycopg):
    conn = await psycopg.AsyncConnection.connect(dsn(), autocommit=True)
    sql = "SELECT i, i::text, i::float8 FROM generate_series(1, %s::int) i"
    t0 = time.perf_counter()
    cur = conn.cursor(binary=True)
    await cur.execute(sql, (args.n,))
    rows = await cur.fetchall()
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
        async with conn.cursor(name="w15", binary=True) as scur:  # server-side cursor
            scur.itersize = 1000
            await scur.execute(sql, (args.n,))
            async for r in scur:
                total += r[0] + len(r[1]) + int(r[2])
                count += 1
    stream_secs = time.perf_counter() - t0
    await conn.close()
    _common.report(args, n=args.n, secs=secs, rows_per_sec=args.n / secs,
                   stream_secs=stream_secs, stream_rows_per_sec=count / stream_secs)


async def w16(args, psycopg):
    conn = await psycopg.AsyncConnection.connect(dsn(), autocommit=True)
    await conn.execute("DROP TABLE IF EXISTS w16")
    await conn.execute("CREATE TABLE w16 (id int, name text)")
    rows = [(i, f"name {i}") for i in range(args.n)]
    t0 = time.perf_counter()
    async with conn.transaction():
        cur = conn.cursor()
        await cur.executemany("INSERT INTO w16 VALUES (%s, %s)", rows)  # psycopg pipelines it
    secs = time.perf_counter() - t0
    await conn.execute("TRUNCATE w16")
    t0 = time.perf_counter()
    async with conn.cursor() as cur:
        async with cur.copy("COPY w16 (id, name) FROM STDIN") as copy:
            for r in rows:
                await copy.write_row(r)
    copy_secs = time.perf_counter() - t0
    await conn.close()
    _common.report(args, n=args.n, secs=secs, rows_per_sec=args.n / secs,
                   copy_secs=copy_secs, copy_rows_per_sec=args.n / copy_secs)


def main():
    p = _common.parser("pg", "W12-W16 on psycopg 3")
    p.add_argument("--workload", required=True, choices=["w12", "w13", "w14", "w15", "w16"])
    p.add_argument("--n", type=int, default=0)
    args = p.parse_args()
    defaults = {"w12": 20000, "w13": 100000, "w14": 20000, "w15": 1000000, "w16": 100000}
    args.n = args.n or defaults[args.workload]
    names = {"w12": "w12-pg-roundtrips", "w13": "w13-pg-pipelined", "w14": "w14-pg-pool",
             "w15": "w15-pg-rows", "w16": "w16-pg-bulk"}
    try:
        import psycopg
    except ImportError:
        print("pg_psycopg: python3-psycopg is not installed", file=sys.stderr)
        sys.exit(77)
    fn = globals()[args.workload]
    args.workload = names[args.workload]
    _common.impl = lambda _args: "psycopg"  # the driver names the row, not the loop
    _common.run(lambda: fn(args, psycopg), args)


if __name__ == "__main__":
    main()
