#!/usr/bin/env bash
# Runs the benchmark workloads for cio and its peers, prints the comparison table and, on a
# full run, rewrites the generated part of docs/BENCHMARKS.md and docs/benchmarks.png.
# Workloads, conventions and peers: bench/README.md.
#
#   bench/run.sh [--quick] [--runs=N] [--only=w1,w7,...] [--impls=go,cio-uring,...]
#                [--sleepers-1m] [--no-docs]
#
#   --quick        small sizes, 1 run each; writes build/bench/BENCHMARKS-quick.md, not docs/
#   --runs=N       runs per workload and implementation (default 3, quick 1)
#   --only=LIST    workload ids or prefixes (w1, w5-queue-p4, w8-http, micro); implies
#                  --no-docs
#   --impls=LIST   implementation labels (cio, cio-uring, cio-epoll, asyncio, uvloop, go,
#                  libuv, nginx); implies --no-docs
#   --sleepers-1m  also run W3 with N = 1,000,000 (row w3-sleepers-1m)
#   --no-docs      leave docs/ alone
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/build/bench          # results, logs and scratch files of this run
PEERS=$ROOT/build/peers        # the peers' binaries
CIO_BIN=${CIO_BIN:-$ROOT/build/release/bench} # overridable, to test the runner
PY=/usr/bin/python3            # Debian's interpreter: python3-uvloop/-aiohttp install here
SERVER_CORE=1                  # W7/W8 servers and the W11 nginx run here...
LOAD_CORE=0                    # ...and load generators and W11 clients here
RUN_LIMIT=600                  # seconds any one benchmark process may take

quick=0 runs='' only='' impls='' sleepers_1m=0 docs=1
for arg in "$@"; do
    case $arg in
    --quick) quick=1 ;;
    --runs=*) runs=${arg#*=} ;;
    --only=*) only=${arg#*=} docs=0 ;;
    --impls=*) impls=${arg#*=} docs=0 ;;
    --sleepers-1m) sleepers_1m=1 ;;
    --no-docs) docs=0 ;;
    -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument $arg (try --help)" >&2; exit 2 ;;
    esac
done
[[ -n $runs ]] || runs=$((quick ? 1 : 3))
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --runs wants a positive number" >&2; exit 2; }
cd "$ROOT"

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---------------------------------------------------------------------------------------
# Tools: install what is missing when root, else say exactly what to install.

install_missing() {
    local missing=()
    command -v cc >/dev/null || missing+=(gcc)
    command -v cmake >/dev/null || missing+=(cmake)
    command -v pkg-config >/dev/null || missing+=(pkg-config)
    command -v curl >/dev/null || missing+=(curl)
    [[ -x $PY ]] || missing+=(python3)
    command -v go >/dev/null || missing+=(golang-go)
    [[ -x $PY ]] && $PY -c 'import uvloop' 2>/dev/null || missing+=(python3-uvloop)
    [[ -x $PY ]] && $PY -c 'import aiohttp' 2>/dev/null || missing+=(python3-aiohttp)
    [[ -x $PY ]] && $PY -c 'import aiosqlite' 2>/dev/null || missing+=(python3-aiosqlite)
    pkg-config --exists libuv 2>/dev/null || missing+=(libuv1-dev)
    command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
    command -v wrk >/dev/null || missing+=(wrk)
    # gnuplot-nox: the same gnuplot with its PNG terminals, without the Qt/X11 front end.
    command -v gnuplot >/dev/null || missing+=(gnuplot-nox)
    [[ -x /usr/bin/time ]] || missing+=(time)
    command -v taskset >/dev/null || missing+=(util-linux)
    command -v timeout >/dev/null || missing+=(coreutils)
    ((${#missing[@]} == 0)) && return 0

    local cmd="apt-get install -y --no-install-recommends ${missing[*]}"
    if [[ $(id -u) != 0 ]]; then
        echo "run.sh: missing tools; install them with:" >&2
        echo "    sudo apt-get update && sudo $cmd" >&2
        exit 1
    fi
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && $cmd >"$OUT/logs/apt.log" 2>&1 || {
        echo "run.sh: '$cmd' failed; see $OUT/logs/apt.log" >&2
        exit 1
    }
}

# ---------------------------------------------------------------------------------------
# Builds: cio in release mode (a failure only marks cio "not yet"), then every peer.

cio_built=0
build_cio() {
    log "building cio (release)"
    if [[ -f CMakeLists.txt ]] &&
        cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >"$OUT/logs/cio-build.log" 2>&1 &&
        cmake --build build/release -j2 >>"$OUT/logs/cio-build.log" 2>&1; then
        cio_built=1
    else
        log "cio build failed or absent: cio shows as 'not yet' (log: build/bench/logs/cio-build.log)"
    fi
}

build_peers() {
    log "building peers"
    mkdir -p "$PEERS"
    local f b
    # Go: module mode with no dependencies, nothing fetched.
    for f in bench/peers/go/w*.go; do
        b=$(basename "$f" .go)
        (cd bench/peers/go && GOPROXY=off GOFLAGS='' GOTOOLCHAIN=local GOCACHE="$PEERS/.gocache" \
            go build -o "$PEERS/go-$b" "$b.go")
    done
    for f in bench/peers/libuv/w*.c; do
        b=$(basename "$f" .c)
        # shellcheck disable=SC2046  # pkg-config's flags split on purpose
        cc -O2 -Wall -Wextra -o "$PEERS/libuv-$b" "$f" $(pkg-config --cflags --libs libuv)
    done
    cc -O2 -Wall -Wextra -o "$PEERS/echo_client" bench/load/echo_client.c
    cc -O2 -Wall -Wextra -o "$PEERS/http_rate" bench/load/http_rate.c # W8 tail: fixed rate
    # W20-W22: the WebSocket load client; gorilla/websocket from Debian, in GOPATH mode
    # (w20_ws.go: echo; w22_broadcast.go: the broadcast room).
    cc -O2 -Wall -Wextra -o "$PEERS/ws_client" bench/load/ws_client.c
    GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS='' GOTOOLCHAIN=local \
        GOCACHE="$PEERS/.gocache" go build -o "$PEERS/go-w20_ws" bench/peers/go-ws/w2[02]_*.go ||
        log "go-w20_ws not built (golang-github-gorilla-websocket-dev missing?)"
}

# ---------------------------------------------------------------------------------------
# The workloads. One row each:
#   id | program stem | cio program | headline key | better | kind | implementations |
#   full arguments | quick arguments
# kind: run (the program measures itself), echo (server + bench/load/echo_client), wrk
# (HTTP server + wrk; the arguments are wrk's seconds), client (HTTP client against nginx),
# tail (HTTP server + bench/load/http_rate at a fixed rate, at least 10 rounds).
# cio-uring/cio-epoll rows run the same cio program with CIO_BACKEND=uring/epoll.

WORKLOADS=$(
    cat <<'EOF'
w1-spawn       |w1_spawn       |cio-w1-spawn       |ns_per_task  |lower |run   |cio asyncio uvloop go|--n=1000000 --batch=10000|--n=100000 --batch=10000
w2-pingpong    |w2_pingpong    |cio-w2-pingpong    |ns_per_rt    |lower |run   |cio asyncio uvloop go|--n=1000000|--n=100000
w3-sleepers    |w3_sleepers    |cio-w3-sleepers    |overhead_secs|lower |run   |cio-uring cio-epoll asyncio uvloop go libuv|--n=100000|--n=10000
w3-sleepers-1m |w3_sleepers    |cio-w3-sleepers    |overhead_secs|lower |run   |cio-uring cio-epoll asyncio uvloop go libuv|--n=1000000|--n=1000000
w4-lock        |w4_lock        |cio-w4-lock        |ns_per_op    |lower |run   |cio asyncio uvloop go|--tasks=1000 --iters=1000|--tasks=1000 --iters=100
w5-queue-p1    |w5_queue       |cio-w5-queue       |ns_per_item  |lower |run   |cio asyncio uvloop go|--n=1000000 --p=1|--n=100000 --p=1
w5-queue-p4    |w5_queue       |cio-w5-queue       |ns_per_item  |lower |run   |cio asyncio uvloop go|--n=1000000 --p=4|--n=100000 --p=4
w6-semaphore   |w6_semaphore   |cio-w6-semaphore   |ns_per_task  |lower |run   |cio asyncio uvloop go|--n=100000 --limit=100|--n=10000 --limit=100
w7-echo        |w7_echo        |cio-w7-echo        |rps          |higher|echo  |cio-uring cio-epoll asyncio uvloop go libuv|--conns=100 --msgs=10000|--conns=100 --msgs=1000
w8-http        |w8_http        |cio-w8-http        |rps          |higher|wrk   |cio-uring cio-epoll asyncio uvloop go nginx|10|2
w8-tail        |w8_http        |cio-w8-http        |p99_us       |lower |tail  |cio-uring cio-epoll nginx|--rate=50000 --conns=50 --secs=5 --warmup=1|--rate=10000 --conns=50 --secs=2 --warmup=0.5
w9-timeout     |w9_timeout     |cio-w9-timeout     |ns_per_scope |lower |run   |cio-uring cio-epoll asyncio uvloop go|--n=1000000|--n=100000
w10-to-thread  |w10_to_thread  |cio-w10-to-thread  |ns_per_call  |lower |run   |cio-uring cio-epoll asyncio uvloop go libuv|--n=100000 --inflight=64|--n=10000 --inflight=64
w11-http-client|w11_http_client|cio-w11-http-client|rps          |higher|client|cio-uring cio-epoll asyncio uvloop go|--n=20000 --inflight=100|--n=2000 --inflight=100
w17-lookup-1   |w17_sqlite_lookup|cio-w17-sqlite   |lookups_per_s|higher|run   |cio-uring cio-epoll csqlite pysqlite3 aiosqlite|--n=100000 --tasks=1|--n=10000 --tasks=1
w17-lookup-100 |w17_sqlite_lookup|cio-w17-sqlite   |lookups_per_s|higher|run   |cio-uring cio-epoll csqlite pysqlite3 aiosqlite|--n=100000 --tasks=100|--n=10000 --tasks=100
w18-scan       |w18_sqlite_scan|cio-w18-sqlite     |rows_per_s   |higher|run   |cio-uring cio-epoll csqlite pysqlite3 aiosqlite|--rows=1000000|--rows=1000000
w19-insert-auto|w19_sqlite_insert|cio-w19-sqlite   |rows_per_s   |higher|run   |cio-uring cio-epoll csqlite pysqlite3 aiosqlite|--n=20000 --batch=1|--n=2000 --batch=1
w19-insert-tx  |w19_sqlite_insert|cio-w19-sqlite   |rows_per_s   |higher|run   |cio-uring cio-epoll csqlite pysqlite3 aiosqlite|--n=200000 --batch=100|--n=20000 --batch=100
w20-ws-echo-64 |w20_ws         |cio-w20-ws         |rps          |higher|ws    |cio-uring cio-epoll go node uvloop|--workload=echo --conns=100 --msgs=10000 --size=64|--workload=echo --conns=100 --msgs=1000 --size=64
w20-ws-echo-1k |w20_ws         |cio-w20-ws         |rps          |higher|ws    |cio-uring cio-epoll go node uvloop|--workload=echo --conns=100 --msgs=10000 --size=1024|--workload=echo --conns=100 --msgs=1000 --size=1024
w21-ws-idle    |w20_ws         |cio-w20-ws         |kib_per_conn |lower |ws    |cio-uring cio-epoll go node uvloop|--workload=idle --conns=10000|--workload=idle --conns=1000
w21-ws-idle-deflate|w20_ws     |cio-w20-ws         |kib_per_conn |lower |ws    |cio-uring cio-epoll|--workload=idle --conns=10000 --deflate=1|--workload=idle --conns=1000 --deflate=1
w22-ws-broadcast|w20_ws        |cio-w20-ws         |ms_median    |lower |ws    |cio-uring cio-epoll go node uvloop|--workload=broadcast --conns=10000 --rounds=400|--workload=broadcast --conns=1000 --rounds=100
EOF
)

# selected LIST WORD: is WORD one of LIST's comma-separated items, or starts with one?
selected() {
    [[ -z $1 ]] && return 0
    local item
    for item in ${1//,/ }; do
        [[ $2 == "$item" || $2 == "$item"-* ]] && return 0
    done
    return 1
}

# ---------------------------------------------------------------------------------------
# Processes: every server is started through start_server and killed by PID.

SERVER_TIME_PIDS=() # /usr/bin/time wrapping each server; the server is its only child
SCRATCH=

cleanup() {
    local pid child
    for pid in "${SERVER_TIME_PIDS[@]}"; do
        kill -0 "$pid" 2>/dev/null || continue
        for child in $(pgrep -P "$pid" || true); do kill -TERM "$child" 2>/dev/null || true; done
        sleep 0.5
        for child in $(pgrep -P "$pid" || true); do kill -KILL "$child" 2>/dev/null || true; done
        kill -TERM "$pid" 2>/dev/null || true
    done
    [[ -n $SCRATCH ]] && rm -rf "$SCRATCH"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server TIMEFILE LOGFILE ENV... -- CMD...: runs CMD on the server core under
# /usr/bin/time; sets SERVER_PID (time's) and SERVER_CHILD (the server's own PID).
start_server() {
    local tf=$1 lf=$2
    shift 2
    local envs=()
    while [[ $1 != -- ]]; do envs+=("$1"); shift; done
    shift
    taskset -c $SERVER_CORE env "${envs[@]}" /usr/bin/time -o "$tf" -f '%M %U %S' "$@" \
        >"$lf" 2>&1 </dev/null &
    SERVER_PID=$!
    SERVER_TIME_PIDS+=("$SERVER_PID")
    SERVER_CHILD=
    local _
    for _ in $(seq 50); do
        SERVER_CHILD=$(pgrep -P "$SERVER_PID" || true)
        [[ -n $SERVER_CHILD ]] && return 0
        sleep 0.02
    done
    return 1
}

# wait_port PORT: wait until the server accepts connections (10 s at most).
wait_port() {
    local _
    for _ in $(seq 200); do
        kill -0 "$SERVER_PID" 2>/dev/null || return 1
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# stop_server: SIGTERM to the server, then wait for /usr/bin/time to write its figures.
stop_server() {
    kill -TERM "$SERVER_CHILD" 2>/dev/null || true
    local _
    for _ in $(seq 100); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    kill -KILL "$SERVER_CHILD" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
}

# ---------------------------------------------------------------------------------------
# One measurement. Each appends one R row to results.tsv:
#   R  workload  impl  run  status  value  rss_kb  extra(k=v;k=v)

RESULTS=$OUT/results.tsv

record() { # workload impl run status value rss_kb extra
    printf 'R\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS"
}

# field LINE KEY: the value of KEY in a key=value line.
field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p" | head -1; }

# time_rss TIMEFILE: peak RSS in KB; time_cpu TIMEFILE: user + system seconds.
time_rss() { tail -1 "$1" | awk '{print $1}'; }
time_cpu() { tail -1 "$1" | awk '{printf "%.2f", $2 + $3}'; }

# check_line WORKLOAD IMPL HEADLINE LINE: the program's line names its workload and has
# the headline figure.
check_line() {
    local want=${1%-p[0-9]}
    want=${want%-1m}
    [[ $(field "$4" workload) == "$want" && -n $(field "$4" "$3") ]]
}

# skip_run: the program exited 77, its way of saying this machine lacks what it needs
# (say, io_uring for cio-uring); that is no failure, and the table shows "skipped".
skip_run() { # workload impl run logfile
    log "skipped $1 $2 run $3: exit 77 (log: ${4#"$ROOT"/})"
    tail -2 "$4" | sed 's/^/    /' >&2
    record "$1" "$2" "$3" skip - - ""
}

# server_failed: after a server did not come up, record a skip (exit 77) or a failure.
server_failed() { # workload impl run timefile logfile
    if grep -q 'exited with non-zero status 77' "$4" 2>/dev/null; then
        skip_run "$1" "$2" "$3" "$5"
    else
        fail_run "$1" "$2" "$3" "$5" "server did not start"
    fi
}

fail_run() { # workload impl run logfile why
    log "FAILED $1 $2 run $3: $5 (log: ${4#"$ROOT"/})"
    tail -5 "$4" | sed 's/^/    /' >&2
    record "$1" "$2" "$3" fail - - "why=${5//[;$'\t']/,}"
}

# program IMPL STEM CIOPROG: the command line of one implementation, in CMD and ENVS.
program() {
    ENVS=()
    case $1 in
    asyncio) CMD=("$PY" "bench/peers/python/$2.py") ;;
    uvloop) CMD=("$PY" "bench/peers/python/$2.py" --uvloop) ;;
    go) CMD=("$PEERS/go-$2") ENVS=(GOMAXPROCS=1) ;;
    node) CMD=(/usr/bin/node "bench/peers/node/$2.js") ENVS=(NODE_PATH=/usr/share/nodejs) ;;
    libuv) CMD=("$PEERS/libuv-$2") ;;
    cio) CMD=("$CIO_BIN/$3") ;;
    cio-uring) CMD=("$CIO_BIN/$3") ENVS=(CIO_BACKEND=uring) ;;
    cio-epoll) CMD=("$CIO_BIN/$3") ENVS=(CIO_BACKEND=epoll) ;;
    # W17-W19: SQLite from C (the ceiling, built with cio's benchmarks), Python's
    # sqlite3, and aiosqlite on uvloop.
    csqlite) CMD=("$CIO_BIN/csqlite-$2") ;;
    pysqlite3) CMD=("$PY" "bench/peers/python/$2.py" --driver=sqlite3) ;;
    aiosqlite) CMD=("$PY" "bench/peers/python/$2.py" --driver=aiosqlite --uvloop) ;;
    *) return 1 ;;
    esac
}

run_self_timed() { # workload stem cioprog headline impl run args...
    local w=$1 stem=$2 cprog=$3 key=$4 impl=$5 r=$6
    shift 6
    local base=$OUT/logs/$w.$impl.$r
    program "$impl" "$stem" "$cprog"
    local rc=0 pin=()
    [[ -n ${PIN:-} ]] && pin=(taskset -c "$PIN")
    "${pin[@]}" env "${ENVS[@]}" /usr/bin/time -o "$base.time" -f '%M %U %S' \
        timeout -k 5 $RUN_LIMIT "${CMD[@]}" "$@" >"$base.out" 2>"$base.log" || rc=$?
    local line
    line=$(grep -m1 'impl=' "$base.out" || true)
    cat "$base.out" >>"$base.log"
    if ((rc == 77)); then
        skip_run "$w" "$impl" "$r" "$base.log"
        return
    elif ((rc != 0)); then
        fail_run "$w" "$impl" "$r" "$base.log" "exit $rc"
        return
    elif ! check_line "$w" "$impl" "$key" "$line"; then
        fail_run "$w" "$impl" "$r" "$base.log" "no line with workload=${w%-[p1]*} and $key="
        return
    fi
    local rss n extra=""
    rss=$(time_rss "$base.time")
    if [[ $w == w3-* ]]; then
        n=$(field "$line" n)
        extra="bytes_per_task=$((rss * 1024 / n))"
    fi
    [[ $w == w19-* && -n $(field "$line" lag_p99_ms) ]] && extra="lag_p99_ms=$(field "$line" lag_p99_ms)"
    record "$w" "$impl" "$r" ok "$(field "$line" "$key")" "$rss" "$extra"
    log "$w $impl run $r: $key=$(field "$line" "$key") rss=${rss}KB"
}

run_echo() { # workload stem cioprog headline impl run args...
    local w=$1 stem=$2 cprog=$3 key=$4 impl=$5 r=$6
    shift 6
    local base=$OUT/logs/$w.$impl.$r port
    program "$impl" "$stem" "$cprog"
    port=$(free_port)
    # --deflate=1 (W21 with permessage-deflate) is the server's too.
    local sargs=()
    [[ " $* " == *" --deflate=1 "* ]] && sargs=(--deflate=1)
    if ! start_server "$base.time" "$base.server.log" "${ENVS[@]}" -- "${CMD[@]}" "${sargs[@]}" \
        --port="$port" ||
        ! wait_port "$port"; then
        stop_server
        server_failed "$w" "$impl" "$r" "$base.time" "$base.server.log"
        return
    fi
    local rc=0 line
    taskset -c $LOAD_CORE timeout -k 5 $RUN_LIMIT "$PEERS/echo_client" --port="$port" \
        --impl="$impl" "$@" >"$base.out" 2>"$base.log" || rc=$?
    stop_server
    line=$(grep -m1 'impl=' "$base.out" || true)
    cat "$base.out" >>"$base.log"
    if ((rc != 0)) || [[ -z $line ]] || [[ ! -s $base.time ]]; then
        fail_run "$w" "$impl" "$r" "$base.log" "load client exit $rc"
        return
    fi
    local rss cpu
    rss=$(time_rss "$base.time")
    cpu=$(time_cpu "$base.time")
    record "$w" "$impl" "$r" ok "$(field "$line" rps)" "$rss" "srv_cpu_s=$cpu"
    log "$w $impl run $r: rps=$(field "$line" rps) server cpu=${cpu}s rss=${rss}KB"
}

# W20-W22: a WebSocket server and bench/load/ws_client (which reads the server's RSS
# for W21 through --pid). The headline comes from the client's line.
run_ws() { # workload stem cioprog headline impl run args...
    local w=$1 stem=$2 cprog=$3 key=$4 impl=$5 r=$6
    shift 6
    local base=$OUT/logs/$w.$impl.$r port
    program "$impl" "$stem" "$cprog"
    port=$(free_port)
    # --deflate=1 (W21 with permessage-deflate) is the server's too.
    local sargs=()
    [[ " $* " == *" --deflate=1 "* ]] && sargs=(--deflate=1)
    if ! start_server "$base.time" "$base.server.log" "${ENVS[@]}" -- "${CMD[@]}" "${sargs[@]}" \
        --port="$port" ||
        ! wait_port "$port"; then
        stop_server
        server_failed "$w" "$impl" "$r" "$base.time" "$base.server.log"
        return
    fi
    local rc=0 line
    taskset -c $LOAD_CORE timeout -k 5 $RUN_LIMIT "$PEERS/ws_client" --port="$port" \
        --pid="$SERVER_CHILD" --impl="$impl" "$@" >"$base.out" 2>"$base.log" || rc=$?
    stop_server
    line=$(grep -m1 'impl=' "$base.out" || true)
    cat "$base.out" >>"$base.log"
    if ((rc != 0)) || [[ -z $(field "$line" "$key") ]] || [[ ! -s $base.time ]]; then
        fail_run "$w" "$impl" "$r" "$base.log" "ws_client exit $rc"
        return
    fi
    local rss cpu extra
    rss=$(time_rss "$base.time")
    cpu=$(time_cpu "$base.time")
    extra="srv_cpu_s=$cpu"
    [[ $w == w22-* ]] && extra+=";ms_max=$(field "$line" ms_max);closed=$(field "$line" closed)"
    record "$w" "$impl" "$r" ok "$(field "$line" "$key")" "$rss" "$extra"
    log "$w $impl run $r: $key=$(field "$line" "$key") server cpu=${cpu}s rss=${rss}KB"
}

# nginx_conf DIR PORT: write DIR/nginx.conf from bench/peers/nginx/nginx.conf.
nginx_conf() {
    sed -e "s|@PORT@|$2|g" -e "s|@DIR@|$1|g" bench/peers/nginx/nginx.conf >"$1/nginx.conf"
}

# check_hello PORT: GET / answers 200, text/plain, "Hello, World!".
check_hello() {
    local headers body
    headers=$(curl -s -D - -o "$SCRATCH/body" --max-time 5 "http://127.0.0.1:$1/") || return 1
    body=$(cat "$SCRATCH/body")
    grep -q '^HTTP/1.1 200' <<<"$headers" &&
        grep -qi '^content-type: text/plain' <<<"$headers" &&
        [[ $body == "Hello, World!" ]]
}

# wrk_ms VALUE: wrk's "1.23ms" / "850.00us" / "1.01s" in milliseconds.
wrk_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) printf "%.3f", v / 1000; else if (v ~ /ms$/) printf "%.3f", v + 0;
        else if (v ~ /s$/) printf "%.3f", v * 1000; else print "nan" }'
}

run_wrk() { # workload stem cioprog headline impl run seconds
    local w=$1 stem=$2 cprog=$3 key=$4 impl=$5 r=$6 secs=$7
    local base=$OUT/logs/$w.$impl.$r port
    port=$(free_port)
    if [[ $impl == nginx ]]; then
        local dir=$SCRATCH/nginx-$w-$r
        mkdir -p "$dir"
        nginx_conf "$dir" "$port"
        CMD=(nginx -p "$dir/" -e "$dir/error.log" -c "$dir/nginx.conf") ENVS=()
    else
        program "$impl" "$stem" "$cprog"
        CMD+=(--port="$port")
    fi
    if ! start_server "$base.time" "$base.server.log" "${ENVS[@]}" -- "${CMD[@]}" ||
        ! wait_port "$port"; then
        stop_server
        server_failed "$w" "$impl" "$r" "$base.time" "$base.server.log"
        return
    fi
    if ! check_hello "$port"; then
        stop_server
        fail_run "$w" "$impl" "$r" "$base.server.log" "GET / is not 200 text/plain 'Hello, World!'"
        return
    fi
    local rc=0
    taskset -c $LOAD_CORE timeout -k 5 $((secs + 30)) \
        wrk -t1 -c100 -d"${secs}s" --latency "http://127.0.0.1:$port/" >"$base.out" 2>&1 || rc=$?
    stop_server
    cat "$base.out" >"$base.log"
    local rps p99 requests errors
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$base.out")
    p99=$(awk '$1 == "99%" {print $2}' "$base.out")
    requests=$(awk '/requests in/ {print $1}' "$base.out")
    errors=$(awk '/Socket errors:/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$base.out")
    if ((rc != 0)) || [[ -z $rps || -z $p99 ]] || grep -q 'Non-2xx' "$base.out" ||
        [[ ! -s $base.time ]]; then
        fail_run "$w" "$impl" "$r" "$base.log" "wrk exit $rc, or non-2xx answers"
        return
    fi
    local rss cpu
    rss=$(time_rss "$base.time")
    cpu=$(time_cpu "$base.time")
    record "$w" "$impl" "$r" ok "$rps" "$rss" "p99_ms=$(wrk_ms "$p99");errors=${errors:-0}"
    log "$w $impl run $r: rps=$rps p99=$p99 requests=$requests errors=${errors:-0} rss=${rss}KB"
}

# W8 tail: the W8 server under bench/load/http_rate, a fixed request rate below saturation
# with latency measured from each request's intended time (wrk2's method). Headline p99.
run_tail() { # workload stem cioprog headline impl run args...
    local w=$1 stem=$2 cprog=$3 key=$4 impl=$5 r=$6
    shift 6
    local base=$OUT/logs/$w.$impl.$r port
    port=$(free_port)
    if [[ $impl == nginx ]]; then
        local dir=$SCRATCH/nginx-$w-$r
        mkdir -p "$dir"
        nginx_conf "$dir" "$port"
        CMD=(nginx -p "$dir/" -e "$dir/error.log" -c "$dir/nginx.conf") ENVS=()
    else
        program "$impl" "$stem" "$cprog"
        CMD+=(--port="$port")
    fi
    if ! start_server "$base.time" "$base.server.log" "${ENVS[@]}" -- "${CMD[@]}" ||
        ! wait_port "$port"; then
        stop_server
        server_failed "$w" "$impl" "$r" "$base.time" "$base.server.log"
        return
    fi
    if ! check_hello "$port"; then
        stop_server
        fail_run "$w" "$impl" "$r" "$base.server.log" "GET / is not 200 text/plain 'Hello, World!'"
        return
    fi
    local rc=0 line
    taskset -c $LOAD_CORE timeout -k 5 $RUN_LIMIT "$PEERS/http_rate" --port="$port" \
        --impl="$impl" "$@" >"$base.out" 2>"$base.log" || rc=$?
    stop_server
    line=$(grep -m1 'impl=' "$base.out" || true)
    cat "$base.out" >>"$base.log"
    if ((rc != 0)) || [[ -z $(field "$line" "$key") ]] || [[ ! -s $base.time ]]; then
        fail_run "$w" "$impl" "$r" "$base.log" "http_rate exit $rc"
        return
    fi
    local rss cpu k extra
    rss=$(time_rss "$base.time")
    cpu=$(time_cpu "$base.time")
    extra="srv_cpu_s=$cpu"
    for k in rps p50_us p999_us max_us late; do extra+=";$k=$(field "$line" $k)"; done
    record "$w" "$impl" "$r" ok "$(field "$line" "$key")" "$rss" "$extra"
    log "$w $impl run $r: rps=$(field "$line" rps) p50=$(field "$line" p50_us)us" \
        "p99=$(field "$line" p99_us)us p99.9=$(field "$line" p999_us)us late=$(field "$line" late)"
}

# W11: one nginx serves every client of the workload; the client is what is measured.
NGINX_W11_PORT=
start_w11_nginx() {
    local dir=$SCRATCH/nginx-w11
    mkdir -p "$dir"
    NGINX_W11_PORT=$(free_port)
    nginx_conf "$dir" "$NGINX_W11_PORT"
    start_server "$dir/time" "$OUT/logs/w11-nginx.log" -- \
        nginx -p "$dir/" -e "$dir/error.log" -c "$dir/nginx.conf" &&
        wait_port "$NGINX_W11_PORT" && check_hello "$NGINX_W11_PORT"
}

run_client() { # workload stem cioprog headline impl run args...
    # As run_self_timed, with the client on the load core and nginx on the other.
    PIN=$LOAD_CORE run_self_timed "$@" --port="$NGINX_W11_PORT"
}

# ---------------------------------------------------------------------------------------
# Microbenchmarks of cio's internals (bench/cio/micro.c and timers.c), on the default
# backend. Each of their key=value lines goes to results.tsv as it is, for report.py:
#   M  run  line
run_micro() {
    local quick_args=() r prog base rc
    ((quick)) && quick_args=(--n=1000000)
    log "== micro: cio-micro cio-timers ($runs run(s))"
    for r in $(seq "$runs"); do
        for prog in cio-micro cio-timers; do
            base=$OUT/logs/micro.$prog.$r
            if [[ ! -x $CIO_BIN/$prog ]]; then
                log "micro: $prog not built"
                continue
            fi
            rc=0
            timeout -k 5 $RUN_LIMIT "$CIO_BIN/$prog" "${quick_args[@]}" >"$base.out" \
                2>"$base.log" || rc=$?
            if ((rc != 0)); then
                log "FAILED micro $prog run $r: exit $rc (log: ${base#"$ROOT"/}.log)"
                printf 'M\t%s\tprog=%s failed=%s\n' "$r" "$prog" "$rc" >>"$RESULTS"
                continue
            fi
            grep 'impl=cio' "$base.out" | sed "s/^/M\t$r\t/" >>"$RESULTS"
            log "micro $prog run $r: $(grep -c 'impl=cio' "$base.out") figures"
        done
    done
}

# ---------------------------------------------------------------------------------------

main() {
    mkdir -p "$OUT/logs"
    rm -f "$OUT"/logs/w*
    install_missing
    SCRATCH=$(mktemp -d /tmp/cio-bench.XXXXXX)
    local started=$SECONDS
    build_cio
    build_peers

    : >"$RESULTS"
    local id stem cprog key better kind impl_list full quick_args
    while IFS='|' read -r id stem cprog key better kind impl_list full quick_args; do
        id=${id// /} stem=${stem// /} cprog=${cprog// /} key=${key// /}
        better=${better// /} kind=${kind// /}
        [[ $id == w3-sleepers-1m && $sleepers_1m == 0 ]] && continue
        selected "$only" "$id" || continue
        local args=$full
        ((quick)) && args=$quick_args
        printf 'W\t%s\t%s\t%s\t%s\n' "$id" "$key" "$better" "$args" >>"$RESULTS"

        local todo=() impl
        for impl in $impl_list; do
            selected "$impls" "$impl" || continue # "cio" selects cio-uring and cio-epoll too
            if [[ $impl == cio* ]] && { ((cio_built == 0)) || [[ ! -x $CIO_BIN/$cprog ]]; }; then
                record "$id" "$impl" 0 notyet - - ""
                continue
            fi
            todo+=("$impl")
        done
        ((${#todo[@]})) || continue
        log "== $id: ${todo[*]} ($runs run(s), $args)"
        if [[ $kind == client ]] && ! start_w11_nginx; then
            log "FAILED $id: nginx did not start; see build/bench/logs/w11-nginx.log"
            for impl in "${todo[@]}"; do record "$id" "$impl" 1 fail - - ""; done
            stop_server
            continue
        fi
        local r nruns=$runs
        [[ $kind == tail ]] && ((!quick && nruns < 10)) && nruns=10 # tails need paired rounds
        for r in $(seq "$nruns"); do
            # Implementations take turns, so a slow spell of the machine hits them alike.
            for impl in "${todo[@]}"; do
                # shellcheck disable=SC2086  # the argument lists split on purpose
                case $kind in
                run) run_self_timed "$id" "$stem" "$cprog" "$key" "$impl" "$r" $args ;;
                echo) run_echo "$id" "$stem" "$cprog" "$key" "$impl" "$r" $args ;;
                wrk) run_wrk "$id" "$stem" "$cprog" "$key" "$impl" "$r" $args ;;
                client) run_client "$id" "$stem" "$cprog" "$key" "$impl" "$r" $args ;;
                tail) run_tail "$id" "$stem" "$cprog" "$key" "$impl" "$r" $args ;;
                ws) run_ws "$id" "$stem" "$cprog" "$key" "$impl" "$r" $args ;;
                esac
            done
        done
        [[ $kind == client ]] && stop_server
    done <<<"$WORKLOADS"
    ((cio_built)) && selected "$only" micro && selected "$impls" cio && run_micro
    # W12-W16 (PostgreSQL) need a server: bench/pg_run.sh starts one and runs cio and its
    # peers side by side; its lines go to build/bench/pg.txt, and into the report.
    if ((cio_built)) && [[ -z $only || $only == *w1[2-6]* ]] && [[ -x bench/pg_run.sh ]]; then
        log "== w12-w16 (PostgreSQL): bench/pg_run.sh -> $OUT/pg.txt"
        bench/pg_run.sh $( ((quick)) && echo --quick) >"$OUT/pg.txt" 2>"$OUT/logs/pg.log" ||
            log "bench/pg_run.sh failed or skipped; see $OUT/logs/pg.log"
        $PY bench/pg_results.py "$OUT/pg.txt" >>"$RESULTS" # W12-W16 rows for the report
    fi

    local elapsed=$((SECONDS - started))
    log "measured in ${elapsed}s"
    local mode=full cmd=${BENCH_CMD:-bench/run.sh $*}
    ((quick)) && mode=quick
    local report_args=(--results "$RESULTS" --mode "$mode" --runs "$runs" --command "$cmd"
        --elapsed "$elapsed" --cio-built "$cio_built")
    if ((docs && !quick)); then
        report_args+=(--markdown docs/BENCHMARKS.md --plot docs/benchmarks.png)
    else
        report_args+=(--markdown "$OUT/BENCHMARKS-$mode.md" --plot "$OUT/benchmarks-$mode.png")
    fi
    $PY bench/report.py "${report_args[@]}"
}

main "$@"
