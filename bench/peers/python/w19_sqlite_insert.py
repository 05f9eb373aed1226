"""W19 sqlite writes: N inserts into a fresh table, autocommit one by one (--batch=1) or
BEGIN IMMEDIATE + executemany of `batch` rows + COMMIT; with aiosqlite a ticker task
sleeps 1 ms at a time and records how late it wakes (p99 lag)."""
import time

import _common
import _sqlite_common as sc

SQL = "INSERT INTO t (id, k, s) VALUES (?, ?, ?)"


def batches(n, batch):
    for start in range(0, n, batch):
        yield [(i + 1, sc.k_of(i + 1), "row text") for i in range(start, min(n, start + batch))]


def main():
    p = _common.parser("w19-insert", __doc__)
    p.add_argument("--n", type=int, default=20_000)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--driver", choices=["sqlite3", "aiosqlite"], default="aiosqlite")
    args = p.parse_args()
    args.workload = "w19-insert-" + ("tx" if args.batch > 1 else "auto")
    path = sc.fresh_path()
    create = "CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER, s TEXT)"
    lags = []
    if args.driver == "sqlite3":
        import sqlite3

        con = sqlite3.connect(path, isolation_level=None)
        con.executescript("PRAGMA journal_mode=WAL;" + sc.SETTINGS + create)
        t0 = time.perf_counter()
        for rows in batches(args.n, args.batch):
            if args.batch == 1:
                con.execute(SQL, rows[0])
            else:
                con.execute("BEGIN IMMEDIATE")
                con.executemany(SQL, rows)
                con.execute("COMMIT")
        secs = time.perf_counter() - t0
        count = con.execute("SELECT count(*) FROM t").fetchone()[0]
        con.close()
        impl = "pysqlite3"
    else:
        import aiosqlite

        async def bench():
            asyncio = _common.asyncio
            stop = False

            async def ticker():
                while not stop:
                    t = time.perf_counter()
                    await asyncio.sleep(0.001)
                    lags.append(time.perf_counter() - t - 0.001)

            async with aiosqlite.connect(path, isolation_level=None) as db:
                await db.executescript("PRAGMA journal_mode=WAL;" + sc.SETTINGS + create)
                tick = asyncio.create_task(ticker())
                t0 = time.perf_counter()
                for rows in batches(args.n, args.batch):
                    if args.batch == 1:
                        await db.execute(SQL, rows[0])
                    else:
                        await db.execute("BEGIN IMMEDIATE")
                        await db.executemany(SQL, rows)
                        await db.execute("COMMIT")
                secs = time.perf_counter() - t0
                stop = True
                await tick
                async with db.execute("SELECT count(*) FROM t") as cur:
                    count = (await cur.fetchone())[0]
                return secs, count

        secs, count = _common.run(bench, args)
        impl = "aiosqlite-" + _common.impl(args)
    sc.remove(path)
    if count != args.n:
        _common.fail(args, f"{count} rows, expected {args.n}")
    lags.sort()
    p99 = f" lag_p99_ms={lags[len(lags) * 99 // 100] * 1e3:.3f}" if lags else ""
    print(f"impl={impl} workload={args.workload} n={args.n} batch={args.batch} secs={secs:.6f} "
          f"rows_per_s={args.n / secs:.1f}{p99}", flush=True)


if __name__ == "__main__":
    main()
