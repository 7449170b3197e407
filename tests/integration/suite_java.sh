#!/usr/bin/env bash
# suite_java.sh - the Apache Kafka Java client (kafka-clients 4.0) and
# Kafka 4.0's own command-line tools against the broker under test.
#
#   tests/integration/suite_java.sh          # against build/brookd
#   BROOK_IT_TARGET=kafka tests/integration/suite_java.sh
#
# 1. java/JavaClientIT.java (compiled into build/it/java): Admin
#    (describeCluster, createTopics with configs, describeTopics,
#    describeConfigs, incrementalAlterConfigs, listOffsets earliest / latest /
#    by timestamp / max timestamp, createPartitions, deleteTopics),
#    KafkaProducer (acks=all and acks=1, keys, headers, explicit timestamps,
#    every codec; enable.idempotence=false) and KafkaConsumer (assign + seek,
#    no group, no commits) reading everything back exactly.
# 2. The CLI tools, run as their classes with the Kafka 4.0 classpath:
#    kafka-topics (org.apache.kafka.tools.TopicCommand), kafka-configs
#    (kafka.admin.ConfigCommand), kafka-console-producer
#    (org.apache.kafka.tools.ConsoleProducer) and kafka-console-consumer
#    (org.apache.kafka.tools.consumer.ConsoleConsumer), with exact output.
# Needs java, javac and mvn (first install of the jars into .cache).

IT_SUITE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$IT_SUITE_DIR/lib.sh"
# shellcheck source=client_checks.sh
source "$IT_SUITE_DIR/client_checks.sh"
# shellcheck source=../tools/clients.sh
source "$IT_ROOT/tests/tools/clients.sh"

SUITE=java
BUILD=$IT_JAVA_BUILD

java_ready=0
it_java_prepare "$SUITE" JavaClientIT && java_ready=1
cli_ready=$java_ready
if ((java_ready)) && ! kafka_install >/dev/null; then
    it_skip "$SUITE: Kafka 4.0 jars (CLI tools) could not be installed into .cache/kafka-4.0.0"
    cli_ready=0
fi

if ! it_start; then
    it_fail "$SUITE: broker did not start"
    it_finish "$SUITE"
    exit $?
fi

# The JVM flags keep startup short; log4j2 without a config logs errors only.
JFLAGS=(-Xms64m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true)

if ((java_ready)); then
    it_log "$SUITE: JavaClientIT against $BOOTSTRAP"
    it_run_checks "java client" 120 java "${JFLAGS[@]}" -cp "$BUILD:$CLIENTS_JAVA_LIBS/*" JavaClientIT "$BOOTSTRAP"
fi

# ------------------------------------------------------------------ CLI tools

# cli OUT ERR CLASS ARGS...: runs one tool (bounded), stdout into OUT and
# stderr into ERR; returns its exit status.
cli() {
    local out=$1 err=$2 cls=$3
    shift 3
    timeout -k 5 60 java "${JFLAGS[@]}" -cp "$KAFKA_LIBS/*" "$cls" --bootstrap-server "$BOOTSTRAP" "$@" \
        >"$out" 2>"$err" </dev/null
}
TOPICS=org.apache.kafka.tools.TopicCommand
CONFIGS=kafka.admin.ConfigCommand
CPRODUCER=org.apache.kafka.tools.ConsoleProducer
CCONSUMER=org.apache.kafka.tools.consumer.ConsoleConsumer
T=it-cli
W="$IT_DIR/cli"
mkdir -p "$W"

# show NAME FILE...: a failure's evidence
show() { local f; for f in "$@"; do sed "s/^/       $(basename "$f"): /" "$f" | tail -n 15; done; }
expect() { # expect NAME COND-RESULT FILES...
    local name=$1 rc=$2
    shift 2
    if [[ $rc -eq 0 ]]; then it_pass "cli: $name"; else it_fail "cli: $name"; show "$@"; fi
}

# describe_ok FILE PARTITIONS: the --describe output of topic T with that
# many partitions, each led by the one node with replicas = isr = that node.
describe_ok() {
    python3 - "$1" "$2" "$T" <<'EOF'
import re, sys
lines = [l for l in open(sys.argv[1]).read().splitlines() if l.strip()]
n, topic = int(sys.argv[2]), sys.argv[3]
head = lines[0].split("\t")
assert head[0] == "Topic: " + topic, head
fields = dict(f.split(": ", 1) for f in head[1:] if ": " in f)
assert fields["PartitionCount"] == str(n), fields
assert fields["ReplicationFactor"] == "1", fields
assert re.fullmatch(r"[A-Za-z0-9_-]{22}", fields["TopicId"]), fields
parts = lines[1:]
assert len(parts) == n, parts
for i, l in enumerate(parts):
    f = dict(x.split(": ", 1) for x in l.strip().split("\t") if ": " in x)
    assert f["Topic"] == topic and f["Partition"] == str(i), f
    assert f["Leader"].isdigit() and f["Replicas"] == f["Leader"] and f["Isr"] == f["Leader"], f
EOF
}

if ((cli_ready)); then
    it_log "$SUITE: Kafka CLI tools against $BOOTSTRAP"
    cli "$W/create.out" "$W/create.err" $TOPICS --create --topic $T --partitions 1 \
        --replication-factor 1 --config retention.ms=3600000
    rc=$?
    [[ $rc -eq 0 ]] && grep -qx "Created topic $T." "$W/create.out"
    expect "kafka-topics --create" $? "$W/create.out" "$W/create.err"

    cli "$W/create2.out" "$W/create2.err" $TOPICS --create --topic $T --partitions 1 --replication-factor 1
    rc=$?
    [[ $rc -ne 0 ]] && grep -q "Topic '$T' already exists" "$W/create2.out" "$W/create2.err"
    expect "kafka-topics --create of an existing topic fails with 'already exists'" $? "$W/create2.out" "$W/create2.err"

    cli "$W/list.out" "$W/list.err" $TOPICS --list
    [[ $? -eq 0 ]] && grep -qx "$T" "$W/list.out"
    expect "kafka-topics --list shows the topic" $? "$W/list.out" "$W/list.err"

    cli "$W/describe1.out" "$W/describe1.err" $TOPICS --describe --topic $T &&
        describe_ok "$W/describe1.out" 1 >"$W/describe1.check" 2>&1
    expect "kafka-topics --describe (1 partition, leader = replicas = isr)" $? "$W/describe1.out" "$W/describe1.err" "$W/describe1.check"
    grep -q $'Configs: retention.ms=3600000' "$W/describe1.out"
    expect "kafka-topics --describe shows the topic config" $? "$W/describe1.out"

    printf 'k1:v1\nk2:v2 with spaces\nk3:\nk4:v4:colon\nk5:v5\n' >"$W/input.txt"
    timeout -k 5 60 java "${JFLAGS[@]}" -cp "$KAFKA_LIBS/*" $CPRODUCER --bootstrap-server "$BOOTSTRAP" \
        --topic $T --property parse.key=true --property key.separator=: \
        --producer-property enable.idempotence=false --producer-property acks=all \
        --producer-property delivery.timeout.ms=20000 --producer-property request.timeout.ms=10000 \
        --producer-property max.block.ms=15000 \
        <"$W/input.txt" >"$W/producer.out" 2>"$W/producer.err"
    expect "kafka-console-producer parse.key=true exits 0" $? "$W/producer.out" "$W/producer.err"

    cli "$W/consumer.out" "$W/consumer.err" $CCONSUMER --topic $T --partition 0 --offset earliest \
        --max-messages 5 --timeout-ms 20000 --property print.key=true --property key.separator=: \
        --consumer-property enable.auto.commit=false
    rc=$?
    [[ $rc -eq 0 ]] && diff "$W/input.txt" "$W/consumer.out" >"$W/consumer.diff"
    expect "kafka-console-consumer --partition 0 --offset earliest --max-messages 5 prints key:value exactly" $? \
        "$W/consumer.out" "$W/consumer.err" "$W/consumer.diff"
    grep -q "Processed a total of 5 messages" "$W/consumer.err"
    expect "kafka-console-consumer counts 5 messages" $? "$W/consumer.err"

    cli "$W/consumer2.out" "$W/consumer2.err" $CCONSUMER --topic $T --partition 0 --offset 3 \
        --max-messages 2 --timeout-ms 20000 --property print.key=true --property print.offset=true \
        --property print.partition=true --property key.separator=: \
        --consumer-property enable.auto.commit=false
    rc=$?
    # key.separator also separates the partition and offset fields
    printf 'Partition:0:Offset:3:k4:v4:colon\nPartition:0:Offset:4:k5:v5\n' >"$W/consumer2.want"
    [[ $rc -eq 0 ]] && diff "$W/consumer2.want" "$W/consumer2.out" >"$W/consumer2.diff"
    expect "kafka-console-consumer --offset 3 with print.offset/print.partition" $? \
        "$W/consumer2.out" "$W/consumer2.err" "$W/consumer2.diff"

    cli "$W/alter.out" "$W/alter.err" $TOPICS --alter --topic $T --partitions 3
    expect "kafka-topics --alter --partitions 3 exits 0" $? "$W/alter.out" "$W/alter.err"
    cli "$W/describe3.out" "$W/describe3.err" $TOPICS --describe --topic $T &&
        describe_ok "$W/describe3.out" 3 >"$W/describe3.check" 2>&1
    expect "kafka-topics --describe after --alter shows 3 partitions" $? "$W/describe3.out" "$W/describe3.err" "$W/describe3.check"

    cli "$W/calter.out" "$W/calter.err" $CONFIGS --entity-type topics --entity-name $T \
        --alter --add-config retention.ms=7200000,max.message.bytes=200000
    rc=$?
    [[ $rc -eq 0 ]] && grep -qx "Completed updating config for topic $T." "$W/calter.out"
    expect "kafka-configs --alter --add-config" $? "$W/calter.out" "$W/calter.err"

    cli "$W/cdesc.out" "$W/cdesc.err" $CONFIGS --entity-type topics --entity-name $T --describe
    rc=$?
    [[ $rc -eq 0 ]] && grep -qx "Dynamic configs for topic $T are:" "$W/cdesc.out" &&
        grep -q "^  retention.ms=7200000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=7200000" "$W/cdesc.out" &&
        grep -q "^  max.message.bytes=200000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:max.message.bytes=200000" "$W/cdesc.out" &&
        [[ $(grep -c '^  ' "$W/cdesc.out") -eq 2 ]]
    expect "kafka-configs --describe lists exactly the two dynamic configs" $? "$W/cdesc.out" "$W/cdesc.err"

    cli "$W/cdel.out" "$W/cdel.err" $CONFIGS --entity-type topics --entity-name $T \
        --alter --delete-config max.message.bytes
    rc=$?
    [[ $rc -eq 0 ]] && grep -qx "Completed updating config for topic $T." "$W/cdel.out"
    expect "kafka-configs --alter --delete-config" $? "$W/cdel.out" "$W/cdel.err"
    cli "$W/cdesc2.out" "$W/cdesc2.err" $CONFIGS --entity-type topics --entity-name $T --describe
    rc=$?
    [[ $rc -eq 0 ]] && grep -q "^  retention.ms=7200000 " "$W/cdesc2.out" &&
        [[ $(grep -c '^  ' "$W/cdesc2.out") -eq 1 ]]
    expect "kafka-configs --describe after --delete-config lists only retention.ms" $? "$W/cdesc2.out" "$W/cdesc2.err"

    cli "$W/delete.out" "$W/delete.err" $TOPICS --delete --topic $T
    expect "kafka-topics --delete exits 0" $? "$W/delete.out" "$W/delete.err"
    gone=1
    for ((i = 0; i < 5; i++)); do
        cli "$W/list2.out" "$W/list2.err" $TOPICS --list || break
        if ! grep -qx "$T" "$W/list2.out"; then gone=0; break; fi
        sleep 1
    done
    expect "kafka-topics --list no longer shows the deleted topic" $gone "$W/list2.out" "$W/list2.err"

    cli "$W/describe4.out" "$W/describe4.err" $TOPICS --describe --topic $T
    rc=$?
    [[ $rc -ne 0 ]] && grep -q "Topic '.*$T.*' does not exist" "$W/describe4.out" "$W/describe4.err"
    expect "kafka-topics --describe of the deleted topic fails with 'does not exist'" $? "$W/describe4.out" "$W/describe4.err"
fi

it_finish "$SUITE"
