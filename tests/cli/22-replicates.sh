#!/bin/sh
# 22-replicates.sh - "replicates": N runs the sweep N times, replicate r
# from x0 moved r ulps up:
# - replicate 0 is the plain run (same counts, same fit as without
#   replicates), and replicate r equals a plain run from the nudged x0;
# - the spread is the statistics of the replicates' values;
# - on the chaotic additive case (theta = 20) the replicates disagree by
#   more than the OLS stderr, and the result says so;
# - regular cases stay regular: the quadratic, the convex additive case and
#   the multiplicative family with eps = 0 give the same counts at every
#   level in every replicate;
# - the paper's multiplicative case keeps [L]'s exact counts in replicate 0;
# - a study cell reports its spread and decides "fractal" on it;
# - the cost counts the replicates; out of range is a clear error.
set -eu
cd "$TB_TMP"

cat > a.json <<'JSON'
{"model": {"family": "additive", "amplitude": 0.2, "wavelength": 0.1}, "x0": 1,
 "lr": {"levels": 15}, "replicates": 5}
JSON
"$TB_BIN" run --quiet a.json > a.out
jq -e '.spec.replicates == 5 and (.dimension.replicates | length) == 5' a.out > /dev/null
jq -e '.dimension.replicates[0].counts == .counts and .dimension.replicates[0].value == .dimension.value' a.out > /dev/null

# Replicate 0 is the plain run; replicate 3 is the plain run from x0 + 3 ulps.
jq '.replicates = 1' a.json > a1.json
"$TB_BIN" run --quiet a1.json > a1.out
jq -e --slurpfile one a1.out '.counts == $one[0].counts and .dimension.value == $one[0].dimension.value' a.out > /dev/null ||
    { echo "replicate 0 is not the plain run"; exit 1; }
x3=$(python3 -c 'import math; x = 1.0
for _ in range(3): x = math.nextafter(x, math.inf)
print(repr(x))')
[ "$x3" = 1.0000000000000007 ] || { echo "x0 + 3 ulps: $x3"; exit 1; }
jq ".replicates = 1 | .x0 = $x3" a.json > a3.json
"$TB_BIN" run --quiet a3.json > a3.out
jq -e --slurpfile r3 a3.out '.dimension.replicates[3].counts == $r3[0].counts and .dimension.replicates[3].value == $r3[0].dimension.value' a.out > /dev/null ||
    { echo "replicate 3 is not the run from x0 + 3 ulps"; exit 1; }

# The spread is the statistics of the values; chaotic: they scatter.
jq -e '.dimension as $d | [$d.replicates[].value] as $v | ($v | add / length) as $m |
       $d.spread.n == 5 and (($d.spread.mean - $m) | fabs) < 1e-12 and
       $d.spread.min == ($v | min) and $d.spread.max == ($v | max) and
       ((($d.spread.std - ((($v | map((. - $m) * (. - $m)) | add) / 4) | sqrt)) | fabs) < 1e-12) and
       $d.spread.std > 0' a.out > /dev/null ||
    { echo "spread: $(jq -c .dimension.spread a.out)"; exit 1; }
if jq -e '.dimension.spread.std > 2 * .dimension.stderr' a.out > /dev/null; then
    jq -e '[.dimension.warnings[] | select(test("replicates scatter"))] | length == 1' a.out > /dev/null ||
        { echo "no scatter warning: $(jq -c .dimension.warnings a.out)"; exit 1; }
fi

# Regular cases: the same counts at every level in every replicate.
for m in '{"family": "quadratic"}' \
         '{"family": "additive", "amplitude": 0.01, "wavelength": 1}' \
         '{"family": "multiplicative", "amplitude": 0, "wavelength": 0.1}'; do
    echo "{\"model\": $m, \"lr\": {\"levels\": 12}, \"replicates\": 8}" > r.json
    for p in fast reference; do
        jq ".precision = \"$p\"" r.json > rp.json
        "$TB_BIN" run --quiet rp.json > r.out
        jq -e '[.dimension.replicates[].counts] | unique | length == 1' r.out > /dev/null ||
            { echo "$m ($p): counts differ across replicates"; exit 1; }
        jq -e '.counts | all(. == 1)' r.out > /dev/null
        jq -e '.dimension.spread == {"n": 8, "mean": 0, "std": 0, "min": 0, "max": 0,
                                    "fractal_replicates": 0, "fractal": false}' r.out > /dev/null ||
            { echo "$m ($p): spread $(jq -c .dimension.spread r.out)"; exit 1; }
    done
done

# The paper's multiplicative case: [L]'s exact counts in replicate 0.
jq '.lr.levels = 9 | .fit.max_level = 9 | .precision = "reference" | .replicates = 4' \
    "$TB_ROOT/api/examples/multiplicative.json" > m.json
"$TB_BIN" run --quiet m.json > m.out
jq -e '.dimension.replicates[0].counts == [1, 1, 1, 1, 3, 5, 7, 13, 21, 27]' m.out > /dev/null

# A study: each cell's spread, and "fractal" decided on it.
jq '. + {"vary": {"model.amplitude": [0.2, 0.01]}} | .model.wavelength = 1 | .x0 = 5 |
    .divergence = {"criterion": "loss_sum", "threshold": 1e16} | .lr.levels = 14 | .replicates = 3' a.json > s.json
"$TB_BIN" run --quiet --csv s.csv s.json > s.out
jq -e '[.cells[] | .spread.n == 3] | all' s.out > /dev/null
jq -e '[.cells[] | .spread as $s | .fractal ==
        ($s.fractal_replicates * 2 > $s.n and $s.mean > 2 * $s.std / ($s.n | sqrt))] | all' s.out > /dev/null ||
    { echo "fractal flag: $(jq -c '[.cells[] | [.fractal, .spread]]' s.out)"; exit 1; }
jq -e '.cells[1].convex and .cells[1].fractal == false and .cells[1].spread.max == 0' s.out > /dev/null
jq -e '.cells[0].fractal' s.out > /dev/null
head -1 s.csv | grep -q ',reused,replicates,D_mean,D_std,D_min,D_max,B0,'
[ "$(sed -n 2p s.csv | cut -d, -f14)" = 3 ] || { echo "csv replicates: $(sed -n 2p s.csv)"; exit 1; }

# Limits: the range, and the cost counts the replicates.
# refused SPEC PATTERN: `run` exits 2 with a message matching PATTERN.
refused() {
    set +e
    "$TB_BIN" run --quiet "$1" > /dev/null 2> refused.err
    rc=$?
    set -e
    [ $rc = 2 ] || { echo "$1: exit $rc, want 2"; exit 1; }
    grep -q "$2" refused.err || { echo "$1: $(cat refused.err)"; exit 1; }
}
jq '.replicates = 33' a.json > bad.json
refused bad.json 'replicates: must be an integer in 1..32'
jq '.replicates = 32 | .lr.levels = 32 | .steps = 262144' a.json > cost.json
refused cost.json 'lr.levels: the sweep would cost (2^32 + 1) \* 262144 steps \* 32 replicates'
echo ok
