#!/bin/sh
# vendor-web.sh - the dashboard's third-party files in service/web/vendor/,
# fetched with npm at a pinned version and checked against SHA256SUMS.
#
#   tools/vendor-web.sh          re-fetch uPlot $UPLOT_VERSION from the npm
#                                registry (npm pack), check every file's
#                                sha256, and copy them into service/web/vendor/
#   tools/vendor-web.sh --check  only check the committed files (no network)
#
# The files are committed (they are small) and embedded in the binary like
# every file under service/web/; this script is how they were made and how
# a reviewer checks them. A new version: change UPLOT_VERSION, run with
# --update (writes new sums), review the diff, update LICENSES.
set -eu

UPLOT_VERSION=1.6.32
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$root/service/web/vendor
# package path -> vendored name
files="dist/uPlot.iife.min.js:uPlot.iife.min.js dist/uPlot.min.css:uPlot.min.css LICENSE:uPlot.LICENSE.txt"

check() { # check DIR: the vendored names in DIR against SHA256SUMS
    (cd "$1" && sha256sum -c --quiet "$dir/SHA256SUMS")
}

case "${1:-}" in
--check)
    check "$dir"
    echo "vendor-web: service/web/vendor matches SHA256SUMS (uPlot $UPLOT_VERSION)"
    exit 0
    ;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "uplot@$UPLOT_VERSION" > /dev/null && tar xzf "uplot-$UPLOT_VERSION.tgz")
mkdir -p "$tmp/out"
for f in $files; do
    cp "$tmp/package/${f%%:*}" "$tmp/out/${f##*:}"
done
if [ "${1:-}" = --update ]; then
    (cd "$tmp/out" && sha256sum uPlot.iife.min.js uPlot.min.css uPlot.LICENSE.txt) > "$dir/SHA256SUMS"
fi
check "$tmp/out" || { echo "vendor-web: the fetched files do not match SHA256SUMS" >&2; exit 1; }
cp "$tmp/out/"* "$dir/"
echo "vendor-web: uPlot $UPLOT_VERSION vendored and checked"
