#!/usr/bin/env bash
# run.sh - run every integration suite (tests/integration/suite_*.sh), one
# after the other, each against its own fresh broker; print a summary and
# exit non-zero if any suite failed.
#
#   tests/integration/run.sh                 # against build/brookd
#   BROOK_IT_TARGET=kafka tests/integration/run.sh   # against Apache Kafka 4.0
#   tests/integration/run.sh kcat raw        # only suite_kcat.sh, suite_raw.sh
#
# IT_SUITE_TIMEOUT_S (default 900) bounds each suite.

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1

suites=()
if [[ $# -gt 0 ]]; then
    for s in "$@"; do suites+=("tests/integration/suite_$s.sh"); done
else
    for s in tests/integration/suite_*.sh; do [[ -e $s ]] && suites+=("$s"); done
fi
[[ ${#suites[@]} -gt 0 ]] || { echo "run.sh: no suites found" >&2; exit 1; }

failed=()
results=()
for s in "${suites[@]}"; do
    name=${s##*/suite_}; name=${name%.sh}
    if [[ ! -f $s ]]; then
        echo "run.sh: no such suite: $s" >&2; failed+=("$name"); results+=("$name MISSING"); continue
    fi
    echo "=== $name (${BROOK_IT_TARGET:-brook})"
    start=$SECONDS
    timeout "${IT_SUITE_TIMEOUT_S:-900}" bash "$s"
    rc=$?
    took=$((SECONDS - start))
    if [[ $rc -eq 0 ]]; then
        results+=("$name ok ${took}s")
    else
        [[ $rc -eq 124 ]] && echo "run.sh: $name timed out after ${IT_SUITE_TIMEOUT_S:-900}s"
        failed+=("$name"); results+=("$name FAILED (exit $rc) ${took}s")
    fi
done

echo "=== integration summary (${BROOK_IT_TARGET:-brook})"
printf '  %s\n' "${results[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "failed: ${failed[*]}"
    exit 1
fi
