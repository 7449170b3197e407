#!/usr/bin/env bash
# run.sh BIN... - runs each unit test program, then prints one summary line.
# Test programs run from the repository root (fixtures are found by relative path).
set -u
passed=0 failed=0 broken=()
for bin in "$@"; do
    out=$("$bin" 2>&1)
    rc=$?
    printf '%s\n' "$out" | grep -v '^BK-RESULT' 
    res=$(printf '%s\n' "$out" | awk '/^BK-RESULT/ {print $2, $3}')
    if [ -z "$res" ]; then
        failed=$((failed + 1)); broken+=("$bin (crashed, exit $rc)")
        continue
    fi
    read -r p f <<<"$res"
    passed=$((passed + p)); failed=$((failed + f))
    [ "$rc" -ne 0 ] && broken+=("$bin")
done
for b in "${broken[@]}"; do echo "FAILED: $b"; done
mkdir -p build
echo "${BK_SUITE_NAME:-unit} $passed $failed" >>build/test-summary.txt
echo "${BK_SUITE_NAME:-unit}: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ ${#broken[@]} -eq 0 ]
