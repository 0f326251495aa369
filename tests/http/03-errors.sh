#!/bin/sh
# 03-errors.sh - every error status of the API, each with an RFC 9457
# application/problem+json body: 400 (malformed JSON, bad query parameters,
# bad Idempotency-Key), 404, 409, 413 (by Content-Length and while
# receiving), 415, 422 (invalid spec with JSON pointers, limits, fit
# windows), 429 + Retry-After; and the server stays healthy afterwards.
. "$TB_ROOT/tests/lib/http.sh"

JSON='Content-Type: application/json'
tb_start a --workers 1 --max-body 4096 --max-queued 2

# A small job that finishes, for the 409s of finished jobs.
write_spec "$TB_TMP/small.json" multiplicative 6
small=$(submit "$TB_TMP/small.json")
wait_job "$small" succeeded

# ---- 400 -------------------------------------------------------------
printf '{"model": {"family": ' > "$TB_TMP/trunc.json"
expect_problem 400 POST /v1/jobs -H "$JSON" --data-binary "@$TB_TMP/trunc.json"
body_json .detail | grep -q line || fail "400 detail should give the position: $(body_json .detail)"
expect_problem 400 POST /v1/jobs -H "$JSON" --data-binary '{"a":1,"a":2}'
printf '{"name":"\377"}' > "$TB_TMP/badutf8.json"
expect_problem 400 POST /v1/jobs -H "$JSON" --data-binary "@$TB_TMP/badutf8.json"
expect_problem 400 POST /v1/jobs -H "$JSON"
expect_problem 400 GET '/v1/jobs?limit=0'
check_eq "$(body_json .parameter)" limit "parameter member"
expect_problem 400 GET '/v1/jobs?limit=101'
expect_problem 400 GET '/v1/jobs?limit=ten'
expect_problem 400 GET '/v1/jobs?status=done'
expect_problem 400 GET '/v1/jobs?cursor=bogus'
expect_problem 400 GET '/v1/jobs?sort=id'
check_eq "$(body_json .parameter)" sort "unknown parameter named"
expect_problem 400 GET "/v1/jobs/$small?verbose=1"
expect_problem 400 GET "/v1/jobs/$small/dimension?min_level=x"
# The syntax error gives the job's real range (lr.levels 6), not the int range.
check_eq "$(body_json .detail)" 'min_level must be an integer in 0..6 (the job'"'"'s lr.levels), got "x"' "min_level=x detail"
check_eq "$(body_json .parameter)" min_level "min_level=x parameter"
expect_problem 400 GET "/v1/jobs/$small/dimension?min_level=99999999999"
case "$(body_json .detail)" in *' 0..6 '*) ;; *) fail "min_level=huge detail: $(body_json .detail)" ;; esac
expect_problem 400 GET "/v1/jobs/$small/dimension?min_level=1&max_level=y"
case "$(body_json .detail)" in *' 1..6 '*) ;; *) fail "max_level=y detail: $(body_json .detail)" ;; esac
expect_problem 400 GET "/v1/jobs/$small/dimension?min_levels=1.5"
case "$(body_json .detail)" in *2147483647*) fail "min_levels detail: $(body_json .detail)" ;; esac
expect_problem 400 GET "/v1/jobs/$small/boundary?limit=0"
expect_problem 400 GET "/v1/jobs/$small/boundary?offset=-1"
expect_problem 400 GET "/v1/jobs/$small/boundary?labels=maybe"
# A parameter given twice is refused, naming it (which one was meant?).
expect_problem 400 GET '/v1/jobs?limit=2&limit=3'
check_eq "$(body_json .parameter)" limit "repeated parameter named"
case "$(body_json .detail)" in *'"limit"'*once*) ;; *) fail "repeated detail: $(body_json .detail)" ;; esac
expect_problem 400 GET '/v1/jobs?status=queued&limit=5&status=running'
check_eq "$(body_json .parameter)" status "repeated status named"
expect_problem 400 GET "/v1/jobs/$small/boundary?offset=1&offset=1"
check_eq "$(body_json .parameter)" offset "repeated offset named"
expect_problem 400 GET "/v1/jobs/$small/dimension?min_level=1&min_level=2"
check_eq "$(body_json .parameter)" min_level "repeated min_level named"
expect_problem 400 GET "/v1/jobs/$small/cells?format=csv&format=csv"
check_eq "$(body_json .parameter)" format "repeated format named"
expect_status 200 GET '/v1/jobs?limit=2&status=succeeded'
long=$(printf '%0300d' 0)
expect_problem 400 POST /v1/jobs -H "$JSON" -H "Idempotency-Key: $long" --data-binary "@$TB_TMP/small.json"

# ---- 404 -------------------------------------------------------------
for p in /v1/jobs/999 /v1/jobs/999/result /v1/jobs/999/dimension /v1/jobs/999/boundary; do
    expect_problem 404 GET "$p"
done
expect_problem 404 POST /v1/jobs/999/cancel
expect_problem 404 DELETE /v1/jobs/999
# A malformed id on any job route is 400 and says what an id is; a
# well-formed one that no job has (even past 2^53) is 404.
for sub in "" /result /boundary /dimension /cells /events; do
    for bad in abc -1 01 0 1.5; do
        expect_problem 400 GET "/v1/jobs/$bad$sub"
        case "$(body_json .detail)" in
        *"must be a positive integer"*) ;;
        *) fail "/v1/jobs/$bad$sub detail: $(body_json .detail)" ;;
        esac
        check_eq "$(body_json .parameter)" id "/v1/jobs/$bad$sub parameter"
    done
    expect_problem 404 GET "/v1/jobs/123456789012345678901234567890$sub"
    case "$(body_json .detail)" in
    *"positive integer"*) ;;
    *) fail "30-digit id$sub detail: $(body_json .detail)" ;;
    esac
done
expect_problem 400 POST /v1/jobs/abc/cancel
expect_problem 400 DELETE /v1/jobs/-1
expect_problem 404 GET /v1/jobs/99999999999999999999

# ---- 413 -------------------------------------------------------------
# Over --max-body by Content-Length: refused before the body is read.
{ printf '{"name":"'; head -c 5000 /dev/zero | tr '\0' 'x'; printf '"}'; } > "$TB_TMP/big.json"
expect_problem 413 POST /v1/jobs -H "$JSON" --data-binary "@$TB_TMP/big.json"
# Chunked (no Content-Length): refused once the cap is passed.
expect_problem 413 POST /v1/jobs -H "$JSON" -H 'Transfer-Encoding: chunked' --data-binary "@$TB_TMP/big.json"
# 10 MB.
head -c 10000000 /dev/zero | tr '\0' ' ' > "$TB_TMP/huge.json"
expect_problem 413 POST /v1/jobs -H "$JSON" --data-binary "@$TB_TMP/huge.json"

# ---- 415 -------------------------------------------------------------
expect_problem 415 POST /v1/jobs -H 'Content-Type: text/plain' --data-binary "@$TB_TMP/small.json"
expect_problem 415 POST /v1/jobs --data-binary "@$TB_TMP/small.json"
expect_problem 415 POST /v1/jobs -H 'Content-Type:' --data-binary "@$TB_TMP/small.json"
expect_problem 415 POST /v1/jobs -H 'Content-Type: application/json; charset=latin1' --data-binary "@$TB_TMP/small.json"
expect_status 202 POST /v1/jobs -H 'Content-Type: application/json; charset=UTF-8' --data-binary "@$TB_TMP/small.json"
wait_job "$(body_json .id)" succeeded

# ---- 422 -------------------------------------------------------------
expect_problem 422 POST /v1/jobs -H "$JSON" \
    --data-binary '{"model":{"family":"cubic"},"steps":0,"lr":{"levels":40},"colour":1}'
jq -e '[.errors[].pointer] as $p | ($p | index("/model/family")) and ($p | index("/steps"))
       and ($p | index("/lr/levels")) and ($p | index("/colour"))
       and all(.errors[]; (.detail | length > 0) and (.field | type == "string"))' \
    "$TB_TMP/body" > /dev/null || fail "422 errors: $(cat "$TB_TMP/body")"
expect_problem 422 POST /v1/jobs -H "$JSON" --data-binary '[1,2,3]'
# The server's limits (defaults: levels 26, steps 100000, dim 1024, cost 2^36).
for bad in '"lr":{"levels":27}' '"steps":100001' '"lr":{"levels":26},"steps":2000'; do
    expect_problem 422 POST /v1/jobs -H "$JSON" \
        --data-binary "{\"model\":{\"family\":\"quadratic\"},$bad}"
    jq -e '.errors | length >= 1' "$TB_TMP/body" > /dev/null || fail "limit $bad: no errors[]"
done
expect_problem 422 POST /v1/jobs -H "$JSON" --data-binary '{"model":{"family":"quadratic","dim":1025}}'
check_eq "$(jq -r '.errors[0].pointer' "$TB_TMP/body")" /model/dim "dim pointer"
# An optimizer's coefficients: each with its own pointer.
expect_problem 422 POST /v1/jobs -H "$JSON" \
    --data-binary '{"model":{"family":"quadratic"},"optimizer":{"name":"adam","beta1":1,"eps":-1,"beta":0.5}}'
check_eq "$(jq -r '[.errors[].pointer] | sort | join(" ")' "$TB_TMP/body")" \
    "/optimizer/beta /optimizer/beta1 /optimizer/eps" "optimizer pointers"
# Fit windows outside the job's levels (6).
expect_problem 422 GET "/v1/jobs/$small/dimension?min_level=7"
expect_problem 422 GET "/v1/jobs/$small/dimension?min_level=4&max_level=3"
expect_problem 422 GET "/v1/jobs/$small/dimension?max_level=99"
expect_problem 422 GET "/v1/jobs/$small/dimension?min_levels=2"

# ---- 409 and 429 -----------------------------------------------------
write_spec "$TB_TMP/slow.json" multiplicative 16 100000
slow1=$(submit "$TB_TMP/slow.json")
slow2=$(submit "$TB_TMP/slow.json")
wait_job "$slow1" running
expect_problem 429 POST /v1/jobs -H "$JSON" --data-binary "@$TB_TMP/small.json"
hdr Retry-After | grep -qE '^[0-9]+$' || fail "429 without Retry-After"
for j in "$slow1" "$slow2"; do
    for r in result dimension boundary; do
        expect_problem 409 GET "/v1/jobs/$j/$r"
    done
done
expect_problem 409 POST "/v1/jobs/$small/cancel"
# Running: its tiles stop shortly (202). slow2 may have started meanwhile
# (fair claims): 200 if it was still queued, 202 if running.
expect_status 202 POST "/v1/jobs/$slow1/cancel"
code=$(req POST "/v1/jobs/$slow2/cancel")
case "$code" in 200 | 202) ;; *) fail "cancel of the second job: $code" ;; esac
check_eq "$(body_json .status)" canceled "second job canceled"
expect_problem 409 GET "/v1/jobs/$slow1/result"
body_json .detail | grep -q canceled || fail "409 detail for a canceled job"

# Healthy afterwards.
expect_status 200 GET /healthz
expect_status 200 GET /readyz
tb_stop
check_eq "$TB_EXIT" 0 "exit status"
grep -q '"status":5' "$TB_LOG" && fail "a 5xx was answered"
echo ok
