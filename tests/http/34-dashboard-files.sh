#!/bin/sh
# 34-dashboard-files.sh - the dashboard's embedded files: / is the page,
# /web/FILE its scripts and styles (with types and nosniff), the vendored
# uPlot matches its SHA256SUMS, /web/examples/ the api/examples presets;
# anything else under /web/ is 404, and only GET/HEAD are allowed.
. "$TB_ROOT/tests/lib/http.sh"

tb_start a --workers 1
expect_status 200 GET /
case "$(hdr Content-Type)" in text/html*) ;; *) fail "/ type $(hdr Content-Type)" ;; esac
check_eq "$(hdr X-Content-Type-Options)" nosniff "nosniff"
hdr Content-Security-Policy | grep -q "default-src 'self'" || fail "no CSP"
grep -q '<title>trainbound</title>' "$TB_TMP/body" || fail "not the dashboard"
for f in app.js app.css vendor/uPlot.iife.min.js vendor/uPlot.min.css vendor/uPlot.LICENSE.txt; do
    expect_status 200 GET "/web/$f"
    cmp -s "$TB_TMP/body" "$TB_ROOT/service/web/$f" || fail "/web/$f differs from service/web/$f"
done
expect_status 200 GET /web/app.js
case "$(hdr Content-Type)" in text/javascript*) ;; *) fail "app.js type $(hdr Content-Type)" ;; esac
(cd "$TB_ROOT/service/web/vendor" && sha256sum -c --quiet SHA256SUMS) || fail "vendored files changed"
expect_status 200 GET /web/examples/multiplicative.json
cmp -s "$TB_TMP/body" "$TB_ROOT/api/examples/multiplicative.json" || fail "preset differs"
expect_problem 404 GET /web/nope.js
expect_problem 404 GET /web/vendor/LICENSES
expect_problem 404 GET /web/examples/../openapi.yaml
expect_problem 404 GET /web/%2e%2e/routes.c
expect_problem 405 POST /web/app.js
expect_status 200 HEAD / -I
tb_stop
echo ok
