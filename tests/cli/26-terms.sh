#!/bin/sh
# 26-terms.sh - model.terms with cos, poly and gauss terms (issue 16):
# validate echoes every term with its type and defaults, a bad term field
# gives exit 2 and its own message; a typed cos term is the paper's spec
# (same canonical text, same labels); a poly or gauss term runs on the
# reference path even when fast is asked, with the roughness of its terms;
# a convex bump keeps the quadratic's one boundary near 1.0046264, and
# f = 1.5 x^2 (x^2 plus the poly 0.5 x^2) has its analytic edge.
set -eu
cd "$TB_TMP"

bad() { # bad TERMS-JSON EXPECTED-MESSAGE [FAMILY]
    printf '{"model":{"family":"%s","terms":%s},"lr":{"levels":4}}\n' "${3:-additive}" "$1" > b.json
    rc=0
    "$TB_BIN" validate b.json > out 2> err || rc=$?
    [ "$rc" -eq 2 ] || { echo "$1: exit $rc, want 2"; exit 1; }
    grep -qxF "trainbound: $2" err || { echo "$1: want '$2', got: $(cat err)"; exit 1; }
}
bad '[{"type":"gauss","amplitude":1,"width":0}]' 'model.terms[0].width: must be a finite number > 0'
bad '[{"amplitude":0.1,"wavelength":1},{"type":"gauss","amplitude":1}]' 'model.terms[1].width: is required'
bad '[{"type":"poly","coefficients":[1,2,3,4,5,6,7,8,9,10]}]' 'model.terms[0].coefficients: must be a list of 1..9 finite numbers (degree at most 8)'
bad '[{"type":"poly","coefficients":[1],"centre":0}]' 'model.terms[0].centre: not used by a poly term'
bad '[{"type":"exp"}]' 'model.terms[0].type: must be one of "cos", "poly" or "gauss"'
bad '[{"type":"poly","coefficients":[1]}]' 'model.terms[0].type: must be "cos" or "gauss" for the multiplicative family (x^2 times a polynomial is a polynomial: use the additive family)' multiplicative

# the canonical echo, and its fixed point
echo '{"model":{"family":"additive","terms":[{"type":"gauss","amplitude":0.1,"width":0.3},{"type":"poly","coefficients":[0,0,0.5],"scale":2}]}}' > t.json
"$TB_BIN" validate t.json > c1
jq -e '.model.terms == [{"type":"gauss","amplitude":0.1,"width":0.3,"centre":0},
                        {"type":"poly","coefficients":[0,0,0.5],"scale":2}]' c1 > /dev/null
"$TB_BIN" validate c1 > c2
cmp c1 c2

# a typed cos term is the paper's spec
echo '{"model":{"family":"multiplicative","amplitude":0.2,"wavelength":0.1},"lr":{"levels":12}}' > legacy.json
echo '{"model":{"family":"multiplicative","terms":[{"type":"cos","amplitude":0.2,"wavelength":0.1}]},"lr":{"levels":12}}' > typed.json
"$TB_BIN" validate legacy.json > l.c
"$TB_BIN" validate typed.json > t.c
cmp l.c t.c
"$TB_BIN" run --quiet --labels l.npy legacy.json > l.out
"$TB_BIN" run --quiet --labels t.npy typed.json > t.out
cmp l.npy t.npy
[ "$(jq -c '.counts, .engine' l.out)" = "$(jq -c '.counts, .engine' t.out)" ]

# a convex bump: reference engine, theta = a/w^2 against 2, one boundary near 1.0046264
echo '{"model":{"family":"additive","terms":[{"type":"gauss","amplitude":0.1,"width":0.3}]},"lr":{"levels":12}}' > g.json
"$TB_BIN" run --quiet g.json > g.out
jq -e '.engine == {"precision":"reference","isa":"libm"}
       and .roughness.convex == true and .roughness.critical == 2
       and (.roughness.theta - 0.1/0.09 | fabs) < 1e-12
       and .boundary.transitions == 1
       and (.boundary.first_divergent_lr - 1.0046264 | fabs) < 2e-3' g.out > /dev/null ||
    { echo "gauss: $(jq -c '{roughness, engine, boundary}' g.out)"; exit 1; }

# x^2 + 0.5 x^2: the detected edge of 1.5 x^2 is (1 + (M/1.5)^(1/2T)) / 3
echo '{"model":{"family":"additive","terms":[{"type":"poly","coefficients":[0,0,0.5]}]},"lr":{"levels":12}}' > p.json
"$TB_BIN" run --quiet p.json > p.out
jq -e '((1 + pow(1e8 / 1.5; 1/2000)) / 3) as $edge
       | .boundary.transitions == 1 and .roughness.convex == true
       and .roughness.theta == -0.5 and .roughness.critical == 1
       and .boundary.first_divergent_lr >= $edge
       and .boundary.first_divergent_lr - .lr.step < $edge' p.out > /dev/null ||
    { echo "poly: $(jq -c '{roughness, boundary, lr}' p.out)"; exit 1; }

# a double well is not convex: the deficit 1 - inf f''/2 = 2
echo '{"model":{"family":"additive","terms":[{"type":"poly","coefficients":[0,0,-2,0,1]}]},"lr":{"levels":6}}' > w.json
"$TB_BIN" run --quiet w.json | jq -e '.roughness == {"theta":2,"critical":1,"convex":false}' > /dev/null
echo ok
