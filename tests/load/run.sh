#!/bin/sh
# tests/load/run.sh BINARY - `make load`: 64 connections (wrk, 2 threads)
# poll one job's status for LOAD_SECONDS (default 30) while a sweep keeps
# every worker busy, on a fresh server bound to 127.0.0.1 with a temporary
# database. Reports requests/s, latency percentiles (p50, p99) and errors
# (socket errors, non-2xx answers), and whether the sweep was running for
# the whole run. Loopback only, bounded in time, not part of `make test`.
# Installs Debian's wrk with apt-get when it is missing (as root).
# Exit status: 0 when there were no errors, 1 otherwise (the p99 target of
# 50 ms is reported, not enforced: it depends on the machine).
set -u
bin=${1:?usage: run.sh BINARY}
secs=${LOAD_SECONDS:-30}
conns=${LOAD_CONNECTIONS:-64}

if ! command -v wrk > /dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null 2>&1; then
        echo "load: installing wrk (apt-get)" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk > /dev/null 2>&1 ||
            { apt-get update -q > /dev/null 2>&1 &&
              DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk > /dev/null 2>&1; }
    fi
    command -v wrk > /dev/null 2>&1 || { echo "load: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
fi

tmp=$(mktemp -d)
pid=""
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2> /dev/null && wait "$pid" 2> /dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

workers=$(nproc 2> /dev/null || echo 2)
# A free loopback port (--log-level warn keeps the per-request info lines,
# and with them the "listening" line, out of the measurement).
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
addr=127.0.0.1:$port
"$bin" serve --listen "$addr" --db "$tmp/load.db" --workers "$workers" --log-level warn 2> "$tmp/log" &
pid=$!
i=0
until curl -s -o /dev/null "http://$addr/healthz"; do
    i=$((i + 1))
    [ $i -lt 100 ] && kill -0 "$pid" 2> /dev/null || { echo "load: the server did not start" >&2; cat "$tmp/log" >&2; exit 1; }
    sleep 0.1
done
url=http://$addr

# A sweep long enough to keep every worker busy past the run.
printf '{"name":"load","model":{"family":"multiplicative","dim":1,"amplitude":0.2,"wavelength":0.1},"steps":8000,"lr":{"levels":22}}' > "$tmp/spec.json"
id=$(curl -sS -X POST -H 'Content-Type: application/json' --data-binary "@$tmp/spec.json" \
    "$url/v1/jobs" | jq -r .id)
[ -n "$id" ] && [ "$id" != null ] || { echo "load: submit failed" >&2; exit 1; }
sleep 1
st0=$(curl -sS "$url/v1/jobs/$id" | jq -r .status)

wrk -t2 -c"$conns" -d"${secs}s" --timeout 5s --latency "$url/v1/jobs/$id" > "$tmp/wrk" 2>&1
st1=$(curl -sS "$url/v1/jobs/$id" | jq -r .status)
busy=$(curl -sS "$url/readyz" | jq -r .in_flight)
done_pts=$(curl -sS "$url/v1/jobs/$id" | jq -r '.progress.done')
curl -sS -o /dev/null -X POST "$url/v1/jobs/$id/cancel"

rps=$(awk '/^Requests\/sec:/ { print $2 }' "$tmp/wrk")
total=$(awk '/requests in/ { print $1 }' "$tmp/wrk")
p50=$(awk '$1 == "50%" { print $2 }' "$tmp/wrk")
p99=$(awk '$1 == "99%" { print $2 }' "$tmp/wrk")
sock=$(awk '/Socket errors:/ { s = 0; for (i = 3; i <= NF; i++) { gsub(",", "", $i); if ($i ~ /^[0-9]+$/) s += $i } print s }' "$tmp/wrk")
non2xx=$(awk '/Non-2xx/ { print $NF }' "$tmp/wrk")
errors=$(( ${sock:-0} + ${non2xx:-0} ))
# p99 in ms for the target check (wrk prints us, ms or s).
p99ms=$(echo "$p99" | awk '{ v = $1 + 0; if ($1 ~ /us$/) v /= 1000; else if ($1 ~ /[0-9]s$/ && $1 !~ /ms$/) v *= 1000; printf "%.2f", v }')

cat "$tmp/wrk"
echo
echo "load: GET /v1/jobs/$id, $conns connections, ${secs} s, $workers workers busy (job $st0 -> $st1, in_flight $busy, $done_pts points done)"
echo "load: requests/s $rps, requests $total, p50 $p50, p99 $p99, errors $errors (socket ${sock:-0}, non-2xx ${non2xx:-0})"
if awk -v v="$p99ms" 'BEGIN { exit !(v < 50) }'; then
    echo "load: p99 ${p99ms} ms: under the 50 ms target"
else
    echo "load: p99 ${p99ms} ms: OVER the 50 ms target"
fi
[ "$st0" = running ] && [ "$st1" = running ] || echo "load: WARNING: the sweep was not running for the whole run"
[ "$errors" -eq 0 ]
