#!/bin/sh
# 02-validate.sh - `validate` prints the canonical spec (every default filled
# in), reads stdin for -, and its output validates to itself.
set -eu
cd "$TB_TMP"

echo '{"model": {"family": "quadratic"}}' > q.json
"$TB_BIN" validate q.json > out
want='{"model":{"family":"quadratic","dim":1},"x0":1.0,"steps":1000,"divergence":{"criterion":"max_loss","threshold":1e8,"nan":"divergent"},"lr":{"min":0.0,"max":1.5,"levels":20},"fit":{"min_level":0,"max_level":20,"min_levels":3},"precision":"fast","replicates":1,"optimizer":{"name":"gd"},"output":{"max_flips":10000}}'
[ "$(cat out)" = "$want" ] || { echo "got: $(cat out)"; exit 1; }

# stdin, and the canonical text is a fixed point
"$TB_BIN" validate - < q.json > out2
cmp out out2
"$TB_BIN" validate out > out3
cmp out out3

# every example validates, and its canonical form is a fixed point
for f in "$TB_ROOT"/api/examples/*.json; do
    "$TB_BIN" validate "$f" > c1
    "$TB_BIN" validate c1 > c2
    cmp c1 c2 || { echo "$f: canonical form is not stable"; exit 1; }
done
n=$(ls "$TB_ROOT"/api/examples/*.json | wc -l)
[ "$n" -ge 6 ]

# defaults that depend on other fields
echo '{"model":{"family":"additive","dim":4,"amplitude":0.2,"wavelength":0.1},"x0":[0.25,0.25,0.25,0.25]}' |
    "$TB_BIN" validate - > out
jq -e '.divergence.threshold == 400000000 and .x0 == 0.25 and .model.dim == 4' out > /dev/null
echo '{"model":{"family":"additive","amplitude":0.2,"wavelength":0.1},"divergence":{"criterion":"loss_sum"}}' |
    "$TB_BIN" validate - | jq -e '.divergence.threshold == 1e16' > /dev/null

# terms: every one echoed with its type (several cosines too), one cosine as amplitude/wavelength
echo '{"model":{"family":"additive","terms":[{"amplitude":0.2,"wavelength":0.1},{"amplitude":0.05,"wavelength":0.37}]}}' |
    "$TB_BIN" validate - | jq -e '.model.terms == [{"type":"cos","amplitude":0.2,"wavelength":0.1},{"type":"cos","amplitude":0.05,"wavelength":0.37}]' > /dev/null
echo '{"model":{"family":"additive","terms":[{"type":"cos","amplitude":0.2,"wavelength":0.1}]}}' |
    "$TB_BIN" validate - | jq -e '.model == {"family":"additive","dim":1,"amplitude":0.2,"wavelength":0.1}' > /dev/null
echo '{"model":{"family":"additive","terms":[{"type":"gauss","amplitude":-1,"width":2}]}}' |
    "$TB_BIN" validate - | jq -e '.model.terms == [{"type":"gauss","amplitude":-1,"width":2,"centre":0}]' > /dev/null

# validate never runs a sweep: even the largest allowed grid answers at once
echo '{"model":{"family":"quadratic"},"steps":1,"lr":{"levels":32}}' | "$TB_BIN" validate - |
    jq -e '.lr.levels == 32' > /dev/null
echo ok
