#!/bin/sh
# 14-csv-shortest.sh - `run --csv` writes every real as the JSON does: the
# shortest text that reads back as the same double (0.1, not
# 0.10000000000000001). For every cell, the CSV fields model.amplitude,
# theta, critical, D, stderr, r2 and divergent_fraction equal the numbers
# of the JSON result, but for the ".0" a JSON real keeps (0.0 -> 0).
set -eu
cd "$TB_TMP"

fail() { echo "FAIL: $*"; exit 1; }

cat > s.json <<'JSON'
{"model": {"family": "additive", "amplitude": 0.1, "wavelength": 0.3}, "x0": 5,
 "divergence": {"criterion": "loss_sum", "threshold": 1e16}, "lr": {"levels": 10},
 "steps": 200, "vary": {"model.amplitude": [0.1, 0.2, 0.3, 0.7, 1e-5]}}
JSON
"$TB_BIN" run --quiet --csv s.csv s.json > s.out

[ "$(sed -n 2p s.csv | cut -d, -f2)" = 0.1 ] || fail "row 1 amplitude: $(sed -n 2p s.csv)"
[ "$(sed -n 4p s.csv | cut -d, -f2)" = 0.3 ] || fail "row 3 amplitude: $(sed -n 4p s.csv)"
[ "$(sed -n 6p s.csv | cut -d, -f2)" = 1e-5 ] || fail "row 5 amplitude: $(sed -n 6p s.csv)"
if grep -Eq '[0-9]\.[0-9]*(0000000|9999999)[0-9]' s.csv; then
    fail "representation noise in the CSV: $(grep -E '(0000000|9999999)[0-9]' s.csv)"
fi

# column KEY COL: the JSON's numbers for KEY (one per cell, in order, ".0"
# dropped) against CSV column COL.
column() {
    grep -o "\"$1\":[^,}]*" s.out | sed 's/^[^:]*://; s/\.0$//' > json.col
    [ "$(wc -l < json.col)" -eq 5 ] || fail "$1: $(wc -l < json.col) JSON values, want 5"
    sed 1d s.csv | cut -d, -f"$2" > csv.col
    cmp -s json.col csv.col || { paste json.col csv.col; fail "$1: the CSV differs from the JSON"; }
}
head -1 s.csv | grep -q '^index,model.amplitude,theta,critical,convex,D,stderr,r2,fractal,levels_used,transitions,divergent_fraction,' ||
    fail "header: $(head -1 s.csv)"
grep -o '"params":{"model.amplitude":[^,}]*' s.out | sed 's/^.*://; s/\.0$//' > json.col
sed 1d s.csv | cut -d, -f2 > csv.col
cmp -s json.col csv.col || { paste json.col csv.col; fail "model.amplitude: the CSV differs"; }
column theta 3
column critical 4
column D 6
column stderr 7
column r2 8
column divergent_fraction 12
echo ok
