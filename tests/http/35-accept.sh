#!/bin/sh
# 35-accept.sh - content negotiation: without ?format=, Accept picks the
# representation (absent Accept, */* and application/* mean the default,
# JSON); a type the route does not offer is 406 problem+json; ?format=
# wins over Accept.
. "$TB_ROOT/tests/lib/http.sh"

tb_start a --workers 1
write_spec "$TB_TMP/s.json" multiplicative 10
id=$(submit "$TB_TMP/s.json")
wait_job "$id" succeeded

ct_is() { # ct_is WANT-PREFIX WHAT
    case "$(hdr Content-Type)" in "$1"*) ;; *) fail "$2: Content-Type '$(hdr Content-Type)', want $1" ;; esac
}

# The default: no Accept, */*, application/*, a browser's Accept.
for a in '' '*/*' 'application/*' 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'; do
    for p in "/v1/jobs" "/v1/jobs/$id" "/v1/jobs/$id/result" "/v1/jobs/$id/dimension" "/v1/jobs/$id/boundary"; do
        expect_status 200 GET "$p" -H "Accept: $a"
        ct_is application/json "$p with Accept '$a'"
    done
done

# Nothing offered fits: 406 problem+json naming what the route offers.
expect_problem 406 GET "/v1/jobs/$id/result" -H 'Accept: application/xml'
case "$(body_json .detail)" in *application/json*) ;; *) fail "406 detail: $(body_json .detail)" ;; esac
check_eq "$(body_json .type)" urn:trainbound:problem:not-acceptable "406 type"
expect_problem 406 GET "/v1/jobs/$id/result" -H 'Accept: text/csv'
expect_problem 406 GET "/v1/jobs/$id/result" -H 'Accept: application/json;q=0'
expect_problem 406 GET "/v1/jobs/$id" -H 'Accept: text/plain'
expect_problem 406 GET /v1/jobs -H 'Accept: application/xml'
expect_problem 406 GET "/v1/jobs/$id/boundary" -H 'Accept: application/xml'
case "$(body_json .detail)" in *text/csv*format=*) ;; *) fail "boundary 406 detail: $(body_json .detail)" ;; esac
expect_problem 406 GET "/v1/jobs/$id/dimension" -H 'Accept: text/csv'
expect_problem 406 GET "/v1/jobs/$id/cells" -H 'Accept: application/xml'
expect_status 200 GET "/v1/jobs/$id/result" -H 'Accept: application/xml, application/json;q=0.1'
ct_is application/json "result with json at q=0.1"

# Accept picks the representation: boundary as CSV, PNG, raw words.
expect_status 200 GET "/v1/jobs/$id/boundary?format=csv&limit=7"
cp "$TB_TMP/body" "$TB_TMP/want.csv"
expect_status 200 GET "/v1/jobs/$id/boundary?limit=7" -H 'Accept: text/csv'
ct_is text/csv "boundary with Accept: text/csv"
cmp -s "$TB_TMP/body" "$TB_TMP/want.csv" || fail "Accept: text/csv differs from format=csv"
expect_status 200 GET "/v1/jobs/$id/boundary" -H 'Accept: application/json;q=0.5, text/csv'
ct_is text/csv "boundary, csv preferred by q"
expect_status 200 GET "/v1/jobs/$id/boundary" -H 'Accept: image/png'
ct_is image/png "boundary with Accept: image/png"
expect_status 200 GET "/v1/jobs/$id/boundary" -H 'Accept: application/octet-stream'
ct_is application/octet-stream "boundary with Accept: application/octet-stream"
[ -n "$(hdr X-Points)" ] || fail "raw words without X-Points"
expect_status 200 GET "/v1/jobs/$id/dimension" -H 'Accept: application/octet-stream'
ct_is application/octet-stream "dimension with Accept: application/octet-stream"
head -c 6 "$TB_TMP/body" | od -c | grep -q 'N   U   M   P   Y' || fail "dimension octet-stream is not NPY"

# format= wins over Accept (no 406 then).
expect_status 200 GET "/v1/jobs/$id/boundary?format=json" -H 'Accept: text/csv'
ct_is application/json "format=json over Accept: text/csv"
expect_status 200 GET "/v1/jobs/$id/boundary?format=csv" -H 'Accept: application/xml'
ct_is text/csv "format=csv over Accept: application/xml"
expect_status 200 GET "/v1/jobs/$id/boundary.png" -H 'Accept: application/json'
ct_is image/png "boundary.png whatever Accept says"

tb_stop
echo ok
