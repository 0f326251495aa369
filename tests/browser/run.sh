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

say() { echo "browser: $*"; }
fail() { echo "browser: FAILED: $*" >&2; exit 1; }

# chromium, node, npm: the same script as every other dependency.
if [ ! -x /usr/bin/chromium ]; then
    say "no /usr/bin/chromium; installing it (docker/install-deps.sh browser)"
    sh "$TB_ROOT/docker/install-deps.sh" browser || fail "could not install chromium (see above)"
fi
if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
    say "node or npm missing; installing them (docker/install-deps.sh node)"
    sh "$TB_ROOT/docker/install-deps.sh" node || fail "could not install node and npm (see above)"
fi

# The Node.js that playwright-core needs: its "engines" entry in
# package-lock.json (">=18" for 1.61.x; 1.62 and later need 20, which
# Debian 12's nodejs 18.20.4 is not).
node_ver=$(node --version 2>&1) || fail "\`node --version\` failed: $node_ver"
lock="$here/package-lock.json"
want_pw=$(node -p "require('$lock').packages['node_modules/playwright-core'].version" 2>&1) ||
    fail "cannot read playwright-core's version from $lock (node $node_ver): $want_pw"
engines=$(node -p "require('$lock').packages['node_modules/playwright-core'].engines.node" 2>&1) ||
    engines=">=18"
need_major=$(echo "$engines" | sed -n 's/^>=[[:space:]]*\([0-9]*\).*/\1/p')
have_major=$(echo "$node_ver" | sed -n 's/^v\([0-9]*\).*/\1/p')
say "node $node_ver ($(command -v node)), npm $(npm --version 2>&1); playwright-core $want_pw needs Node.js $engines"
if [ -n "$need_major" ] && [ -n "$have_major" ] && [ "$have_major" -lt "$need_major" ]; then
    fail "node $node_ver is too old: playwright-core $want_pw needs Node.js $engines"
fi

have_pw=$(node -p "require('$here/node_modules/playwright-core/package.json').version" 2> /dev/null) || have_pw=""
if [ "$have_pw" != "$want_pw" ]; then
    say "installing playwright-core $want_pw into $here/node_modules (npm ci${have_pw:+, replacing $have_pw})"
    npm_log=$(mktemp)
    if ! (cd "$here" && npm ci --no-audit --no-fund) > "$npm_log" 2>&1; then
        cat "$npm_log" >&2
        rm -f "$npm_log"
        fail "npm ci failed (output above; node $node_ver, npm $(npm --version 2>&1), registry $(npm config get registry 2>&1))"
    fi
    rm -f "$npm_log"
fi

TB_TMP=$(mktemp -d)
export TB_BIN TB_TMP TB_ROOT
. "$TB_ROOT/tests/lib/http.sh"
trap 'tb_cleanup; rm -rf "$TB_TMP"' EXIT
tb_start dash --workers 1 --tile-points 1024 --sse-heartbeat 1000
say "dashboard.test.js against $TB_URL/ (chromium $(dpkg-query -W -f='${Version}' chromium 2> /dev/null || echo '?'))"
node "$here/dashboard.test.js" "$TB_URL/" "$SHOTS" || fail "dashboard.test.js failed (output above; node $node_ver, playwright-core $want_pw)"
tb_stop

# The same dashboard behind --token-file (a token typed into the page).
printf '%s\n' 'browser-test-token-0123456789' > "$TB_TMP/tokens"
tb_start auth --workers 1 --tile-points 1024 --sse-heartbeat 1000 --token-file "$TB_TMP/tokens"
say "auth.test.js against $TB_URL/ (--token-file)"
node "$here/auth.test.js" "$TB_URL/" browser-test-token-0123456789 "$SHOTS" ||
    fail "auth.test.js failed (output above; node $node_ver, playwright-core $want_pw)"
tb_stop
echo "browser: ok (screenshots in $SHOTS)"
