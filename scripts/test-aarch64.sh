#!/usr/bin/env bash
# Builds the core tests for AArch64 with Debian's cross compiler and runs them
# under qemu-user: checks ctx_aarch64.S on an x86-64 machine. Not part of the
# README's test command (it needs gcc-aarch64-linux-gnu and qemu-user).
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in aarch64-linux-gnu-gcc qemu-aarch64; do
    command -v "$tool" >/dev/null || {
        echo "missing $tool: apt-get install -y gcc-aarch64-linux-gnu qemu-user" >&2
        exit 1
    }
done
out=build/aarch64
mkdir -p "$out"
srcs=(src/core/*.c src/core/ctx_aarch64.S src/io/backend.c src/io/backend_epoll.c src/io/fd.c
      src/io/executor.c src/sync/*.c)
status=0
for t in test_task test_scope test_wait test_group test_callback test_stress; do
    aarch64-linux-gnu-gcc -O2 -std=gnu11 -static -D_GNU_SOURCE -DCIO_BUILDING -Iinclude -Itests \
        "${srcs[@]}" "tests/core/$t.c" -o "$out/$t" -lpthread -lm
    echo "== $t (aarch64, qemu)"
    CIO_BACKEND=epoll qemu-aarch64 "$out/$t" | tail -1 || status=1
done
exit $status
