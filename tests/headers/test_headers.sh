#!/bin/sh
# Every public header compiles on its own as C11, C17 (strict ISO, no GNU
# extensions) and C++17 with -Wall -Wextra -Werror, and the README's first
# example compiles without a warning, links and runs.
#   test_headers.sh SOURCE_DIR LIBCIO_SO C_COMPILER CXX_COMPILER
set -u
src=$1 lib=$2 cc=$3 cxx=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
flags="-Wall -Wextra -Werror -Wshadow -I$src/include"
for h in "$src"/include/cio.h "$src"/include/cio/*.h; do
    name=${h#"$src"/include/}
    before=$fail
    printf '#include <%s>\n#include <%s>\nint main(void) { return 0; }\n' "$name" "$name" \
        >"$tmp/t.c"
    for std in c11 c17; do
        if ! "$cc" -std=$std -pedantic $flags -fsyntax-only "$tmp/t.c" 2>"$tmp/err"; then
            echo "FAIL $name as $std:"; cat "$tmp/err"; fail=1
        fi
    done
    cp "$tmp/t.c" "$tmp/t.cpp"
    if [ -n "$cxx" ] && ! "$cxx" -std=c++17 $flags -fsyntax-only "$tmp/t.cpp" 2>"$tmp/err"; then
        echo "FAIL $name as c++17:"; cat "$tmp/err"; fail=1
    fi
    [ $fail -eq "$before" ] && echo "ok   $name: C11, C17, C++17"
done
# The README's first C block.
awk '/^```c$/ {on = 1; next} /^```$/ && on {exit} on' "$src/README.md" >"$tmp/readme.c"
if [ ! -s "$tmp/readme.c" ]; then
    echo "FAIL README.md: no C example found"; exit 1
fi
if ! "$cc" -std=c11 $flags -o "$tmp/readme" "$tmp/readme.c" "$lib" \
    -Wl,-rpath,"$(dirname "$lib")" 2>"$tmp/err"; then
    echo "FAIL README.md's first example:"; cat "$tmp/err"; fail=1
elif ! CIO_BACKEND=epoll "$tmp/readme"; then
    echo "FAIL README.md's first example exits non-zero"; fail=1
else
    echo "ok   README.md's first example compiles without a warning and runs"
fi
exit $fail
