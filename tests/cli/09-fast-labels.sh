#!/bin/sh
# 09-fast-labels.sh - the fast path and the label download.
# --labels writes a .npy that numpy loads, and it agrees with the result
# JSON (divergent count, flips); the fast path reproduces science.md's exact
# multiplicative counts at levels 0-9, agrees with the reference on at
# least 99.9% of the labels, and on the regular quadratic on all of them;
# the fast path is the default; --stats reports the points and lane-steps.
set -eu
cd "$TB_TMP"
PY=/usr/bin/python3

jq '.lr.levels = 14 | .fit.max_level = 14' "$TB_ROOT/api/examples/multiplicative.json" > m.json
"$TB_BIN" run --quiet --precision reference --labels ref.npy m.json > ref.json
"$TB_BIN" run --quiet --stats --labels fast.npy m.json > fast.json 2> stats
jq -e '.spec.precision == "fast"' fast.json > /dev/null
jq -e '.spec.precision == "reference"' ref.json > /dev/null
jq -e -c '.counts[0:10] == [1,1,1,1,3,5,7,13,21,27]' fast.json > /dev/null ||
    { echo "fast counts: $(jq -c .counts fast.json)"; exit 1; }
jq -e '.points == 16385 and .lane_steps > 16385 and (.isa | test("^(sse2|avx2|avx512)$"))' stats > /dev/null ||
    { echo "stats: $(cat stats)"; exit 1; }

$PY - ref.json ref.npy fast.npy <<'PYEOF'
import json, sys
import numpy as np
res = json.load(open(sys.argv[1]))
ref = np.load(sys.argv[2]); fast = np.load(sys.argv[3])
assert ref.dtype == np.bool_ and ref.shape == (res["points"],), (ref.dtype, ref.shape)
assert int(ref.sum()) == res["divergent_points"]
flips = np.flatnonzero(ref[1:] != ref[:-1])
assert len(flips) == res["boundary"]["transitions"]
h = res["lr"]["step"]
want = [res["lr"]["min"] + (j + 0.5) * h for j in flips[:len(res["boundary"]["flips"])]]
assert np.allclose(want, res["boundary"]["flips"], rtol=0, atol=1e-15)
for n in range(15):
    sub = ref[:: 2 ** (14 - n)]
    assert int(np.count_nonzero(sub[1:] != sub[:-1])) == res["counts"][n]
same = float(np.mean(ref == fast))
assert same >= 0.999, same
PYEOF

# a regular case: the fast path is exact
jq '.lr.levels = 12 | .fit.max_level = 12' "$TB_ROOT/api/examples/quadratic.json" > q.json
"$TB_BIN" run --quiet --precision reference --labels qr.npy q.json > /dev/null
"$TB_BIN" run --quiet --labels qf.npy q.json > /dev/null
cmp qr.npy qf.npy

# bad flag values
if "$TB_BIN" run --precision turbo m.json > /dev/null 2> err; then exit 1; fi
grep -q '^trainbound: --precision: must be reference or fast' err
if "$TB_BIN" run --labels /nonexistent/dir/x.npy m.json > /dev/null 2> err; then exit 1; fi
grep -q 'cannot write /nonexistent/dir/x.npy' err
