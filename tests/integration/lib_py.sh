#!/usr/bin/env bash
# lib_py.sh - run a Python test program (tests/integration/py/*.py) from a
# suite and turn its report lines into it_pass / it_fail (see py/itcheck.py).
# Source it after lib.sh.
#
#   it_py TIMEOUT_S PYTHON SCRIPT ARGS...
#
# "ok NAME" -> it_pass NAME; "FAIL NAME: reason" -> it_fail; on failure
# the rest of the output (details, client logs) is shown. A program that exits non-zero without reporting a
# failure (crash, timeout) is a failure of its own.

it_py() {
    local limit=$1 py=$2 script=$3 out rc line failed=0
    shift 3
    out=$(timeout "$limit" "$py" "$IT_ROOT/tests/integration/py/$script" "$@" 2>&1)
    rc=$?
    while IFS= read -r line; do
        case $line in
            "ok "*) it_pass "${line#ok }" ;;
            "FAIL "*) it_fail "${line#FAIL }"; failed=1 ;;
        esac
    done <<<"$out"
    # on failure, everything else the program said (details, client logs)
    if [[ $rc -ne 0 ]]; then
        grep -v '^ok ' <<<"$out" | tail -n 80 | sed 's/^/       /'
    fi
    if [[ $rc -ne 0 && $failed -eq 0 ]]; then
        if [[ $rc -eq 124 ]]; then
            it_fail "$script: timed out after ${limit}s"
        else
            it_fail "$script: exited $rc"
        fi
    fi
    return $rc
}
