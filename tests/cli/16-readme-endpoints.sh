#!/bin/sh
# 16-readme-endpoints.sh - the README's endpoint table covers the API:
# every method and path of api/openapi.yaml has a row (the row's first
# cell holds `METHOD PATH` or `METHOD PATH?query`), and the row of a route
# with a format= parameter names format= and every one of its values.
# Needs yq (Debian's, installed by make deps); skipped without it.
set -eu
cd "$TB_ROOT"

fail() { echo "FAIL: $*"; exit 1; }
command -v yq > /dev/null || { echo "skip: no yq"; exit 0; }

spec=api/openapi.yaml
readme=README.md
n=0
yq -r '.paths | to_entries[] | .key as $p | .value | keys[] |
       select(test("^(get|put|post|delete|patch|options|head)$")) | "\(ascii_upcase) \($p)"' \
    "$spec" > "$TB_TMP/routes"
[ "$(wc -l < "$TB_TMP/routes")" -ge 16 ] || fail "too few routes read from $spec: $(cat "$TB_TMP/routes")"
while read -r m p; do
    row=$(grep -F -e "\`$m $p\`" -e "\`$m $p?" "$readme" | grep '^| ' | head -1) ||
        fail "$readme's endpoint table has no row for $m $p"
    [ -n "$row" ] || fail "$readme's endpoint table has no row for $m $p"
    lm=$(echo "$m" | tr 'A-Z' 'a-z')
    values=$(yq -r --arg p "$p" --arg m "$lm" '.paths[$p][$m].parameters[]? |
        select(.name? == "format") | .schema.enum[]' "$spec")
    if [ -n "$values" ]; then
        case "$row" in *format=*) ;; *) fail "the row of $m $p does not mention format=" ;; esac
        for v in $values; do
            case "$row" in *"\`$v\`"*) ;; *) fail "the row of $m $p lacks format value $v" ;; esac
        done
    fi
    n=$((n + 1))
done < "$TB_TMP/routes"
echo "ok ($n routes)"
