#!/bin/sh
# 20-study.sh - studies through the API (issue 4): POST a 2-axis study,
# poll it in cells, page /cells, and get the result `trainbound run` prints
# for the same spec (but elapsed_s), duplicate cells marked reused; the CSV
# equals `run --csv`; an identical second study takes every cell from the
# store (no tile computed again); sweeps' routes refuse a study; bad vary
# blocks get 422 with JSON pointers, and a study over --max-cost too.
. "$TB_ROOT/tests/lib/http.sh"

spec=$TB_TMP/study.json
cat > "$spec" <<'JSON'
{"name": "small map", "model": {"family": "additive", "amplitude": 0.01, "wavelength": 1}, "x0": 5,
 "divergence": {"criterion": "loss_sum", "threshold": 1e16}, "lr": {"levels": 12},
 "precision": "fast",
 "vary": {"model.amplitude": [0.01, 0.2, 0.01], "model.wavelength": {"linspace": [1, 0.5, 2]}}}
JSON

tb_start a --workers 2 --tile-points 1024
code=$(req POST /v1/jobs -H 'Content-Type: application/json' --data-binary "@$spec")
check_eq "$code" 202 "POST a study"
id=$(body_json .id)
first=$id # wait_job sets $id
check_eq "$(hdr Location)" "/v1/jobs/$id" "Location"
check_eq "$(body_json .kind)" study "kind"
check_eq "$(body_json .progress.cells_total)" 6 "cells_total"
check_eq "$(body_json .progress.cells_reused)" 2 "duplicates known at submit"
check_eq "$(body_json .progress.total)" 16388 "points of the 4 distinct cells"
check_eq "$(body_json .progress.tiles_total)" 20 "tiles of the 4 distinct cells"
check_eq "$(body_json .links.cells)" "/v1/jobs/$id/cells" "links.cells"
wait_job "$id" succeeded 120

expect_status 200 GET "/v1/jobs/$id"
check_eq "$(body_json .progress.cells_done)" 6 "cells_done"
jq -e '.summary.kind == "study" and .summary.cells == 6 and .summary.reused_cells == 2
       and (.summary | has("transition_theta") and has("transition_ratio") and has("fractal_cells"))' \
    "$TB_TMP/body" > /dev/null || fail "summary: $(body_json .summary)"

# The result is the CLI's, elapsed_s aside: same rows, same reused flags.
expect_status 200 GET "/v1/jobs/$id/result"
jq -S 'del(.elapsed_s)' "$TB_TMP/body" > "$TB_TMP/srv.json"
"$TB_BIN" run --threads 2 --quiet --csv "$TB_TMP/cli.csv" "$spec" | jq -S 'del(.elapsed_s)' > "$TB_TMP/cli.json"
cmp -s "$TB_TMP/srv.json" "$TB_TMP/cli.json" || {
    diff "$TB_TMP/srv.json" "$TB_TMP/cli.json" | head -20 >&2
    fail "the study result differs from the CLI's"
}
check_eq "$(jq -c '[.cells[].reused]' "$TB_TMP/srv.json")" '[false,false,false,false,true,true]' "reused flags"
check_eq "$(jq -c '.axes | map(.param)' "$TB_TMP/srv.json")" '["model.amplitude","model.wavelength"]' "axis order"
jq -e '.summary.fractal_cells >= 1' "$TB_TMP/srv.json" > /dev/null || fail "no fractal cell"

# /cells pages the rows; a done cell's item is its row plus "status".
expect_status 200 GET "/v1/jobs/$id/cells?limit=4"
check_eq "$(body_json '.count, .next_offset, .cells_total, .cells_done' | paste -sd,)" 4,4,6,6 "first page"
jq -c '[.items[] | del(.status)]' "$TB_TMP/body" > "$TB_TMP/p1"
expect_status 200 GET "/v1/jobs/$id/cells?offset=4&limit=4"
check_eq "$(body_json '.count, .next_offset' | paste -sd,)" 2,null "last page"
check_eq "$(body_json '[.items[].status] | unique | join(",")')" done "statuses"
jq -c '[.items[] | del(.status)]' "$TB_TMP/body" > "$TB_TMP/p2"
check_eq "$(jq -cS -s 'add' "$TB_TMP/p1" "$TB_TMP/p2")" "$(jq -cS .cells "$TB_TMP/cli.json")" "paged rows"
expect_status 200 GET "/v1/jobs/$id/cells?offset=100"
check_eq "$(body_json .count)" 0 "past the end"
hdr ETag | grep -q '^W/"' || fail "no ETag on /cells"
expect_status 304 GET "/v1/jobs/$id/cells" -H "If-None-Match: $(hdr ETag)"

# The CSV is the CLI's --csv.
expect_status 200 GET "/v1/jobs/$id/cells?format=csv"
case "$(hdr Content-Type)" in text/csv*) ;; *) fail "csv Content-Type: $(hdr Content-Type)" ;; esac
cmp -s "$TB_TMP/body" "$TB_TMP/cli.csv" || fail "CSV differs from run --csv"
# Without format=, Accept picks it; a type not offered is 406.
expect_status 200 GET "/v1/jobs/$id/cells" -H 'Accept: text/csv'
cmp -s "$TB_TMP/body" "$TB_TMP/cli.csv" || fail "Accept: text/csv differs from format=csv"
expect_status 200 GET "/v1/jobs/$id/cells" -H 'Accept: image/png'
case "$(hdr Content-Type)" in image/png*) ;; *) fail "cells Accept png: $(hdr Content-Type)" ;; esac
expect_status 200 GET "/v1/jobs/$id/cells" -H 'Accept: */*'
case "$(hdr Content-Type)" in application/json*) ;; *) fail "cells Accept */*: $(hdr Content-Type)" ;; esac
expect_problem 406 GET "/v1/jobs/$id/cells" -H 'Accept: application/xml'

# The heat map of D: a PNG whose size is the grid times the cell size, one
# colour per cell, convex cells framed in white.
expect_status 200 GET "/v1/jobs/$id/cells?format=png"
check_eq "$(hdr Content-Type)" image/png "png Content-Type"
rows=$(jq '.axes[0].values | length' "$TB_TMP/cli.json")
cols=$(jq '.axes[1].values | length' "$TB_TMP/cli.json")
/usr/bin/python3 - "$TB_TMP/body" "$rows" "$cols" <<'PYEOF' || fail "heat map PNG"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
rows, cols = int(sys.argv[2]), int(sys.argv[3])
assert data[:8] == b"\x89PNG\r\n\x1a\n", "signature"
w, h, depth, ctype = struct.unpack(">IIBB", data[16:26])
cell = max(4, min(64, 512 // max(rows, cols)))
assert (w, h, depth, ctype) == (cols * cell, rows * cell, 8, 2), (w, h, depth, ctype)
pos, idat = 8, b""
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    if kind == b"IDAT":
        idat += data[pos + 8:pos + 8 + n]
    pos += 12 + n
raw = zlib.decompress(idat)
assert len(raw) == h * (1 + 3 * w), len(raw)
PYEOF

# Bad query parameters, unknown jobs, sweeps, sweep-only routes.
expect_problem 400 GET "/v1/jobs/$id/cells?limit=0"
expect_problem 400 GET "/v1/jobs/$id/cells?format=xml"
expect_problem 400 GET "/v1/jobs/$id/cells?page=2"
expect_problem 404 GET "/v1/jobs/999/cells"
expect_problem 404 GET "/v1/jobs/$id/dimension"
body_json .detail | grep -q "job $id is a study: its dimensions are per cell" || fail "detail: $(cat "$TB_TMP/body")"
expect_problem 404 GET "/v1/jobs/$id/boundary"
write_spec "$TB_TMP/sweep.json" quadratic 6
sid=$(submit "$TB_TMP/sweep.json")
expect_problem 404 GET "/v1/jobs/$sid/cells"
wait_job "$sid" succeeded

# An identical study takes every cell from the store: no tile is computed,
# every row says reused, and the table is otherwise the same.
code=$(req POST /v1/jobs -H 'Content-Type: application/json' --data-binary "@$spec")
check_eq "$code" 202 "POST the study again"
id2=$(body_json .id)
check_eq "$(body_json .progress.cells_reused)" 6 "all cells reused"
check_eq "$(body_json .progress.done)" "$(body_json .progress.total)" "points from the store"
wait_job "$id2" succeeded 60
expect_status 200 GET "/v1/jobs/$id2/result"
check_eq "$(body_json '[.cells[].reused] | all')" true "reused flags of the second study"
check_eq "$(body_json .summary.reused_cells)" 6 "reused_cells"
jq -S 'del(.elapsed_s) | del(.cells[].reused) | del(.summary.reused_cells)' "$TB_TMP/body" > "$TB_TMP/b2"
jq -S 'del(.elapsed_s) | del(.cells[].reused) | del(.summary.reused_cells)' "$TB_TMP/cli.json" > "$TB_TMP/b1"
cmp -s "$TB_TMP/b1" "$TB_TMP/b2" || fail "the reused study's table differs"
expect_status 200 GET "/v1/jobs/$id2/cells?limit=1"
check_eq "$(body_json .items[0].reused_from)" "$first" "reused_from"
if command -v sqlite3 > /dev/null; then
    n=$(tb_sql a "SELECT count(*) FROM tile_attempts WHERE job_id = $id2")
    check_eq "$n" 0 "tile attempts of the reused study"
    n=$(tb_sql a "SELECT count(*) FROM tile_attempts WHERE job_id = $first AND outcome = 'done'")
    check_eq "$n" 20 "tiles of the first study computed once each"
fi

# A study whose cells are in a succeeded sweep: reused from the sweep.
jq '{model, x0, divergence, lr, precision, steps: 300, vary: {"model.amplitude": [0.2, 0.3]}}' "$spec" > "$TB_TMP/s3.json"
jq 'del(.vary) | .model.amplitude = 0.2' "$TB_TMP/s3.json" > "$TB_TMP/sw3.json"
sw=$(submit "$TB_TMP/sw3.json")
wait_job "$sw" succeeded
code=$(req POST /v1/jobs -H 'Content-Type: application/json' --data-binary "@$TB_TMP/s3.json")
check_eq "$code" 202 "POST a study over a sweep"
id3=$(body_json .id)
check_eq "$(body_json .progress.cells_reused)" 1 "one cell from the sweep"
wait_job "$id3" succeeded 60
expect_status 200 GET "/v1/jobs/$id3/cells"
check_eq "$(body_json '[.items[].reused] | map(tostring) | join(",")')" true,false "reused from the sweep"
check_eq "$(body_json .items[0].reused_from)" "$sw" "reused_from the sweep"
expect_status 200 GET "/v1/jobs/$id3/result"
"$TB_BIN" run --quiet "$TB_TMP/sw3.json" > "$TB_TMP/sw3.out"
check_eq "$(jq -c .cells[0].counts "$TB_TMP/body")" "$(jq -c .counts "$TB_TMP/sw3.out")" "counts of the reused cell"
tb_stop

# Invalid vary blocks: 422 with a pointer to the field.
tb_start b --max-cost 1e7
bad() { # $1 = jq filter on the spec, $2 = expected pointer
    jq "$1" "$spec" > "$TB_TMP/bad.json"
    expect_problem 422 POST /v1/jobs -H 'Content-Type: application/json' --data-binary "@$TB_TMP/bad.json"
    jq -e --arg p "$2" '[.errors[].pointer] | index($p) != null' "$TB_TMP/body" > /dev/null ||
        fail "for $1 want pointer $2: $(cat "$TB_TMP/body")"
}
bad '.vary = {"model.colour": [1]}' /vary/model.colour
bad '.vary = {"model.amplitude": []}' /vary/model.amplitude
bad '.vary = {"model.amplitude": [0.1], "model.wavelength": [1], "x0": [1]}' /vary
bad '.vary = {"model.amplitude": [0.1, 0.2, 0.3, -1]}' /vary/model.amplitude/3
bad '.vary = {"model.amplitude": {"linspace": [0.01, 0.2, 3]}} | .combine = "diagonal"' /combine
# 4097 points x 1000 steps per cell is under the limit, 3 cells are not.
bad '.vary = {"model.amplitude": [0.1, 0.2, 0.3]}' /vary
body_json .detail | grep -q problem || fail "detail"
jq -e '.errors[0].detail | test("more than the limit")' "$TB_TMP/body" > /dev/null || fail "cost message: $(cat "$TB_TMP/body")"
expect_status 200 GET /v1/jobs
check_eq "$(body_json '.items | length')" 0 "nothing was queued"
tb_stop
check_eq "$TB_EXIT" 0 "exit status"
echo ok
