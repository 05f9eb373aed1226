#!/usr/bin/env python3
"""Turns bench/pg_run.sh's output (W12-W16, cio and its peers from one run) into
rows of build/bench/results.tsv, so bench/report.py tabulates them with the rest.

    bench/pg_results.py pg.txt >>results.tsv

Each program prints one line "impl=... workload=... key=value..." (and, through
/usr/bin/time, "rss_kb=N" after it, then pg_run.sh's "server_cpu_s=S": the
PostgreSQL server's CPU during the program); a peer that fails prints
"...: FAILED: why".
A line may carry two figures (W13 pipelined and shared, W15 fetched and streamed,
W16 executemany and COPY): each becomes a row of its own workload."""
import re
import sys

# (workload printed, field) -> (row id, headline key of the row)
ROWS = [
    ("w12-pg-roundtrips", "qps", "w12-pg-roundtrips", "qps"),
    ("w13-pg-pipelined", "qps", "w13-pg-pipelined", "qps"),
    ("w13-pg-pipelined", "shared_qps", "w13-pg-shared", "qps"),
    ("w14-pg-pool", "qps", "w14-pg-pool", "qps"),
    ("w15-pg-rows", "rows_per_sec", "w15-pg-rows", "rows_per_sec"),
    ("w15-pg-rows", "stream_rows_per_sec", "w15-pg-stream", "rows_per_sec"),
    ("w16-pg-bulk", "rows_per_sec", "w16-pg-executemany", "rows_per_sec"),
    ("w16-pg-bulk", "copy_rows_per_sec", "w16-pg-copy", "rows_per_sec"),
]
# Which figure a failure stands for (the first row of its workload).
FAILS = {"w12-pg-roundtrips": "w12-pg-roundtrips", "w13-pg-pipelined": "w13-pg-shared",
         "w14-pg-pool": "w14-pg-pool", "w15-pg-rows": "w15-pg-rows",
         "w16-pg-bulk": "w16-pg-executemany"}


def parse(lines):
    """[(workload, impl, fields or None, why, rss_kb)] in the order printed."""
    out = []
    for line in lines:
        line = line.strip()
        if (line.startswith("server_cpu_s=") and out and out[-1][2] is not None
                and "server_cpu_s" not in out[-1][2]):
            out[-1][2]["server_cpu_s"] = line.split("=", 1)[1]
            continue
        if line.startswith("rss_kb=") and out and out[-1][4] == 0:
            w, impl, fields, why, _ = out[-1]
            out[-1] = (w, impl, fields, why, int(line.split("=", 1)[1]))
            continue
        m = re.match(r"^(w1[2-6]-pg-[a-z]+): ([a-z0-9-]+): FAILED: (.*)$", line)
        if m:
            out.append((m.group(1), m.group(2), None, m.group(3), 0))
            continue
        if not line.startswith("impl="):
            continue
        fields = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
        out.append((fields.get("workload", ""), fields.get("impl", ""), fields, "", 0))
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: pg_results.py pg.txt")
    with open(sys.argv[1]) as f:
        results = parse(f)
    seen = set()
    for w, field, row, key in ROWS:
        for rw, impl, fields, why, rss in results:
            if rw != w:
                continue
            if fields is None:
                if FAILS.get(w) == row:
                    if row not in seen:
                        print(f"W\t{row}\t{key}\thigher\tbench/pg_run.sh")
                        seen.add(row)
                    clean = why.replace("\t", " ").replace(";", ",")
                    print(f"R\t{row}\t{impl}\t0\tfail\t-\t-\twhy={clean}")
                continue
            if field not in fields:
                continue
            if row not in seen:
                print(f"W\t{row}\t{key}\thigher\tbench/pg_run.sh")
                seen.add(row)
            # The server's CPU goes with the program's first figure only: a
            # second one (COPY after executemany) shares the same run.
            first = next(r for r in ROWS if r[0] == w)[1] == field
            extra = f"pg_cpu_s={fields['server_cpu_s']}" if first and "server_cpu_s" in fields else ""
            print(f"R\t{row}\t{impl}\t0\tok\t{float(fields[field])}\t{rss}\t{extra}")


if __name__ == "__main__":
    main()
