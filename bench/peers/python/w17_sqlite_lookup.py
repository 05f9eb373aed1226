"""W17 sqlite lookups: N primary-key lookups of random ids in the 1M-row table, by one
task or by T tasks sharing them; each row checked. sqlite3: a plain loop (one thread,
note=sequential). aiosqlite: `async with db.execute(...) as cur: await cur.fetchone()`."""
import time

import _common
import _sqlite_common as sc


def main():
    p = _common.parser("w17-lookup", __doc__)
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--tasks", type=int, default=1)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--driver", choices=["sqlite3", "aiosqlite"], default="aiosqlite")
    args = p.parse_args()
    args.workload = f"w17-lookup-{args.tasks}"
    path = sc.make_db(args.rows)
    sql = "SELECT k, s FROM t WHERE id = ?"

    def check(i, row):
        if row is None or row[0] != sc.k_of(i) or len(row[1]) <= 4:
            _common.fail(args, f"wrong row for id {i}: {row}")

    if args.driver == "sqlite3":
        import sqlite3

        con = sqlite3.connect(path)
        con.executescript(sc.SETTINGS)
        gen = sc.ids(args.rows)
        t0 = time.perf_counter()
        for _ in range(args.n):
            i = next(gen)
            check(i, con.execute(sql, (i,)).fetchone())
        secs = time.perf_counter() - t0
        con.close()
        impl, note = "pysqlite3", "one-thread"
    else:
        import aiosqlite

        async def bench():
            async with aiosqlite.connect(path) as db:
                await db.executescript(sc.SETTINGS)
                gen = sc.ids(args.rows)
                done = 0

                async def looker():
                    nonlocal done
                    while done < args.n:
                        done += 1
                        i = next(gen)
                        async with db.execute(sql, (i,)) as cur:
                            check(i, await cur.fetchone())

                t0 = time.perf_counter()
                await _common.asyncio.gather(*[looker() for _ in range(args.tasks)])
                return time.perf_counter() - t0

        secs = _common.run(bench, args)
        impl, note = "aiosqlite-" + _common.impl(args), "execute+fetchone"
    print(f"impl={impl} workload={args.workload} n={args.n} tasks={args.tasks} "
          f"rows={args.rows} secs={secs:.6f} lookups_per_s={args.n / secs:.1f} note={note}",
          flush=True)


if __name__ == "__main__":
    main()
