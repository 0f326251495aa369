#!/bin/sh
# 07-restart.sh - kill -9 mid-job, restart on the same database: the job
# resumes from its saved tiles (progress right after the restart is not
# below what it was before the kill, and no tile saved before the kill is
# computed again), finishes, and its result equals the CLI's. On a shared
# PostgreSQL the dead process's leases come back when they expire (start-up
# recovery leaves unexpired ones alone: tests/pg/01-startup-recovery.sh),
# so there the leases are short.
. "$TB_ROOT/tests/lib/http.sh"

spec=$TB_TMP/spec.json
write_spec "$spec" multiplicative 14 8000
lease=""
tb_pg && lease="--lease 2"
tb_start a --workers 2 --tile-points 256 $lease
id=$(submit "$spec")
total=$(body_json .progress.tiles_total)

# Wait until some tiles, not all, are saved; then kill -9 at once.
i=0
while :; do
    curl -sS "$TB_URL/v1/jobs/$id" > "$TB_TMP/job.json"
    tiles=$(jq -r .progress.tiles_done "$TB_TMP/job.json")
    [ "$tiles" -ge 4 ] && break
    i=$((i + 1))
    [ $i -lt 1200 ] || fail "no progress"
    sleep 0.05
done
before=$(jq -r .progress.done "$TB_TMP/job.json")
tb_kill9
[ "$tiles" -lt "$total" ] || fail "the job finished before the kill: make it bigger"

have_sqlite=0
command -v sqlite3 > /dev/null && have_sqlite=1
if [ $have_sqlite = 1 ]; then
    tb_sql a "SELECT idx FROM tiles WHERE job_id = $id AND state = 'done' ORDER BY idx" > "$TB_TMP/done-before"
    ndone=$(wc -l < "$TB_TMP/done-before" | tr -d ' ')
    [ "$ndone" -ge 4 ] || fail "saved tiles in the file: $ndone"
fi

tb_start a --workers 2 --tile-points 256 $lease
if tb_pg; then # at start-up if they expired already, else by the maintenance tick
    i=0
    until grep -Eq '"event":"(recovered|leases_expired)"' "$TB_LOG"; do
        i=$((i + 1))
        [ $i -lt 200 ] || fail "no recovery logged"
        sleep 0.05
    done
else
    grep -q '"event":"recovered"' "$TB_LOG" || fail "no recovery logged"
fi
after=$(job_field "$id" .progress.done)
[ "$after" -ge "$before" ] || fail "progress went back: $before before the kill, $after after"
[ "$after" -gt 0 ] || fail "restarted from zero"
wait_job "$id" succeeded 150

if [ $have_sqlite = 1 ]; then
    # Every tile saved before the kill kept its single attempt.
    list=$(paste -sd, "$TB_TMP/done-before")
    n=$(tb_sql a "SELECT count(*) FROM tile_attempts WHERE job_id = $id AND idx IN ($list)")
    check_eq "$n" "$ndone" "attempts of tiles saved before the kill"
    # And every tile is done exactly once.
    n=$(tb_sql a "SELECT count(*) FROM tile_attempts WHERE job_id = $id AND outcome = 'done'")
    check_eq "$n" "$total" "done attempts"
fi

expect_status 200 GET "/v1/jobs/$id/result"
jq -S 'del(.elapsed_s)' "$TB_TMP/body" > "$TB_TMP/a.json"
"$TB_BIN" run --threads 2 --quiet "$spec" | jq -S 'del(.elapsed_s)' > "$TB_TMP/b.json"
check_eq "$(jq -c .counts "$TB_TMP/a.json")" "$(jq -c .counts "$TB_TMP/b.json")" "counts after restart"
cmp -s "$TB_TMP/a.json" "$TB_TMP/b.json" || fail "result after restart differs from the CLI's"
tb_stop
check_eq "$TB_EXIT" 0 "exit status"
echo ok
