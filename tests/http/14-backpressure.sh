#!/bin/sh
# 14-backpressure.sh - the server sheds load instead of failing:
#  - past --max-queued, POST /v1/jobs is 429 + Retry-After (problem+json),
#    and it accepts again once the queue drains;
#  - a writer holding the database (sqlite3 CLI in BEGIN IMMEDIATE) past
#    --busy-timeout makes writes and /readyz 503 + Retry-After, never 500,
#    while reads still answer (WAL); writes work again once it commits;
#  - --conn-timeout drops a client that connects and sends nothing, or
#    half a request.
. "$TB_ROOT/tests/lib/http.sh"
tb_sqlite_only "its lock is the sqlite3 CLI in BEGIN IMMEDIATE (max_queued is test_queue test_max_queued on both)"

JSON='Content-Type: application/json'
long=$TB_TMP/long.json
small=$TB_TMP/small.json
write_spec "$long" multiplicative 14 8000
write_spec "$small" quadratic 4 100

# ---- queue full ------------------------------------------------------------
tb_start a --workers 1 --tile-points 256 --max-queued 2 --busy-timeout 200 --conn-timeout 1
a=$(submit "$long")
b=$(submit "$long")
expect_problem 429 POST /v1/jobs -H "$JSON" --data-binary "@$small"
body_json .type | grep -q queue-full || fail "429 type: $(body_json .type)"
[ -n "$(hdr Retry-After)" ] || fail "429 without Retry-After"
# Reads are not limited.
expect_status 200 GET "/v1/jobs/$a"
# Cancel one: room for exactly one more.
code=$(req POST "/v1/jobs/$a/cancel")
case "$code" in 200 | 202) ;; *) fail "cancel: $code" ;; esac
c=$(submit "$long")
expect_problem 429 POST /v1/jobs -H "$JSON" --data-binary "@$small"
# Drained: accepted again.
wait_job "$b" succeeded 120
wait_job "$c" succeeded 60
d=$(submit "$small")
wait_job "$d" succeeded 60

# ---- SQLITE_BUSY past the busy timeout ---------------------------------------
db=$TB_TMP/a.db
{
    echo 'BEGIN IMMEDIATE;'
    echo "DELETE FROM results WHERE 0;"
    echo ".system touch $TB_TMP/locked"
    sleep 4
    echo 'COMMIT;'
} | sqlite3 "$db" > /dev/null 2>&1 &
holder=$!
i=0
while [ ! -e "$TB_TMP/locked" ]; do
    i=$((i + 1))
    [ $i -lt 200 ] || fail "sqlite3 never took the write lock"
    sleep 0.05
done
expect_problem 503 POST /v1/jobs -H "$JSON" --data-binary "@$small"
body_json .type | grep -q database-busy || fail "busy type: $(body_json .type)"
[ -n "$(hdr Retry-After)" ] || fail "503 busy without Retry-After"
expect_problem 503 DELETE "/v1/jobs/$d"
expect_problem 503 GET /readyz
# Reads go on under the writer (WAL).
expect_status 200 GET "/v1/jobs/$d"
expect_status 200 GET "/v1/jobs/$d/result"
expect_status 200 GET /v1/jobs
wait $holder || true
e=$(submit "$small")
wait_job "$e" succeeded 60
expect_status 200 GET /readyz
if grep '"status":500' "$TB_LOG" > /dev/null; then fail "a 500 was answered"; fi

# ---- connection timeout ------------------------------------------------------
# A client that connects and sends nothing, and one that stops half-way
# through its headers: both are closed by the server after --conn-timeout.
python3 - "${TB_URL#http://}" <<'PY' || fail "an idle connection was not dropped"
import socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
for payload in (b"", b"GET /v1/jobs HTTP/1.1\r\nHost: x\r\n"):
    s = socket.create_connection((host, int(port)))
    if payload:
        s.sendall(payload)
    s.settimeout(6)
    t0 = time.time()
    try:
        data = s.recv(4096)
    except socket.timeout:
        sys.exit("still open after 6 s")
    took = time.time() - t0
    if data or took > 4:
        sys.exit("got %r after %.1f s" % (data[:40], took))
    print("dropped after %.1f s" % took)
PY
expect_status 200 GET /healthz
tb_stop
check_eq "$TB_EXIT" 0 "exit status"
echo ok
