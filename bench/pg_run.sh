#!/usr/bin/env bash
# W12-W16 (PostgreSQL) for cio and its peers, side by side in one run: a
# throwaway PostgreSQL 15 cluster (initdb in a temporary directory, run as the
# postgres user when root) on core 1, the clients on core 0.
#
#   bench/pg_run.sh [--quick]      (cio's programs from build/release/bench)
#
# Peers: asyncpg on uvloop (python3-asyncpg, python3-uvloop), psycopg 3 async on
# uvloop (python3-psycopg, python3-psycopg-pool), pgbench (W12 -M prepared; W13
# in pipeline mode; W14 with the pool's 10 connections, the ceiling), a plain
# libpq C loop (W12, W15, W16). Each program's line is followed by the server's
# CPU time during it (server_cpu_s=). bench/pg_results.py turns
# the lines into rows of bench/report.py's table.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${CIO_BIN:-$ROOT/build/release/bench}
PGBIN=/usr/lib/postgresql/15/bin
PY=/usr/bin/python3
quick=0
[[ ${1:-} == --quick ]] && quick=1
[[ -x $PGBIN/postgres ]] || { echo "pg_run.sh: no PostgreSQL 15 server in $PGBIN" >&2; exit 77; }
# The Python peers' packages: installed when root, named otherwise.
peer_missing=()
for mod in asyncpg:python3-asyncpg uvloop:python3-uvloop psycopg:python3-psycopg psycopg_pool:python3-psycopg-pool; do
    $PY -c "import ${mod%%:*}" 2>/dev/null || peer_missing+=("${mod#*:}")
done
if ((${#peer_missing[@]})); then
    if [[ $(id -u) == 0 ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${peer_missing[@]}" >/dev/null
    else
        echo "pg_run.sh: missing peers. Run: sudo apt-get install -y ${peer_missing[*]}" >&2
        exit 1
    fi
fi

dir=$(mktemp -d /tmp/cio-pg-bench.XXXXXX)
as_pg=()
if [[ $(id -u) == 0 ]]; then
    chown postgres: "$dir"
    as_pg=(runuser -u postgres --)
fi
port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"${as_pg[@]}" "$PGBIN/initdb" -D "$dir/data" --no-sync -A trust -U postgres >"$dir/initdb.log" 2>&1
"${as_pg[@]}" taskset -c 1 "$PGBIN/postgres" -D "$dir/data" -k "$dir" -p "$port" \
    -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
    -c full_page_writes=off -c shared_buffers=128MB >"$dir/server.log" 2>&1 &
runner=$!
# Stop the postmaster itself by its PID (runuser does not pass signals on).
stop() {
    local pid
    pid=$(head -1 "$dir/data/postmaster.pid" 2>/dev/null || true)
    [[ -n $pid ]] && kill -INT "$pid" 2>/dev/null
    wait "$runner" 2>/dev/null || true
    rm -rf "$dir"
}
trap stop EXIT
export CIO_PG_DSN="host=$dir port=$port user=postgres dbname=postgres"
for _ in $(seq 200); do
    "$PGBIN/pg_isready" -q -h "$dir" -p "$port" && break
    sleep 0.05
done

# The server's CPU time in clock ticks: the postmaster with the backends it
# has reaped, plus the live ones (a backend's time reaches the postmaster's
# cutime/cstime when it exits).
server_ticks() {
    local pm t=0 f
    pm=$(head -1 "$dir/data/postmaster.pid")
    for f in /proc/"$pm"/stat $(sed 's#[0-9]*#/proc/&/stat#g' /proc/"$pm"/task/"$pm"/children); do
        [[ -r $f ]] || continue
        read -r -a st <"$f" || continue
        # Fields 14-17 (utime stime cutime cstime) sit after "pid (comm)".
        t=$((t + st[13] + st[14]))
        [[ $f == /proc/$pm/stat ]] && t=$((t + st[15] + st[16]))
    done
    echo "$t"
}
# Each program's line gets server_cpu_s=: the PostgreSQL server's CPU for the
# whole program (connects and setup too), which shows how close to saturation
# the server ran.
measured() {
    local t0 t1
    t0=$(server_ticks)
    "$@"
    t1=$(server_ticks)
    awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "server_cpu_s=%.2f\n", d / hz}'
}
client() { measured taskset -c 0 /usr/bin/time -f 'rss_kb=%M' "$@" 2>&1 | grep -E '^impl=|^rss_kb=|^server_cpu_s=|FAILED|error' || true; }
pgbench_run() { # pgbench_run AWK-PROGRAM pgbench-args...
    local prog=$1
    shift
    measured bash -c 'PGHOST="$0" PGPORT="$1" PGUSER=postgres taskset -c 0 pgbench "${@:3}" postgres 2>&1 | awk "$2"' \
        "$dir" "$port" "$prog" "$@"
}
s() { ((quick)) && echo "$2" || echo "$1"; }

echo "# W12 sequential round trips"
client "$BIN/cio-w12-pg-roundtrips" --n="$(s 20000 2000)"
client "$BIN/libpq-pg" --workload=12 --n="$(s 20000 2000)"
client $PY "$ROOT/bench/peers/python/pg_asyncpg.py" --uvloop --workload=w12 --n="$(s 20000 2000)"
client $PY "$ROOT/bench/peers/python/pg_psycopg.py" --uvloop --workload=w12 --n="$(s 20000 2000)"
printf 'SELECT :i::int;\n' >"$dir/w12.sql"
pgbench_run '/^tps = / {printf "impl=pgbench workload=w12-pg-roundtrips qps=%.0f\n", $3}' \
    -n -M prepared -t "$(s 20000 2000)" -D i=1 -f "$dir/w12.sql"

echo "# W13 pipelined"
client "$BIN/cio-w13-pg-pipelined" --n="$(s 100000 10000)"
# asyncpg refuses a second query on a busy connection ("another operation is
# in progress"): its W13 row reports that failure.
client $PY "$ROOT/bench/peers/python/pg_asyncpg.py" --uvloop --workload=w13 --n="$(s 100000 10000)"
client $PY "$ROOT/bench/peers/python/pg_psycopg.py" --uvloop --workload=w13 --n="$(s 100000 10000)"
{ echo '\startpipeline'; for _ in $(seq 1000); do echo 'SELECT :i::int;'; done; echo '\endpipeline'; } >"$dir/w13.sql"
pgbench_run '/^tps = / {printf "impl=pgbench workload=w13-pg-pipelined qps=%.0f (pipelines of 1000)\n", $3 * 1000}' \
    -n -M extended -t "$(s 100 10)" -D i=1 -f "$dir/w13.sql"

echo "# W14 pool"
client "$BIN/cio-w14-pg-pool" --iters="$(s 200 20)"
client $PY "$ROOT/bench/peers/python/pg_asyncpg.py" --uvloop --workload=w14 --n="$(s 20000 2000)"
client $PY "$ROOT/bench/peers/python/pg_psycopg.py" --uvloop --workload=w14 --n="$(s 20000 2000)"
# The ceiling: pgbench's C client (one thread, on the clients' core) keeping
# the pool's 10 connections busy with the same query, no pool in the way.
printf 'SELECT 1;\n' >"$dir/w14.sql"
pgbench_run '/^tps = / {printf "impl=pgbench-10conns workload=w14-pg-pool qps=%.0f\n", $3}' \
    -n -M prepared -c 10 -j 1 -t "$(s 2000 200)" -f "$dir/w14.sql"

echo "# W15 rows"
client "$BIN/cio-w15-pg-rows" --n="$(s 1000000 100000)"
client "$BIN/libpq-pg" --workload=15 --n="$(s 1000000 100000)"
client $PY "$ROOT/bench/peers/python/pg_asyncpg.py" --uvloop --workload=w15 --n="$(s 1000000 100000)"
client $PY "$ROOT/bench/peers/python/pg_psycopg.py" --uvloop --workload=w15 --n="$(s 1000000 100000)"

echo "# W16 bulk insert"
client "$BIN/cio-w16-pg-bulk" --n="$(s 100000 10000)"
client "$BIN/libpq-pg" --workload=16 --n="$(s 100000 10000)"
client $PY "$ROOT/bench/peers/python/pg_asyncpg.py" --uvloop --workload=w16 --n="$(s 100000 10000)"
client $PY "$ROOT/bench/peers/python/pg_psycopg.py" --uvloop --workload=w16 --n="$(s 100000 10000)"
