#!/bin/sh
# 12-serve-bad-listen.sh - `serve` refuses a bad --listen address before it
# opens the database: a malformed address or port (flag or variable) is a
# usage error (exit 2), an address in use a runtime failure (exit 1), and
# neither leaves a database file (or its directory) behind.
. "$TB_ROOT/tests/lib/http.sh"
cd "$TB_TMP"

# expect_exit CODE ARGS...: serve exits CODE and creates no database.
expect_exit() {
    code=$1; shift
    rm -rf dbdir
    rc=0
    "$TB_BIN" serve --db dbdir/t.db "$@" > out 2> err || rc=$?
    [ "$rc" -eq "$code" ] || fail "serve $*: exit $rc, want $code ($(cat err))"
    [ -s err ] || fail "serve $*: nothing on stderr"
    [ ! -e dbdir ] || fail "serve $*: left $(find dbdir) behind"
}

expect_exit 2 --listen 127.0.0.1:99999
grep -q -- '--listen' err || fail "the message does not name --listen: $(cat err)"
expect_exit 2 --listen 127.0.0.1:65536
expect_exit 2 --listen 127.0.0.1
expect_exit 2 --listen 127.0.0.1:http
expect_exit 2 --listen '[::1'
expect_exit 2 --listen no-such-host.invalid:0
TRAINBOUND_LISTEN=127.0.0.1:99999 expect_exit 2
grep -q TRAINBOUND_LISTEN err || fail "the message does not name the variable: $(cat err)"

# An address in use (held without SO_REUSEPORT, which the server itself
# sets): a runtime failure, still without a database file.
if command -v python3 > /dev/null; then
    python3 - "$TB_BIN" <<'PY' || fail "an address in use: see above"
import os, socket, subprocess, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
addr = "127.0.0.1:%d" % s.getsockname()[1]
try:
    r = subprocess.run([sys.argv[1], "serve", "--listen", addr, "--db", "dbdir/t.db"],
                       capture_output=True, timeout=30)
except subprocess.TimeoutExpired:
    sys.exit("serve on a port in use did not exit")
if r.returncode != 1 or os.path.exists("dbdir"):
    sys.exit("serve on a port in use: exit %d, dbdir %s" % (r.returncode, os.path.exists("dbdir")))
PY
fi
echo ok
