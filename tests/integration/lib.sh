#!/usr/bin/env bash
# lib.sh - the integration harness: start, stop and kill the broker under
# test on a free loopback port with a fresh data dir, and record results.
# Source it from a suite script:
#
#   source tests/integration/lib.sh
#   it_start                 # sets BOOTSTRAP=127.0.0.1:PORT, IT_PORT, IT_DIR
#   ... drive a client against $BOOTSTRAP, call it_pass / it_fail ...
#   it_restart               # clean stop (SIGTERM) and start on the same data
#   it_kill9; it_start_again # crash and start on the same data
#   it_finish SUITE          # stops the broker, appends "SUITE passed failed"
#                            # to build/test-summary.txt, returns non-zero on failure
#
# BROOK_IT_TARGET=kafka runs the same suite against Apache Kafka 4.0 (from
# tests/tools/kafka.sh) instead of build/brookd: the suites are written to
# pass against both, which is how we check that brook behaves like Kafka.
# BROOKD overrides the binary (e.g. the ASan build); IT_BROOK_ARGS adds
# `--override` flags. The broker's output is in $IT_DIR/broker.out.

IT_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IT_ROOT=$(cd "$IT_LIB_DIR/../.." && pwd)
# shellcheck source=../tools/kafka.sh
source "$IT_ROOT/tests/tools/kafka.sh"

IT_TARGET=${BROOK_IT_TARGET:-brook}
BROOKD=${BROOKD:-$IT_ROOT/build/brookd}
IT_PASSED=0
IT_FAILED=0
IT_SKIPPED=0
IT_PID=

it_log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
it_pass() { IT_PASSED=$((IT_PASSED + 1)); echo "  ok   $*"; }
it_fail() { IT_FAILED=$((IT_FAILED + 1)); echo "  FAIL $*"; }
# A check that cannot run here (missing toolchain): said loudly, counted.
it_skip() { IT_SKIPPED=$((IT_SKIPPED + 1)); echo "  SKIPPED $*"; }

# it_check NAME CMD...: runs CMD (bounded by IT_CHECK_TIMEOUT_S, default 300),
# passes when it exits 0; its output is shown on failure.
it_check() {
    local name=$1 out rc
    shift
    out=$(timeout "${IT_CHECK_TIMEOUT_S:-300}" "$@" 2>&1)
    rc=$?
    if [[ $rc -eq 0 ]]; then
        it_pass "$name"
    else
        it_fail "$name (exit $rc)"
        printf '%s\n' "$out" | tail -n 40 | sed 's/^/       /'
    fi
    return $rc
}

_it_wait_ready() {
    local i
    for ((i = 0; i < ${IT_START_TIMEOUT_S:-20} * 10; i++)); do
        if [[ -n $IT_PID ]] && ! kill -0 "$IT_PID" 2>/dev/null; then
            it_log "broker exited during start:"; tail -n 20 "$IT_DIR/broker.out" >&2
            return 1
        fi
        kafka_probe "$IT_PORT" 1 && return 0
        sleep 0.1
    done
    it_log "broker did not answer on $IT_PORT"; tail -n 20 "$IT_DIR/broker.out" >&2
    return 1
}

# it_start_again: starts the broker on the existing IT_DIR / IT_PORT.
it_start_again() {
    if [[ $IT_TARGET == kafka ]]; then
        kafka_start "$IT_DIR/kafka" "$IT_PORT" >/dev/null 2>&1 || return 1
        IT_PID=$(kafka_pid "$IT_DIR/kafka")
        return 0
    fi
    local args=(--override "listeners=PLAINTEXT://127.0.0.1:$IT_PORT"
        --override "log.dirs=$IT_DIR/data" --override "node.id=1")
    # shellcheck disable=SC2206
    args+=(${IT_BROOK_ARGS:-})
    "$BROOKD" "${args[@]}" </dev/null >>"$IT_DIR/broker.out" 2>&1 &
    IT_PID=$!
    _it_wait_ready
}

# it_start [EXTRA_OVERRIDES...]: a fresh broker on a free port, fresh data.
it_start() {
    IT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/brook-it.XXXXXX")
    IT_PORT=$(kafka_free_port)
    BOOTSTRAP=127.0.0.1:$IT_PORT
    export IT_DIR IT_PORT BOOTSTRAP
    if [[ $IT_TARGET != kafka && ! -x $BROOKD ]]; then
        it_log "no broker binary at $BROOKD (run make)"; return 1
    fi
    it_start_again
}

# it_stop: SIGTERM and wait (bounded); returns the broker's exit status.
it_stop() {
    if [[ $IT_TARGET == kafka ]]; then
        kafka_stop "$IT_DIR/kafka" >/dev/null 2>&1; IT_PID=; return 0
    fi
    [[ -n $IT_PID ]] || return 0
    local i rc=0
    kill -TERM "$IT_PID" 2>/dev/null
    for ((i = 0; i < 300; i++)); do
        kill -0 "$IT_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$IT_PID" 2>/dev/null; then
        it_log "broker did not stop within 30 s; SIGKILL"
        kill -KILL "$IT_PID"; rc=1
    fi
    wait "$IT_PID" 2>/dev/null || rc=$?
    IT_PID=
    return $rc
}

it_kill9() {
    if [[ $IT_TARGET == kafka ]]; then
        local pid; pid=$(kafka_pid "$IT_DIR/kafka") && kill -KILL "$pid"
        sleep 1; rm -f "$IT_DIR/kafka/kafka.pid"; IT_PID=; return 0
    fi
    [[ -n $IT_PID ]] || return 0
    kill -KILL "$IT_PID" 2>/dev/null
    wait "$IT_PID" 2>/dev/null
    IT_PID=
}

it_restart() { it_stop && it_start_again; }

# it_finish SUITE: stop, record, clean up (the data dir stays on failure).
it_finish() {
    local suite=$1
    it_stop || it_fail "$suite: broker did not shut down cleanly"
    if [[ $IT_TARGET != kafka && -f $IT_DIR/broker.out ]] &&
        grep -q 'ERROR: AddressSanitizer\|runtime error:' "$IT_DIR/broker.out"; then
        it_fail "$suite: sanitizer report in broker output"
        grep -A 30 'ERROR: AddressSanitizer\|runtime error:' "$IT_DIR/broker.out" | head -60 >&2
    fi
    mkdir -p "$IT_ROOT/build"
    echo "$suite $IT_PASSED $IT_FAILED" >>"$IT_ROOT/build/test-summary.txt"
    echo "$suite: $IT_PASSED passed, $IT_FAILED failed, $IT_SKIPPED skipped"
    if [[ $IT_FAILED -eq 0 ]]; then
        rm -rf "$IT_DIR"
    else
        echo "$suite: broker data and output kept in $IT_DIR"
    fi
    [[ $IT_FAILED -eq 0 ]]
}

trap '[[ -n $IT_PID ]] && kill -KILL "$IT_PID" 2>/dev/null' EXIT
