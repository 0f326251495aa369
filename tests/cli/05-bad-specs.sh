#!/bin/sh
# 05-bad-specs.sh - a bad spec gives exit 2, nothing on stdout, and one
# stderr line per problem naming the field, for `run` and `validate` alike.
set -eu
cd "$TB_TMP"

# bad 'SPEC' 'EXPECTED STDERR LINE'
bad() {
    printf '%s\n' "$1" > spec.json
    for cmd in run validate; do
        rc=0
        "$TB_BIN" "$cmd" spec.json > out 2> err || rc=$?
        [ "$rc" -eq 2 ] || { echo "$cmd $1: exit $rc, want 2"; cat err; exit 1; }
        [ ! -s out ] || { echo "$cmd $1: unexpected stdout"; cat out; exit 1; }
        grep -qxF -- "$2" err || { echo "$cmd $1: want line: $2"; echo "got:"; cat err; exit 1; }
    done
}
Q='"model":{"family":"quadratic"}'
M='"model":{"family":"multiplicative","amplitude":0.2,"wavelength":0.1}'

bad '{}' 'trainbound: model: is required'
bad '[]' 'trainbound: the spec must be a JSON object'
bad '{"model":{}}' 'trainbound: model.family: is required: "quadratic", "additive" or "multiplicative"'
bad '{"model":{"family":"cubic"}}' 'trainbound: model.family: must be one of "quadratic", "additive" or "multiplicative"'
bad '{"model":{"family":"multiplicative","amplitude":0.2}}' 'trainbound: model.wavelength: is required for the multiplicative family (or give model.terms)'
bad '{"model":{"family":"quadratic","amplitude":0.2}}' 'trainbound: model.amplitude: not used by the quadratic family'
bad '{"model":{"family":"quadratic","terms":[{"amplitude":1,"wavelength":1}]}}' 'trainbound: model.terms: not used by the quadratic family'
bad '{"model":{"family":"additive","amplitude":0.1,"terms":[{"amplitude":1,"wavelength":1}]}}' 'trainbound: model.amplitude: cannot be combined with model.terms: give amplitude and wavelength, or terms'
bad '{"model":{"family":"multiplicative","amplitude":"0.2","wavelength":0.1}}' 'trainbound: model.amplitude: must be a finite number >= 0'
bad '{"model":{"family":"quadratic","dim":1.0}}' 'trainbound: model.dim: must be an integer in 1..4096'
bad "{$M,\"lr\":{\"levels\":33}}" 'trainbound: lr.levels: must be an integer in 0..32'
bad "{$M,\"lr\":{\"levels\":20.0}}" 'trainbound: lr.levels: must be an integer in 0..32'
bad "{$M,\"steps\":0}" 'trainbound: steps: must be an integer in 1..1000000'
bad "{$M,\"steps\":\"1000\"}" 'trainbound: steps: must be an integer in 1..1000000'
bad "{$M,\"lr\":{\"min\":1.5,\"max\":1.5}}" 'trainbound: lr.max: must be greater than lr.min (min 1.5, max 1.5)'
bad "{$M,\"lr\":{\"min\":1,\"max\":0}}" 'trainbound: lr.max: must be greater than lr.min (min 1, max 0)'
bad '{"model":{"family":"quadratic","dim":3},"x0":[1,2]}' 'trainbound: x0: must have exactly 3 elements (model.dim), not 2'
bad '{"model":{"family":"quadratic","dim":2},"x0":[1,null]}' 'trainbound: x0[1]: must be a finite number'
bad "{$Q,\"divergence\":{\"threshold\":0}}" 'trainbound: divergence.threshold: must be a finite number > 0'
bad "{$Q,\"divergence\":{\"nan\":\"ignore\"}}" 'trainbound: divergence.nan: must be "divergent" or "bounded"'
bad "{$Q,\"fit\":{\"min_level\":5,\"max_level\":4}}" 'trainbound: fit.max_level: must be >= fit.min_level (5)'
bad "{$Q,\"fit\":{\"min_levels\":2}}" 'trainbound: fit.min_levels: must be an integer in 3..33'
bad "{$Q,\"model2\":1}" 'trainbound: model2: unknown field'
bad '{"model":{"family":"quadratic","colour":"red"}}' 'trainbound: model.colour: unknown field'
bad "{$Q,\"steps\":1000000,\"lr\":{\"levels\":32}}" 'trainbound: lr.levels: the sweep would cost (2^32 + 1) * 1000000 steps = 4294967297000000 steps, over the limit of 1125899906842624: lower lr.levels or steps'

# NaN, inf and overflowing literals are not JSON: a line/column message
bad "{$Q,\"x0\":NaN}" "trainbound: invalid JSON at line 1, column 40: invalid token near 'NaN'"
bad "{$Q,\"x0\":1e400}" "trainbound: invalid JSON at line 1, column 42: real number overflow near '1e400'"
bad "{$Q,\"steps\":1,\"steps\":2}" "trainbound: invalid JSON at line 1, column 49: duplicate object key near '\"steps\"'"
printf '{\n  "model": {\n    "family" "quadratic"\n  }\n}\n' > spec.json
rc=0; "$TB_BIN" validate spec.json > out 2> err || rc=$?
[ "$rc" -eq 2 ] && [ ! -s out ]
grep -qxF "trainbound: invalid JSON at line 3, column 24: ':' expected near '\"quadratic\"'" err || { cat err; exit 1; }

# every problem is listed, one line each
printf '%s\n' '{"bogus":1,"model":{"family":"multiplicative","amplitude":-1},"steps":0,"lr":{"levels":33}}' > spec.json
rc=0; "$TB_BIN" run spec.json > out 2> err || rc=$?
[ "$rc" -eq 2 ] && [ ! -s out ]
[ "$(wc -l < err)" -eq 5 ] || { cat err; exit 1; }
grep -qxF 'trainbound: bogus: unknown field' err
grep -qxF 'trainbound: model.amplitude: must be a finite number >= 0' err
grep -qxF 'trainbound: model.wavelength: is required for the multiplicative family (or give model.terms)' err
grep -qxF 'trainbound: steps: must be an integer in 1..1000000' err
grep -qxF 'trainbound: lr.levels: must be an integer in 0..32' err

# stdin is the same
rc=0; "$TB_BIN" run - < spec.json > out 2> err2 || rc=$?
[ "$rc" -eq 2 ] && cmp err err2

# empty input
rc=0; "$TB_BIN" run - < /dev/null > out 2> err || rc=$?
[ "$rc" -eq 2 ] && [ ! -s out ] && grep -q '^trainbound: invalid JSON at line 1' err
echo ok
