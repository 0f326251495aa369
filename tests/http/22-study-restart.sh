#!/bin/sh
# 22-study-restart.sh - kill -9 mid-study, restart on the same database:
# the study resumes from its saved tiles and finished cells (no tile saved
# before the kill is computed again, no finished cell loses its row),
# finishes, and its result equals the CLI's (but elapsed_s).
. "$TB_ROOT/tests/lib/http.sh"

spec=$TB_TMP/study.json
cat > "$spec" <<'JSON'
{"model": {"family": "multiplicative", "amplitude": 0.2, "wavelength": 0.1}, "steps": 6000,
 "lr": {"levels": 12}, "precision": "reference",
 "vary": {"model.amplitude": [0.05, 0.1, 0.2, 0.1]}}
JSON
tb_start a --workers 2 --tile-points 256
id=$(submit "$spec")
total=$(body_json .progress.tiles_total)
check_eq "$total" 51 "tiles of 3 distinct cells"
i=0
while :; do
    curl -sS "$TB_URL/v1/jobs/$id" > "$TB_TMP/job.json"
    cells=$(jq -r .progress.cells_done "$TB_TMP/job.json")
    [ "$cells" -ge 1 ] && break
    i=$((i + 1))
    [ $i -lt 1200 ] || fail "no cell finished"
    sleep 0.05
done
tb_kill9
tiles=$(jq -r .progress.tiles_done "$TB_TMP/job.json")
[ "$tiles" -lt "$total" ] || fail "the study finished before the kill: make it bigger"

have_sqlite=0
command -v sqlite3 > /dev/null && have_sqlite=1
if [ $have_sqlite = 1 ]; then
    tb_sql a "SELECT idx FROM tiles WHERE job_id = $id AND state = 'done' ORDER BY idx" > "$TB_TMP/done-before"
    ndone=$(wc -l < "$TB_TMP/done-before" | tr -d ' ')
    tb_sql a "SELECT idx || ':' || row_json FROM cells WHERE job_id = $id AND status = 'done'" > "$TB_TMP/cells-before"
    [ -s "$TB_TMP/cells-before" ] || fail "no finished cell in the file"
fi

tb_start a --workers 2 --tile-points 256
wait_job "$id" succeeded 150
expect_status 200 GET "/v1/jobs/$id"
check_eq "$(body_json .progress.cells_done)" 4 "cells_done"

if [ $have_sqlite = 1 ]; then
    list=$(paste -sd, "$TB_TMP/done-before")
    n=$(tb_sql a "SELECT count(*) FROM tile_attempts WHERE job_id = $id AND idx IN ($list)")
    check_eq "$n" "$ndone" "attempts of tiles saved before the kill"
    n=$(tb_sql a "SELECT count(*) FROM tile_attempts WHERE job_id = $id AND outcome = 'done'")
    check_eq "$n" "$total" "done attempts"
    while IFS= read -r line; do
        c=${line%%:*}
        now=$(tb_sql a "SELECT idx || ':' || row_json FROM cells WHERE job_id = $id AND idx = $c")
        check_eq "$now" "$line" "row of cell $c kept across the restart"
    done < "$TB_TMP/cells-before"
fi

expect_status 200 GET "/v1/jobs/$id/result"
jq -S 'del(.elapsed_s)' "$TB_TMP/body" > "$TB_TMP/a.json"
"$TB_BIN" run --threads 2 --quiet "$spec" | jq -S 'del(.elapsed_s)' > "$TB_TMP/b.json"
cmp -s "$TB_TMP/a.json" "$TB_TMP/b.json" || fail "study result after restart differs from the CLI's"
tb_stop
check_eq "$TB_EXIT" 0 "exit status"
echo ok
