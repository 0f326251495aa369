#!/bin/sh
# run-unit.sh - runs each Check unit-test binary given as an argument and
# prints one closing line for all of them. With TB_VALGRIND=1 each binary
# runs under valgrind (the caller sets CK_FORK=no) and any leak fails it.
set -u
pass=0; fail=0; failed=""
for t in "$@"; do
    if [ "${TB_VALGRIND:-0}" = 1 ]; then
        valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
            --error-exitcode=99 "$t"
    else
        "$t"
    fi
    if [ $? -eq 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); failed="$failed $t"; fi
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ] || { echo "failed:$failed" >&2; exit 1; }
