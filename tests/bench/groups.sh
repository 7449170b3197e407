#!/usr/bin/env bash
# groups.sh - `make bench-groups`: consumer group figures of brookd and
# Apache Kafka 4.0 (single-node KRaft, tests/tools/kafka.sh) side by side,
# driven by franz-go (tests/bench/groups_bench.go, classic protocol):
#
#   rebalance  a group of 20 consumers over a 100-partition topic, stable;
#              one more member joins: time until every partition is owned by
#              exactly one member again (from the members' assign/revoke
#              callbacks); then it leaves (LeaveGroup): the same. Eager
#              (range) and cooperative-sticky (two rounds) groups; heartbeat
#              interval 1 s (members learn of a rebalance at their next
#              heartbeat, so this bounds both brokers alike; each join and
#              leave comes at a random point of it); the median and every
#              repetition.
#   commits    synchronous OffsetCommit requests (one partition each,
#              generation -1) for BENCH_SECONDS: one committer, then
#              BENCH_COMMITTERS concurrent ones (each its own connection and
#              group); commits per second and latency p50 / p99.
#
# Both brokers run with group.initial.rebalance.delay.ms=0 (kafka.sh sets it
# for Kafka). Neither fsyncs an offset commit: brook appends to
# __consumer_offsets as Kafka does with its default flush settings.
#
#   tests/bench/groups.sh [BUILD_DIR]       (BUILD_DIR default: build)
#
# Writes the tables to stdout and BUILD_DIR/bench-groups.md. Every step is
# bounded by timeout; a step that fails leaves its reason in its cell. Knobs:
# BENCH_SECONDS (5), BENCH_REPS (5), BENCH_COMMITTERS (8), BENCH_KEEP=1
# keeps the work directory. The whole run takes about 3 minutes.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
BUILD=${1:-build}
SECS=${BENCH_SECONDS:-5}
REPS=${BENCH_REPS:-5}
NCOMMIT=${BENCH_COMMITTERS:-8}
MEMBERS=20
PARTS=100
HB_MS=1000
BROOKD=$BUILD/brookd
DRIVER=$BUILD/bench/groups_bench
OUT=$BUILD/bench-groups.md
# shellcheck source=../tools/kafka.sh
source tests/tools/kafka.sh
# shellcheck source=../tools/clients.sh
source tests/tools/clients.sh

log() { echo "bench-groups: $*" >&2; }

[[ -x $BROOKD ]] || { log "$BROOKD missing (make bench-groups builds it)"; exit 1; }
clients_install_go >/dev/null || true
[[ ${CLIENTS_STATUS[go]:-} == ok ]] || { log "franz-go: ${CLIENTS_REASON[go]:-unavailable}"; exit 1; }
mkdir -p "$BUILD/bench"
if ! (cd "$CLIENTS_GO_DIR" && env "${CLIENTS_GO_ENV[@]}" timeout 300 \
        go build -o "$ROOT/$DRIVER" ../../bench/groups_bench.go) >&2; then
    log "go build groups_bench.go failed"; exit 1
fi
kafka_install >/dev/null || { log "kafka.sh install failed"; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/brook-bench-groups.XXXXXX")
BROOK_PID=
KAFKA_DIR=
cleanup() {
    if [[ -n $BROOK_PID ]]; then
        kill -TERM "$BROOK_PID" 2>/dev/null &&
            { timeout 10 tail --pid="$BROOK_PID" -f /dev/null || kill -KILL "$BROOK_PID" 2>/dev/null; }
    fi
    [[ -n $KAFKA_DIR ]] && kafka_stop "$KAFKA_DIR" >/dev/null 2>&1
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then log "work directory kept: $WORK"
    else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

declare -A R=() # "broker key" -> cell text

# median of comma-separated numbers
median() { tr ',' '\n' <<<"$1" | sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}'; }
val() { sed -n "s/^$2=//p" "$1" | tail -n 1; }
why() { grep -v '^\s*$' "$1" 2>/dev/null | tail -n 1 | tr '|' '/' | cut -c1-120; }

# run_loads NAME BOOTSTRAP
run_loads() {
    local name=$1 bs=$2 bal f
    for bal in range cooperative; do
        f=$WORK/$name-rebalance-$bal.out
        log "$name: $bal group of $MEMBERS over $PARTS partitions, $REPS joins and leaves"
        if timeout 150 "$DRIVER" rebalance "$bs" "$bal" "$MEMBERS" "$PARTS" "$REPS" "$HB_MS" >"$f" 2>"$f.err"; then
            R[$name initial $bal]="$(val "$f" initial_ms)"
            R[$name join $bal]="$(median "$(val "$f" join_ms)") ($(val "$f" join_ms))"
            R[$name leave $bal]="$(median "$(val "$f" leave_ms)") ($(val "$f" leave_ms))"
        else
            R[$name initial $bal]="failed: $(why "$f.err")"
        fi
    done
    local n
    for n in 1 "$NCOMMIT"; do
        f=$WORK/$name-commits-$n.out
        log "$name: $n committer(s), ${SECS} s"
        if timeout $((SECS + 60)) "$DRIVER" commits "$bs" "$n" "$SECS" >"$f" 2>"$f.err"; then
            R[$name commits $n]="$(val "$f" commits_per_s)"
            R[$name lat $n]="$(val "$f" p50_us) / $(val "$f" p99_us)"
        else
            R[$name commits $n]="failed: $(why "$f.err")"
        fi
    done
}

# ---------------------------------------------------------------- brookd
port=$(kafka_free_port)
mkdir -p "$WORK/brook"
"$BROOKD" --override "listeners=PLAINTEXT://127.0.0.1:$port" --override "log.dirs=$WORK/brook/data" \
    --override node.id=1 --override group.initial.rebalance.delay.ms=0 \
    </dev/null >"$WORK/brook/brookd.log" 2>&1 &
BROOK_PID=$!
for ((i = 0; i < 100; i++)); do kafka_probe "$port" 1 && break; sleep 0.1; done
if kafka_probe "$port" 1; then
    run_loads brook "127.0.0.1:$port"
else
    log "brookd did not start: $(why "$WORK/brook/brookd.log")"
fi
kill -TERM "$BROOK_PID" 2>/dev/null; timeout 15 tail --pid="$BROOK_PID" -f /dev/null; BROOK_PID=

# ---------------------------------------------------------------- Kafka
port=$(kafka_free_port)
KAFKA_DIR=$WORK/kafka
log "starting Kafka $KAFKA_VERSION"
if KAFKA_LOG_LEVEL=WARN kafka_start "$KAFKA_DIR" "$port" >"$WORK/kafka-start.log" 2>&1; then
    run_loads kafka "127.0.0.1:$port"
else
    log "Kafka did not start: $(why "$WORK/kafka-start.log")"
fi
kafka_stop "$KAFKA_DIR" >/dev/null 2>&1; KAFKA_DIR=

# ---------------------------------------------------------------- report
cell() { echo "${R[$1]:-n/a}"; }
{
    echo "# Consumer group benchmark (classic protocol)"
    echo
    echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, brookd ($(git rev-parse --short HEAD 2>/dev/null)) and Apache Kafka $KAFKA_VERSION, loopback; franz-go $(cd "$CLIENTS_GO_DIR" && env "${CLIENTS_GO_ENV[@]}" go list -m -f '{{.Version}}' github.com/twmb/franz-go 2>/dev/null) members and committers."
    echo
    echo "## Rebalance: $MEMBERS members over $PARTS partitions, one more joins, then leaves"
    echo
    echo "Milliseconds until every partition is owned by exactly one member again; median (each of $REPS runs). Heartbeat interval ${HB_MS} ms: the members already in the group learn of a rebalance at their next heartbeat, and each join or leave comes at a random point of that interval, so on either broker the times are mostly that wait plus the JoinGroup/SyncGroup rounds (cooperative-sticky: two rounds when partitions move). \"initial\" is the first $MEMBERS members started at once on a new group (on each broker's first group it includes creating __consumer_offsets)."
    echo
    echo "| group | broker | initial $MEMBERS join | +1 member joins | it leaves |"
    echo "| --- | --- | ---: | ---: | ---: |"
    for bal in range cooperative; do
        for b in brook kafka; do
            echo "| $bal | $b | $(cell "$b initial $bal") | $(cell "$b join $bal") | $(cell "$b leave $bal") |"
        done
    done
    echo
    echo "## Offset commits (synchronous OffsetCommit, one partition each), ${SECS} s"
    echo
    echo "Kafka 4.0's group coordinator holds appends to __consumer_offsets for group.coordinator.append.linger.ms (default 5 ms) to batch them; brook appends each commit at once. Neither fsyncs a commit."
    echo
    echo "| committers | broker | commits/s | latency p50 / p99 (µs) |"
    echo "| ---: | --- | ---: | ---: |"
    for n in 1 "$NCOMMIT"; do
        for b in brook kafka; do
            echo "| $n | $b | $(cell "$b commits $n") | $(cell "$b lat $n") |"
        done
    done
} | tee "$OUT"
log "written to $OUT"
