#!/bin/sh
# 08-multihost.sh - hosts made of network namespaces (issue 15): one for
# PostgreSQL (10.77.0.1), one for the API (`serve --workers 0`,
# 10.77.0.2), three for `trainbound worker`s (10.77.0.11-13), each with a
# veth pair to a bridge in a "switch" namespace. With short leases
# (--lease 2):
#  - w1 is killed with -9 mid-tile (it has saved a tile and holds leases);
#  - w2's link is cut at once (`ip link set eth0 down` on its host) and
#    stays down for longer than a lease: until every lease granted before
#    the cut has ended, i.e. w2's expired and were requeued, and w3 (or
#    anyone) claims those tiles; then it comes up again;
#  - after the link is back w2 drops the tiles it lost ("lease lost"),
#    and computes and saves tiles again; w1's host comes back too, and a
#    job submitted then is computed by all three.
# Every job succeeds with the counts of `trainbound run` on the same spec
# (and the same whole result); no tile is stored twice (one done attempt
# per tile; the jobs' counters equal their totals); the leases of w1 and
# w2 show as expired.
#
# Where network namespaces cannot be made (not root, no `ip`, no veth or
# bridge support, a container without CAP_SYS_ADMIN: the probe's error is
# printed), or with TB_NETNS=0, the same scenario runs over loopback with
# separate processes on the PostgreSQL of make procs-pg: w2 then reaches
# the database through tests/lib/cut-proxy.py, whose link is cut and
# restored the same way (silence, no reset).
. "$TB_ROOT/tests/lib/http.sh"
tb_pg || {
    echo "skip: needs PostgreSQL (make check-pg)"
    exit 0
}
. "$TB_ROOT/tests/lib/pg.sh"
LEASE=2
TP=1024

# ---- the hosts ----------------------------------------------------------
P=tb$(($$ % 100000))n # namespace prefix: this run's own
HOSTS="db api w1 w2 w3"
MODE=""
NS_PG_DIR=""
PROXY_PID=""

host_ip() {
    case $1 in
    db) echo 10.77.0.1 ;; api) echo 10.77.0.2 ;; w1) echo 10.77.0.11 ;;
    w2) echo 10.77.0.12 ;; w3) echo 10.77.0.13 ;;
    esac
}

# on HOST CMD...: CMD on that host (in its namespace; here with loopback).
on() {
    h=$1
    shift
    if [ "$MODE" = netns ]; then
        ip netns exec "$P$h" "$@"
    else
        "$@"
    fi
}

netns_teardown() {
    for h in $HOSTS sw; do
        ip netns del "$P$h" 2> /dev/null || true
    done
}

# on_bg HOST CMD...: the same, for a command started with `&`: the
# background subshell becomes the command (exec), so that $! is its pid
# and a kill reaches it rather than a shell around it.
on_bg() {
    h=$1
    shift
    if [ "$MODE" = netns ]; then
        exec ip netns exec "$P$h" "$@"
    fi
    exec "$@"
}

# netns_setup: the namespaces, the bridge and the veth pairs; on failure
# prints the command and its error and returns 1 (the caller falls back).
netns_setup() {
    err=$TB_TMP/netns.err
    step() {
        if ! "$@" 2> "$err"; then
            echo "network namespaces unavailable: \`$*\` failed: $(tr '\n' ' ' < "$err")"
            netns_teardown
            return 1
        fi
    }
    [ "$(id -u)" = 0 ] || { echo "network namespaces unavailable: not root (uid $(id -u))"; return 1; }
    command -v ip > /dev/null || { echo "network namespaces unavailable: no ip command (iproute2)"; return 1; }
    step ip netns add "${P}sw" || return 1
    step ip -n "${P}sw" link add br0 type bridge || return 1
    step ip -n "${P}sw" link set br0 up || return 1
    for h in $HOSTS; do
        step ip netns add "$P$h" || return 1
        step ip link add eth0 netns "$P$h" type veth peer name "$h" netns "${P}sw" || return 1
        step ip -n "${P}sw" link set "$h" master br0 up || return 1
        step ip -n "$P$h" addr add "$(host_ip "$h")/24" dev eth0 || return 1
        step ip -n "$P$h" link set eth0 up || return 1
        step ip -n "$P$h" link set lo up || return 1
    done
}

# The PostgreSQL of the db host: initdb, listening on 10.77.0.1:5432 in its
# namespace (trust for the hosts' subnet), its socket in its directory
# (a file: the tests' psql reaches it from outside the namespaces).
netns_pg_start() {
    TB_PG_USER=postgres
    NS_PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tb-pgns-XXXXXX") || return 1
    chmod 0755 "$NS_PG_DIR"
    chown "$TB_PG_USER" "$NS_PG_DIR"
    if ! tb_pg__as "$TB_PG_BIN/initdb" -D "$NS_PG_DIR/data" -U tb -A trust -E UTF8 \
        --locale=C.UTF-8 > "$NS_PG_DIR/initdb.log" 2>&1; then
        echo "initdb failed:" >&2
        cat "$NS_PG_DIR/initdb.log" >&2
        return 1
    fi
    echo "host all all 10.77.0.0/24 trust" >> "$NS_PG_DIR/data/pg_hba.conf"
    if ! ip netns exec "${P}db" runuser -u "$TB_PG_USER" -- "$TB_PG_BIN/pg_ctl" -D "$NS_PG_DIR/data" \
        -l "$NS_PG_DIR/server.log" -w -t 30 -o "-p 5432 -k $NS_PG_DIR -c listen_addresses=10.77.0.1 \
            -c fsync=off -c full_page_writes=off -c max_connections=100 -c shared_buffers=32MB" \
        start > "$NS_PG_DIR/pg_ctl.log" 2>&1; then
        echo "the db host's PostgreSQL did not start:" >&2
        cat "$NS_PG_DIR/pg_ctl.log" "$NS_PG_DIR/server.log" >&2
        return 1
    fi
    # For tb_db/tb_sql (http.sh): the socket, as a percent-encoded host.
    TB_PG_URI="postgresql://tb@$(printf %s "$NS_PG_DIR" | sed 's,/,%2F,g'):5432"
}

everything_down() {
    tb_cleanup
    [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2> /dev/null
    if [ -n "$NS_PG_DIR" ]; then
        runuser -u postgres -- "$TB_PG_BIN/pg_ctl" -D "$NS_PG_DIR/data" -m immediate -w stop \
            > /dev/null 2>&1 || true
        rm -rf "$NS_PG_DIR"
    fi
    [ "$MODE" = netns ] && netns_teardown
}
trap 'everything_down' EXIT
trap 'everything_down; exit 1' INT TERM

if [ "${TB_NETNS:-1}" = 0 ]; then
    echo "loopback: TB_NETNS=0"
    MODE=loopback
elif netns_setup; then
    MODE=netns
else
    MODE=loopback
fi
if [ "$MODE" = netns ]; then
    netns_pg_start || fail "the db host's PostgreSQL"
    echo "hosts: network namespaces $P{db,api,w1,w2,w3} on a bridge; PostgreSQL on 10.77.0.1:5432"
else
    echo "hosts: separate processes over loopback; PostgreSQL at $TB_PG_URI; w2 through cut-proxy.py"
fi
TB_DBNAME=q
local_uri=$(tb_db q) || exit 1 # creates the database
dbname=${local_uri##*/}

# uri_of HOST: the --db of a process on HOST.
uri_of() {
    if [ "$MODE" = netns ]; then
        echo "postgresql://tb@10.77.0.1:5432/$dbname"
    elif [ "$1" = w2 ]; then
        echo "postgresql://tb@127.0.0.1:$PROXY_PORT/$dbname"
    else
        echo "$local_uri"
    fi
}

if [ "$MODE" = loopback ]; then
    pg_port=${TB_PG_URI##*:}
    python3 "$TB_ROOT/tests/lib/cut-proxy.py" 127.0.0.1 "$pg_port" > "$TB_TMP/proxy.port" \
        2> "$TB_TMP/proxy.log" &
    PROXY_PID=$!
    n=0
    until [ -s "$TB_TMP/proxy.port" ]; do
        n=$((n + 1))
        [ $n -lt 100 ] || fail "cut-proxy.py did not start: $(cat "$TB_TMP/proxy.log")"
        sleep 0.05
    done
    PROXY_PORT=$(head -1 "$TB_TMP/proxy.port")
fi

# Every client request goes from the API's host (http.sh calls curl).
curl() {
    on api /usr/bin/curl "$@"
}

cut_link() { # cut_link w2
    if [ "$MODE" = netns ]; then
        ip -n "$P$1" link set eth0 down || fail "ip link set down"
    else
        kill -USR1 "$PROXY_PID"
    fi
}
restore_link() {
    if [ "$MODE" = netns ]; then
        ip -n "$P$1" link set eth0 up || fail "ip link set up"
    else
        kill -USR2 "$PROXY_PID"
    fi
}

# ---- the processes --------------------------------------------------------
start_api() {
    TB_LOG=$TB_TMP/api.log
    listen=127.0.0.1:0
    [ "$MODE" = netns ] && listen=10.77.0.2:8080
    on_bg api "$TB_BIN" serve --listen "$listen" --db "$(uri_of api)" --workers 0 \
        --tile-points $TP --lease $LEASE 2>> "$TB_LOG" &
    TB_PID=$!
    TB_PIDS="$TB_PIDS $TB_PID"
    n=0
    addr=""
    until [ -n "$addr" ] && [ "$addr" != null ]; do
        kill -0 "$TB_PID" 2> /dev/null || fail "the API exited during start-up"
        n=$((n + 1))
        [ $n -lt 200 ] || fail "the API logged no address"
        sleep 0.05
        addr=$(grep '"event":"listening"' "$TB_LOG" | head -1 | jq -r .addr 2> /dev/null)
    done
    TB_URL=http://$addr
    n=0
    until [ "$(curl -s -o /dev/null -w '%{http_code}' "$TB_URL/readyz")" = 200 ]; do
        n=$((n + 1))
        [ $n -lt 100 ] || fail "the API never ready"
        sleep 0.1
    done
}

# start_worker wK: its pid in $TB_TMP/wK.pid, its log (debug: tile_done lines) in $TB_TMP/wK.log.
start_worker() {
    wlog=$TB_TMP/$1.log
    : >> "$wlog"
    wskip=$(grep -c '"event":"worker_started"' "$wlog")
    on_bg "$1" "$TB_BIN" worker --db "$(uri_of "$1")" --workers 1 --lease $LEASE --log-level debug \
        2>> "$wlog" &
    pid=$!
    TB_PIDS="$TB_PIDS $pid"
    echo "$pid" > "$TB_TMP/$1.pid"
    n=0
    until [ "$(grep -c '"event":"worker_started"' "$wlog")" -gt "$wskip" ]; do
        kill -0 "$pid" 2> /dev/null || { TB_LOG=$wlog; fail "worker $1 exited during start-up"; }
        n=$((n + 1))
        [ $n -lt 200 ] || { TB_LOG=$wlog; fail "worker $1 never started"; }
        sleep 0.05
    done
}

tiles_done_by() { # tiles_done_by wK [FROM_LINE]: tile_done lines in its log
    tail -n +"${2:-1}" "$TB_TMP/$1.log" | grep -c '"event":"tile_done"'
}

now_ms() {
    date +%s%3N
}

# ---- the scenario ---------------------------------------------------------
# Two jobs of reference-path tiles of about 0.4 s (A) and 1 s (B), 9 tiles
# each; C is submitted once the link is back.
write_spec "$TB_TMP/A.json" multiplicative 13 60000
write_spec "$TB_TMP/B.json" additive 13 40000
write_spec "$TB_TMP/C.json" multiplicative 12 60000

start_api
ida=$(submit "$TB_TMP/A.json")
idb=$(submit "$TB_TMP/B.json")
total=$(tb_sql q "SELECT sum(tiles_total) FROM jobs")
for w in w1 w2 w3; do
    start_worker $w
done

# w1 has saved a tile: it is mid-tile (it computes one and holds the next).
n=0
until [ "$(tiles_done_by w1)" -ge 1 ]; do
    n=$((n + 1))
    [ $n -lt 600 ] || { TB_LOG=$TB_TMP/w1.log; fail "w1 saved no tile"; }
    sleep 0.05
done
# w2 too, so that its cut takes a lease with it.
n=0
until [ "$(tiles_done_by w2)" -ge 1 ]; do
    n=$((n + 1))
    [ $n -lt 600 ] || { TB_LOG=$TB_TMP/w2.log; fail "w2 saved no tile"; }
    sleep 0.05
done
pid1=$(cat "$TB_TMP/w1.pid")
kill -9 "$pid1"
wait "$pid1" 2> /dev/null
tb_forget "$pid1"
kill -0 "$pid1" 2> /dev/null && fail "w1 (pid $pid1) still runs after kill -9"
cut_ms=$(now_ms)
cut_link w2
leased_at_cut=$(tb_sql q "SELECT count(*) FROM tile_attempts WHERE outcome = 'leased' AND leased_ms <= $cut_ms")
done_at_cut=$(tb_sql q "SELECT count(*) FROM tiles WHERE state = 'done'")
echo "killed w1 (-9) and cut w2's link with $done_at_cut of $total tiles done and $leased_at_cut leases out"
[ "$done_at_cut" -lt "$total" ] || fail "the jobs were done before the faults: make them bigger"

# Down for longer than a lease: until every lease granted before the cut
# has ended (w1's and w2's expired and were requeued; w3's were saved).
sleep $((LEASE + 1))
n=0
while [ "$(tb_sql q "SELECT count(*) FROM tile_attempts WHERE outcome = 'leased' AND leased_ms <= $cut_ms")" -gt 0 ]; do
    n=$((n + 1))
    [ $n -lt 300 ] || fail "leases from before the cut still out 30 s after it: $(tb_sql q "SELECT job_id, idx, attempt, outcome FROM tile_attempts WHERE outcome = 'leased' AND leased_ms <= $cut_ms")"
    sleep 0.1
done
down_ms=$(($(now_ms) - cut_ms))
kill -0 "$(cat "$TB_TMP/w2.pid")" || fail "w2 died while its link was down"
w2_from=$(($(wc -l < "$TB_TMP/w2.log") + 1))
restore_link w2
expired=$(tb_sql q "SELECT count(*) FROM tile_attempts WHERE outcome = 'expired'")
echo "w2's link was down for $down_ms ms (lease $LEASE s); $expired leases expired meanwhile"
[ "$down_ms" -gt $((LEASE * 1000)) ] || fail "the link was down for less than a lease"
[ "$expired" -ge 2 ] || fail "expired leases: $expired, want w1's and w2's"

# w1's host comes back, and a job submitted now runs on all three.
start_worker w1
idc=$(submit "$TB_TMP/C.json")
for id in $ida $idb $idc; do
    wait_job "$id" succeeded 120
done

# w2 came back: it dropped the tile(s) whose lease it lost, and saved others after.
lost=$(tail -n +"$w2_from" "$TB_TMP/w2.log" | grep '"event":"tile_stopped"' | grep -c 'lease lost')
after=$(tiles_done_by w2 "$w2_from")
echo "w2 after its link came back: $lost tile(s) dropped (lease lost), $after saved; reconnects logged: $(grep -c '"event":"db_reconnect"' "$TB_TMP/w2.log")"
[ "$lost" -ge 1 ] || { TB_LOG=$TB_TMP/w2.log; fail "w2 dropped no tile for a lost lease"; }
[ "$after" -ge 1 ] || { TB_LOG=$TB_TMP/w2.log; fail "w2 saved no tile after its link came back"; }
# Each tile w2 dropped was saved by a later attempt of someone else.
tail -n +"$w2_from" "$TB_TMP/w2.log" | grep '"event":"tile_stopped"' | grep 'lease lost' |
    jq -r '"\(.job) \(.tile) \(.attempt)"' | while read -r j t a; do
    check_eq "$(tb_sql q "SELECT outcome FROM tile_attempts WHERE job_id = $j AND idx = $t AND attempt = $a")" \
        expired "w2's lost lease of job $j tile $t attempt $a"
    check_eq "$(tb_sql q "SELECT count(*) FROM tile_attempts WHERE job_id = $j AND idx = $t AND attempt > $a AND outcome = 'done'")" \
        1 "a later done attempt of job $j tile $t"
done || exit 1
kill -0 "$(cat "$TB_TMP/w3.pid")" || fail "w3 died"
echo "tiles saved by w1 (both lives), w2, w3: $(tiles_done_by w1) $(tiles_done_by w2) $(tiles_done_by w3)"

# No tile stored twice.
check_eq "$(tb_sql q "SELECT count(*) FROM (SELECT job_id, idx FROM tile_attempts WHERE outcome = 'done' GROUP BY job_id, idx HAVING count(*) <> 1) AS x")" \
    0 "tiles with other than one done attempt"
check_eq "$(tb_sql q "SELECT (SELECT sum(tiles_total) FROM jobs) = (SELECT count(*) FROM tiles WHERE state = 'done') AND (SELECT count(*) FROM tiles) = (SELECT count(*) FROM tile_attempts WHERE outcome = 'done')")" \
    t "tiles done = tiles in all = done attempts"
check_eq "$(tb_sql q "SELECT count(*) FROM jobs WHERE tiles_done <> tiles_total OR points_done <> points_total")" \
    0 "jobs whose counters are not their totals"

# Counts and the whole result: the CLI's.
for j in A:$ida B:$idb C:$idc; do
    f=$TB_TMP/${j%%:*}.json
    id=${j#*:}
    expect_status 200 GET "/v1/jobs/$id/result"
    jq -S 'del(.elapsed_s)' "$TB_TMP/body" > "$TB_TMP/srv.json"
    "$TB_BIN" run --threads 2 --quiet "$f" | jq -S 'del(.elapsed_s)' > "$TB_TMP/cli.json"
    check_eq "$(jq -c .counts "$TB_TMP/srv.json")" "$(jq -c .counts "$TB_TMP/cli.json")" "job $id counts"
    cmp -s "$TB_TMP/srv.json" "$TB_TMP/cli.json" || fail "job $id: the result differs from the CLI's"
done
echo "ok ($MODE)"
