# http.sh - shared helpers for the black-box HTTP tests (tests/http/NN-*.sh).
# Sourced by POSIX sh scripts run by tests/lib/run-scripts.sh, which sets
# $TB_BIN (the binary), $TB_TMP (a fresh temp dir) and $TB_ROOT (the repo).
#
#   tb_start NAME [FLAGS...]  start `serve` on 127.0.0.1:0 with database NAME (tb_db),
#                             or $TB_DBNAME when set (several servers on one database);
#                             sets TB_URL, TB_PID, TB_LOG; waits for /healthz
#   tb_db NAME                the --db of database NAME: the file $TB_TMP/NAME.db, or with
#                             TB_TEST_PG=1 (make http-pg) a database of the throwaway
#                             PostgreSQL at $TB_PG_URI, created on first use, dropped on exit
#   tb_sql NAME SQL           runs SQL on database NAME (sqlite3 or psql), rows as a|b|c
#   tb_sqlite_only WHY        ends the script as passed on PostgreSQL: it tests a SQLite file
#   tb_worker NAME [FLAGS...] start `trainbound worker` (sets TB_WPID; see below)
#   tb_stop                   SIGTERM the current server, wait for it (exit status in TB_EXIT)
#   tb_kill9                  kill -9 the current server
#   req METHOD PATH [CURL ARGS...]  one request; prints the status code; the
#                             body is in $TB_TMP/body, the headers in $TB_TMP/headers
#   hdr NAME                  a header of the last answer (case-insensitive)
#   body_json FILTER          jq -r FILTER on the last body
#   expect_status WANT METHOD PATH [CURL ARGS...]
#   expect_problem WANT METHOD PATH [CURL ARGS...]   also checks the problem+json body
#   submit SPECFILE [CURL ARGS...]  POST a spec; prints the new job id
#   wait_job ID STATUS [SECONDS]    polls until the job has STATUS (fails on another final one)
#   fail MSG / check_eq GOT WANT MSG
#
# Every server started here is killed on exit, whatever happens (trap).
# No timing assertions: waits poll with a bounded number of tries.

set -u
: "${TB_BIN:?TB_BIN must name the trainbound binary}"
: "${TB_TMP:?TB_TMP must name a temporary directory}"
: "${TB_ROOT:=$(pwd)}"
: "${TB_PG_BIN:=/usr/lib/postgresql/15/bin}"

TB_PIDS=""
TB_PID=""
TB_URL=""
TB_LOG=""
TB_EXIT=""

tb_cleanup() {
    for p in $TB_PIDS; do
        kill -9 "$p" 2>/dev/null || true
    done
    for p in $TB_PIDS; do
        wait "$p" 2>/dev/null || true
    done
    TB_PIDS=""
    # The databases tb_db created (it runs in $(...): the list is a file).
    if [ -f "$TB_TMP/pg-databases" ]; then
        while read -r d; do
            "$TB_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$TB_PG_URI/postgres" \
                -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" > /dev/null 2>&1 || true
        done < "$TB_TMP/pg-databases"
        rm -f "$TB_TMP/pg-databases"
    fi
}
trap 'tb_cleanup' EXIT
trap 'tb_cleanup; exit 1' INT TERM

fail() {
    echo "FAIL: $*" >&2
    if [ -n "$TB_LOG" ] && [ -f "$TB_LOG" ]; then
        echo "--- last server log lines ($TB_LOG):" >&2
        tail -n 15 "$TB_LOG" >&2
    fi
    exit 1
}

check_eq() {
    [ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"
}

tb_pg() {
    [ "${TB_TEST_PG:-0}" = 1 ]
}

# The PostgreSQL database of NAME in this script: h_<script's temp dir>_NAME.
tb_pgname() {
    echo "h_$(basename "$TB_TMP" | tr -c 'a-zA-Z0-9\n' _ | tr 'A-Z' 'a-z')_$1"
}

# tb_db NAME: the --db value of database NAME.
tb_db() {
    if ! tb_pg; then
        echo "$TB_TMP/$1.db"
        return 0
    fi
    : "${TB_PG_URI:?TB_TEST_PG=1 needs TB_PG_URI (tests/lib/pg.sh)}"
    d=$(tb_pgname "$1")
    if ! grep -qx "$d" "$TB_TMP/pg-databases" 2> /dev/null; then
        "$TB_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$TB_PG_URI/postgres" \
            -c "CREATE DATABASE $d" > /dev/null || fail "CREATE DATABASE $d failed"
        echo "$d" >> "$TB_TMP/pg-databases"
    fi
    echo "$TB_PG_URI/$d"
}

# tb_sql NAME SQL: rows of SQL on database NAME, columns joined by |.
tb_sql() {
    if tb_pg; then
        "$TB_PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 "$TB_PG_URI/$(tb_pgname "$1")" -c "$2"
    else
        sqlite3 "$TB_TMP/$1.db" "$2"
    fi
}

# tb_sqlite_only WHY: this script is about a SQLite file; on PostgreSQL it passes at once.
tb_sqlite_only() {
    if tb_pg; then
        echo "skip on PostgreSQL (SQLite only): $*"
        exit 0
    fi
}

# tb_start NAME [FLAGS...]
tb_start() {
    name=$1
    shift
    TB_LOG="$TB_TMP/$name.log"
    : >> "$TB_LOG"
    # The address is on the first line this process logs: the log file
    # may hold the lines of an earlier run of the same NAME.
    skip=$(grep -c '"event":"listening"' "$TB_LOG" 2>/dev/null || true)
    db=$(tb_db "${TB_DBNAME:-$name}") || exit 1
    "$TB_BIN" serve --listen 127.0.0.1:0 --db "$db" "$@" 2>> "$TB_LOG" &
    TB_PID=$!
    TB_PIDS="$TB_PIDS $TB_PID"
    addr=""
    i=0
    while [ $i -lt 200 ]; do
        addr=$(grep '"event":"listening"' "$TB_LOG" | sed -n "$((skip + 1))p" | jq -r .addr 2>/dev/null)
        [ -n "$addr" ] && [ "$addr" != null ] && break
        kill -0 "$TB_PID" 2>/dev/null || fail "server $name exited during start-up"
        sleep 0.1
        i=$((i + 1))
    done
    [ -n "$addr" ] && [ "$addr" != null ] || fail "server $name logged no address"
    TB_URL="http://$addr"
    i=0
    while [ $i -lt 100 ]; do
        code=$(curl -s -o /dev/null -w '%{http_code}' "$TB_URL/healthz" || true)
        [ "$code" = 200 ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    fail "server $name never answered /healthz"
}

# tb_worker NAME [FLAGS...]: start `trainbound worker` on database
# ${TB_DBNAME:-NAME} (PostgreSQL only), its log in $TB_TMP/NAME.log; waits
# for its "worker_started" line. Sets TB_WPID (killed on exit like servers).
tb_worker() {
    name=$1
    shift
    log="$TB_TMP/$name.log"
    : >> "$log"
    skip=$(grep -c '"event":"worker_started"' "$log" 2>/dev/null || true)
    db=$(tb_db "${TB_DBNAME:-$name}") || exit 1
    "$TB_BIN" worker --db "$db" "$@" 2>> "$log" &
    TB_WPID=$!
    TB_PIDS="$TB_PIDS $TB_WPID"
    i=0
    until [ "$(grep -c '"event":"worker_started"' "$log")" -gt "$skip" ]; do
        kill -0 "$TB_WPID" 2>/dev/null || { TB_LOG=$log; fail "worker $name exited during start-up"; }
        i=$((i + 1))
        [ $i -lt 200 ] || { TB_LOG=$log; fail "worker $name never started"; }
        sleep 0.05
    done
}

# Removes a pid from the cleanup list.
tb_forget() {
    rest=""
    for p in $TB_PIDS; do
        [ "$p" = "$1" ] || rest="$rest $p"
    done
    TB_PIDS=$rest
}

# tb_stop: SIGTERM, then wait (bounded) for the exit status.
tb_stop() {
    [ -n "$TB_PID" ] || return 0
    kill -TERM "$TB_PID" 2>/dev/null || true
    i=0
    while kill -0 "$TB_PID" 2>/dev/null && [ $i -lt 600 ]; do
        # A zombie still answers kill -0: check the process state.
        st=$(ps -o stat= -p "$TB_PID" 2>/dev/null | cut -c1)
        [ "$st" = Z ] && break
        sleep 0.1
        i=$((i + 1))
    done
    if wait "$TB_PID" 2>/dev/null; then TB_EXIT=0; else TB_EXIT=$?; fi
    tb_forget "$TB_PID"
    TB_PID=""
}

tb_kill9() {
    [ -n "$TB_PID" ] || return 0
    kill -9 "$TB_PID" 2>/dev/null || true
    wait "$TB_PID" 2>/dev/null || true
    tb_forget "$TB_PID"
    TB_PID=""
}

# req METHOD PATH [CURL ARGS...]: prints the status code.
req() {
    m=$1
    p=$2
    shift 2
    rm -f "$TB_TMP/body" "$TB_TMP/headers"
    curl -sS -X "$m" -o "$TB_TMP/body" -D "$TB_TMP/headers" -w '%{http_code}' \
        --max-time 60 "$@" "$TB_URL$p"
}

# hdr NAME: value of a header of the last answer, without CR.
hdr() {
    tr -d '\r' < "$TB_TMP/headers" | awk -v n="$1" 'BEGIN { n = tolower(n) }
        { i = index($0, ":"); if (i > 0 && tolower(substr($0, 1, i - 1)) == n) {
              v = substr($0, i + 1); sub(/^[ \t]+/, "", v); print v; exit } }'
}

body_json() {
    jq -r "$1" "$TB_TMP/body"
}

# expect_status WANT METHOD PATH [CURL ARGS...]
expect_status() {
    want=$1
    shift
    got=$(req "$@") || fail "curl failed on $1 $2"
    [ "$got" = "$want" ] || fail "$1 $2: status $got, want $want; body: $(head -c 600 "$TB_TMP/body")"
}

# expect_problem WANT METHOD PATH [CURL ARGS...]: status + RFC 9457 body.
expect_problem() {
    want=$1
    expect_status "$@"
    ct=$(hdr Content-Type)
    case "$ct" in
    application/problem+json*) ;;
    *) fail "$2 $3: Content-Type '$ct', want application/problem+json" ;;
    esac
    jq -e --argjson s "$want" '(.type | type == "string" and length > 0)
        and (.title | type == "string" and length > 0)
        and .status == $s
        and (.detail | type == "string" and length > 0)
        and (.instance | type == "string")' "$TB_TMP/body" > /dev/null ||
        fail "$2 $3: not a complete problem document: $(cat "$TB_TMP/body")"
}

# submit SPECFILE [CURL ARGS...]: POST /v1/jobs, expects 202, prints the id.
submit() {
    f=$1
    shift
    code=$(req POST /v1/jobs -H 'Content-Type: application/json' --data-binary "@$f" "$@")
    [ "$code" = 202 ] || fail "submit $f: status $code: $(cat "$TB_TMP/body")"
    body_json .id
}

# wait_job ID STATUS [SECONDS]: poll every 0.1 s, at most SECONDS (120).
wait_job() {
    id=$1
    want=$2
    limit=$(( ${3:-120} * 10 ))
    i=0
    while [ $i -lt "$limit" ]; do
        code=$(curl -sS -o "$TB_TMP/poll" -w '%{http_code}' "$TB_URL/v1/jobs/$id") || code=000
        if [ "$code" = 200 ]; then
            st=$(jq -r .status "$TB_TMP/poll")
            [ "$st" = "$want" ] && return 0
            case "$st" in
            succeeded | failed | canceled)
                fail "job $id ended $st while waiting for $want: $(head -c 800 "$TB_TMP/poll")" ;;
            esac
        fi
        sleep 0.1
        i=$((i + 1))
    done
    fail "job $id not $want after ${3:-120} s: $(head -c 800 "$TB_TMP/poll")"
}

# job_field ID FILTER: jq -r FILTER on GET /v1/jobs/ID.
job_field() {
    curl -sS "$TB_URL/v1/jobs/$1" | jq -r "$2"
}

# write_spec FILE FAMILY LEVELS [STEPS] [EXTRA JSON MEMBERS]: a spec file.
# It pins "precision": "reference": the tests size their "slow" jobs by the
# scalar path's speed (the default fast path is 20-50x quicker, so a job
# meant to be caught mid-run would finish first). 40-fast-default.sh covers
# the default.
write_spec() {
    f=$1
    fam=$2
    lv=$3
    st=${4:-1000}
    extra=${5:-}
    case "$fam" in
    quadratic) model='{"family":"quadratic","dim":1}' ;;
    *) model="{\"family\":\"$fam\",\"dim\":1,\"amplitude\":0.2,\"wavelength\":0.1}" ;;
    esac
    printf '{"model":%s,"x0":1.0,"steps":%s,"divergence":{"criterion":"max_loss","threshold":1e8},"lr":{"min":0.0,"max":1.5,"levels":%s},"precision":"reference"%s}\n' \
        "$model" "$st" "$lv" "$extra" > "$f"
}
