#!/bin/sh
# 23-serve-db-backend.sh - `serve --db` takes a SQLite file path; a
# postgresql:// (or postgres://) URI names a backend this build does not
# have (issue 15): a usage error (exit 2) with one clear line, from the
# flag or the variable, that never echoes the URI (it may hold a
# password), and nothing is created.
. "$TB_ROOT/tests/lib/http.sh"
mkdir "$TB_TMP/run" && cd "$TB_TMP/run"

for uri in 'postgresql://tb:secret@db.example:5432/tb' 'postgres://db.example/tb'; do
    rc=0
    "$TB_BIN" serve --listen 127.0.0.1:0 --db "$uri" > out 2> err || rc=$?
    [ "$rc" -eq 2 ] || fail "--db $uri: exit $rc, want 2 ($(cat err))"
    grep -q 'PostgreSQL is not available in this build' err || fail "message: $(cat err)"
    grep -q -- '--db' err || fail "the message does not name --db: $(cat err)"
    ! grep -q secret err || fail "the message echoes the URI: $(cat err)"
    [ "$(wc -l < err)" -eq 1 ] || fail "want one line: $(cat err)"
    rc=0
    TRAINBOUND_DB=$uri "$TB_BIN" serve --listen 127.0.0.1:0 > out 2> err || rc=$?
    [ "$rc" -eq 2 ] || fail "TRAINBOUND_DB=$uri: exit $rc, want 2"
    grep -q TRAINBOUND_DB err || fail "the message does not name the variable: $(cat err)"
done
left=$(ls -A | grep -v -e '^out$' -e '^err$' || true)
[ -z "$left" ] || fail "left $left behind"
echo ok
