#!/bin/sh
# 05-cancel-delete.sh - canceling a running job stops its tiles (progress
# stops moving, the status stays canceled, 409 on its result), canceling
# twice is harmless, DELETE removes a job (running or not) and its data.
. "$TB_ROOT/tests/lib/http.sh"

tb_start a --workers 2 --tile-points 256
# Additive, levels 18: big enough to still be running when canceled.
write_spec "$TB_TMP/big.json" additive 18
id=$(submit "$TB_TMP/big.json")
# Wait until some tiles are in.
i=0
while [ "$(job_field "$id" .progress.tiles_done)" -lt 2 ]; do
    i=$((i + 1))
    [ $i -lt 1200 ] || fail "job never progressed"
    sleep 0.1
done
check_eq "$(job_field "$id" .status)" running "status before cancel"

expect_status 202 POST "/v1/jobs/$id/cancel"
check_eq "$(body_json .status)" canceled "status in the cancel answer"
body_json .finished_at | grep -q T || fail "finished_at after cancel"
at_cancel=$(body_json .progress.done)
# The running tiles notice the flag and stop: nothing stays in flight.
wait_idle() {
    i=0
    while :; do
        expect_status 200 GET /readyz
        [ "$(body_json .in_flight)" = 0 ] && return 0
        i=$((i + 1))
        [ $i -lt 600 ] || fail "tiles still running $1"
        sleep 0.1
    done
}
wait_idle "after cancel"
# No tile was saved after the cancel: progress is what the cancel saw.
check_eq "$(job_field "$id" .progress.done)" "$at_cancel" "progress after cancel"
[ "$at_cancel" -lt "$(job_field "$id" .progress.total)" ] || fail "job finished before the cancel"
check_eq "$(job_field "$id" .status)" canceled "status after cancel"
expect_status 200 POST "/v1/jobs/$id/cancel"
check_eq "$(body_json .status)" canceled "cancel twice"
expect_problem 409 GET "/v1/jobs/$id/result"

# Delete a finished (canceled) job.
expect_status 204 DELETE "/v1/jobs/$id"
[ ! -s "$TB_TMP/body" ] || fail "204 with a body"
expect_problem 404 GET "/v1/jobs/$id"
expect_problem 404 DELETE "/v1/jobs/$id"

# Delete a running job: it stops and disappears.
id2=$(submit "$TB_TMP/big.json")
wait_job "$id2" running
expect_status 204 DELETE "/v1/jobs/$id2"
expect_problem 404 GET "/v1/jobs/$id2"
expect_problem 404 GET "/v1/jobs/$id2/boundary"
wait_idle "after delete"

# Delete a succeeded job: its result goes too.
write_spec "$TB_TMP/small.json" quadratic 5
id3=$(submit "$TB_TMP/small.json")
wait_job "$id3" succeeded
expect_status 204 DELETE "/v1/jobs/$id3"
expect_problem 404 GET "/v1/jobs/$id3/result"
expect_status 200 GET /v1/jobs
check_eq "$(jq '.items | length' "$TB_TMP/body")" 0 "no jobs left"
tb_stop
check_eq "$TB_EXIT" 0 "exit status"
echo ok
