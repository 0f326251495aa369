#!/bin/sh
# 11-serve-first-line.sh - the README's promise that the first log line of
# `serve` gives the address: line 1 is the "listening" event, with an
# addr, also with --token-file (whose "auth" line comes after it), so
# `head -1 | jq -r .addr` works.
. "$TB_ROOT/tests/lib/http.sh"

tokens=$TB_TMP/tokens
printf 'writer-token-1234\nro:reader-token-5678\n' > "$tokens"

for flags in "" "--token-file $tokens"; do
    rm -f "$TB_TMP/s.log"
    # shellcheck disable=SC2086 # flags is split on purpose
    tb_start s --workers 1 $flags
    first=$(head -1 "$TB_LOG")
    check_eq "$(printf '%s' "$first" | jq -r .event)" listening "line 1 event ($flags)"
    addr=$(printf '%s' "$first" | jq -r .addr)
    check_eq "http://$addr" "$TB_URL" "line 1 addr ($flags)"
    if [ -n "$flags" ]; then
        grep -q '"event":"auth"' "$TB_LOG" || fail "no auth line with --token-file"
    fi
    tb_stop
    check_eq "$TB_EXIT" 0 "exit status ($flags)"
done
echo ok
