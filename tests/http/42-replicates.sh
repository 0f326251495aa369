#!/bin/sh
# 42-replicates.sh - "replicates" through the server: tiles that span
# replicates are scheduled like any others, the result's dimension (each
# replicate's fit and counts, and the spread) equals `trainbound run` on the
# same spec, the job summary carries the spread, a refit over another
# window refits every replicate exactly as the CLI fits that window, and a
# study's cells report their spread; the cost limit counts replicates.
. "$TB_ROOT/tests/lib/http.sh"

spec=$TB_TMP/rep.json
cat > "$spec" <<'JSON'
{"model": {"family": "additive", "amplitude": 0.2, "wavelength": 0.1}, "x0": 1,
 "lr": {"levels": 14}, "replicates": 4}
JSON
# 4 * (2^14 + 1) points in tiles of 1024: tiles straddle replicates.
tb_start a --workers 2 --tile-points 1024
id=$(submit "$spec")
check_eq "$(body_json .progress.total)" 65540 "points of four replicates"
wait_job "$id" succeeded 120
expect_status 200 GET "/v1/jobs/$id/result"
cp "$TB_TMP/body" "$TB_TMP/server.json"
"$TB_BIN" run --quiet "$spec" > "$TB_TMP/cli.json"
jq -e --slurpfile c "$TB_TMP/cli.json" '.dimension == $c[0].dimension and .counts == $c[0].counts' \
    "$TB_TMP/server.json" > /dev/null || fail "server and CLI replicates differ: $(jq -c .dimension.spread "$TB_TMP/server.json") vs $(jq -c .dimension.spread "$TB_TMP/cli.json")"
check_eq "$(jq '.dimension.replicates | length' "$TB_TMP/server.json")" 4 "replicates"

expect_status 200 GET "/v1/jobs/$id"
check_eq "$(jq --slurpfile s "$TB_TMP/server.json" '.summary.spread == $s[0].dimension.spread' "$TB_TMP/body")" true "summary spread"

# Refit over levels 11..14: every replicate, as the CLI fits that window.
expect_status 200 GET "/v1/jobs/$id/dimension?min_level=11"
cp "$TB_TMP/body" "$TB_TMP/refit.json"
check_eq "$(body_json .refit)" true "refit"
jq '.fit.min_level = 11' "$spec" > "$TB_TMP/rep11.json"
"$TB_BIN" run --quiet "$TB_TMP/rep11.json" > "$TB_TMP/cli11.json"
jq -e --slurpfile c "$TB_TMP/cli11.json" \
    '[.dimension.replicates[] | del(.counts)] == [$c[0].dimension.replicates[] | del(.counts)]
     and .dimension.spread == $c[0].dimension.spread and .dimension.min_level == 11' \
    "$TB_TMP/refit.json" > /dev/null || fail "refit: $(jq -c .dimension.spread "$TB_TMP/refit.json") vs $(jq -c .dimension.spread "$TB_TMP/cli11.json")"

# A study with replicates: each cell's spread, equal to the CLI's rows.
study=$TB_TMP/study.json
jq '. + {"vary": {"model.amplitude": [0.2, 0.01]}} | .lr.levels = 12 | .replicates = 3' "$spec" > "$study"
sid=$(submit "$study")
wait_job "$sid" succeeded 120
expect_status 200 GET "/v1/jobs/$sid/result"
"$TB_BIN" run --quiet "$study" > "$TB_TMP/cli-study.json"
jq -e --slurpfile c "$TB_TMP/cli-study.json" \
    '[.cells[] | {spread, fractal, D}] == [$c[0].cells[] | {spread, fractal, D}]' "$TB_TMP/body" > /dev/null ||
    fail "study cells differ from the CLI's"
check_eq "$(body_json '[.cells[].spread.n] == [3, 3]')" true "cell spreads"

# The cost counts the replicates: 4 * (2^20 + 1) * 1000 steps is over 2^31.
tb_stop
tb_start b --max-cost 2147483648
jq '.lr.levels = 20 | .steps = 1000' "$spec" > "$TB_TMP/big.json"
expect_problem 422 POST /v1/jobs -H 'Content-Type: application/json' --data-binary "@$TB_TMP/big.json"
body_json '.errors[0].detail' | grep -q '4 replicates' || fail "cost message: $(cat "$TB_TMP/body")"
tb_stop
check_eq "$TB_EXIT" 0 "exit status"
