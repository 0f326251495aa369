#!/bin/sh
# 20-fit-warnings.sh - a box-counting dimension above 1 (the dimension of
# the learning-rate line) is pre-asymptotic: the study demo's theta = 0.2
# cell at levels 16 fits D > 1, and both its single-job result and its study
# row carry a warning naming the window; a D below 1 carries none.
set -eu
cd "$TB_TMP"

cat > w.json <<'JSON'
{"model": {"family": "additive", "amplitude": 0.2, "wavelength": 1}, "x0": 5,
 "divergence": {"criterion": "loss_sum", "threshold": 1e16}, "lr": {"levels": 16}}
JSON
"$TB_BIN" run --quiet w.json > w.out
jq -e '.dimension.fractal and .dimension.value > 1' w.out > /dev/null ||
    { echo "dimension: $(jq -c .dimension w.out)"; exit 1; }
jq -e '(.dimension.warnings | length) == 1' w.out > /dev/null
jq -r '.dimension.warnings[0]' w.out | grep -q "exceeds 1.*levels $(jq .dimension.first_level_used w.out)\.\.16.*pre-asymptotic"

jq '. + {"vary": {"model.amplitude": [0.2, 0.05]}}' w.json > s.json
"$TB_BIN" run --quiet s.json > s.out
jq -e --slurpfile w w.out '.cells[0].warnings == $w[0].dimension.warnings' s.out > /dev/null ||
    { echo "cell warnings: $(jq -c '[.cells[] | [.D, .warnings]]' s.out)"; exit 1; }

jq '.lr.levels = 10 | .fit.max_level = 10 | .precision = "reference"' "$TB_ROOT/api/examples/multiplicative.json" > m.json
"$TB_BIN" run --quiet m.json > m.out
jq -e '.dimension.fractal and .dimension.value < 1 and .dimension.warnings == []' m.out > /dev/null
echo ok
