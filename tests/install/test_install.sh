#!/bin/sh
# Checks what `cmake --install` gives a user: installs this build into a
# temporary prefix, then builds and runs one small program against it twice,
# once with pkg-config and once with find_package(cio), and (when the build
# has it) links one against libcio-http with pkg-config. Fails on any step.
#   test_install.sh BUILD_DIR CMAKE_COMMAND
set -eu
build=$1
cmake=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$cmake" --install "$build" --prefix "$tmp/prefix" >/dev/null
pc=$(ls -d "$tmp"/prefix/lib*/pkgconfig | head -1)
libdir=$(dirname "$pc")

cat >"$tmp/app.c" <<'C'
#include <cio.h>
#include <stdio.h>
static int nap(void *arg) { (void)arg; return cio_sleep(0.02); }
static int main_task(void *arg)
{
    (void)arg;
    cio_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = cio_spawn(nap, NULL);
    int err = cio_gather(t, 3, 0);
    for (int i = 0; i < 3; i++)
        cio_join(t[i]);
    return err;
}
int main(void)
{
    int err = cio_run(main_task, NULL);
    printf("%s\n", err ? cio_strerror(err) : "ok");
    return err ? 1 : 0;
}
C

# pkg-config, shared library
cc "$tmp/app.c" $(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs cio) \
    -Wl,-rpath,"$libdir" -o "$tmp/app-pc"
test "$("$tmp/app-pc")" = ok

# find_package(cio), the CMake way
mkdir "$tmp/consumer"
cat >"$tmp/consumer/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.16)
project(consumer C)
find_package(cio REQUIRED)
add_executable(app "$tmp/app.c")
target_link_libraries(app cio::cio)
CM
"$cmake" -S "$tmp/consumer" -B "$tmp/consumer/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
    -DCMAKE_BUILD_RPATH="$libdir" >/dev/null
"$cmake" --build "$tmp/consumer/build" >/dev/null
test "$("$tmp/consumer/build/app")" = ok

# libcio-http through pkg-config, when it was built
if [ -f "$pc/cio-http.pc" ]; then
    printf '#include <cio.h>\n#include <cio/http.h>\nint main(void) { return cio_http_session_close == 0; }\n' \
        >"$tmp/http.c"
    cc "$tmp/http.c" $(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs cio-http) \
        -Wl,-rpath,"$libdir" -o "$tmp/http"
    "$tmp/http"
fi
# libcio-sqlite through pkg-config, when it was built: one query on :memory:
if [ -f "$pc/cio-sqlite.pc" ]; then
    cat >"$tmp/sqlite.c" <<'C'
#include <cio.h>
#include <cio/sqlite.h>
static int m(void *arg)
{
    (void)arg;
    cio_sqlite *db;
    int64_t v = 0;
    int err = cio_sqlite_open(&db, ":memory:", NULL);
    if (!err)
        err = cio_sqlite_fetchval_int64(db, &v, "SELECT 6 * 7", NULL, 0);
    cio_sqlite_close(db);
    return err ? err : v == 42 ? 0 : -1;
}
int main(void) { return cio_run(m, NULL) ? 1 : 0; }
C
    cc "$tmp/sqlite.c" $(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs cio-sqlite) \
        -Wl,-rpath,"$libdir" -o "$tmp/sqlite"
    "$tmp/sqlite"
fi

# libcio-ws through pkg-config, when it was built
if [ -f "$pc/cio-ws.pc" ]; then
    printf '#include <cio.h>\n#include <cio/ws.h>\nint main(void) { return cio_ws_connect == 0; }\n' \
        >"$tmp/ws.c"
    cc "$tmp/ws.c" $(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs cio-ws) \
        -Wl,-rpath,"$libdir" -o "$tmp/ws"
    "$tmp/ws"
fi
echo "install: pkg-config and find_package(cio) both build and run a program"
