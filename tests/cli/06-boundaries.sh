#!/bin/sh
# 06-boundaries.sh - regular cases with a known answer: the quadratic's one
# boundary lies in the cell holding s* = (1 + (M/x0^2)^(1/(2T)))/2; a convex
# additive loss has a single boundary; every example runs at small levels.
set -eu
cd "$TB_TMP"

# quad X0 M T
quad() {
    printf '{"model":{"family":"quadratic"},"x0":%s,"steps":%s,"divergence":{"threshold":%s},"lr":{"levels":12}}\n' \
        "$1" "$3" "$2" | "$TB_BIN" run --quiet - > out
    jq -e --argjson x0 "$1" --argjson m "$2" --argjson t "$3" '
        ((1 + pow($m / ($x0 * $x0); 1 / (2 * $t))) / 2) as $s
        | .counts == [range(13) | 1]
        and .dimension.value == 0 and .dimension.fractal == false
        and .dimension.first_level_used == null
        and .boundary.transitions == 1 and (.boundary.flips | length) == 1
        and ((.boundary.flips[0] - $s) | fabs) <= .lr.step / 2
        and .roughness.convex == true' out > /dev/null ||
        { echo "quadratic x0=$1 M=$2 T=$3:"; jq -c '.counts, .boundary' out; exit 1; }
}
quad 1 1e8 1000
quad 2 1e6 100
quad 0.5 1e10 50

# convex additive: one boundary, D = 0
jq '.lr.levels = 12' "$TB_ROOT/api/examples/additive-convex.json" | "$TB_BIN" run - > out
jq -e '.boundary.transitions == 1 and .dimension.value == 0 and .roughness.convex == true' out > /dev/null
jq -e '.roughness.theta == 0.01 and (.roughness.critical - 0.0506606 | fabs) < 1e-6' out > /dev/null

# every example runs (cut to levels 8) and reports a consistent result
for f in "$TB_ROOT"/api/examples/*.json; do
    jq '.lr.levels = 8 | del(.fit)' "$f" | "$TB_BIN" run --quiet - > out ||
        { echo "$f failed"; exit 1; }
    jq -e '(.counts | length) == 9 and .points == 257
        and .boundary.transitions == .counts[8]
        and ((.boundary.flips | length) == .boundary.flips_total)' out > /dev/null ||
        { echo "$f: inconsistent result"; exit 1; }
done
echo ok
