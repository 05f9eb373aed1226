"""Shared by the W17-W19 Python peers: the same file, table and values as the C side
(bench/cio/sqlite_bench.h), and the choice of driver: Python's sqlite3 called directly
(--driver=sqlite3, no event loop) or aiosqlite on the chosen loop (--driver=aiosqlite)."""
import os
import sqlite3


def k_of(i):
    return i * 7 % 1000003


def db_path(rows):
    return f"/tmp/cio-bench-sqlite-{rows}.db"


def make_db(rows):
    """Build the shared table unless a complete one is there (outside any timing)."""
    path = db_path(rows)
    con = sqlite3.connect(path)
    try:
        have = con.execute("SELECT count(*) FROM t").fetchone()[0]
    except sqlite3.Error:
        have = -1
    if have != rows:
        con.executescript(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; DROP TABLE IF EXISTS t;"
            "CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER, s TEXT);"
            f"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {rows}) "
            "INSERT INTO t SELECT x, x * 7 % 1000003, 'row ' || x FROM c;"
            "PRAGMA wal_checkpoint(TRUNCATE);")
    con.close()
    return path


def fresh_path():
    path = f"/tmp/cio-bench-w19-{os.getpid()}.db"
    remove(path)
    return path


def remove(path):
    for p in (path, path + "-wal", path + "-shm"):
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass


def ids(rows, seed=88172645463325252):
    """The C side's xorshift sequence of ids in [1, rows]."""
    x = seed
    mask = (1 << 64) - 1
    while True:
        x ^= (x << 13) & mask
        x ^= x >> 7
        x ^= (x << 17) & mask
        yield x % rows + 1


SETTINGS = "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
