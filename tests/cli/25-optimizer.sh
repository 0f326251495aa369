#!/bin/sh
# 25-optimizer.sh - "optimizer" in a spec: each rule's coefficients are
# validated with their own messages and exit 2; validate fills Adam's
# defaults; momentum with beta = 0 is plain GD; heavy ball on f = x^2
# diverges first at (1 + r)(r + beta) / 2r, r = M^(1/2T) (the edge 1 + beta
# moved by the finite-T threshold) on the fast path and on the reference
# path alike; the engine names the path that ran.
set -eu
cd "$TB_TMP"

bad() { # bad OPTIMIZER-JSON EXPECTED-MESSAGE
    printf '{"model":{"family":"quadratic"},"lr":{"levels":4},"optimizer":%s}\n' "$1" > b.json
    rc=0
    "$TB_BIN" validate b.json > out 2> err || rc=$?
    [ "$rc" -eq 2 ] || { echo "$1: exit $rc, want 2"; exit 1; }
    grep -qF "$2" err || { echo "$1: want '$2', got: $(cat err)"; exit 1; }
}
bad '{"name":"momentum","beta":1}' 'optimizer.beta: must be a number in [0, 1)'
bad '{"name":"nesterov","beta":-0.5}' 'optimizer.beta: must be a finite number >= 0'
bad '{"name":"momentum"}' 'optimizer.beta: is required for the momentum optimizer'
bad '{"name":"gd","beta":0.5}' 'optimizer.beta: not used by the gd optimizer'
bad '{"name":"adam","beta":0.5}' 'optimizer.beta: not used by the adam optimizer'
bad '{"name":"adam","eps":0}' 'optimizer.eps: must be a finite number > 0'
bad '{"name":"adam","beta2":1.5}' 'optimizer.beta2: must be a number in [0, 1)'
bad '{"name":"sgd"}' 'optimizer.name: must be one of "gd", "momentum", "nesterov" or "adam"'
bad '{"beta":0.5}' 'optimizer.name: is required'
bad '{"name":"gd","lr":1}' 'optimizer.lr: unknown field'
bad '[1]' 'optimizer: must be an object'

echo '{"model":{"family":"quadratic"},"optimizer":{"name":"adam"}}' > a.json
"$TB_BIN" validate a.json | jq -e '.optimizer == {"name":"adam","beta1":0.9,"beta2":0.999,"eps":1e-8}' > /dev/null

# beta = 0 is plain GD, label for label, on a chaotic grid
base='"model":{"family":"additive","amplitude":0.2,"wavelength":0.1},"lr":{"levels":12},"precision":"reference"'
echo "{$base}" > gd.json
echo "{$base,\"optimizer\":{\"name\":\"momentum\",\"beta\":0}}" > m0.json
"$TB_BIN" run --quiet --labels gd.npy gd.json > gd.out
"$TB_BIN" run --quiet --labels m0.npy m0.json > m0.out
cmp gd.npy m0.npy
[ "$(jq -c .counts gd.out)" = "$(jq -c .counts m0.out)" ]

# heavy ball's edge on x^2
echo '{"model":{"family":"quadratic"},"lr":{"min":0,"max":2.5,"levels":14},"optimizer":{"name":"momentum","beta":0.5}}' > hb.json
"$TB_BIN" run --quiet hb.json > hb.out
jq -e '.engine.precision == "fast" and .boundary.transitions == 1' hb.out > /dev/null
# the same edge on the reference path, label for label (x^2 is regular)
jq '.precision = "reference"' hb.json > hbr.json
"$TB_BIN" run --quiet hbr.json > hbr.out
jq -e '.engine == {"precision":"reference","isa":"libm"}' hbr.out > /dev/null
[ "$(jq -c .boundary hb.out)" = "$(jq -c .boundary hbr.out)" ]
# Adam runs on the fast path too; its edge on x^2 from x0 = 1 with
# max_loss 1e2: the first step is about s long, so |x| passes 10 near s = 11
echo '{"model":{"family":"quadratic"},"lr":{"min":0,"max":30,"levels":12},"divergence":{"threshold":100},"optimizer":{"name":"adam"}}' > adam.json
"$TB_BIN" run --quiet adam.json > adam.out
jq -e '.engine.precision == "fast" and .boundary.transitions == 1
       and (.boundary.first_divergent_lr - 11 | fabs) < 0.05' adam.out > /dev/null ||
    { echo "adam edge: $(jq -c '[.engine, .boundary]' adam.out)"; exit 1; }
jq '.precision = "reference"' adam.json > adamr.json
"$TB_BIN" run --quiet adamr.json > adamr.out
[ "$(jq -c .boundary adam.out)" = "$(jq -c .boundary adamr.out)" ]
# a criterion without a lean loop has no fast kernel: the engine says so
jq '.divergence = {"criterion":"loss_sum"}' hb.json > ls.json
"$TB_BIN" run --quiet ls.json | jq -e '.engine.precision == "reference"' > /dev/null
jq -e '(pow(1e8; 1/2000)) as $r | ((1 + $r) * ($r + 0.5) / (2 * $r)) as $want
       | (.boundary.first_divergent_lr - $want | fabs) < 1e-3 and .boundary.first_divergent_lr > 1.5' hb.out > /dev/null ||
    { echo "heavy ball edge: $(jq -c .boundary hb.out)"; exit 1; }
echo ok
