#!/bin/sh
# run.sh - the dashboard's browser test: installs what it needs (Debian's
# chromium with apt when missing and root; playwright-core with `npm ci`
# into tests/browser/node_modules), starts a server on a free loopback
# port, runs dashboard.test.js against it, and stops everything.
#   TB_BIN=build/trainbound SHOTS=build/browser sh tests/browser/run.sh
set -eu
: "${TB_BIN:?TB_BIN must name the trainbound binary}"
here=$(cd "$(dirname "$0")" && pwd)
TB_ROOT=$(cd "$here/../.." && pwd)
SHOTS=${SHOTS:-$TB_ROOT/build/browser}

# chromium, node, npm: the same script as every other dependency.
[ -x /usr/bin/chromium ] || sh "$TB_ROOT/docker/install-deps.sh" browser
command -v node > /dev/null && command -v npm > /dev/null || sh "$TB_ROOT/docker/install-deps.sh" node
if [ ! -d "$here/node_modules/playwright-core" ]; then
    (cd "$here" && npm ci --no-audit --no-fund --silent)
fi

TB_TMP=$(mktemp -d)
export TB_BIN TB_TMP TB_ROOT
. "$TB_ROOT/tests/lib/http.sh"
trap 'tb_cleanup; rm -rf "$TB_TMP"' EXIT
tb_start dash --workers 1 --tile-points 1024 --sse-heartbeat 1000
node "$here/dashboard.test.js" "$TB_URL/" "$SHOTS"
tb_stop
echo "browser: ok (screenshots in $SHOTS)"
