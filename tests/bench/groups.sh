#!/usr/bin/env bash
# groups.sh - `make bench-groups`: consumer group figures of brookd and
# Apache Kafka 4.0 (single-node KRaft, tests/tools/kafka.sh) side by side,
# driven by franz-go (tests/bench/groups_bench.go):
#
#   rebalance  a group of 20 consumers over a 100-partition topic, stable;
#              one more member joins: time until every partition is owned by
#              exactly one member again and the members' shares are balanced
#              (from the members' assign/revoke callbacks); then it leaves
#              (LeaveGroup): the same. Classic protocol: eager (range) and
#              cooperative-sticky (two rounds) groups, heartbeat interval 1 s
#              (members learn of a rebalance at their next heartbeat, so this
#              bounds both brokers alike; each join and leave comes at a
#              random point of it). KIP-848 (consumer protocol, franz-go's
#              kgo.ServerSideBalancer, the broker's uniform assignor): the
#              broker sets the heartbeat interval; for each interval of
#              BENCH_CONSUMER_HB_MS each broker is restarted with
#              group.consumer.heartbeat.interval.ms (and the minimum) at it,
#              and each time is also taken until ConsumerGroupDescribe
#              confirms it (state Stable, every member at the group epoch
#              with its target assignment). The median and every repetition.
#   commits    synchronous OffsetCommit requests (one partition each,
#              generation -1) for BENCH_SECONDS: one committer, then
#              BENCH_COMMITTERS concurrent ones (each its own connection and
#              group); commits per second and latency p50 / p99.
#
# Both brokers run with group.initial.rebalance.delay.ms=0 (kafka.sh sets it
# for Kafka) and the same group.coordinator.rebalance.protocols,
# group.consumer.assignors and group.consumer.*heartbeat.interval.ms (see
# broker_props). brook answers an offset commit once its record is
# fdatasync'd; Kafka, with its default flush settings, once it is appended
# (written to the page cache).
#
#   tests/bench/groups.sh [BUILD_DIR]       (BUILD_DIR default: build)
#
# Writes the tables to stdout and BUILD_DIR/bench-groups.md. Every step is
# bounded by timeout; a step that fails leaves its reason in its cell. Knobs:
# BENCH_SECONDS (5), BENCH_REPS (5), BENCH_COMMITTERS (8),
# BENCH_CONSUMER_HB_MS ("5000 1000": Kafka's default, then the classic
# groups' interval), BENCH_KEEP=1 keeps the work directory. The whole run
# takes about 7 minutes.
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
read -r -a CHB <<<"${BENCH_CONSUMER_HB_MS:-5000 1000}"
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
median() { tr ',' '\n' <<<"$1" | grep -E '^[0-9.]+$' | sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}'; }
val() { sed -n "s/^$2=//p" "$1" | tail -n 1; }
why() { grep -v '^\s*$' "$1" 2>/dev/null | tail -n 1 | tr '|' '/' | cut -c1-120; }

# broker_props HB: the group settings both brokers get, one per line; HB is
# the KIP-848 heartbeat interval (Kafka's minimum is 5000 by default).
broker_props() {
    local hb=$1 min=5000
    ((hb < min)) && min=$hb
    printf '%s\n' group.coordinator.rebalance.protocols=classic,consumer \
        group.consumer.assignors=uniform,range \
        "group.consumer.heartbeat.interval.ms=$hb" \
        "group.consumer.min.heartbeat.interval.ms=$min"
}

# run_consumer NAME BOOTSTRAP HB: the KIP-848 group on a broker whose
# group.consumer.heartbeat.interval.ms is HB.
run_consumer() {
    local name=$1 bs=$2 hb=$3 f k
    f=$WORK/$name-rebalance-consumer-$hb.out
    log "$name: KIP-848 group of $MEMBERS over $PARTS partitions, heartbeat $hb ms, $REPS joins and leaves"
    if timeout $((120 + REPS * (6 * hb / 1000 + 10))) "$DRIVER" rebalance "$bs" consumer \
        "$MEMBERS" "$PARTS" "$REPS" "$hb" >"$f" 2>"$f.err"; then
        R[$name initial consumer$hb]="$(val "$f" initial_ms) / $(val "$f" initial_confirm_ms)"
        for k in join leave; do
            R[$name $k consumer$hb]="$(median "$(val "$f" ${k}_ms)") ($(val "$f" ${k}_ms))"
            R[$name ${k}c consumer$hb]="$(median "$(val "$f" ${k}_confirm_ms)") ($(val "$f" ${k}_confirm_ms))"
        done
        R[$name moved consumer$hb]="$(median "$(val "$f" join_moved)") / $(median "$(val "$f" leave_moved)")"
        [[ -s $f.err ]] && log "$name: $(why "$f.err")"
    else
        R[$name initial consumer$hb]="failed: $(why "$f.err")"
    fi
}

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
            R[$name moved $bal]="$(median "$(val "$f" join_moved)") / $(median "$(val "$f" leave_moved)")"
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

# One broker start per KIP-848 heartbeat interval; the classic loads and the
# commits run on the first.
first=1
for hb in "${CHB[@]}"; do
    # ------------------------------------------------------------ brookd
    port=$(kafka_free_port)
    d=$WORK/brook-$hb
    mkdir -p "$d"
    ovr=()
    while read -r p; do ovr+=(--override "$p"); done < <(broker_props "$hb")
    "$BROOKD" --override "listeners=PLAINTEXT://127.0.0.1:$port" --override "log.dirs=$d/data" \
        --override node.id=1 --override group.initial.rebalance.delay.ms=0 "${ovr[@]}" \
        </dev/null >"$d/brookd.log" 2>&1 &
    BROOK_PID=$!
    for ((i = 0; i < 100; i++)); do kafka_probe "$port" 1 && break; sleep 0.1; done
    if kafka_probe "$port" 1; then
        ((first)) && run_loads brook "127.0.0.1:$port"
        run_consumer brook "127.0.0.1:$port" "$hb"
    else
        log "brookd did not start: $(why "$d/brookd.log")"
    fi
    kill -TERM "$BROOK_PID" 2>/dev/null; timeout 15 tail --pid="$BROOK_PID" -f /dev/null; BROOK_PID=
    if grep -E ' (ERROR|FATAL|WARN) ' "$d/brookd.log" >"$d/brookd.problems" 2>/dev/null; then
        log "brookd logged $(wc -l <"$d/brookd.problems") warning/error line(s), the first: $(head -n 1 "$d/brookd.problems" | cut -c1-160)"
    fi

    # ------------------------------------------------------------ Kafka
    port=$(kafka_free_port)
    KAFKA_DIR=$WORK/kafka-$hb
    log "starting Kafka $KAFKA_VERSION (group.consumer.heartbeat.interval.ms=$hb)"
    if KAFKA_EXTRA_PROPS=$(broker_props "$hb") KAFKA_LOG_LEVEL=WARN \
        kafka_start "$KAFKA_DIR" "$port" >"$WORK/kafka-start-$hb.log" 2>&1; then
        ((first)) && run_loads kafka "127.0.0.1:$port"
        run_consumer kafka "127.0.0.1:$port" "$hb"
    else
        log "Kafka did not start: $(why "$WORK/kafka-start-$hb.log")"
    fi
    kafka_stop "$KAFKA_DIR" >/dev/null 2>&1; KAFKA_DIR=
    first=0
done

# ---------------------------------------------------------------- report
cell() { echo "${R[$1]:-n/a}"; }
{
    echo "# Consumer group benchmark (classic and KIP-848 protocols)"
    echo
    echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, brookd ($(git rev-parse --short HEAD 2>/dev/null)) and Apache Kafka $KAFKA_VERSION, loopback; franz-go $(cd "$CLIENTS_GO_DIR" && env "${CLIENTS_GO_ENV[@]}" go list -m -f '{{.Version}}' github.com/twmb/franz-go 2>/dev/null) members and committers."
    echo
    echo "## Rebalance: $MEMBERS members over $PARTS partitions, one more joins, then leaves"
    echo
    echo "Milliseconds until every partition is owned by exactly one member again, shares balanced; median (each of $REPS runs). Heartbeat interval ${HB_MS} ms: the members already in the group learn of a rebalance at their next heartbeat, and each join or leave comes at a random point of that interval, so on either broker the times are mostly that wait plus the JoinGroup/SyncGroup rounds (cooperative-sticky: two rounds when partitions move). \"initial\" is the first $MEMBERS members started at once on a new group (on each broker's first group it includes creating __consumer_offsets). \"partitions moved\": how many partitions have another owner after the rebalance than before it (median)."
    echo
    echo "| group | broker | initial $MEMBERS join | +1 member joins | it leaves | partitions moved, join / leave |"
    echo "| --- | --- | ---: | ---: | ---: | ---: |"
    for bal in range cooperative; do
        for b in brook kafka; do
            echo "| $bal | $b | $(cell "$b initial $bal") | $(cell "$b join $bal") | $(cell "$b leave $bal") | $(cell "$b moved $bal") |"
        done
    done
    echo
    echo "## Rebalance, KIP-848 (consumer protocol): $MEMBERS members over $PARTS partitions, one more joins, then leaves"
    echo
    echo "franz-go members with kgo.ServerSideBalancer (ConsumerGroupHeartbeat), the broker's uniform assignor; both brokers with group.consumer.heartbeat.interval.ms as below (and group.consumer.min.heartbeat.interval.ms at most that), group.consumer.assignors=uniform,range. Milliseconds until the members' callbacks own every partition exactly once with balanced shares (floor or ceil of $PARTS/members each), then / until ConsumerGroupDescribe confirms it (state Stable, every member at the group epoch, assignment = target = what its callbacks own); median (each of $REPS runs). Members learn of a new target assignment at their next heartbeat; a joining member gets a partition only after its previous owner revoked it and said so, so a join takes about one heartbeat interval (the new member's second heartbeat) on either broker, and a leave the wait until the members that inherit a partition heartbeat next. Every interval after the first starts both brokers afresh, so its \"initial\" includes creating __consumer_offsets."
    echo
    echo "| heartbeat | broker | initial $MEMBERS: stable / confirmed | +1 member joins: stable | confirmed | it leaves: stable | confirmed | partitions moved, join / leave |"
    echo "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    for hb in "${CHB[@]}"; do
        for b in brook kafka; do
            echo "| $hb ms | $b | $(cell "$b initial consumer$hb") | $(cell "$b join consumer$hb") | $(cell "$b joinc consumer$hb") | $(cell "$b leave consumer$hb") | $(cell "$b leavec consumer$hb") | $(cell "$b moved consumer$hb") |"
        done
    done
    echo
    echo "## Offset commits (synchronous OffsetCommit, one partition each), ${SECS} s"
    echo
    echo "Kafka 4.0's group coordinator holds appends to __consumer_offsets for group.coordinator.append.linger.ms (default 5 ms) to batch them; brook appends each commit at once and answers once it is fdatasync'd (commits arriving meanwhile share the flush); Kafka answers without fsync."
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
