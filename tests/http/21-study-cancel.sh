#!/bin/sh
# 21-study-cancel.sh - cancel works on the whole study: its tiles stop
# (nothing is saved after the cancel), the study stays canceled with the
# cells it finished, it has no result or CSV (409), and DELETE removes it
# with its cells.
. "$TB_ROOT/tests/lib/http.sh"

spec=$TB_TMP/study.json
cat > "$spec" <<'JSON'
{"model": {"family": "additive", "amplitude": 0.2, "wavelength": 0.1}, "steps": 1000,
 "lr": {"levels": 16}, "vary": {"model.amplitude": [0.1, 0.2, 0.3, 0.4]}}
JSON
tb_start a --workers 2 --tile-points 1024
id=$(submit "$spec")
i=0
while [ "$(job_field "$id" .progress.tiles_done)" -lt 2 ]; do
    i=$((i + 1))
    [ $i -lt 1200 ] || fail "study never progressed"
    sleep 0.1
done
expect_status 202 POST "/v1/jobs/$id/cancel"
check_eq "$(body_json .status)" canceled "status in the cancel answer"
check_eq "$(body_json .kind)" study "kind"
at_cancel=$(body_json .progress.done)
i=0
while :; do
    expect_status 200 GET /readyz
    [ "$(body_json .in_flight)" = 0 ] && break
    i=$((i + 1))
    [ $i -lt 600 ] || fail "tiles still running after cancel"
    sleep 0.1
done
check_eq "$(job_field "$id" .progress.done)" "$at_cancel" "progress after cancel"
[ "$at_cancel" -lt "$(job_field "$id" .progress.total)" ] || fail "study finished before the cancel"
check_eq "$(job_field "$id" .status)" canceled "status after cancel"
expect_problem 409 GET "/v1/jobs/$id/result"
expect_problem 409 GET "/v1/jobs/$id/cells?format=csv"
expect_status 200 GET "/v1/jobs/$id/cells"
check_eq "$(body_json .status)" canceled "status in /cells"
check_eq "$(body_json '[.items[] | select(.status == "pending")] | length > 0')" true "pending cells"
if command -v sqlite3 > /dev/null; then
    n=$(tb_sql a "SELECT count(*) FROM tiles WHERE job_id = $id AND state = 'leased'")
    check_eq "$n" 0 "leased tiles after cancel"
fi

expect_status 204 DELETE "/v1/jobs/$id"
expect_problem 404 GET "/v1/jobs/$id/cells"
if command -v sqlite3 > /dev/null; then
    n=$(tb_sql a "SELECT (SELECT count(*) FROM cells) + (SELECT count(*) FROM studies) + (SELECT count(*) FROM tiles)")
    check_eq "$n" 0 "rows left after delete"
fi

# DELETE of a running study stops it too.
id2=$(submit "$spec")
wait_job "$id2" running
expect_status 204 DELETE "/v1/jobs/$id2"
expect_problem 404 GET "/v1/jobs/$id2"
i=0
while :; do
    expect_status 200 GET /readyz
    [ "$(body_json .in_flight)" = 0 ] && break
    i=$((i + 1))
    [ $i -lt 600 ] || fail "tiles still running after delete"
    sleep 0.1
done
tb_stop
check_eq "$TB_EXIT" 0 "exit status"
echo ok
