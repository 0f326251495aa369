#!/bin/sh
# 16-auth.sh - --token-file: every /v1 route needs Authorization: Bearer;
# no token or a wrong one is 401 problem+json with WWW-Authenticate:
# Bearer; a read-only ("ro:") token can GET but gets 403 on POST and
# DELETE; good tokens work; /healthz, /livez, /readyz and preflights stay
# open; the tokens never appear in the log. Also: the environment
# variable, and a bad token file refuses to start.
. "$TB_ROOT/tests/lib/http.sh"

JSON='Content-Type: application/json'
small=$TB_TMP/small.json
write_spec "$small" quadratic 4 100
tokens=$TB_TMP/tokens
cat > "$tokens" <<'T'
# lab tokens
s3cret-writer-token-AAAA

ro:s3cret-reader-token-BBBB
  s3cret-second-writer-CCCC  
T
W='Authorization: Bearer s3cret-writer-token-AAAA'
W2='Authorization: Bearer s3cret-second-writer-CCCC'
R='Authorization: Bearer s3cret-reader-token-BBBB'

tb_start a --workers 1 --token-file "$tokens"
grep '"event":"auth"' "$TB_LOG" | grep -q '"tokens":2,"read_only_tokens":1' ||
    fail "auth start-up line: $(grep '"event":"auth"' "$TB_LOG")"

# Open routes.
expect_status 200 GET /healthz
expect_status 200 GET /livez
expect_status 200 GET /readyz
expect_status 204 OPTIONS /v1/jobs

# No token, a wrong one, a malformed header: 401 with WWW-Authenticate.
for h in '' 'Authorization: Bearer wrong' 'Authorization: Basic czNjcmV0Og==' \
    'Authorization: Bearer' 'Authorization: bearer s3cret-writer-token-AAA' \
    'Authorization: Bearer s3cret-writer-token-AAAAA' 'Authorization: Bearer ro:s3cret-reader-token-BBBB' \
    'Authorization: Bearer # lab tokens'; do
    for mp in 'GET /v1/jobs/1' 'POST /v1/jobs' 'DELETE /v1/jobs/1'; do
        set -- $mp
        if [ -n "$h" ]; then
            expect_problem 401 "$1" "$2" -H "$h" -H "$JSON" --data-binary "@$small"
        else
            expect_problem 401 "$1" "$2" -H "$JSON" --data-binary "@$small"
        fi
        hdr WWW-Authenticate | grep -q '^Bearer' || fail "$mp without WWW-Authenticate"
    done
done

# Every method and /v1 path needs it, even ones that do not exist.
for mp in 'GET /v1/jobs' 'GET /v1/nope' 'GET /v1' 'POST /v1/jobs/1/cancel' 'PUT /v1/jobs'; do
    set -- $mp
    expect_problem 401 "$1" "$2"
done

# Good writer tokens.
id=$(submit "$small" -H "$W")
wait_job_auth() {
    i=0
    while [ "$(curl -s -H "$W2" "$TB_URL/v1/jobs/$1" | jq -r .status)" != succeeded ]; do
        i=$((i + 1))
        [ $i -lt 600 ] || fail "job $1 did not succeed"
        sleep 0.1
    done
}
wait_job_auth "$id"
expect_status 200 GET "/v1/jobs/$id/result" -H "$W2"

# The read-only token: reads yes, writes 403.
expect_status 200 GET /v1/jobs -H "$R"
expect_status 200 GET "/v1/jobs/$id" -H "$R"
expect_status 200 HEAD "/v1/jobs/$id" -H "$R" -I
expect_status 200 GET "/v1/jobs/$id/dimension" -H "$R"
expect_problem 403 POST /v1/jobs -H "$R" -H "$JSON" --data-binary "@$small"
expect_problem 403 DELETE "/v1/jobs/$id" -H "$R"
expect_problem 403 POST "/v1/jobs/$id/cancel" -H "$R"
expect_status 200 GET "/v1/jobs/$id" -H "$W"
# The writer may delete.
expect_status 204 DELETE "/v1/jobs/$id" -H "$W"
expect_problem 404 GET "/v1/jobs/$id" -H "$R"

tb_stop
check_eq "$TB_EXIT" 0 "exit status"
if grep -q 's3cret' "$TB_LOG"; then fail "a token was logged"; fi

# The environment variable works too; a flag wins over it.
TRAINBOUND_TOKEN_FILE=$tokens tb_start b --workers 1
expect_problem 401 GET /v1/jobs
expect_status 200 GET /v1/jobs -H "$R"
tb_stop

# A token file without tokens, or a missing one, refuses to start (exit 2).
printf '# nothing\n\n' > "$TB_TMP/empty"
for f in "$TB_TMP/empty" "$TB_TMP/missing"; do
    "$TB_BIN" serve --listen 127.0.0.1:0 --db "$(tb_db c)" --token-file "$f" 2> "$TB_TMP/err" &
    p=$!
    TB_PIDS="$TB_PIDS $p"
    st=0
    wait $p || st=$?
    tb_forget $p
    check_eq "$st" 2 "exit status with token file $f"
    grep -q 'token-file' "$TB_TMP/err" || fail "no message: $(cat "$TB_TMP/err")"
done
echo ok
