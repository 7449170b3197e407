#!/usr/bin/env bash
# client_checks.sh - run a client check program and count its checks in the
# harness (source after lib.sh). Used by suite_java.sh, suite_kafkajs.sh,
# suite_franz.sh and suite_librdkafka_c.sh.
#
# A check program prints one line per check:
#   ok NAME               -> it_pass "PREFIX: NAME"
#   FAIL NAME: detail     -> it_fail "PREFIX: NAME: detail"
#   SKIP NAME: reason     -> it_skip "PREFIX: NAME: reason" (a missing optional part)
# Other lines are shown only when something failed. The program must exit 0;
# a non-zero exit (crash, timeout) or a run without any "ok" line is one
# more failure, with the tail of its output.
#
#   it_run_checks PREFIX TIMEOUT_S CMD...

it_run_checks() {
    local prefix=$1 limit=$2 out rc line oks=0 fails=0
    shift 2
    out=$(timeout -k 5 "$limit" "$@" 2>&1)
    rc=$?
    while IFS= read -r line; do
        case $line in
            "ok "*) it_pass "$prefix: ${line#ok }"; oks=$((oks + 1)) ;;
            "FAIL "*) it_fail "$prefix: ${line#FAIL }"; fails=$((fails + 1)) ;;
            "SKIP "*) it_skip "$prefix: ${line#SKIP }" ;;
        esac
    done <<<"$out"
    if [[ $rc -ne 0 && $fails -eq 0 ]] || [[ $oks -eq 0 ]]; then
        it_fail "$prefix: program exited $rc$([[ $rc == 124 ]] && echo " (timeout ${limit}s)") after $oks checks"
        fails=$((fails + 1))
    fi
    if [[ $fails -gt 0 ]]; then
        printf '%s\n' "$out" | grep -v '^ok \|^SKIP ' | tail -n 40 | sed 's/^/       /'
    fi
    [[ $fails -eq 0 ]]
}
