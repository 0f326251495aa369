#!/bin/sh
# 08-sigint.sh - SIGINT during a sweep raises the cancel flag: the run stops
# cleanly with exit 130, "interrupted" on stderr and nothing on stdout.
set -eu
cd "$TB_TMP"

# Every run is bounded (|1 - 2s| <= 1), so on the reference path (which
# takes no proofs) each point costs all its steps: minutes of work, far
# longer than the test waits.
echo '{"model":{"family":"quadratic"},"steps":100000,"lr":{"min":0,"max":1,"levels":20},"precision":"reference"}' > long.json
"$TB_BIN" run --quiet --threads 2 long.json > out 2> err &
pid=$!
# a watchdog, so that a broken handler cannot hang the suite
( sleep 30; kill -KILL "$pid" 2> /dev/null ) &
dog=$!
i=0
# wait until the sweep is running (its signal handler is then installed)
while [ $i -lt 20 ]; do
    sleep 0.1
    i=$((i + 1))
done
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
kill "$dog" 2> /dev/null || true
[ "$rc" -eq 130 ] || { echo "exit $rc, want 130"; cat err; exit 1; }
[ ! -s out ]
grep -qxF 'trainbound: interrupted' err || { cat err; exit 1; }
echo ok
