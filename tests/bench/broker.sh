#!/usr/bin/env bash
# broker.sh - `make bench-broker`: brookd and Apache Kafka 4.0 (single-node
# KRaft, tests/tools/kafka.sh) under the same loads on loopback, each figure
# beside the machine's own limits measured in the same run:
#
#   limits   loopback TCP between two processes (tcp_baseline, at the start
#            and at the end; the higher is the limit) and the disk under the
#            data directories (disk_baseline).
#   brookd   idle RSS (empty, then with one topic) and exec-to-ready time
#            (median of 5 starts on empty data dirs).
#   loads    on brookd, Kafka with its default flushing, and Kafka with
#            log.flush.interval.messages=1 (fsync before acking, like brook
#            at acks=-1); all three run side by side, idle but for the one
#            measured:
#            Each broker first gets an unreported warm-up (3 s of produce
#            and a fetch of it), so that the JVM has compiled its hot paths.
#            loadgen (brook's protocol layer): produce 64 x 1 KiB record
#              batches, 8 requests in flight, acks=1 and -1, 1 and 16
#              partitions; consume from offset 0 to the end of topics
#              filled with the same 256 MiB on every broker; produce latency
#              (from the intended send time, for 2 x BENCH_SECONDS) at a
#              fixed rate, the same for every broker: 20% of the slowest
#              1-partition maximum among the like-for-like brokers (brookd
#              and default Kafka for acks=1, all three for acks=-1).
#            librdkafka (rdk_perf): produce and consume, default batching.
#            Kafka's ProducerPerformance / ConsumerPerformance (Java client
#              4.0, enable.idempotence=false, as every load here; the
#              idempotence mode below compares on and off).
#            RSS (VmRSS, VmHWM) of each broker after its loads.
#
#   tests/bench/broker.sh [BUILD_DIR]       (BUILD_DIR default: build)
#   tests/bench/broker.sh BUILD_DIR idempotence   (`make bench-idempotence`)
#
# The idempotence mode measures only produce throughput with idempotence on
# against off, on each broker alone (brookd, then Kafka with its default
# flushing, for context), after the same machine limits: BENCH_REPS (5)
# repetitions, each running every load once off and once on, the order
# alternating between repetitions (off-on, on-off, ...) so that drift of the
# machine falls on both alike; each pair gives a ratio on / off, reported as
# the median and the range over the repetitions, beside the median MB/s and
# the broker's CPU time (utime + stime) per GB. Loads: loadgen (--idempotent
# 0/1: the same requests, with a producer id, epoch and sequences, 8 in
# flight either way) acks=1 and -1, 1 and 16 partitions; librdkafka
# (rdk_perf, enable.idempotence=false/true, acks=all, which idempotence
# requires; librdkafka then also keeps at most 5 requests in flight, so a
# third run each repetition has idempotence off with
# max.in.flight.requests.per.connection=5, the cap alone) 1 and 16
# partitions. Every load runs for BENCH_SECONDS (4 here); both brokers
# get log.segment.bytes=64 MiB and log.retention.bytes=256 MiB per
# partition, so the repetitions do not fill the disk. BENCH_IDEM_LOADS
# (p1a1 p16a1 p1aall p16aall rdk1 rdk16: loadgen acks=1 / -1 over 1 / 16
# partitions, librdkafka over 1 / 16) and BENCH_IDEM_BROKERS (brook kafka)
# choose a subset. Writes BUILD_DIR/bench-idempotence.md; about 15 minutes.
#
# Writes the tables to stdout and BUILD_DIR/bench-broker.md. Every step is
# bounded (loadgen and rdk_perf by their own clocks, everything by timeout);
# a step that fails leaves its reason in its cell. Knobs: BENCH_SECONDS (5,
# per load), BENCH_MAX_MIB (1024, per produce load), BENCH_JAVA_RECORDS
# (100000), BENCH_KEEP=1 keeps the work directory.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
BUILD=${1:-build}
MODE=${2:-all}
[[ $MODE == all || $MODE == idempotence ]] || { echo "broker.sh: unknown mode $MODE" >&2; exit 2; }
SECS=${BENCH_SECONDS:-5}
[[ $MODE == idempotence ]] && SECS=${BENCH_SECONDS:-4}
REPS=${BENCH_REPS:-5}
MAXMIB=${BENCH_MAX_MIB:-1024}
JREC=${BENCH_JAVA_RECORDS:-100000}
LOADGEN=$BUILD/bench/loadgen
RDK=$BUILD/bench/rdk_perf
BROOKD=$BUILD/brookd
OUT=$BUILD/bench-broker.md
[[ $MODE == idempotence ]] && OUT=$BUILD/bench-idempotence.md
# shellcheck source=../tools/kafka.sh
source tests/tools/kafka.sh

for f in "$LOADGEN" "$RDK" "$BROOKD" "$BUILD/bench/tcp_baseline" "$BUILD/bench/disk_baseline"; do
    [[ -x $f ]] || { echo "broker.sh: $f missing (make bench-broker builds it)" >&2; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/brook-bench.XXXXXX")
RES=$WORK/results.env
: >"$RES"
BROOK_PIDS=()
KAFKA_DIRS=()
cleanup() {
    local p d
    for p in "${BROOK_PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null && { timeout 10 tail --pid="$p" -f /dev/null || kill -KILL "$p" 2>/dev/null; }
    done
    for d in "${KAFKA_DIRS[@]}"; do
        kafka_stop "$d" 2>/dev/null
    done
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then echo "broker.sh: work directory kept: $WORK" >&2
    else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "bench-broker: $*" >&2; }
put() { printf '%s=%s\n' "$1" "$2" >>"$RES"; }
# val FILE KEY: the value of KEY= in a key=value output file
val() { sed -n "s/^$2=//p" "$1" 2>/dev/null | tail -n 1; }
# why FILE: a one-line reason from a failed step's stderr
why() { grep -v '^\s*$' "$1" 2>/dev/null | tail -n 1 | tr '|' '/' | cut -c1-160; }
rss() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null; }
settle() { timeout 60 sync; sleep 0.5; } # dirty pages of one load do not slow the next
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null; } # utime + stime
declare -A PORT PID

# lg NAME BROKER ARGS...: one loadgen step; its key=value output is kept as
# NAME for the report, its failure reason as NAME.err.
lg() {
    local name=$1 b=$2
    shift 2
    local out=$WORK/$b.$name.out
    if ! timeout 120 "$LOADGEN" --broker "127.0.0.1:${PORT[$b]}" "$@" >"$out" 2>"$out.err" ||
        [[ $(val "$out" errors) != "" && $(val "$out" errors) != 0 ]]; then
        put "$b.$name.err" "$(why "$out.err") $(val "$out" first_error | sed 's/^./first error code &/')"
    fi
    while IFS='=' read -r k v; do put "$b.$name.$k" "$v"; done <"$out"
}


# ------------------------------------------------------------------ limits
log "machine limits: loopback TCP and disk"
put load_start "$(cut -d' ' -f1-3 /proc/loadavg)"
"$BUILD/bench/tcp_baseline" 3 >"$WORK/tcp1.out" 2>&1
put tcp_start "$(val "$WORK/tcp1.out" tcp_mbps)"
timeout 60 "$BUILD/bench/disk_baseline" "$WORK" 3 >"$WORK/disk.out" 2>&1
put disk_seq "$(val "$WORK/disk.out" disk_seq_mbps)"
put disk_sync64k "$(val "$WORK/disk.out" disk_sync64k_mbps)"

# ---------------------------------------------------------- brookd alone
start_brook() { # start_brook NAME PORT [PROP=VALUE...] -> sets BROOK_PID; waits for ApiVersions
    local name=$1 port=$2 i p ovr=()
    shift 2
    for p in "$@"; do ovr+=(--override "$p"); done
    mkdir -p "$WORK/$name/data"
    "$BROOKD" --override "listeners=PLAINTEXT://127.0.0.1:$port" \
        --override "log.dirs=$WORK/$name/data" --override num.partitions=16 "${ovr[@]}" \
        </dev/null 2>"$WORK/$name/brookd.log" &
    BROOK_PID=$!
    BROOK_PIDS+=("$BROOK_PID")
    for ((i = 0; i < 100; i++)); do
        kafka_probe "$port" 1 && return 0
        kill -0 "$BROOK_PID" 2>/dev/null || break
        sleep 0.1
    done
    log "brookd did not start: $(why "$WORK/$name/brookd.log")"
    return 1
}
stop_pid() {
    kill -TERM "$1" 2>/dev/null || return 0
    timeout 10 tail --pid="$1" -f /dev/null || kill -KILL "$1" 2>/dev/null
}

# ------------------------------------------------------- idempotence mode
IDEM_PROPS=(log.segment.bytes=67108864 log.retention.bytes=268435456
    log.retention.check.interval.ms=5000)
IDEM_LOADS=${BENCH_IDEM_LOADS:-p1a1 p16a1 p1aall p16aall rdk1 rdk16}
IDEM_BROKERS=${BENCH_IDEM_BROKERS:-brook kafka}

# idem_loads BROKER: every load off and on, BENCH_REPS times (see the top).
idem_loads() {
    local b=$1 r x order rorder name topic parts acks c0 out t
    for t in i1:1 i16:16 r1:1 r16:16; do
        lg "create.${t%%:*}" "$b" --topic "${t%%:*}" --partitions "${t##*:}" create
    done
    log "$b: warm-up, idempotence off and on"
    lg warm.off "$b" --topic i16 --partitions 16 --seconds 3 --max-mib 512 produce
    lg warm.on "$b" --topic i16 --partitions 16 --seconds 3 --max-mib 512 --idempotent 1 produce
    for ((r = 1; r <= REPS; r++)); do
        order="0 1" rorder="0 1 2"
        ((r % 2 == 0)) && order="1 0" rorder="2 1 0"
        log "$b: repetition $r of $REPS (idempotence $order)"
        for t in p1a1:i1:1:1 p16a1:i16:16:1 p1aall:i1:1:-1 p16aall:i16:16:-1; do
            IFS=: read -r name topic parts acks <<<"$t"
            [[ " $IDEM_LOADS " == *" $name "* ]] || continue
            for x in $order; do
                settle
                c0=$(cpu_ticks "${PID[$b]}")
                lg "idem.$name.$x.$r" "$b" --topic "$topic" --partitions "$parts" --acks "$acks" \
                    --seconds "$SECS" --max-mib "$MAXMIB" --idempotent "$x" produce
                put "$b.idem.$name.$x.$r.cpu" "$(($(cpu_ticks "${PID[$b]}") - c0))"
            done
        done
        # librdkafka: 0 off, 1 on, 2 off with at most 5 requests in flight
        for t in rdk1:r1:1 rdk16:r16:16; do
            IFS=: read -r name topic parts <<<"$t"
            [[ " $IDEM_LOADS " == *" $name "* ]] || continue
            for x in $rorder; do
                settle
                c0=$(cpu_ticks "${PID[$b]}")
                out=$WORK/$b.idem.$name.$x.$r.out
                timeout 90 "$RDK" produce "127.0.0.1:${PORT[$b]}" "$topic" "$parts" all 100000000 \
                    "$SECS" "$((x == 1))" "$((x == 2 ? 5 : 0))" >"$out" 2>"$out.err" ||
                    put "$b.idem.$name.$x.$r.err" "$(why "$out.err") $(val "$out" first_error)"
                put "$b.idem.$name.$x.$r.cpu" "$(($(cpu_ticks "${PID[$b]}") - c0))"
                while IFS='=' read -r k v; do put "$b.idem.$name.$x.$r.$k" "$v"; done <"$out"
            done
        done
    done
}

if [[ $MODE == idempotence ]]; then
    port=$(kafka_free_port)
    if [[ " $IDEM_BROKERS " != *" brook "* ]]; then
        put brook.missing "not run (BENCH_IDEM_BROKERS)"
    elif start_brook brook "$port" "${IDEM_PROPS[@]}"; then
        PORT[brook]=$port; PID[brook]=$BROOK_PID
        idem_loads brook
        stop_pid "$BROOK_PID"
        put brook.problems "$(grep -c -E ' (ERROR|FATAL) ' "$WORK/brook/brookd.log")"
    else
        put brook.missing "brookd did not start: $(why "$WORK/brook/brookd.log")"
    fi
    rm -rf "$WORK/brook/data"
    if [[ " $IDEM_BROKERS " != *" kafka "* ]]; then
        put kafka.missing "not run (BENCH_IDEM_BROKERS)"
    elif kafka_install >"$WORK/kafka-install.out" 2>&1; then
        port=$(kafka_free_port)
        KAFKA_DIRS+=("$WORK/kafka")
        if KAFKA_EXTRA_PROPS=$(printf '%s\n' num.partitions=16 "${IDEM_PROPS[@]}") KAFKA_LOG_LEVEL=WARN \
            kafka_start "$WORK/kafka" "$port" >"$WORK/kafka.start.out" 2>&1; then
            PORT[kafka]=$port; PID[kafka]=$(kafka_pid "$WORK/kafka")
            idem_loads kafka
        else
            put kafka.missing "Kafka did not start: $(why "$WORK/kafka.start.out")"
        fi
        kafka_stop "$WORK/kafka" >/dev/null 2>&1
    else
        put kafka.missing "Kafka 4.0 jars not installed: $(why "$WORK/kafka-install.out")"
    fi
    "$BUILD/bench/tcp_baseline" 3 >"$WORK/tcp2.out" 2>&1
    put tcp_end "$(val "$WORK/tcp2.out" tcp_mbps)"
    put load_end "$(cut -d' ' -f1-3 /proc/loadavg)"
    put date "$(date -u +%Y-%m-%d)"
    put cpu "$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)"
    put ncpu "$(nproc)"
    put secs "$SECS"
    put reps "$REPS"
    put mode idempotence
    put clk_tck "$(getconf CLK_TCK)"
    python3 tests/bench/broker_report.py "$RES" >"$OUT.tmp" && mv "$OUT.tmp" "$OUT" && cat "$OUT"
    exit
fi

log "brookd alone: exec-to-ready x5, idle RSS"
for i in 1 2 3 4 5; do
    port=$(kafka_free_port)
    mkdir -p "$WORK/start$i"
    timeout 20 "$LOADGEN" --broker "127.0.0.1:$port" startup -- "$BROOKD" \
        --override "listeners=PLAINTEXT://127.0.0.1:$port" \
        --override "log.dirs=$WORK/start$i" >"$WORK/start$i.out" 2>&1
    echo "$(val "$WORK/start$i.out" ready_log_ms) $(val "$WORK/start$i.out" ready_api_ms)" >>"$WORK/starts"
done
put ready_log_ms "$(awk '$1 != "" {print $1}' "$WORK/starts" | sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}')"
put ready_api_ms "$(awk '$2 != "" {print $2}' "$WORK/starts" | sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}')"
put ready_runs "$(awk '{printf "%s%s/%s", (NR > 1 ? ", " : ""), $1, $2}' "$WORK/starts")"

port=$(kafka_free_port)
if start_brook idle "$port"; then
    sleep 1
    put idle_rss "$(rss "$BROOK_PID" VmRSS)"
    timeout 30 "$LOADGEN" --broker "127.0.0.1:$port" --topic idle-one --partitions 1 create \
        >"$WORK/idle-create.out" 2>&1
    sleep 0.5
    put idle_rss_topic "$(rss "$BROOK_PID" VmRSS)"
    put idle_topic_parts "$(val "$WORK/idle-create.out" topic_partitions)"
    stop_pid "$BROOK_PID"
fi

# ------------------------------------------------------------ the brokers
BROKERS=()
port=$(kafka_free_port)
if start_brook brook "$port"; then
    BROKERS+=(brook); PORT[brook]=$port; PID[brook]=$BROOK_PID
fi
if kafka_install >"$WORK/kafka-install.out" 2>&1; then
    for k in kafka kafkaflush; do
        port=$(kafka_free_port)
        extra="num.partitions=16"
        [[ $k == kafkaflush ]] && extra+=$'\nlog.flush.interval.messages=1'
        KAFKA_DIRS+=("$WORK/$k")
        if KAFKA_EXTRA_PROPS=$extra KAFKA_LOG_LEVEL=WARN kafka_start "$WORK/$k" "$port" \
            >"$WORK/$k.start.out" 2>&1; then
            BROKERS+=("$k"); PORT[$k]=$port; PID[$k]=$(kafka_pid "$WORK/$k")
        else
            put "$k.missing" "Kafka did not start: $(why "$WORK/$k.start.out")"
        fi
    done
else
    put kafka.missing "Kafka 4.0 jars not installed: $(why "$WORK/kafka-install.out")"
    put kafkaflush.missing "Kafka 4.0 jars not installed"
fi
log "brokers up: ${BROKERS[*]}"

for b in "${BROKERS[@]}"; do
    log "$b: warm-up"
    lg warm.create "$b" --topic warm --partitions 16 create
    lg warm.produce "$b" --topic warm --partitions 16 --seconds 3 --max-mib 512 produce
    lg warm.consume "$b" --topic warm --partitions 16 --seconds 10 consume
    log "$b: loadgen produce and consume"
    for t in p1a1:1 p16a1:16 p1aall:1 p16aall:16 c1:1 c16:16 lat1:1 latall:1 rdk1:16 rdkall:16 java1:16 javaall:16; do
        lg "create.${t%%:*}" "$b" --topic "${t%%:*}" --partitions "${t##*:}" create
    done
    for r in p1a1:1:1 p16a1:16:1 p1aall:1:-1 p16aall:16:-1; do
        IFS=: read -r topic parts acks <<<"$r"
        settle
        lg "$topic" "$b" --topic "$topic" --partitions "$parts" --acks "$acks" \
            --seconds "$SECS" --max-mib "$MAXMIB" produce
    done
    for t in c1:1 c16:16; do
        lg "fill.${t%%:*}" "$b" --topic "${t%%:*}" --partitions "${t##*:}" --seconds 40 \
            --max-mib 256 produce
    done
    settle
    lg cons1 "$b" --topic c1 --partitions 1 --seconds 30 consume
    lg cons16 "$b" --topic c16 --partitions 16 --seconds 30 consume
done

# The latency rate: 20% of the slowest like-for-like 1-partition maximum.
rate_for() {
    local topic=$1 b m min=""
    shift
    for b in "$@"; do
        m=$(sed -n "s/^$b\.$topic\.mbps=//p" "$RES")
        [[ -n $m ]] || continue
        if [[ -z $min ]] || awk -v a="$m" -v b="$min" 'BEGIN {exit !(a < b)}'; then min=$m; fi
    done
    [[ -n $min ]] && awk -v m="$min" 'BEGIN {printf "%.1f", m * 0.2}'
}
RATE1=$(rate_for p1a1 brook kafka)
RATEALL=$(rate_for p1aall brook kafka kafkaflush)
put rate1 "$RATE1"
put rateall "$RATEALL"

JAVA=(java -Xmx1g -cp "$KAFKA_LIBS/*")
for b in "${BROKERS[@]}"; do
    log "$b: latency at fixed rates, librdkafka, Kafka's perf tools"
    settle
    [[ -n $RATE1 ]] && lg lat1 "$b" --topic lat1 --partitions 1 --acks 1 \
        --seconds "$((2 * SECS))" --rate "$RATE1" --inflight 64 latency
    settle
    [[ -n $RATEALL ]] && lg latall "$b" --topic latall --partitions 1 --acks -1 \
        --seconds "$((2 * SECS))" --rate "$RATEALL" --inflight 64 latency

    for a in 1:rdk1 all:rdkall; do
        settle
        out=$WORK/$b.${a#*:}.out
        timeout 90 "$RDK" produce "127.0.0.1:${PORT[$b]}" "${a#*:}" 16 "${a%%:*}" "$JREC" 60 \
            >"$out" 2>"$out.err" || put "$b.${a#*:}.err" "$(why "$out.err") $(val "$out" first_error)"
        while IFS='=' read -r k v; do put "$b.${a#*:}.$k" "$v"; done <"$out"
    done
    out=$WORK/$b.rdkcons.out
    timeout 90 "$RDK" consume "127.0.0.1:${PORT[$b]}" rdk1 16 60 >"$out" 2>"$out.err" ||
        put "$b.rdkcons.err" "$(why "$out.err")"
    while IFS='=' read -r k v; do put "$b.rdkcons.$k" "$v"; done <"$out"

    if [[ -d $KAFKA_LIBS ]]; then
        for a in 1:java1 all:javaall; do
            settle
            out=$WORK/$b.${a#*:}.out
            # the summary line: "N records sent, R records/sec (M MB/sec), A ms avg latency,
            # X ms max latency, P50 ms 50th, P95 ms 95th, P99 ms 99th, P999 ms 99.9th."
            timeout 120 "${JAVA[@]}" org.apache.kafka.tools.ProducerPerformance \
                --topic "${a#*:}" --num-records "$JREC" --record-size 1024 --throughput -1 \
                --producer-props "bootstrap.servers=127.0.0.1:${PORT[$b]}" "acks=${a%%:*}" \
                enable.idempotence=false >"$out" 2>"$out.err"
            line=$(grep 'records sent' "$out" | tail -n 1)
            if [[ -n $line ]] && [[ $(sed -E 's/^([0-9]+) records sent.*/\1/' <<<"$line") == "$JREC" ]]; then
                put "$b.${a#*:}.mbps" "$(sed -E 's/.* records sent, ([0-9.]+) records\/sec.*/\1/' <<<"$line" |
                    awk '{printf "%.1f", $1 * 1024 / 1e6}')"
                put "$b.${a#*:}.p99" "$(sed -E 's/.*, ([0-9.]+) ms 99th.*/\1/' <<<"$line")"
            else
                put "$b.${a#*:}.err" "$( (grep -h -E 'Exception|ERROR|error' "$out.err" "$out" || why "$out.err") | head -n 1 | tr '|' '/' | cut -c1-160)"
            fi
        done
        out=$WORK/$b.javacons.out
        timeout 60 "${JAVA[@]}" org.apache.kafka.tools.ConsumerPerformance \
            --bootstrap-server "127.0.0.1:${PORT[$b]}" --topic java1 --messages "$JREC" \
            --timeout 15000 >"$out" 2>"$out.err"
        rc=$?
        # header, then "start, end, MB, MB.sec, nMsg, nMsg.sec, rebalance.time.ms,
        # fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec": the fetch rate leaves
        # the group join out
        line=$(grep -E '^[0-9]{4}-' "$out" | tail -n 1)
        msgs=$(awk -F', *' '{print $5}' <<<"$line")
        if [[ -n $line && $msgs == "$JREC" ]]; then
            put "$b.javacons.mbps" "$(awk -F', *' '{printf "%.1f", $10 * 1024 / 1e6}' <<<"$line")"
        else
            put "$b.javacons.err" "exit $rc, $msgs records: $( (grep -h -E 'Exception|ERROR|WARN' "$out.err" "$out" || why "$out.err") | head -n 1 | tr '|' '/' | cut -c1-140)"
        fi
    fi
    put "$b.rss" "$(rss "${PID[$b]}" VmRSS)"
    put "$b.hwm" "$(rss "${PID[$b]}" VmHWM)"
done

"$BUILD/bench/tcp_baseline" 3 >"$WORK/tcp2.out" 2>&1
put tcp_end "$(val "$WORK/tcp2.out" tcp_mbps)"
put load_end "$(cut -d' ' -f1-3 /proc/loadavg)"
put date "$(date -u +%Y-%m-%d)"
put cpu "$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)"
put ncpu "$(nproc)"
put secs "$SECS"
put jrec "$JREC"

python3 tests/bench/broker_report.py "$RES" >"$OUT.tmp" && mv "$OUT.tmp" "$OUT" && cat "$OUT"
