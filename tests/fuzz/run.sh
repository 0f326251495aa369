#!/bin/sh
# run.sh - builds and runs the libFuzzer targets of tests/fuzz/ (`make fuzz`),
# or only replays their saved inputs (`make fuzz-regress`).
#
#   sh tests/fuzz/run.sh             build with clang, fuzz each target for
#                                    FUZZ_SECONDS (default 60), then replay
#                                    its saved inputs with the fuzz binary
#   sh tests/fuzz/run.sh --regress   only replay the saved inputs, built with
#                                    $CC (default cc; ASan + UBSan when it has
#                                    them) and no libFuzzer: quick, no clang
#
# Targets: fuzz_http (router.c, auth.c: the request path below MHD) and
# fuzz_spec (service/format/codec.c, service/work/study.c and the
# service/format/jsonfmt.c they print with). A target is a
# driver tests/fuzz/<name>.c, seeds in tests/fuzz/corpus/<short>/, a
# dictionary tests/fuzz/dict/<short>.dict and regression inputs (inputs that
# once crashed, kept after the fix) in tests/fuzz/regressions/<short>/, where
# <name> is fuzz_<short>. The saved inputs are the regressions and the
# seeds. To add a target, list it in TARGETS with the service sources it
# needs (target_sources below).
#
# Knobs: FUZZ_TARGETS (default both), FUZZ_SECONDS (per target), FUZZ_ARGS (extra libFuzzer flags),
# CC (replay build), CLANG (fuzz build, default clang). Everything built or
# found goes to build-fuzz/: the working corpus (new inputs; the committed
# seeds are only read), crash artifacts, and the binaries. Fuzzing uses one
# process and one job: the build machine is shared. Exits non-zero when a
# target crashes, leaks, times out or breaks an invariant, or when a saved
# input fails on replay.
#
# Flag lists ($COMMON, $SAN, ...) are split on purpose; libfuzzer_once is
# called through replay()'s $2.
# shellcheck disable=SC2086,SC2046,SC2317
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
OUT=build-fuzz
TARGETS=${FUZZ_TARGETS:-"fuzz_spec fuzz_http"}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
CLANG=${CLANG:-clang}
MODE=fuzz
[ "${1:-}" = "--regress" ] && MODE=regress

# Service sources each target links besides core/*.c.
target_sources() {
    case "$1" in
    fuzz_spec) echo "service/format/codec.c service/work/study.c service/format/jsonfmt.c" ;;
    fuzz_http) echo "service/http/router.c service/format/base64.c service/http/auth.c service/format/sha256.c" ;;
    *) echo "run.sh: unknown target $1" >&2; exit 2 ;;
    esac
}

# The corpus and dictionary name of a target: fuzz_spec -> spec.
short() { echo "${1#fuzz_}"; }

JANSSON_CFLAGS=$(pkg-config --cflags jansson 2>/dev/null || true)
JANSSON_LIBS=$(pkg-config --libs jansson 2>/dev/null || echo -ljansson)
COMMON="-std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Icore -Iservice -Iservice/http -Iservice/queue -Iservice/work -Iservice/format -g $JANSSON_CFLAGS"

# Makes sure clang can build a libFuzzer binary with ASan and UBSan, and
# installs clang and its runtimes when it cannot (Debian 12: clang 14 and
# libclang-rt-14-dev, through docker/install-deps.sh fuzz, as root). They are
# not in install-deps.sh's default list: only `make fuzz` needs them.
need_clang() {
    probe="$OUT/probe"
    mkdir -p "$probe"
    printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
        'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
        'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
        > "$probe/probe.c"
    try() {
        command -v "$CLANG" > /dev/null 2>&1 &&
            "$CLANG" -fsanitize=fuzzer,address,undefined -o "$probe/probe" "$probe/probe.c" \
                > "$probe/probe.log" 2>&1
    }
    try && return 0
    echo "run.sh: make fuzz needs clang with libFuzzer and the sanitizer runtimes;" >&2
    echo "run.sh: installing the Debian packages clang libclang-rt-14-dev where missing" >&2
    sh docker/install-deps.sh fuzz || {
        echo "run.sh: could not install them; as root: apt-get install clang" \
            "libclang-rt-14-dev" >&2
        exit 1
    }
    try || {
        cat "$probe/probe.log" >&2 2> /dev/null || true
        echo "run.sh: $CLANG still cannot build a libFuzzer binary; giving up" >&2
        exit 1
    }
}

# build_core DIR COMPILER FLAGS...: compiles core/*.c into DIR. core/fast.c
# is always compiled by gcc (or cc), without instrumentation: these targets
# run the fast path, they do not fuzz it, and gcc's build of its SIMD
# kernels runs about twice as fast as clang 14's.
build_core() {
    dir=$1 cc=$2
    shift 2
    mkdir -p "$dir"
    for src in core/*.c; do
        obj="$dir/$(basename "$src" .c).o"
        if [ "$src" = core/fast.c ]; then
            gcc_cc=$(command -v gcc || command -v cc)
            "$gcc_cc" $COMMON -O2 -ffp-contract=fast -c -o "$obj" "$src"
        else
            "$cc" $COMMON "$@" -ffp-contract=off -c -o "$obj" "$src"
        fi
    done
}

# Links the binary for target $1 into $2 with compiler $3, main object $4
# ("" for libFuzzer's main), then flags.
build_target() {
    name=$1 bin=$2 cc=$3 main=$4
    shift 4
    objdir="$bin.objs"
    build_core "$objdir" "$cc" "$@"
    "$cc" $COMMON "$@" -o "$bin" "tests/fuzz/$name.c" $(target_sources "$name") $main \
        "$objdir"/*.o $JANSSON_LIBS -lm
}

# The saved inputs of target $1: its regression inputs, then its seeds.
saved_inputs() {
    for d in "tests/fuzz/regressions/$(short "$1")" "tests/fuzz/corpus/$(short "$1")"; do
        [ -d "$d" ] && find "$d" -maxdepth 1 -type f ! -name '.*'
    done | sort
}

# Replays the saved inputs of every target through binary $1<target>, run
# as "$2 BINARY FILES...": all at once, then one by one to name the culprits
# when that fails.
replay() {
    status=0
    for t in $TARGETS; do
        files=$(saved_inputs "$t")
        echo "run.sh: replaying $(echo "$files" | wc -l) saved inputs through $t"
            if $2 "$1$t" $files > "$OUT/replay-$t.log" 2>&1; then
            echo "run.sh: $t: all $(echo "$files" | wc -l) saved inputs passed"
            continue
        fi
        status=1
        for f in $files; do
            $2 "$1$t" "$f" > "$OUT/replay-one.log" 2>&1 || {
                echo "run.sh: $t FAILED on $f:" >&2
                grep -E 'runtime error|ERROR|SUMMARY|broken invariant' "$OUT/replay-one.log" |
                    head -5 >&2
            }
        done
    done
    return $status
}

# libFuzzer's own binary on saved inputs: each file runs once.
libfuzzer_once() {
    bin=$1
    shift
    "$bin" -runs=1 -rss_limit_mb=4096 "$@"
}

if [ "$MODE" = regress ]; then
    CC=${CC:-cc}
    SAN=""
    mkdir -p "$OUT"
    # gcc's -fsanitize=undefined leaves out float-cast-overflow: ask for it.
    SAN_TRY="-fsanitize=address,undefined,float-cast-overflow"
    printf 'int main(void) { return 0; }\n' > "$OUT/san-probe.c"
    if "$CC" $SAN_TRY -o "$OUT/san-probe" "$OUT/san-probe.c" > /dev/null 2>&1; then
        SAN="$SAN_TRY -fno-sanitize-recover=all -fno-omit-frame-pointer"
    fi
    for t in $TARGETS; do
            if [ -x "$OUT/replay-$t" ] && [ -z "$(find core tests/fuzz/"$t".c \
            tests/fuzz/replay_main.c tests/fuzz/run.sh $(target_sources "$t") \
            service/*.h -newer "$OUT/replay-$t" 2> /dev/null)" ]; then
            continue # up to date
        fi
        echo "run.sh: building $OUT/replay-$t with $CC ${SAN:+(ASan + UBSan)}"
            build_target "$t" "$OUT/replay-$t" "$CC" tests/fuzz/replay_main.c -O1 $SAN
    done
    replay "$OUT/replay-" ""
    exit $?
fi

need_clang
mkdir -p "$OUT/artifacts"
FLAGS="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
FLAGS="$FLAGS -fno-omit-frame-pointer -O1"
status=0
for t in $TARGETS; do
    s=$(short "$t")
    echo "run.sh: building $OUT/$t"
    build_target "$t" "$OUT/$t" "$CLANG" "" $FLAGS
    mkdir -p "$OUT/corpus/$s"
    echo "run.sh: fuzzing $t for ${FUZZ_SECONDS}s (log: $OUT/$t.log)"
    # -jobs/-workers are left at their default of one process.
    if ! "$OUT/$t" "$OUT/corpus/$s" "tests/fuzz/corpus/$s" \
        -dict="tests/fuzz/dict/$s.dict" -max_len=65536 -max_total_time="$FUZZ_SECONDS" \
        -timeout=25 -rss_limit_mb=4096 -print_final_stats=1 \
        -artifact_prefix="$OUT/artifacts/$t-" ${FUZZ_ARGS:-} > "$OUT/$t.log" 2>&1; then
        tail -60 "$OUT/$t.log" >&2
        echo "run.sh: $t FAILED; the input is in $OUT/artifacts/ (fix the bug, then save" >&2
        echo "run.sh: the input under tests/fuzz/regressions/$s/)" >&2
        status=1
    fi
    grep -E '^#[0-9]+.*(DONE|pulse)|stat::number_of_executed_units|stat::peak_rss' \
        "$OUT/$t.log" | tail -3
done
replay "$OUT/" libfuzzer_once || status=1
exit $status
