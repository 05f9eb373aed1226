"""W18 sqlite scan: iterate every row of the 1M-row table reading the three columns.
sqlite3: iterate the cursor. aiosqlite: `async for row in cursor` (aiosqlite fetches
rows in batches of cursor.arraysize, set to 1000 here)."""
import time

import _common
import _sqlite_common as sc


def main():
    p = _common.parser("w18-scan", __doc__)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--driver", choices=["sqlite3", "aiosqlite"], default="aiosqlite")
    args = p.parse_args()
    path = sc.make_db(args.rows)
    sql = "SELECT id, k, s FROM t"

    def consume(rows, acc):
        for r in rows:
            acc[0] += r[0]
            acc[1] += len(r[2])
            acc[2] += 1

    acc = [0, 0, 0]
    if args.driver == "sqlite3":
        import sqlite3

        con = sqlite3.connect(path)
        con.executescript(sc.SETTINGS)
        t0 = time.perf_counter()
        consume(con.execute(sql), acc)
        secs = time.perf_counter() - t0
        con.close()
        impl = "pysqlite3"
    else:
        import aiosqlite

        async def bench():
            async with aiosqlite.connect(path) as db:
                await db.executescript(sc.SETTINGS)
                t0 = time.perf_counter()
                async with db.execute(sql) as cur:
                    cur.arraysize = 1000
                    async for r in cur:
                        acc[0] += r[0]
                        acc[1] += len(r[2])
                        acc[2] += 1
                return time.perf_counter() - t0

        secs = _common.run(bench, args)
        impl = "aiosqlite-" + _common.impl(args)
    if acc[2] != args.rows or acc[0] != args.rows * (args.rows + 1) // 2:
        _common.fail(args, f"{acc[2]} rows read")
    print(f"impl={impl} workload=w18-scan n={args.rows} secs={secs:.6f} "
          f"rows_per_s={args.rows / secs:.1f}", flush=True)


if __name__ == "__main__":
    main()
