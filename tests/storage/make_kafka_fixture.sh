#!/usr/bin/env bash
# make_kafka_fixture.sh: write the reference partition of
# tests/storage/fixtures/kafka-4.0/ with a real Apache Kafka 4.0 broker
# (tests/tools/kafka.sh) and confluent-kafka from .venv (tests/tools/clients.sh).
#
#   tests/storage/make_kafka_fixture.sh [--out DIR] [--work DIR] [--keep]
#
#   --out DIR   where to write (default tests/storage/fixtures/kafka-4.0):
#               DIR/<topic>-0/    every file of the partition directory
#               DIR/logdir-files/ the log-dir level files (checkpoints,
#                                 clean-shutdown marker, meta.properties)
#               DIR/batches.tsv   one row per batch, from Kafka's own
#                                 DumpLogSegments (tests/tools/kafka_dump.sh table)
#               DIR/sizes.txt     size in bytes of every copied file
#               Those three entries are replaced; nothing else in DIR is touched.
#   --work DIR  broker work dir (default: a new temporary dir)
#   --keep      keep the work dir (default: removed at the end)
#
# What it does, in order:
#   1. start a single-node KRaft broker on a free 127.0.0.1 port;
#   2. create topic FIXTURE_TOPIC (1 partition) with segment.bytes=8192,
#      index.interval.bytes=512, retention.ms=-1 (the record timestamps are
#      fixed dates in the past, so time retention must be off);
#   3. phase 1: plain batches (keys, null keys, null values, headers) with no
#      compression, gzip, snappy, lz4 and zstd; idempotent batches; a
#      transaction of two batches that commits and one that aborts;
#   4. stop the broker cleanly (SIGTERM; Kafka trims the active segment's
#      index files and writes the clean-shutdown marker), start it again on
#      the same data (the partition gets a new leader epoch), phase 2: more
#      batches (none, zstd) and another aborted transaction;
#   5. stop the broker cleanly and copy the files.
# Record timestamps are explicit (2025-01-01T00:00:00Z + 10 ms per record),
# so everything but producer ids, control-batch timestamps (broker clock), the
# topic id and the CRCs that cover them comes out the same on every run.
#
# Environment (optional): FIXTURE_TOPIC (default storage-fixture),
# FIXTURE_PORT (default: a free port), FIXTURE_MAX_S (watchdog for the whole
# run, default 900), FIXTURE_SEGMENT_BYTES (8192), FIXTURE_INDEX_INTERVAL
# (512), FIXTURE_SCALE (multiplies the number of batches of phase 1, default 1).
# Exit: 0 done, 1 failed, 77 skipped (no java, Maven, python venv or network).

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=../tools/kafka.sh
source "$REPO/tests/tools/kafka.sh"
# shellcheck source=../tools/clients.sh
source "$REPO/tests/tools/clients.sh"

TOPIC=${FIXTURE_TOPIC:-storage-fixture}
OUT="$HERE/fixtures/kafka-4.0"
WORK=""
KEEP=0
MAX_S=${FIXTURE_MAX_S:-900}
SEGMENT_BYTES=${FIXTURE_SEGMENT_BYTES:-8192}
INDEX_INTERVAL=${FIXTURE_INDEX_INTERVAL:-512}
SCALE=${FIXTURE_SCALE:-1}

log() { echo "make_kafka_fixture.sh: $*" >&2; }
skip() { echo "SKIPPED: $*"; exit 77; }

while (($#)); do
    case $1 in
        --out) OUT=$2; shift 2 ;;
        --work) WORK=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h | --help) sed -n '2,40p' "$0"; exit 0 ;;
        *) log "unknown argument '$1'"; exit 2 ;;
    esac
done

command -v java >/dev/null || skip "java not found (apt-get install -y openjdk-17-jdk-headless)"
command -v python3 >/dev/null || skip "python3 not found"
if [[ ! -f $KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar ]]; then
    command -v mvn >/dev/null || skip "mvn not found and Kafka jars not installed (apt-get install -y maven)"
fi
kafka_install >&2 || skip "could not install the Kafka $KAFKA_VERSION jars with Maven (no access to Maven Central?)"
clients_install_python >/dev/null 2>&1 || true
[[ ${CLIENTS_STATUS[python]:-} == ok ]] || skip "python clients: ${CLIENTS_REASON[python]:-not installed}"

if [[ -z $WORK ]]; then
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/brook-kafka-fixture.XXXXXX")
else
    mkdir -p "$WORK"
fi
WORK=$(cd "$WORK" && pwd)
BROKER="$WORK/broker"
PORT=${FIXTURE_PORT:-$(kafka_free_port)}
WATCHDOG=""

cleanup() {
    local rc=$?
    set +e
    if [[ -n $WATCHDOG ]]; then
        kill "$WATCHDOG" 2>/dev/null
        wait "$WATCHDOG" 2>/dev/null
    fi
    kafka_stop "$BROKER" >&2 2>/dev/null
    if ((KEEP)); then log "work dir kept: $WORK"; else rm -rf "$WORK"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The watchdog stops the broker by itself if this script overruns (or is
# killed with SIGKILL and leaves it behind). Its sleep runs in the
# background so that the TERM sent by cleanup ends it at once (a shell does
# not run a trap while a foreground child is running).
(
    trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
    sleep "$MAX_S" </dev/null >/dev/null 2>&1 &
    sleeper=$!
    wait "$sleeper"
    echo "make_kafka_fixture.sh: watchdog: ${MAX_S}s elapsed, stopping the broker" >&2
    kafka_stop "$BROKER" >/dev/null 2>&1
) &
WATCHDOG=$!

# Fixed cluster id, so nothing random ends up in meta.properties but the
# directory id.
export KAFKA_CLUSTER_ID=YnJvb2stZml4dHVyZS0wMQ

produce() { # produce PHASE
    timeout 300 "$CLIENTS_PY" - "$PORT" "$TOPIC" "$1" "$SEGMENT_BYTES" "$INDEX_INTERVAL" "$SCALE" <<'EOF'
import sys, hashlib
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

port, topic, phase = sys.argv[1], sys.argv[2], int(sys.argv[3])
segment_bytes, index_interval, scale = sys.argv[4], sys.argv[5], int(sys.argv[6])
bootstrap = "127.0.0.1:" + port
T0 = 1735689600000  # 2025-01-01T00:00:00Z
counter = {"n": 0 if phase == 1 else 100000}

def ensure_topic():
    admin = AdminClient({"bootstrap.servers": bootstrap})
    md = admin.list_topics(timeout=30)
    if topic in md.topics:
        return
    fut = admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1, config={
        "segment.bytes": segment_bytes,
        "index.interval.bytes": index_interval,
        "retention.ms": "-1",
        "retention.bytes": "-1",
        "cleanup.policy": "delete",
        "message.timestamp.type": "CreateTime",
    })], operation_timeout=30)
    fut[topic].result(60)

def record(i):
    """Deterministic record number i: key, value, headers."""
    digest = hashlib.sha256(str(i).encode()).hexdigest()
    key = None if i % 7 == 3 else ("key-%06d" % i).encode()
    value = None if i % 11 == 5 else ("value %06d %s" % (i, digest[: 16 + i % 48])).encode()
    headers = None
    if i % 5 == 0:
        headers = [("h-index", str(i).encode()), ("h-empty", b""), ("h-null", None)]
    return key, value, headers

errors = []
def on_delivery(err, msg):
    if err is not None:
        errors.append(str(err))

def batch(p, n):
    """n records, sent as one batch (linger is long; flush sends now)."""
    for _ in range(n):
        i = counter["n"]
        counter["n"] += 1
        key, value, headers = record(i)
        kw = {"key": key, "value": value, "partition": 0, "timestamp": T0 + 10 * i, "on_delivery": on_delivery}
        if headers is not None:
            kw["headers"] = headers
        p.produce(topic, **kw)
    left = p.flush(60)
    if left or errors:
        raise SystemExit("produce failed: %d left, errors %s" % (left, errors[:3]))

def producer(**conf):
    base = {"bootstrap.servers": bootstrap, "linger.ms": 10000, "acks": "all",
            "enable.idempotence": False, "batch.num.messages": 10000,
            "message.max.bytes": 1000000}
    base.update(conf)
    return Producer(base)

ensure_topic()
if phase == 1:
    p = producer(**{"compression.type": "none"})
    for n in [1, 3, 10, 10, 10, 25] * scale:
        batch(p, n)
    for codec in ["gzip", "snappy", "lz4", "zstd"]:
        p = producer(**{"compression.type": codec})
        for n in [20, 20, 40] * scale:
            batch(p, n)
    p = producer(**{"compression.type": "none", "enable.idempotence": True})
    for n in [5, 5, 8]:
        batch(p, n)
    p = producer(**{"compression.type": "lz4", "enable.idempotence": True})
    batch(p, 12)
    t = producer(**{"compression.type": "none", "enable.idempotence": True, "transactional.id": "fixture-txn-1"})
    t.init_transactions(60)
    t.begin_transaction()
    batch(t, 6)
    batch(t, 4)
    t.commit_transaction(60)
    t.begin_transaction()
    batch(t, 5)
    t.abort_transaction(60)
    p = producer(**{"compression.type": "none"})
    batch(p, 10)
else:
    p = producer(**{"compression.type": "none"})
    for n in [10, 10]:
        batch(p, n)
    p = producer(**{"compression.type": "zstd"})
    batch(p, 30)
    t = producer(**{"compression.type": "gzip", "enable.idempotence": True, "transactional.id": "fixture-txn-2"})
    t.init_transactions(60)
    t.begin_transaction()
    batch(t, 7)
    t.abort_transaction(60)
    t.begin_transaction()
    batch(t, 3)
    t.commit_transaction(60)
    p = producer(**{"compression.type": "none"})
    batch(p, 4)
print("phase %d: %d records produced" % (phase, counter["n"] - (0 if phase == 1 else 100000)))
EOF
}

log "broker in $WORK, port $PORT"
kafka_start "$BROKER" "$PORT" >&2
produce 1 >&2
log "phase 1 done; restarting the broker (clean shutdown, new leader epoch)"
kafka_stop "$BROKER" >&2
kafka_start "$BROKER" "$PORT" >&2
produce 2 >&2
log "phase 2 done; stopping the broker"
kafka_stop "$BROKER" >&2

DATA="$BROKER/data"
PART="$DATA/$TOPIC-0"
[[ -d $PART ]] || { log "no partition directory $PART"; exit 1; }
grep -q "Shutdown complete" "$BROKER/logs/server.log" 2>/dev/null ||
    log "warning: server.log has no 'Shutdown complete' line"

mkdir -p "$OUT"
rm -rf "$OUT/$TOPIC-0" "$OUT/logdir-files"
mkdir -p "$OUT/$TOPIC-0" "$OUT/logdir-files"
cp -p "$PART"/* "$OUT/$TOPIC-0/"
for f in recovery-point-offset-checkpoint log-start-offset-checkpoint \
        replication-offset-checkpoint .kafka_cleanshutdown meta.properties; do
    if [[ -e $DATA/$f ]]; then cp -p "$DATA/$f" "$OUT/logdir-files/"; else log "note: no $f in the log dir"; fi
done
(cd "$OUT" && find "$TOPIC-0" logdir-files -type f -printf '%s\t%p\n' | sort -k2) >"$OUT/sizes.txt"
"$REPO/tests/tools/kafka_dump.sh" table "$OUT/$TOPIC-0"/*.log >"$OUT/batches.tsv"
log "wrote $OUT ($(awk '{ s += $1 } END { print s }' "$OUT/sizes.txt") bytes in $(wc -l <"$OUT/sizes.txt") files)"
