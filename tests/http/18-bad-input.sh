#!/bin/sh
# 18-bad-input.sh - the bad-input corpus (18-bad-input.cases, over 100
# requests): truncated JSON, deep nesting, huge numbers, NaN/Infinity,
# wrong types, unknown fields, a 10 MB body (sized and chunked), wrong
# content types, invalid UTF-8 in keys, strings, headers and paths, bad
# ids, query parameters and cursors, bad tokens, overlong headers and
# URLs, methods not allowed. Every case must get its 4xx status with an
# application/problem+json body whose "status" matches, never a 5xx; after
# the corpus the server is healthy: /readyz 200, no 5xx in its log, and a
# valid job still completes. Runs with --token-file, so every case also
# goes through the bearer-token gate.
. "$TB_ROOT/tests/lib/http.sh"

B=$TB_TMP/bodies
mkdir -p "$B"
J='Content-Type: application/json'
printf 'good-token-1\nro:read-token-2\n' > "$TB_TMP/tokens"
A='Authorization: Bearer good-token-1'
RO='Authorization: Bearer read-token-2'
LONG=$(head -c 8192 /dev/zero | tr '\0' 'a')
HUGE=$(head -c 102400 /dev/zero | tr '\0' 'b')

# ---- bodies --------------------------------------------------------------------
V='{"model":{"family":"quadratic","dim":1},"steps":100,"lr":{"levels":4}}'
b() { printf '%s' "$2" > "$B/$1"; }
b valid "$V"
: > "$B/empty"
b trunc1 '{"model":'
b trunc2 '{"model":{"family":"quadr'
b open-bracket '['
head -c 100000 /dev/zero | tr '\0' '[' > "$B/deep-arrays"
awk 'BEGIN { for (i = 0; i < 50000; i++) printf "{\"a\":" }' > "$B/deep-objects"
b nan '{"model":{"family":"quadratic"},"x0":NaN}'
b inf '{"model":{"family":"quadratic"},"x0":Infinity}'
b neg-inf '{"model":{"family":"quadratic"},"x0":-Infinity}'
b trailing-garbage "$V x"
b two-docs "$V$V"
printf '{"mod\377el":{"family":"quadratic"}}' > "$B/bad-utf8-key"
printf '{"name":"\377\376","model":{"family":"quadratic"}}' > "$B/bad-utf8-string"
printf '{"name":"\300\257","model":{"family":"quadratic"}}' > "$B/overlong-utf8"
printf '\357\273\277%s' "$V" > "$B/bom"
b single-quotes "{'model':{'family':'quadratic'}}"
b comment "/* hi */ $V"
b huge-real '{"model":{"family":"quadratic"},"x0":1e999999}'
b lone-surrogate '{"name":"\ud800","model":{"family":"quadratic"}}'
b nul-escape '{"name":"a\u0000b","model":{"family":"quadratic"}}'
b huge-int '{"model":{"family":"quadratic"},"steps":99999999999999999999999}'
b top-array '[]'
b top-string '"x"'
b top-number '1'
b top-null 'null'
b steps-string '{"model":{"family":"quadratic"},"steps":"1000"}'
b steps-real '{"model":{"family":"quadratic"},"steps":1000.5}'
b steps-negative '{"model":{"family":"quadratic"},"steps":-1}'
b levels-33 '{"model":{"family":"quadratic"},"lr":{"levels":33}}'
b levels-bool '{"model":{"family":"quadratic"},"lr":{"levels":true}}'
b model-array '{"model":["quadratic"]}'
b unknown-top '{"model":{"family":"quadratic"},"colour":"red"}'
b unknown-nested '{"model":{"family":"quadratic","colour":"red"}}'
b duplicate-key '{"model":{"family":"quadratic"},"steps":10,"steps":20}'
b family-unknown '{"model":{"family":"cubic"}}'
b dim-zero '{"model":{"family":"quadratic","dim":0}}'
b wavelength-zero '{"model":{"family":"additive","amplitude":0.1,"wavelength":0}}'
b lr-reversed '{"model":{"family":"quadratic"},"lr":{"min":1,"max":0.5}}'
b too-costly '{"model":{"family":"quadratic"},"steps":100000,"lr":{"levels":26}}'
b null-member '{"model":{"family":"quadratic"},"steps":null}'
b empty-object '{}'
{ printf '{"name":"'; head -c 10485760 /dev/zero | tr '\0' 'x'; printf '"}'; } > "$B/10mb"

tb_start a --workers 1 --token-file "$TB_TMP/tokens"
# Job 1: a finished job for the routes that need one.
id=$(submit "$B/valid" -H "$A")
check_eq "$id" 1 "first job id"
i=0
until [ "$(curl -s -H "$A" "$TB_URL/v1/jobs/1" | jq -r .status)" = succeeded ]; do
    i=$((i + 1))
    [ $i -lt 600 ] || fail "job 1 did not succeed"
    sleep 0.1
done

# ---- the corpus ------------------------------------------------------------------
n=0
lineno=0
while IFS= read -r line; do
    lineno=$((lineno + 1))
    case "$line" in '' | '#'*) continue ;; esac
    eval "set -- $line"
    want=$1 m=$2 p=$3
    shift 3
    n=$((n + 1))
    rm -f "$TB_TMP/body" "$TB_TMP/headers"
    # The server may answer before it has read a big body: curl then
    # reports a send error, but the status line arrived.
    code=$(curl -sS -X "$m" -o "$TB_TMP/body" -D "$TB_TMP/headers" -w '%{http_code}' \
        --max-time 30 "$@" "$TB_URL$p" 2> "$TB_TMP/curl-err") || true
    what="case line $lineno ($m $(printf '%.60s' "$p"))"
    case "$code" in
    4??) ;;
    *) fail "$what: status $code, want $want; $(head -c 300 "$TB_TMP/body" 2>/dev/null) $(cat "$TB_TMP/curl-err")" ;;
    esac
    [ "$want" = mhd ] && continue
    [ "$want" = 4xx ] || [ "$code" = "$want" ] ||
        fail "$what: status $code, want $want; $(head -c 300 "$TB_TMP/body")"
    ct=$(hdr Content-Type)
    case "$ct" in
    application/problem+json*) ;;
    *) fail "$what: Content-Type '$ct' (status $code), want application/problem+json; $(head -c 200 "$TB_TMP/body")" ;;
    esac
    jq -e --argjson s "$code" '.status == $s and (.type | startswith("urn:trainbound:problem:"))
        and (.title | length > 0) and (.detail | length > 0)' "$TB_TMP/body" > /dev/null ||
        fail "$what: not a problem document: $(head -c 300 "$TB_TMP/body")"
done < "$TB_ROOT/tests/http/18-bad-input.cases"
echo "$n bad-input cases answered 4xx problem+json"
[ "$n" -ge 50 ] || fail "only $n cases"

# ---- still healthy ------------------------------------------------------------
expect_status 200 GET /readyz
expect_status 200 GET /healthz
if grep -E '"status":5[0-9][0-9]' "$TB_LOG" > /dev/null; then
    fail "5xx in the log: $(grep -E '"status":5[0-9][0-9]' "$TB_LOG" | head -2)"
fi
id=$(submit "$B/valid" -H "$A")
i=0
until [ "$(curl -s -H "$A" "$TB_URL/v1/jobs/$id" | jq -r .status)" = succeeded ]; do
    i=$((i + 1))
    [ $i -lt 600 ] || fail "job $id did not succeed after the corpus"
    sleep 0.1
done
check_eq "$(curl -s -H "$A" "$TB_URL/v1/jobs?limit=100" | jq '.items | length')" 2 \
    "jobs stored (no bad case was accepted)"
tb_stop
check_eq "$TB_EXIT" 0 "exit status"
echo ok
