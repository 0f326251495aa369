#!/bin/sh
# install-deps.sh - installs the Debian 12 packages that trainbound needs to
# build, run and test. Used by `make run`, `make test` and docker/Dockerfile,
# so a container is built by the same steps as a developer machine.
#
#   docker/install-deps.sh          build + test dependencies
#   docker/install-deps.sh runtime  only the shared libraries the binary needs
#   docker/install-deps.sh fuzz     clang and its libFuzzer runtime (make fuzz)
#   docker/install-deps.sh browser  chromium (make browser)
#   docker/install-deps.sh node     node and npm (make browser, when no node is installed;
#                                   tests/browser's playwright-core needs Node.js >= 18,
#                                   and Debian 12's nodejs is 18.20.4)
#
# Packages already installed are skipped; apt-get runs only when something is
# missing, and only as root (otherwise the missing names are printed). It
# says what it installs; when apt-get fails, its output is printed.
set -eu

BUILD_PKGS="gcc make pkg-config libmicrohttpd-dev libjansson-dev libsqlite3-dev libuv1-dev libpng-dev libpq-dev yq"
# postgresql-15: tests/lib/pg.sh starts a throwaway server from it (issue 15)
TEST_PKGS="check curl jq python3 python3-numpy sqlite3 postgresql-15"
RUNTIME_PKGS="libmicrohttpd12 libjansson4 libsqlite3-0 libpq5 libuv1 libpng16-16 ca-certificates curl"
FUZZ_PKGS="clang libclang-rt-14-dev" # only `make fuzz` (tests/fuzz/run.sh) asks for these
BROWSER_PKGS="chromium"                # only `make browser` (tests/browser/run.sh)
NODE_PKGS="nodejs npm"                 # idem, only where no node is installed at all

case "${1:-dev}" in
runtime) want="$RUNTIME_PKGS" ;;
build) want="$BUILD_PKGS" ;;
fuzz) want="$FUZZ_PKGS" ;;
browser) want="$BROWSER_PKGS" ;;
node) want="$NODE_PKGS" ;;
*) want="$BUILD_PKGS $TEST_PKGS" ;;
esac

missing=""
for p in $want; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing Debian packages:$missing" >&2
    echo "install-deps: run as root, or: sudo apt-get install$missing" >&2
    exit 1
fi

echo "install-deps: installing$missing (apt-get, as root)" >&2
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
run() { # run CMD...: its's output goes to $log, and to stderr when it fails
    if ! "$@" > "$log" 2>&1; then
        cat "$log" >&2
        echo "install-deps: FAILED: \`$*\` (output above); missing:$missing" >&2
        exit 1
    fi
}
echo "install-deps: apt-get update" >&2
run apt-get update -q
echo "install-deps: apt-get install$missing" >&2
# shellcheck disable=SC2086
run apt-get install -y -q --no-install-recommends $missing
case " $missing " in
*" nodejs "*) echo "install-deps: node $(node --version 2>&1) installed (make browser needs >= 18)" >&2 ;;
esac
echo "install-deps: installed$missing" >&2
