#!/usr/bin/env bash
# Runs the test suite next to CPU hogs, the way a busy CI machine or a
# laptop compiling something else runs it: tests that wait a fixed time for
# something to happen fail here, tests that wait for the state they need pass.
#   scripts/test-busy.sh [-n HOGS] BUILD_DIR [ctest args...]
# HOGS busy loops (default: the number of cores) run for the length of the
# run and are stopped by their PIDs at the end, whatever happens.
set -euo pipefail
hogs=$(nproc 2>/dev/null || echo 2)
if [ "${1:-}" = "-n" ]; then
    hogs=$2
    shift 2
fi
dir=${1:?usage: scripts/test-busy.sh [-n HOGS] BUILD_DIR [ctest args...]}
shift
pids=()
stop_hogs() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
}
trap stop_hogs EXIT
for _ in $(seq "$hogs"); do
    (while :; do :; done) &
    pids+=($!)
done
echo "test-busy: $hogs busy loop(s) running (PIDs ${pids[*]})"
cd "$dir"
ctest --output-on-failure --no-tests=error -j"$(nproc 2>/dev/null || echo 2)" "$@"
