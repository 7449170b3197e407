#!/usr/bin/env bash
# run.sh SECONDS BIN... - runs each libFuzzer binary for SECONDS, then prints one summary line.
#
# Each target keeps its corpus in build/fuzz/corpus/<name> (new inputs land
# there) and also reads tests/fuzz/seeds/<name>/ when that exists. Findings
# (crash-*, leak-*, timeout-*, oom-*) go to build/fuzz/artifacts/<name>/, the
# output to build/fuzz/<name>.log. Run from the repository root.
set -u
if [ $# -lt 1 ]; then
    echo "usage: $0 SECONDS BIN..." >&2
    exit 2
fi
seconds=$1
shift
passed=0 failed=0
for bin in "$@"; do
    name=$(basename "$bin")
    corpus=build/fuzz/corpus/$name
    artifacts=build/fuzz/artifacts/$name
    log=build/fuzz/$name.log
    mkdir -p "$corpus" "$artifacts"
    marker=$artifacts/.started
    touch "$marker"
    dirs=("$corpus")
    [ -d "tests/fuzz/seeds/$name" ] && dirs+=("tests/fuzz/seeds/$name")
    # -timeout: one input taking this long is a finding too (a hang).
    "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=30 \
        -artifact_prefix="$artifacts/" -print_final_stats=1 "${dirs[@]}" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    found=$(find "$artifacts" -type f -newer "$marker" | wc -l)
    if [ "$rc" -eq 0 ] && [ "$found" -eq 0 ]; then
        passed=$((passed + 1))
        echo "PASS $name: ${runs:-?} runs in ${seconds}s, corpus $(find "$corpus" -type f | wc -l) inputs"
    else
        failed=$((failed + 1))
        echo "FAIL $name: exit $rc, $found finding(s) in $artifacts, log $log"
    fi
done
mkdir -p build
echo "fuzz $passed $failed" >>build/test-summary.txt
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
