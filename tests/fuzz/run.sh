#!/bin/sh
# run.sh [SECONDS] - builds the libFuzzer targets into build/fuzz/, replays every saved
# regression input (tests/fuzz/regressions/<target>/), then fuzzes each target for SECONDS
# (default 30; 0 = replay only) from its seed corpus with the HTTP dictionary. Exits non-zero if any target crashes (artifacts land in
# build/fuzz/artifacts/<target>/). Run from anywhere; paths are relative to the repository.
set -u

secs=${1:-30}
case $secs in
    ''|*[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/../.." || exit 2
CC=${FUZZ_CC:-clang-14}
FLAGS="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -g -O1 -std=c11 \
-D_GNU_SOURCE -Iinclude"
OUT=build/fuzz
TARGETS="fuzz_request fuzz_path fuzz_range fuzz_cond"

if ! command -v "$CC" >/dev/null 2>&1; then
    echo "run.sh: $CC not found (apt-get install clang-14 libclang-rt-14-dev)" >&2
    exit 2
fi
mkdir -p "$OUT"

# Each target links only the module under test (and log.c); request.c needs http-parser.
build() {
    t=$1
    mod=src/${t#fuzz_}.c
    libs=
    [ "$t" = fuzz_request ] && libs=-lhttp_parser
    echo "build  $OUT/$t"
    # shellcheck disable=SC2086  # FLAGS and libs are word lists
    $CC $FLAGS -o "$OUT/$t" "tests/fuzz/$t.c" "$mod" src/log.c $libs
}

failed=
for t in $TARGETS; do
    build "$t" || { echo "run.sh: building $t failed" >&2; exit 2; }
done

for t in $TARGETS; do
    bad=0
    art=$OUT/artifacts/$t
    work=$OUT/corpus/$t   # what the fuzzer adds; the seeds in tests/fuzz/corpus stay as they are
    mkdir -p "$art" "$work"

    # Regressions: each saved input run once, no mutation; every one that still fails is named.
    for input in tests/fuzz/regressions/"$t"/*; do
        [ -f "$input" ] || continue
        log=$OUT/$t.replay.log
        if "$OUT/$t" "$input" >"$log" 2>&1; then
            echo "ok     $t: regression $(basename "$input")"
        else
            echo "FAIL   $t: regression $input still fails:"
            grep -a -m 2 -e 'invariant violated' -e 'runtime error' -e 'ERROR: AddressSanitizer' \
                "$log" | sed 's/^/       /'
            bad=1
        fi
    done

    if [ "$secs" -gt 0 ]; then
        echo "fuzz   $t for ${secs}s"
        if "$OUT/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
            -dict=tests/fuzz/http.dict -artifact_prefix="$art/" -print_final_stats=1 \
            "$work" "tests/fuzz/corpus/$t" >"$OUT/$t.log" 2>&1; then
            runs=$(grep -a -o 'number_of_executed_units: *[0-9]*' "$OUT/$t.log" | grep -o '[0-9]*$')
            echo "ok     $t: ${runs:-?} executions"
        else
            echo "FAIL   $t: crash (see $OUT/$t.log, input in $art/)"
            grep -a -m 3 -e 'invariant violated' -e 'ERROR:' -e 'runtime error' "$OUT/$t.log" |
                sed 's/^/       /'
            bad=1
        fi
    fi
    [ "$bad" = 1 ] && failed="$failed $t"
done

if [ -n "$failed" ]; then
    echo "fuzz: failed:$failed"
    exit 1
fi
echo "fuzz: all targets clean"
