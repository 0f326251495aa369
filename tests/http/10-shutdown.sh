#!/bin/sh
# 10-shutdown.sh - SIGTERM during a sweep: the server stops accepting,
# lets running tiles finish or cancels them at the deadline, exits 0;
# restarted, the job resumes from its saved tiles and finishes.
. "$TB_ROOT/tests/lib/http.sh"

write_spec "$TB_TMP/s.json" multiplicative 14 8000
tb_start a --workers 2 --tile-points 256 --shutdown-timeout 2
id=$(submit "$TB_TMP/s.json")
i=0
while [ "$(job_field "$id" .progress.tiles_done)" -lt 2 ]; do
    i=$((i + 1))
    [ $i -lt 1200 ] || fail "no progress"
    sleep 0.1
done
url=$TB_URL
tb_stop
check_eq "$TB_EXIT" 0 "exit status after SIGTERM"
grep -q '"event":"drained"' "$TB_LOG" || fail "no drained event"
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/healthz" || true)
check_eq "$code" 000 "connection after exit"

tb_start a --workers 2 --tile-points 256
before=$(job_field "$id" .progress.done)
[ "$before" -gt 0 ] || fail "nothing was saved before the shutdown"
wait_job "$id" succeeded 150
tb_stop
check_eq "$TB_EXIT" 0 "exit status"
echo ok
