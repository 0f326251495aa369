#!/bin/sh
# 23-serve-db-backend.sh - `serve --db` takes a SQLite file path or a
# postgresql:// (or postgres://) URI (issue 15). A URI where no server
# answers fails the start (exit 1) with one store_open_failed line that
# never shows the URI's password, and nothing is created on disk, from
# the flag or the variable alike.
. "$TB_ROOT/tests/lib/http.sh"
mkdir "$TB_TMP/run" && cd "$TB_TMP/run"

# Port 1 of loopback: nothing listens there, the connection is refused at once.
for uri in 'postgresql://tb:secret@127.0.0.1:1/tb' 'postgres://127.0.0.1:1/tb?password=secret'; do
    rc=0
    "$TB_BIN" serve --listen 127.0.0.1:0 --db "$uri" > out 2> err || rc=$?
    [ "$rc" -eq 1 ] || fail "--db $uri: exit $rc, want 1 ($(cat err))"
    grep -q '"event":"store_open_failed"' err || fail "no store_open_failed: $(cat err)"
    grep -q '127.0.0.1:1/tb' err || fail "the log does not name the database: $(cat err)"
    ! grep -q secret err || fail "the log shows the password: $(cat err)"
    rc=0
    TRAINBOUND_DB=$uri "$TB_BIN" serve --listen 127.0.0.1:0 > out 2> err || rc=$?
    [ "$rc" -eq 1 ] || fail "TRAINBOUND_DB=$uri: exit $rc, want 1"
    ! grep -q secret err || fail "the log shows the password: $(cat err)"
done
left=$(ls -A | grep -v -e '^out$' -e '^err$' || true)
[ -z "$left" ] || fail "left $left behind"
echo ok
