#!/usr/bin/env bash
# client_checks.sh - run a client check program and count its checks in the
# harness (source after lib.sh), and build a Java check class. Used by the
# Java suites, suite_kafkajs.sh, suite_franz.sh and suite_librdkafka_c.sh.
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

# it_java_prepare SUITE CLASS: java, javac and mvn are there, kafka-clients
# 4.0 is installed (clients.sh, source it first), and java/CLASS.java is
# compiled into build/it/java (again when the source is newer). Reports a
# missing toolchain as SKIPPED and a compile error as a failure itself;
# returns 0 when CLASS can run (-cp "$IT_JAVA_BUILD:$CLIENTS_JAVA_LIBS/*").
IT_JAVA_BUILD=$IT_ROOT/build/it/java
it_java_prepare() {
    local suite=$1 cls=$2 t src log
    for t in java javac mvn; do
        if ! command -v "$t" >/dev/null; then
            it_skip "$suite: $t not found (apt-get install -y openjdk-17-jdk-headless maven)"
            return 1
        fi
    done
    clients_install_java >/dev/null || true
    if [[ ${CLIENTS_STATUS[java]:-} != ok ]]; then
        it_skip "$suite: kafka-clients not installed: ${CLIENTS_REASON[java]:-}"
        return 1
    fi
    src="$IT_ROOT/tests/integration/java/$cls.java"
    log="$IT_JAVA_BUILD/javac-$cls.log"
    if [[ ! -f $IT_JAVA_BUILD/$cls.class || $src -nt $IT_JAVA_BUILD/$cls.class ]]; then
        mkdir -p "$IT_JAVA_BUILD"
        if ! timeout 300 javac -nowarn -d "$IT_JAVA_BUILD" -cp "$CLIENTS_JAVA_LIBS/*" "$src" >"$log" 2>&1; then
            it_fail "$suite: javac $cls.java"
            sed 's/^/       /' "$log"
            return 1
        fi
    fi
}

# it_go_prepare SUITE PROG: franz-go's module is installed (clients.sh) and
# go/PROG.go is built into build/it/PROG. Reports a missing toolchain as
# SKIPPED and an install or build error as a failure itself; returns 0 when
# build/it/PROG can run.
it_go_prepare() {
    local suite=$1 prog=$2 bin="$IT_ROOT/build/it/$2"
    clients_install_go >/dev/null || true
    case ${CLIENTS_STATUS[go]:-} in
        ok) ;;
        SKIPPED) it_skip "$suite: ${CLIENTS_REASON[go]}"; return 1 ;;
        *) it_fail "$suite: franz-go install: ${CLIENTS_REASON[go]:-unknown}"; return 1 ;;
    esac
    mkdir -p "$(dirname "$bin")"
    if ! (cd "$CLIENTS_GO_DIR" && env "${CLIENTS_GO_ENV[@]}" timeout 300 \
            go build -o "$bin" "../../integration/go/$prog.go") >"$bin.log" 2>&1; then
        it_fail "$suite: go build $prog.go"
        sed 's/^/       /' "$bin.log"
        return 1
    fi
}
