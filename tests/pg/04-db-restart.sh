#!/bin/sh
# 04-db-restart.sh - the PostgreSQL server stops (pg_ctl -m fast) while a
# worker computes, and starts again on the same port a few seconds later:
# the worker stops claiming, computes on, reconnects with backoff (each try
# logged), saves its tiles under their still valid leases, and the job
# finishes with the CLI's counts and no tile stored twice (issue 15).
. "$TB_ROOT/tests/lib/http.sh"
tb_pg || {
    echo "skip: needs PostgreSQL (make check-pg)"
    exit 0
}
. "$TB_ROOT/tests/lib/pg.sh"
TB_DBNAME=q

spec=$TB_TMP/spec.json
write_spec "$spec" multiplicative 15 20000
tb_start api --workers 0 --tile-points 2048 --lease 15
id=$(submit "$spec")
total=$(body_json .progress.tiles_total)
tb_worker w1 --workers 2 --lease 15

i=0
until [ "$(tb_sql q "SELECT count(*) FROM tiles WHERE job_id = $id AND state = 'done'")" -ge 2 ]; do
    i=$((i + 1))
    [ $i -lt 400 ] || fail "the worker saved no tile"
    sleep 0.05
done
tb_pg_server stop || fail "pg_ctl stop"
sleep 3
tb_pg_server start || fail "pg_ctl start"
wait_job "$id" succeeded 80

grep '"event":"db_reconnect"' "$TB_TMP/w1.log" | jq -e -s 'length > 0 and (.[-1].ok)' > /dev/null ||
    fail "no successful reconnect logged: $(grep -c db_reconnect "$TB_TMP/w1.log") tries"
grep '"event":"db_reconnect"' "$TB_TMP/w1.log" | jq -e -s 'any(.ok == false)' > /dev/null ||
    fail "no failed try logged while the server was down"
# No tile stored twice: one done attempt per tile, and the job's counters
# (bumped by each save) add up.
check_eq "$(tb_sql q "SELECT count(*) FROM tiles WHERE job_id = $id AND state = 'done'")" "$total" \
    "tiles done"
check_eq "$(tb_sql q "SELECT count(*) FROM tile_attempts WHERE job_id = $id AND outcome = 'done'")" \
    "$total" "done attempts"
check_eq "$(tb_sql q "SELECT tiles_done = tiles_total AND points_done = points_total FROM jobs WHERE id = $id")" \
    t "the job's counters"
expect_status 200 GET "/v1/jobs/$id/result"
"$TB_BIN" run --threads 2 --quiet "$spec" > "$TB_TMP/cli.json"
check_eq "$(body_json .counts | jq -c .)" "$(jq -c .counts "$TB_TMP/cli.json")" "counts"
echo ok
