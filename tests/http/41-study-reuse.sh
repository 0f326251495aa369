#!/bin/sh
# 41-study-reuse.sh - POST /v1/jobs?reuse=false computes every cell of a
# study again instead of copying finished cells from the store (duplicates
# inside the study are still computed once), and gives the same table; a
# bad reuse value is a 400 naming the parameter.
. "$TB_ROOT/tests/lib/http.sh"

spec=$TB_TMP/study.json
cat > "$spec" <<'JSON'
{"model": {"family": "additive", "amplitude": 0.01, "wavelength": 1}, "x0": 5,
 "divergence": {"criterion": "loss_sum", "threshold": 1e16}, "lr": {"levels": 10},
 "vary": {"model.amplitude": [0.01, 0.2, 0.01]}}
JSON
tb_start a --workers 2 --tile-points 1024
id=$(submit "$spec")
check_eq "$(body_json .progress.cells_reused)" 1 "the duplicate cell"
wait_job "$id" succeeded 120
expect_status 200 GET "/v1/jobs/$id/result"
jq -S 'del(.elapsed_s)' "$TB_TMP/body" > "$TB_TMP/r1.json"

# The default takes both distinct cells from the store.
id2=$(submit "$spec")
check_eq "$(body_json .progress.cells_reused)" 3 "default reuse"
wait_job "$id2" succeeded 60

# reuse=false: only the in-study duplicate is shared; tiles are computed.
code=$(req POST "/v1/jobs?reuse=false" -H 'Content-Type: application/json' --data-binary "@$spec")
check_eq "$code" 202 "POST ?reuse=false"
id3=$(body_json .id)
check_eq "$(body_json .progress.cells_reused)" 1 "reuse=false takes nothing from the store"
check_eq "$(body_json .progress.done)" 0 "nothing copied"
wait_job "$id3" succeeded 120
expect_status 200 GET "/v1/jobs/$id3/result"
jq -S 'del(.elapsed_s)' "$TB_TMP/body" > "$TB_TMP/r3.json"
cmp -s "$TB_TMP/r1.json" "$TB_TMP/r3.json" || fail "the recomputed study differs"

expect_problem 400 POST "/v1/jobs?reuse=maybe" -H 'Content-Type: application/json' --data-binary "@$spec"
check_eq "$(body_json .parameter)" reuse "parameter"
tb_stop
check_eq "$TB_EXIT" 0 "exit status"
echo ok
