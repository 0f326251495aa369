#!/bin/sh
# 21-study-errors.sh - a bad vary block reports every bad value, as a job
# spec reports every bad field: a wrong type at one index and an out-of-range
# value at another are both named; combine put inside vary is told to move
# to the top level. Exit 2, nothing on stdout.
set -eu
cd "$TB_TMP"

cat > v.json <<'JSON'
{"model": {"family": "additive", "amplitude": 0.2, "wavelength": 0.1}, "lr": {"levels": 8},
 "vary": {"model.amplitude": [0.1, 0.2, "x", -1], "steps": [10, 0, 1.5]}}
JSON
rc=0; "$TB_BIN" run v.json > out 2> err || rc=$?
[ "$rc" -eq 2 ] || { echo "exit $rc"; cat err; exit 1; }
[ ! -s out ]
grep -qx 'trainbound: vary.model.amplitude\[2\]: must be a number' err
grep -qx 'trainbound: vary.model.amplitude\[3\]: must be a finite number >= 0' err
grep -qx 'trainbound: vary.steps\[2\]: must be an integer' err
grep -q '^trainbound: vary.steps\[1\]: must be an integer in 1\.\.' err
[ "$(grep -c 'vary\.' err)" -eq 4 ] || { cat err; exit 1; }

cat > c.json <<'JSON'
{"model": {"family": "additive", "amplitude": 0.2, "wavelength": 0.1}, "lr": {"levels": 8},
 "vary": {"model.amplitude": [0.1, 0.2], "x0": [1, 2], "combine": "zip"}}
JSON
rc=0; "$TB_BIN" run c.json > out 2> err || rc=$?
[ "$rc" -eq 2 ]
grep -qx 'trainbound: vary.combine: combine belongs at the top level of the study, beside vary, not inside it' err
echo ok
