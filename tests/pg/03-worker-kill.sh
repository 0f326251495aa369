#!/bin/sh
# 03-worker-kill.sh - kill -9 a `trainbound worker` mid-tile: its lease
# expires, a second worker finishes the job, every tile is saved once, and
# the counts are the CLI's (issue 15).
. "$TB_ROOT/tests/lib/http.sh"
tb_pg || {
    echo "skip: needs PostgreSQL (make check-pg)"
    exit 0
}
TB_DBNAME=q

spec=$TB_TMP/spec.json
write_spec "$spec" multiplicative 14 30000
tb_start api --workers 0 --tile-points 2048 --lease 2
id=$(submit "$spec")
total=$(body_json .progress.tiles_total)

# w1 saves a tile or two, then dies holding a lease.
tb_worker w1 --workers 1 --lease 2
i=0
until [ "$(tb_sql q "SELECT count(*) FROM tiles WHERE job_id = $id AND state = 'done'")" -ge 1 ] &&
    [ "$(tb_sql q "SELECT count(*) FROM tiles WHERE job_id = $id AND state = 'leased'")" -ge 1 ]; do
    i=$((i + 1))
    [ $i -lt 400 ] || fail "w1 saved no tile"
    sleep 0.05
done
kill -9 "$TB_WPID"
wait "$TB_WPID" 2> /dev/null
tb_forget "$TB_WPID"
done_before=$(tb_sql q "SELECT count(*) FROM tiles WHERE job_id = $id AND state = 'done'")
[ "$done_before" -lt "$total" ] || fail "w1 finished the job before the kill: make it bigger"

tb_worker w2 --workers 2 --lease 2
wait_job "$id" succeeded 80

# w1 held one or two leases (a worker claims one tile ahead).
expired=$(tb_sql q "SELECT count(*) FROM tile_attempts WHERE job_id = $id AND outcome = 'expired'")
[ "$expired" -ge 1 ] && [ "$expired" -le 2 ] || fail "expired leases (the killed worker's): $expired"
check_eq "$(tb_sql q "SELECT count(*) FROM tile_attempts WHERE job_id = $id AND outcome = 'done'")" \
    "$total" "done attempts (one per tile)"
check_eq "$(tb_sql q "SELECT tiles_done = tiles_total AND points_done = points_total FROM jobs WHERE id = $id")" \
    t "the job's counters"
expect_status 200 GET "/v1/jobs/$id/result"
"$TB_BIN" run --threads 2 --quiet "$spec" > "$TB_TMP/cli.json"
check_eq "$(body_json .counts | jq -c .)" "$(jq -c .counts "$TB_TMP/cli.json")" "counts"
echo ok
