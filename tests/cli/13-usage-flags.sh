#!/bin/sh
# 13-usage-flags.sh - every flag a parser accepts is in the usage: the long
# options of `run` and `validate` (read from parse_args() in service/cli/cli.c)
# are in their `--help` and in the run lines of `trainbound --help`, with a
# description there; the top-level options (service/main.c) are in
# `trainbound --help`; every flag of `serve` (the option table of
# service/config.c) is in `serve --help` (or `worker --help`) and in the
# README's flag table.
set -eu
cd "$TB_TMP"
src=$TB_ROOT/service

fail() { echo "FAIL: $*"; exit 1; }

# The long options one function of a C file compares arguments with.
flags_of() { # FILE FUNCTION
    sed -n "/^static int $2(/,/^}/p" "$1" | grep -o '"--[a-z][a-z0-9-]*' | tr -d '"' |
        sort -u
}

run_flags=$(flags_of "$src/cli/cli.c" parse_args | grep -v -x -e --help)
[ -n "$run_flags" ] || fail "no flags found in cli.c's parse_args()"
echo "$run_flags" | grep -q -x -e --csv || fail "the extraction missed --csv: $run_flags"

"$TB_BIN" --help > top
"$TB_BIN" run --help > run
"$TB_BIN" validate --help > validate
# The synopsis of run in the top-level help: from "  run [" up to the first
# line of its description (indented by 8).
sed -n '/^  run \[/,/^        /p' top | sed '$d' > top-run
[ -s top-run ] || fail "no run synopsis in trainbound --help"
for f in $run_flags; do
    grep -q -e "\\[$f[] =]" top-run || fail "trainbound --help: the run usage lacks [$f"
    grep -q -e "\\[$f[] =]" run || fail "trainbound run --help lacks [$f"
    grep -q -e "$f:" top || fail "trainbound --help does not describe $f"
done

# validate takes no option but --help: its usage lists none, and the
# parser gives it none of run's.
for f in $(flags_of "$src/cli/cli.c" parse_args); do
    grep -q -e "$f" validate && fail "validate --help lists $f"
done
"$TB_BIN" validate --csv x.csv spec.json 2> err && fail "validate accepted --csv"

# Top level: every option main() compares argv[1] with.
for f in $(sed -n '/^int main(/,/^}/p' "$src/main.c" | grep -o '"--[a-z][a-z-]*' | tr -d '"'); do
    grep -q -e "^  $f " top || fail "trainbound --help lacks $f"
done

# serve: the option table of config.c.
serve_flags=$(sed -n '/^static const struct opt opts\[\]/,/^};/p' "$src/config.c" |
    grep -o '^ *{"[a-z][a-z0-9-]*", "TRAINBOUND_' | sed 's/^ *{"\([^"]*\)".*/--\1/')
[ "$(echo "$serve_flags" | wc -l)" -ge 20 ] || fail "too few serve flags found: $serve_flags"
# A flag of `trainbound worker` alone (the same table) is in worker --help.
"$TB_BIN" serve --help > serve
"$TB_BIN" worker --help > worker
for f in $serve_flags; do
    grep -q -e "^  $f " serve || grep -q -e "^  $f " worker ||
        fail "neither trainbound serve --help nor worker --help lists $f"
    grep -q -e "| \`$f[ \`]" "$TB_ROOT/README.md" || fail "README's serve flag table lacks $f"
done
echo ok
