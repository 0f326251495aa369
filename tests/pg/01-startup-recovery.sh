#!/bin/sh
# 01-startup-recovery.sh - two servers on one PostgreSQL database: starting
# (and restarting) one must not take the live lease of the other (issue 15).
# Start-up recovery on a shared database requeues only leases that the
# clock says expired; on a SQLite file it still requeues every lease
# (tests/http/07-restart.sh).
. "$TB_ROOT/tests/lib/http.sh"
tb_pg || {
    echo "skip: needs PostgreSQL (make check-pg)"
    exit 0
}
TB_DBNAME=q

# One tile of a few seconds (16385 points), held by A.
spec=$TB_TMP/spec.json
write_spec "$spec" multiplicative 14 50000
tb_start a --workers 1 --tile-points 16448 --lease 30
url_a=$TB_URL pid_a=$TB_PID
id=$(submit "$spec")
i=0
until [ "$(tb_sql q "SELECT state || '/' || attempt FROM tiles WHERE job_id = $id")" = leased/1 ]; do
    i=$((i + 1))
    [ $i -lt 100 ] || fail "A never leased the tile"
    sleep 0.05
done

# B starts on the same database, is killed, and starts again: neither
# start-up takes A's lease.
tb_start b --workers 1 --lease 30
tb_kill9
tb_start b --workers 1 --lease 30
grep -q '"event":"recovered"' "$TB_TMP/b.log" && fail "B requeued a live lease: $(grep recovered "$TB_TMP/b.log")"
check_eq "$(tb_sql q "SELECT state || '/' || attempt FROM tiles WHERE job_id = $id")" leased/1 \
    "A's tile after B's restarts"

# A finishes it with its first and only attempt.
TB_URL=$url_a
wait_job "$id" succeeded 60
check_eq "$(tb_sql q "SELECT attempt || '/' || outcome FROM tile_attempts WHERE job_id = $id")" \
    1/done "attempts of the tile"
tb_stop
TB_PID=$pid_a
tb_stop
check_eq "$TB_EXIT" 0 "A's exit status"
echo ok
