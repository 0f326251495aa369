#!/bin/sh
# 04-threads.sh - labels do not depend on the thread count or the tile size:
# 1, 2 and 7 threads give identical counts, flips and everything else but
# elapsed_s.
set -eu
cd "$TB_TMP"

check() {
    spec=$1
    for t in 1 2 7; do
        "$TB_BIN" run --quiet --threads "$t" "$spec" | jq -c 'del(.elapsed_s)' > "r$t"
    done
    cmp r1 r2
    cmp r1 r7
}

jq '.lr.levels = 12 | .fit.max_level = 12 | .output.max_flips = 100000' \
    "$TB_ROOT/api/examples/multiplicative.json" > m.json
check m.json
jq -e '.counts[0:10] == [1,1,1,1,3,5,7,13,21,27] and (.boundary.flips | length) == .boundary.flips_total' r1 > /dev/null

# a d-dimensional additive model with two terms, and a grid smaller than a tile
jq '.lr.levels = 10 | .model.dim = 2 | .x0 = [0.5, 0.75] | .steps = 200' \
    "$TB_ROOT/api/examples/additive-terms.json" > a.json
check a.json
jq '.lr.levels = 3' m.json > tiny.json
check tiny.json
jq -e '.points == 9' r1 > /dev/null
echo ok
