#!/bin/sh
# 10-study.sh - studies (a base spec plus "vary") from the CLI.
# - additive, theta from 0.01 to 1 (lam = 1, x0 = 5, loss_sum 1e16): every
#   cell with theta <= theta_c has D = 0 and one boundary, every cell with
#   theta >= 0.1 is fractal, and the transition lies in [theta_c, 0.1];
# - multiplicative over eps in [0.01, 0.2]: every cell is fractal;
# - model.dim zipped with x0 = 1/d reproduces the 1-D sweeps from 1/d exactly;
# - duplicate cells are reused; --csv writes the table; bad vary blocks fail
#   with exit 2 and a line naming the field.
set -eu
cd "$TB_TMP"
TB=$TB_BIN

cat > add.json <<'JSON'
{"model": {"family": "additive", "amplitude": 0.01, "wavelength": 1}, "x0": 5,
 "divergence": {"criterion": "loss_sum", "threshold": 1e16}, "lr": {"levels": 16},
 "precision": "fast", "vary": {"model.amplitude": {"logspace": [-2, 0, 11]}}}
JSON
"$TB" run --quiet --csv add.csv add.json > add.out
jq -e '.kind == "study" and .summary.cells == 11 and (.cells | length) == 11' add.out > /dev/null
jq -e '[.cells[] | select(.theta <= .critical)] | length >= 4' add.out > /dev/null
jq -e '[.cells[] | select(.theta <= .critical) | (.D == 0 and .fractal == false and .transitions == 1 and .convex)] | all' add.out > /dev/null ||
    { jq -c '.cells[] | [.theta, .D, .transitions]' add.out; exit 1; }
jq -e '[.cells[] | select(.theta >= 0.1) | .fractal] | all' add.out > /dev/null ||
    { jq -c '.cells[] | [.theta, .D, .fractal, .levels_used]' add.out; exit 1; }
jq -e '.summary.transition_theta >= .summary.theta_c and .summary.transition_theta <= 0.1' add.out > /dev/null
jq -e '.summary.transition_ratio == .summary.transition_theta / .summary.theta_c or
       ((.summary.transition_ratio - .summary.transition_theta / .summary.theta_c) | fabs) < 1e-12' add.out > /dev/null
# the CSV has a header and one row per cell, and agrees with the JSON
[ "$(wc -l < add.csv)" -eq 12 ]
head -1 add.csv | grep -q '^index,model.amplitude,theta,critical,convex,D,stderr,r2,fractal,levels_used,transitions,divergent_fraction,reused,replicates,D_mean,D_std,D_min,D_max,B0,'
[ "$(sed -n 7p add.csv | cut -d, -f11)" = "$(jq '.cells[5].transitions' add.out)" ]

cat > mul.json <<'JSON'
{"model": {"family": "multiplicative", "amplitude": 0.2, "wavelength": 0.1}, "lr": {"levels": 16},
 "precision": "fast", "vary": {"model.amplitude": {"linspace": [0.01, 0.2, 5]}}}
JSON
"$TB" run --quiet mul.json > mul.out
jq -e '.summary.fractal_cells == 5 and ([.cells[] | .fractal] | all)' mul.out > /dev/null
jq -e '.summary.transition_ratio == null and .cells[0].critical == null' mul.out > /dev/null

# dimension study: additive in d dims from (1/d, ..., 1/d) is the 1-D sweep
# from 1/d, bit for bit on the reference path (the fast path's d-dim loop
# rounds differently from its 1-D one)
cat > dim.json <<'JSON'
{"model": {"family": "additive", "amplitude": 0.2, "wavelength": 0.1}, "precision": "reference",
 "lr": {"min": 1, "max": 1.01, "levels": 12},
 "vary": {"model.dim": [1, 2, 3, 4, 8], "x0": [1, 0.5, 0.3333333333333333, 0.25, 0.125]},
 "combine": "zip"}
JSON
"$TB" run --quiet dim.json > dim.out
for i in 0 1 2 3 4; do
    x=$(jq ".cells[$i].params.x0" dim.out)
    jq "del(.vary, .combine) | .x0 = $x" dim.json | "$TB" run --quiet - > one.out
    [ "$(jq -c ".cells[$i].counts" dim.out)" = "$(jq -c .counts one.out)" ] ||
        { echo "cell $i: $(jq -c ".cells[$i].counts" dim.out) vs $(jq -c .counts one.out)"; exit 1; }
    jq -e --slurpfile c dim.out ".divergent_fraction == \$c[0].cells[$i].divergent_fraction" one.out > /dev/null
done
jq -e '[.cells[] | .transitions > 100] | all' dim.out > /dev/null

# duplicate cells are computed once
jq '.vary = {"model.amplitude": [0.2, 0.1, 0.2]} | .lr.levels = 10' mul.json > dup.json
"$TB" run --quiet dup.json > dup.out
jq -e '[.cells[] | .reused] == [false, false, true] and .summary.reused_cells == 1' dup.out > /dev/null
jq -e '.cells[2].counts == .cells[0].counts' dup.out > /dev/null

# validate prints the canonical study with the values written out
"$TB" validate add.json > canon
jq -e '.vary["model.amplitude"] | length == 11' canon > /dev/null
jq -e '.combine == "product"' canon > /dev/null

# bad vary blocks: exit 2, one line naming the field
bad() { # $1 = jq filter applied to mul.json, $2 = expected stderr line
    jq "$1" mul.json > bad.json
    if "$TB" run --quiet bad.json > out 2> err; then echo "accepted: $1"; exit 1; else rc=$?; fi
    [ "$rc" -eq 2 ] || { echo "exit $rc for $1"; exit 1; }
    [ ! -s out ]
    grep -qxF "$2" err || { echo "for $1 expected: $2"; echo "got:"; cat err; exit 1; }
}
bad '.vary = {"model.colour": [1]}' 'trainbound: vary.model.colour: unknown parameter (one of model.amplitude, model.wavelength, model.dim, x0, steps, divergence.threshold)'
bad '.vary = {"model.amplitude": []}' 'trainbound: vary.model.amplitude: must list 1..1000 values'
bad '.vary = {"model.amplitude": [0.1], "model.wavelength": [1], "x0": [1]}' 'trainbound: vary: must be an object naming 1 or 2 parameters'
bad '.vary = {"model.amplitude": [0.1, -1]}' 'trainbound: vary.model.amplitude[1]: must be a finite number >= 0'
bad '.vary = {"model.dim": [1, 2.5]}' 'trainbound: vary.model.dim[1]: must be an integer'
bad '.vary = {"model.amplitude": {"linspace": [0, 1]}}' 'trainbound: vary.model.amplitude: linspace must be [start, stop, count] with an integer count'
bad '.vary = {"model.amplitude": [0.1, 0.2], "x0": [1]} | .combine = "zip"' 'trainbound: combine: zip needs axes of the same length (2 and 1)'
bad '.lr.levels = 30 | .steps = 100000 | .vary = {"model.amplitude": {"linspace": [0.01, 0.2, 11]}}' \
    'trainbound: vary: the study costs 1.181e+15 point-steps over 11 cells, more than the limit of 1.126e+15'
bad '.model.dim = 1024 | .x0 = [range(1024)] | .vary = {"model.amplitude": {"linspace": [0.01, 0.2, 100]}, "model.wavelength": {"linspace": [0.1, 1, 100]}}' \
    "trainbound: vary: the cells' specs add up to more than 16 MiB (10000 cells); use fewer cells or a smaller x0"
