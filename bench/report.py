#!/usr/bin/env python3
"""Turns build/bench/results.tsv (written by bench/run.sh) into the comparison table.

Prints the table, writes the generated part of a Markdown file (between the markers below,
keeping everything else in the file) and a gnuplot bar chart of each workload's ratio to cio.

results.tsv holds two kinds of tab-separated rows:
    W  workload  headline_key  better(lower|higher)  arguments
    R  workload  impl  run  status(ok|fail|notyet)  value  rss_kb  extra(k=v;k=v)
    M  run  key=value line of a microbenchmark (bench/cio/micro.c, timers.c)
"""
import argparse
import datetime
import os
import platform
import re
import statistics
import subprocess
import sys

START = "<!-- generated:start -->"
END = "<!-- generated:end -->"

# How each headline figure is named and printed.
UNITS = {
    "ns_per_task": ("ns/task", "{:,.0f}"),
    "ns_per_rt": ("ns/round trip", "{:,.0f}"),
    "ns_per_op": ("ns/critical section", "{:,.0f}"),
    "ns_per_item": ("ns/item", "{:,.1f}"),
    "ns_per_scope": ("ns/scope", "{:,.0f}"),
    "ns_per_call": ("ns/call", "{:,.0f}"),
    "overhead_secs": ("s overhead", "{:.4f}"),
    "rps": ("req/s", "{:,.0f}"),
    "lookups_per_s": ("lookups/s", "{:,.0f}"),  # W17-W19 (SQLite)
    "rows_per_s": ("rows/s", "{:,.0f}"),
    "p99_us": ("µs p99 at a fixed rate", "{:,.0f}"),  # W8 tail (bench/load/http_rate.c)
    "qps": ("queries/s", "{:,.0f}"), "rows_per_sec": ("rows/s", "{:,.0f}"),  # W12-W16 (pg)
    "kib_per_conn": ("KiB RSS/connection", "{:,.1f}"),  # W21 (WebSocket idle)
    "ms_median": ("ms per fan-out", "{:,.2f}"),  # W22 (WebSocket broadcast), median of K
}
# Implementations in the order the table and the plot show them.
ORDER = ["cio", "cio-uring", "cio-epoll", "asyncio", "uvloop", "go", "libuv", "nginx"]
ORDER += ["csqlite", "pysqlite3", "aiosqlite"]  # W17-W19: SQLite's peers
ORDER += ["libpq", "pgbench", "asyncpg", "psycopg"]  # W12-W16: PostgreSQL's peers
ORDER += ["node"]  # W20-W22: node-ws (go: gorilla/websocket; uvloop: python3-websockets)


def load(path):
    workloads, rows, micro = {}, [], []
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if parts[0] == "M":
                micro.append(dict(kv.split("=", 1) for kv in parts[2].split() if "=" in kv))
            elif parts[0] == "W":
                workloads[parts[1]] = {"key": parts[2], "better": parts[3], "args": parts[4]}
            elif parts[0] == "R":
                w, impl, run, status, value, rss, extra = parts[1:8]
                rows.append({"w": w, "impl": impl, "status": status,
                             "value": float(value) if status == "ok" else None,
                             "rss": int(rss) if status == "ok" else None,
                             "extra": dict(kv.split("=", 1) for kv in extra.split(";") if kv)})
    return workloads, rows, micro


def summarise(workloads, rows):
    """One entry per (workload, impl): status, median/min/max, median RSS, extras' medians."""
    out = {}
    for w in workloads:
        impls = sorted({r["impl"] for r in rows if r["w"] == w},
                       key=lambda i: ORDER.index(i) if i in ORDER else len(ORDER))
        for impl in impls:
            runs = [r for r in rows if r["w"] == w and r["impl"] == impl]
            ok = [r for r in runs if r["status"] == "ok"]
            entry = {"runs": len(runs), "ok": len(ok)}
            if any(r["status"] == "notyet" for r in runs):
                entry["status"] = "notyet"
            elif all(r["status"] == "skip" for r in runs):
                entry["status"] = "skip"
            elif len(ok) < len(runs) or not ok:
                entry["status"] = "fail"
            else:
                entry["status"] = "ok"
            if ok:
                values = [r["value"] for r in ok]
                entry.update(median=statistics.median(values), min=min(values), max=max(values),
                             rss=statistics.median(r["rss"] for r in ok))
                extras = {}
                for key in ok[0]["extra"]:
                    nums = [float(r["extra"][key]) for r in ok if key in r["extra"]]
                    extras[key] = statistics.median(nums)
                entry["extra"] = extras
            whys = [r["extra"].get("why") for r in runs if r["status"] == "fail"]
            entry["why"] = whys[0] if whys else ""
            out[(w, impl)] = entry
    return out


def reference(summary, w):
    """cio's figure for workload w: the default backend (io_uring) where there are two."""
    for impl in ("cio", "cio-uring", "cio-epoll"):
        e = summary.get((w, impl))
        if e and e["status"] == "ok":
            return impl, e["median"]
    return None, None


def ratio(workloads, summary, w, impl):
    """How many times faster cio is than impl (above 1: cio is faster); None if unknown."""
    ref_impl, ref = reference(summary, w)
    e = summary.get((w, impl))
    if ref is None or impl == ref_impl or not e or e["status"] != "ok":
        return None
    if ref <= 0 or e["median"] <= 0:
        return None  # e.g. a timer overhead below the clock's resolution
    if workloads[w]["better"] == "lower":
        return e["median"] / ref
    return ref / e["median"]


def fmt_value(key, v):
    return UNITS.get(key, (key, "{:.4g}"))[1].format(v)


def fmt_extra(extra):
    parts = []
    if "p99_ms" in extra:
        parts.append(f"p99 {extra['p99_ms']:.2f} ms")
    if "p50_us" in extra:  # W8 tail
        parts.append(f"p50 {extra['p50_us']:,.0f} µs, p99.9 {extra.get('p999_us', 0):,.0f} µs, "
                     f"max {extra.get('max_us', 0):,.0f} µs, {extra.get('rps', 0):,.0f} req/s, "
                     f"{extra.get('late', 0):,.0f} sent late")
    if "ms_max" in extra:  # W22: the slowest fan-out, stopped readers closed at their cap
        parts.append(f"max {extra['ms_max']:,.2f} ms, {extra.get('closed', 0):,.0f} closed")
    if extra.get("errors"):
        parts.append(f"{extra['errors']:.0f} socket errors")
    if "srv_cpu_s" in extra:
        parts.append(f"server CPU {extra['srv_cpu_s']:.2f} s")
    if "pg_cpu_s" in extra:  # W12-W16: the PostgreSQL server's CPU during the program
        parts.append(f"PostgreSQL CPU {extra['pg_cpu_s']:.2f} s")
    if "bytes_per_task" in extra:
        parts.append(f"{extra['bytes_per_task']:,.0f} B RSS/task")
    return ", ".join(parts)


def table(workloads, summary):
    header = ["workload", "implementation", "figure: median (min–max)", "peak RSS",
              "cio speed-up", "notes"]
    lines = []
    for w, meta in workloads.items():
        unit = UNITS.get(meta["key"], (meta["key"],))[0]
        ref_impl, _ = reference(summary, w)
        for (sw, impl), e in summary.items():
            if sw != w:
                continue
            if e["status"] == "notyet":
                fig, rss, rat = "not yet", "", "not yet"
            elif e["status"] == "skip":
                fig, rss, rat = "skipped (exit 77: not available here)", "", ""
            elif e["status"] == "fail" and e["ok"] == 0:
                fig, rss, rat = "FAILED", "", ""
            else:
                fig = (f"{fmt_value(meta['key'], e['median'])} "
                       f"({fmt_value(meta['key'], e['min'])}–{fmt_value(meta['key'], e['max'])})"
                       f" {unit}")
                if e["status"] == "fail":
                    fig += f" [{e['runs'] - e['ok']} of {e['runs']} runs FAILED]"
                rss = f"{e['rss'] / 1024:,.1f} MiB" if e["rss"] else "—"  # pgbench: none
                r = ratio(workloads, summary, w, impl)
                if impl == ref_impl:
                    rat = "1.00 (reference)"
                elif r is not None:
                    rat = f"{r:.2f}×"
                elif ref_impl is None:
                    rat = "not yet"
                else:
                    rat = "—"
            notes = fmt_extra(e.get("extra", {}))
            if e["why"]:
                notes = ", ".join(n for n in (notes, e["why"]) if n)
            lines.append([w, impl, fig, rss, rat, notes])
    return header, lines


def plain(header, lines):
    widths = [max(len(str(c)) for c in col) for col in zip(header, *lines)]
    out = ["  ".join(h.ljust(wd) for h, wd in zip(header, widths))]
    out.append("  ".join("-" * wd for wd in widths))
    prev = None
    for row in lines:
        cells = list(row)
        if cells[0] == prev:
            cells[0] = ""
        else:
            prev = cells[0]
        out.append("  ".join(str(c).ljust(wd) for c, wd in zip(cells, widths)).rstrip())
    return "\n".join(out)


def markdown_table(header, lines):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    prev = None
    for row in lines:
        cells = list(row)
        if cells[0] == prev:
            cells[0] = ""
        else:
            prev = cells[0]
        out.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(out)


def run(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        return (p.stdout + p.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "absent"


def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    os_name = "Linux"
    if os.path.exists("/etc/os-release"):
        with open("/etc/os-release") as f:
            m = re.search(r'^PRETTY_NAME="?([^"\n]*)', f.read(), re.M)
            os_name = m.group(1) if m else os_name
    return (f"{cpu}, {os.cpu_count()} cores, {mem} RAM; {os_name}, "
            f"kernel {platform.release()}")


def versions():
    py = "/usr/bin/python3"
    mods = run([py, "-c", "import uvloop, aiohttp; print(uvloop.__version__, aiohttp.__version__)"])
    uv_ver, aio_ver = (mods.split() + ["?", "?"])[:2] if mods != "absent" else ("absent", "absent")
    cio_rev = run(["git", "rev-parse", "--short", "HEAD"])
    if not re.fullmatch(r"[0-9a-f]{4,40}", cio_rev):
        cio_rev = "uncommitted tree"
    elif subprocess.run(["git", "diff", "--quiet", "HEAD"], capture_output=True).returncode:
        cio_rev += " + local changes"
    return [
        ("cio", f"{cio_rev}, CMake Release build, {run(['cc', '--version'])}"),
        ("Python (asyncio)", run([py, "--version"])),
        ("uvloop", f"{uv_ver} (python3-uvloop)"),
        ("aiohttp", f"{aio_ver} (python3-aiohttp; W8 server and W11 client)"),
        ("Go", run(["go", "version"])),
        ("libuv", run(["pkg-config", "--modversion", "libuv"])),
        ("nginx", run(["nginx", "-v"]).replace("nginx version: ", "")),
        ("wrk", run(["wrk", "-v"]).split(" Copyright")[0]),
        ("gnuplot", run(["gnuplot", "--version"])),
    ]


def plot(workloads, summary, path, title):
    """Grouped bars: per workload, how many times faster cio is than each peer. The bars
    start at 1 on a log scale, so a peer faster than cio hangs below the line."""
    peers = [i for i in ORDER if i not in ("cio", "cio-uring") and
             any(impl == i for (_, impl) in summary)]
    names = list(workloads)
    # Each workload's bars sit side by side, centred on its tick, one slot per peer it has.
    slots = {w: [i for i in peers if (w, i) in summary] for w in names}
    width = 0.8 / max([len(v) for v in slots.values()] + [1])
    blocks, values = [], []
    for impl in peers:
        lines = []
        for i, w in enumerate(names):
            r = ratio(workloads, summary, w, impl)
            if r is None:
                continue
            x = i + (slots[w].index(impl) - (len(slots[w]) - 1) / 2) * width
            label_y = r * 1.12 if r >= 1 else r / 1.12
            label = f"{r / 1000:.1f}k" if r >= 1000 else f"{r:.0f}" if r >= 10 else f"{r:.2g}"
            lines.append(f"{x:.4f} {r:.5f} {x - width / 2:.4f} {x + width / 2:.4f} 1 {r:.5f} "
                         f"{label_y:.5f} {label}")
            values.append(r)
        # gnuplot cannot plot an empty block: a point far outside the range stands in.
        blocks.append("\n".join(lines) or "-100 1 -100 -100 1 1 1 -")
    data = path + ".dat"
    with open(data, "w") as f:
        f.write("\n\n\n".join(blocks) + "\n")
    script = [
        "set terminal pngcairo size 1280,640 font 'sans,10'",
        f"set output '{path}'",
        f"set title \"{title}\"",
    ]
    if values:
        lo, hi = min(values + [1.0]) / 1.6, max(values + [1.0]) * 1.6
        xtics = ", ".join(f'"{w}" {i}' for i, w in enumerate(names))
        script += [
            "set logscale y 10",
            f"set yrange [{lo:.4g}:{hi:.4g}]",
            f"set xrange [-0.6:{len(names) - 0.4}]",
            f"set xtics ({xtics}) rotate by -30 nomirror",
            "set ylabel 'cio speed-up over the peer (log scale; above 1: cio faster)'",
            "set grid ytics",
            "set key outside right top",
            "set style fill solid 0.85 border -1",
            "set arrow from graph 0, first 1 to graph 1, first 1 nohead lw 2 lc rgb 'black'",
            "plot " + ", ".join(
                f"'{data}' index {j} using 1:2:3:4:5:6 with boxxyerror lc {j + 1} "
                f"title '{impl}', '' index {j} using 1:7:8 with labels "
                f"font ',7' notitle"
                for j, impl in enumerate(peers)),
        ]
    else:
        script += [
            "unset border; unset tics; unset key",
            "set label 'cio figures not yet available: no ratios to plot' at 0.5,0.5 center",
            "plot [0:1][0:1] NaN notitle",
        ]
    p = subprocess.run(["gnuplot"], input="\n".join(script) + "\n", text=True,
                       capture_output=True)
    os.unlink(data)
    if p.returncode != 0:
        print(f"report.py: gnuplot failed:\n{p.stderr}", file=sys.stderr)

# The internals' figures: (micro, qualifier key=value or "", figure key) -> what it is.
MICRO = [
    ("switch", "", "ns_per_switch", "one context switch (two bare contexts bouncing)"),
    ("wait_ret", "", "ns_per_round_trip",
     "two contexts bouncing through a wait that returns with `ret` (two switches)"),
    ("wait_park", "", "ns_per_round_trip",
     "the same through the parking switch (the resumed side jumps to its caller)"),
    ("yield", "", "ns_per_yield", "`cio_yield` between two tasks (switch + scheduling)"),
    ("spawn_warm", "", "ns_per_task",
     "spawn + run + join an empty task, warm stack pool (4,000 alive)"),
    ("spawn_cold", "", "ns_per_task",
     "spawn + run + join an empty task, cold pool (mmap, guard page, first touch)"),
    ("timer_arm_disarm", "heap=0", "ns_latest", "timer arm + disarm, empty heap"),
    ("timer_arm_disarm", "heap=100000", "ns_latest",
     "timer arm + disarm, 100k armed, latest deadline (a timeout scope)"),
    ("timer_arm_disarm", "heap=100000", "ns_earliest",
     "timer arm + disarm, 100k armed, earliest deadline (sifts to the root)"),
    ("queue_put_get", "", "ns_per_pair", "queue put + get pair, no contention"),
    ("page_fault", "", "ns_per_fault",
     "the machine: first touch of a fresh page (every cold stack pays it)"),
]
TIMER_CASES = [
    ("timeout_newest", "arm a timeout and cancel it, 100k others armed"),
    ("timeout_random", "arm 100k timeouts, cancel them in random order"),
    ("sleep_same", "1M sleeps of one duration, fired in 1 ms loop turns"),
    ("sleep_random", "1M sleeps spread over 1 s, fired in 1 ms loop turns"),
]


def micro_values(micro, name, qual, key):
    k, _, v = qual.partition("=")
    return [float(m[key]) for m in micro
            if m.get("micro") == name and (not k or m.get(k) == v) and key in m]


def spread(values, fmt="{:,.1f}"):
    if not values:
        return "FAILED"
    med = statistics.median(values)
    return f"{fmt.format(med)} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def micro_tables(micro):
    """Markdown for the internals' figures and the timer-structure comparison."""
    if not micro:
        return ""
    failed = sorted({m["prog"] for m in micro if "failed" in m})
    lines = ["| what | ns: median (min–max) |", "|---|---|"]
    for name, qual, key, what in MICRO:
        lines.append(f"| {what} | {spread(micro_values(micro, name, qual, key), '{:,.2f}')} |")
    lines += ["", "Timer structures, ns per timer: cio's heap against a hierarchical timing "
              "wheel (bench/cio/timers.c):", "",
              "| case | heap | wheel | wheel / heap |", "|---|---|---|---|"]
    for case, what in TIMER_CASES:
        heap = micro_values(micro, "timers", f"case={case}", "heap_ns")
        wheel = micro_values(micro, "timers", f"case={case}", "wheel_ns")
        rat = (f"{statistics.median(wheel) / statistics.median(heap):.2f}"
               if heap and wheel and statistics.median(heap) > 0 else "—")
        lines.append(f"| {what} | {spread(heap)} | {spread(wheel)} | {rat} |")
    if failed:
        lines += ["", "Failed: " + ", ".join(failed) + " (see build/bench/logs/micro.*)."]
    return "\n### cio's internals\n\n" + "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--results", required=True)
    p.add_argument("--markdown", required=True)
    p.add_argument("--plot", required=True)
    p.add_argument("--mode", default="full")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--command", default="make bench")
    p.add_argument("--elapsed", type=int, default=0)
    p.add_argument("--cio-built", type=int, default=0)
    args = p.parse_args()

    workloads, rows, micro = load(args.results)
    summary = summarise(workloads, rows)
    header, lines = table(workloads, summary)
    print()
    print(plain(header, lines))
    print()
    print("cio speed-up: the peer's time / cio's time (for req/s: cio's rate / the peer's);"
          " above 1 means cio is faster.\ncio's reference is its default backend (io_uring) "
          "where it has two, or epoll when io_uring was skipped or failed.")

    today = datetime.date.today().isoformat()
    plot(workloads, summary, args.plot, f"cio vs peers, {today} ({args.mode} run)")
    failed = [f"{w} {i}" for (w, i), e in summary.items() if e["status"] == "fail"]

    sizes = "\n".join(f"| {w} | `{m['args']}` |" for w, m in workloads.items())
    body = f"""{START}
<!-- Written by bench/run.sh ({os.path.basename(__file__)}); edits between these markers are lost. -->

## Results

Measured {today} with `{args.command}` ({args.mode} run: {args.runs} run(s) of each
workload and implementation, {args.elapsed // 60} min {args.elapsed % 60} s of measuring).

**Ratios measured within one run of the runner are the figures that count; never compare
absolute numbers across runs or machines.** The machine is shared and noisy.

{markdown_table(header, lines)}

*cio speed-up* is the peer's time divided by cio's (for requests per second: cio's rate
divided by the peer's); above 1 means cio is faster. cio's reference is its default backend
(io_uring) where it has two, or epoll when io_uring was skipped or failed; the other backend's
row then compares it with the reference. Figures are medians of
the runs, with min–max; peak RSS is the median of `/usr/bin/time -f %M` over the runs (for
W7/W8 the server's, for W11 the client's). W7 and W8 servers run on core 1, the load
generator on core 0; W11 clients on core 0 against one nginx worker on core 1.
{"" if args.cio_built else chr(10) + "cio did not build in this run (or has no bench programs yet): its rows read *not yet*." + chr(10)}{(chr(10) + "Failed: " + ", ".join(failed) + " (see build/bench/logs/)." + chr(10)) if failed else ""}
![cio speed-up over each peer, per workload]({os.path.basename(args.plot)})
{micro_tables(micro)}
### Sizes

| workload | arguments (W7: load client; W8: wrk seconds) |
|---|---|
{sizes}

### Machine and versions

- Machine: {machine()}
""" + "\n".join(f"- {name}: {ver}" for name, ver in versions()) + f"""

{END}"""

    text = ""
    if os.path.exists(args.markdown):
        with open(args.markdown) as f:
            text = f.read()
    if START in text and END in text:
        text = text[:text.index(START)] + body + text[text.index(END) + len(END):]
    elif text:
        text = text.rstrip("\n") + "\n\n" + body + "\n"
    else:
        text = f"""# Benchmarks

cio against Python asyncio (stock loop and uvloop), Go, libuv and nginx, on the workloads
described in [bench/README.md](../bench/README.md). Regenerate with `make bench` (about
15 minutes) or take a short look with `make bench-quick`. The runner rewrites only the part
between the `generated` markers; notes written around it stay.

{body}
"""
    os.makedirs(os.path.dirname(os.path.abspath(args.markdown)), exist_ok=True)
    with open(args.markdown, "w") as f:
        f.write(text)
    print(f"\nwrote {args.markdown} and {args.plot}")
    if failed:
        print(f"FAILED: {', '.join(failed)} (logs: build/bench/logs/)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
