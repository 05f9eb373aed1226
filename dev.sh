#!/usr/bin/env bash
# The README's two commands:
#   ./dev.sh demo   build (release) and run the demo: the guides' async API client
#   ./dev.sh test   build and run the whole test suite: release build, then
#                   ASan+UBSan build, then the core tests under Valgrind, then
#                   the torture runner (tests/torture) under ASan
#   ./dev.sh test --busy [hogs]   the release suite next to CPU hogs
#   ./dev.sh fuzz [seconds] [http|ws]  run the HTTP request fuzzer, or the
#                             WebSocket frame fuzzer (clang), for that long
# Each installs missing Debian packages first (as root), or prints the exact
# apt-get line to run and stops.
set -euo pipefail
cd "$(dirname "$0")"

JOBS=$(nproc 2>/dev/null || echo 2)
PACKAGES=(gcc g++ make cmake libc6-dev pkg-config valgrind liburing-dev libssl-dev
    libcurl4-openssl-dev libjansson-dev nginx-light curl
    zlib1g-dev node-llhttp libpq-dev postgresql-15 pgbouncer python3-psycopg python3-psycopg-pool
    libsqlite3-dev sqlite3
    chromium python3-websockets python3-aiohttp node-ws golang-go golang-github-gorilla-websocket-dev
    libwebsockets-test-server)

missing_packages() {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    echo "${missing[@]:-}"
}

ensure_packages() {
    local missing
    missing=$(missing_packages)
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" -eq 0 ]; then
        echo "dev.sh: installing $missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $missing
    else
        echo "dev.sh: missing Debian packages. Run:"
        echo "  sudo apt-get install -y $missing"
        exit 1
    fi
}

build() { # build DIR [cmake args...]
    local dir=$1
    shift
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
    cmake --build "$dir" -j"$JOBS" >/dev/null
}

run_ctest() { # run_ctest DIR [ctest args...]
    local dir=$1
    shift
    # A phase that selects no test is a broken build, not a pass.
    (cd "$dir" && ctest --output-on-failure --no-tests=error -j"$JOBS" "$@")
}

case "${1:-}" in
demo)
    ensure_packages
    # A tree of its own: the test command's release tree always has its tests.
    build build/demo -DCIO_BUILD_TESTS=OFF -DCIO_BUILD_BENCH=OFF
    exec ./build/demo/examples/api_client "${@:2}"
    ;;
test)
    ensure_packages
    if [ "${2:-}" = "--busy" ]; then # the release suite next to CPU hogs (default: one a core)
        echo "== release build, tests next to ${3:-$JOBS} busy loop(s)"
        build build/release -DCIO_BUILD_TESTS=ON
        exec scripts/test-busy.sh -n "${3:-$JOBS}" build/release -LE valgrind
    fi
    echo "== release build"
    build build/release -DCIO_BUILD_TESTS=ON
    run_ctest build/release -LE valgrind
    echo "== core tests under Valgrind"
    run_ctest build/release -L valgrind
    echo "== ASan + UBSan build"
    build build/asan -DCMAKE_BUILD_TYPE=Debug -DCIO_SANITIZE=ON -DCIO_BUILD_BENCH=OFF \
        -DCIO_BUILD_TESTS=ON
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
        run_ctest build/asan -LE 'valgrind|torture'
    echo "== torture: error paths under ASan (a sample; CIO_TORTURE_FULL=1: every point)"
    run_ctest build/asan -L torture
    ;;
fuzz)
    # A fuzzer (libFuzzer, clang) for a set time (default 60 s): the HTTP
    # request fuzzer, or with "ws" the WebSocket frame fuzzer; new inputs go
    # to build/fuzz/corpus-NAME, the seeds (tests/fuzz/corpus/NAME) stay.
    ensure_packages
    command -v clang >/dev/null || {
        echo "dev.sh fuzz needs clang: apt-get install -y clang"
        exit 1
    }
    cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=Release -DCIO_FUZZ=ON -DCMAKE_C_COMPILER=clang \
        -DCIO_BUILD_BENCH=OFF -DCIO_BUILD_EXAMPLES=OFF -DCIO_BUILD_TESTS=ON >/dev/null
    case "${3:-http}" in
    http) target=fuzz_http_request ;;
    ws) target=fuzz_ws_frame ;;
    *)
        echo "dev.sh fuzz: http or ws, not $3" >&2
        exit 2
        ;;
    esac
    cmake --build build/fuzz -j"$JOBS" --target "$target" >/dev/null
    mkdir -p "build/fuzz/corpus-${3:-http}"
    exec "./build/fuzz/tests/$target" -max_total_time="${2:-60}" -timeout=30 \
        "build/fuzz/corpus-${3:-http}" "tests/fuzz/corpus/${3:-http}"
    ;;
*)
    echo "usage: ./dev.sh demo | ./dev.sh test [--busy [hogs]] | ./dev.sh fuzz [seconds]" >&2
    exit 2
    ;;
esac
