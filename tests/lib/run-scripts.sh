#!/bin/sh
# run-scripts.sh DIR - runs every DIR/NN-*.sh black-box test in order against
# the binary in $TB_BIN, each in its own temporary directory, and prints one
# closing line. A script passes when it exits 0.
set -u
dir=$1
: "${TB_BIN:?TB_BIN must name the trainbound binary}"
TB_BIN=$(cd "$(dirname "$TB_BIN")" && pwd)/$(basename "$TB_BIN")
export TB_BIN
TB_ROOT=$(pwd); export TB_ROOT
pass=0; fail=0; failed=""
for t in "$dir"/[0-9][0-9]-*.sh; do
    [ -e "$t" ] || continue
    tmp=$(mktemp -d)
    if TB_TMP=$tmp sh "$t" > "$tmp/log" 2>&1; then
        pass=$((pass + 1)); echo "ok   $t"
    else
        fail=$((fail + 1)); failed="$failed $t"; echo "FAIL $t"; sed 's/^/    /' "$tmp/log" | tail -40
    fi
    rm -rf "$tmp"
done
name=$(basename "$dir")
echo "$name: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
