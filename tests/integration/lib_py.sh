#!/usr/bin/env bash
# lib_py.sh - run a Python test program (tests/integration/py/*.py) from a
# suite and turn its report lines into it_pass / it_fail (see py/itcheck.py).
# Source it after lib.sh.
#
#   it_py TIMEOUT_S PYTHON SCRIPT ARGS...   run SCRIPT and report
#   it_py_report NAME RC OUTFILE            report the output of a program
#                                           that ran in the background
#
# "ok NAME" -> it_pass NAME; "FAIL NAME: reason" -> it_fail; "SKIP NAME:
# reason" -> it_skip (said loudly, counted); on failure the
# rest of the output (details, client logs) is shown. A program that exits
# non-zero without reporting a failure (crash, timeout) is a failure too.

# No __pycache__ inside the repository.
export PYTHONDONTWRITEBYTECODE=1

it_py_report() {
    local name=$1 rc=$2 file=$3 line failed=0
    while IFS= read -r line; do
        case $line in
            "ok "*) it_pass "${line#ok }" ;;
            "FAIL "*) it_fail "${line#FAIL }"; failed=1 ;;
            "SKIP "*) it_skip "${line#SKIP }" ;;
        esac
    done <"$file"
    if [[ $rc -ne 0 && $failed -eq 0 ]]; then
        if [[ $rc -eq 124 ]]; then
            it_fail "$name: timed out"
        else
            it_fail "$name: exited $rc"
        fi
    fi
    if [[ $rc -ne 0 ]]; then
        grep -v '^ok ' "$file" | tail -n 80 | sed 's/^/       /'
    fi
    return "$rc"
}

it_py() {
    local limit=$1 py=$2 script=$3 out rc
    shift 3
    out=$(mktemp "${TMPDIR:-/tmp}/brook-it-py.XXXXXX")
    timeout "$limit" "$py" "$IT_ROOT/tests/integration/py/$script" "$@" >"$out" 2>&1
    rc=$?
    it_py_report "$script $*" "$rc" "$out"
    rc=$?
    rm -f "$out"
    return "$rc"
}
