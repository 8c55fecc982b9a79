#!/bin/bash
# The whole test suite, as `make check` runs it after building: every unit test binary,
# then the integration tests in each server mode. One PASS/FAIL line per suite, then a
# closing line `N passed, N failed` counting suites; exits non-zero if any suite failed.
# The suites' own output is indented so the closing line is the only one of its kind.
set -u

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd) || exit 2
cd "$repo" || exit 2
build=${BUILD:-build}

passed=0
failed=0

# run_suite NAME COMMAND...: runs a suite, indents its output, records PASS or FAIL.
run_suite() {
    local name=$1 rc
    shift
    echo "== $name"
    "$@" 2>&1 | sed -u 's/^/    /'
    rc=${PIPESTATUS[0]}
    if [ "$rc" -eq 0 ]; then
        echo "PASS $name"
        passed=$((passed + 1))
    else
        echo "FAIL $name (exit $rc)"
        failed=$((failed + 1))
    fi
}

units=()
for t in "$build"/tests/test_*; do
    [ -f "$t" ] && [ -x "$t" ] && units+=("$t")
done
if [ "${#units[@]}" -eq 0 ]; then
    echo "FAIL unit (no unit test binaries in $build/tests; run make unit)"
    failed=$((failed + 1))
fi
for t in "${units[@]}"; do
    run_suite "unit/$(basename "$t")" "$t"
done

for mode in plain preload valgrind; do
    run_suite "integration/$mode" tests/integration/run.sh "$mode"
done

# The same suite against the ASan+UBSan build (make check builds it first).
asan_bin="$repo/$build/asan/aws"
if [ -x "$asan_bin" ]; then
    run_suite "integration/asan" env AWS_BIN="$asan_bin" \
        ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:verify_asan_link_order=0 UBSAN_OPTIONS=print_stacktrace=1 \
        tests/integration/run.sh plain
else
    echo "FAIL integration/asan (no $asan_bin; run make $build/asan/aws)"
    failed=$((failed + 1))
fi

# Every fuzzer replays its regressions and runs briefly (make fuzz-long runs longer).
run_suite fuzz tests/fuzz/run.sh "${FUZZ_SECONDS:-20}"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
