#!/bin/sh
# Prints the largest source file and the longest function in src/ (lines, name, place),
# and the five of each, so a change that claims to make the code more readable can show it.
# Usage: scripts/code-size.sh [DIR...]   (default: src). Needs universal-ctags for functions.
set -eu
cd "$(dirname "$0")/.."
dirs=${*:-src}
files=$(find $dirs -name '*.c' -o -name '*.h' | sort)
echo "largest files (lines):"
wc -l $files | grep -v ' total$' | sort -rn | head -5 | sed 's/^/  /'
if command -v ctags >/dev/null 2>&1; then
    echo "longest functions (lines from signature to closing brace):"
    ctags -x --c-kinds=f --fields=+ne --_xformat='%{end} %n %N %F' $files |
        awk '$1 != "" && $1 ~ /^[0-9]+$/ { printf "  %5d %s %s:%d\n", $1 - $2 + 1, $3, $4, $2 }' |
        sort -rn | head -5
else
    echo "longest functions: ctags (universal-ctags) not installed"
fi
