#!/bin/sh
# 03-run-multiplicative.sh - the paper's multiplicative case (eps 0.2,
# lam 0.1) at levels 10 gives science.md's exact counts; a file and stdin
# give the same result; the result names its engine; stdout is one compact JSON line, stderr is empty.
set -eu
cd "$TB_TMP"

# science.md's exact counts are the reference path's (the fast one differs
# at the finest level: 59 transitions)
jq '.lr.levels = 10 | .fit.max_level = 10 | .precision = "reference"' "$TB_ROOT/api/examples/multiplicative.json" > m.json
"$TB_BIN" run --threads 2 m.json > out 2> err
[ ! -s err ] || { echo "stderr:"; cat err; exit 1; }
[ "$(wc -l < out)" -eq 1 ]
jq -e -c '.counts == [1,1,1,1,3,5,7,13,21,27,57]' out > /dev/null ||
    { echo "counts: $(jq -c .counts out)"; exit 1; }
jq -e '.lr == {"min":0,"max":1.5,"levels":10,"points":1025,"step":0.00146484375}' out > /dev/null
jq -e '.points == 1025 and .divergent_points > 0 and .divergent_points < 1025' out > /dev/null
jq -e '.divergent_fraction == .divergent_points / .points' out > /dev/null
jq -e '.boundary.transitions == 57 and .boundary.flips_total == 57' out > /dev/null
jq -e '(.boundary.flips | length) == 57 and .boundary.flips_truncated == false' out > /dev/null
jq -e '.boundary.flips == (.boundary.flips | sort)' out > /dev/null
jq -e '.dimension.fractal == true and .dimension.min_level == 4 and .dimension.max_level == 10' out > /dev/null
jq -e '.dimension.levels_used == 7 and .dimension.first_level_used == 4 and .dimension.last_level_used == 10' out > /dev/null
jq -e '.dimension.value > 0.5 and .dimension.value < 1' out > /dev/null
jq -e '.roughness == {"theta":0.2,"critical":null,"convex":false}' out > /dev/null
jq -e '.elapsed_s >= 0' out > /dev/null
jq -e '.engine == {"precision":"reference","isa":"libm"}' out > /dev/null
# without "precision" the fast path runs, and says on which ISA
jq 'del(.precision)' m.json | "$TB_BIN" run --quiet - > outf
jq -e '.spec.precision == "fast" and .engine.precision == "fast"' outf > /dev/null
jq -e '.engine.isa | test("^(sse2|avx2|avx512)$")' outf > /dev/null
jq -e '.name == "multiplicative eps=0.2 lam=0.1 (Liu, section 4)" and .spec.name == .name' out > /dev/null
jq -e '[keys_unsorted[]] == ["name","spec","lr","points","divergent_points","divergent_fraction","counts","dimension","boundary","roughness","engine","elapsed_s"]' out > /dev/null

# the embedded spec is the canonical spec
"$TB_BIN" validate m.json > canon
[ "$(jq -c .spec out)" = "$(jq -c . canon)" ]

# stdin gives the same result
"$TB_BIN" run --threads 2 --quiet - < m.json > out2
[ "$(jq -c 'del(.elapsed_s)' out)" = "$(jq -c 'del(.elapsed_s)' out2)" ]

# flips truncated by output.max_flips
jq '.output = {"max_flips": 3}' m.json | "$TB_BIN" run - > out3
jq -e '(.boundary.flips | length) == 3 and .boundary.flips_truncated == true and .boundary.flips_total == 57' out3 > /dev/null
jq -e --slurpfile a out '.boundary.flips == $a[0].boundary.flips[0:3]' out3 > /dev/null
echo ok
