#!/usr/bin/env bash
# suite_groups_java.sh - classic consumer groups with the Java client 4.0
# (java/GroupsIT.java: subscribe/poll/commitSync/committed, a second member
# splitting the partitions, Admin list/describe/offsets/delete of groups)
# and Kafka's kafka-consumer-groups tool (--list, --describe on the group
# GroupsIT leaves with committed offsets and no members).
# Run: tests/integration/suite_groups_java.sh  (BROOK_IT_TARGET=kafka for Kafka 4.0)

IT_SUITE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$IT_SUITE_DIR/lib.sh"
source "$IT_SUITE_DIR/client_checks.sh"
source "$IT_ROOT/tests/tools/clients.sh"

SUITE=groups_java
BUILD=$IT_JAVA_BUILD
GROUP=it-jgroup

java_ready=0
it_java_prepare "$SUITE" GroupsIT && java_ready=1
cli_ready=$java_ready
if ((java_ready)) && ! kafka_install >/dev/null; then
    it_skip "$SUITE: Kafka 4.0 jars (CLI tools) could not be installed into .cache/kafka-4.0.0"
    cli_ready=0
fi
if ((!java_ready)); then
    it_finish "$SUITE"; exit
fi

IT_BROOK_ARGS="${IT_BROOK_ARGS:-} --override group.initial.rebalance.delay.ms=0"
export IT_BROOK_ARGS
if ! it_start; then
    it_fail "$SUITE: broker did not start"
    it_finish "$SUITE"; exit
fi

JFLAGS=(-Xms64m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true)
it_log "$SUITE: GroupsIT against $BOOTSTRAP"
if it_run_checks "java groups" 120 java "${JFLAGS[@]}" -cp "$BUILD:$CLIENTS_JAVA_LIBS/*" GroupsIT "$BOOTSTRAP" "$GROUP" &&
    ((cli_ready)); then
    CG=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand
    out=$IT_DIR/cg.out err=$IT_DIR/cg.err
    if timeout -k 5 60 java "${JFLAGS[@]}" -cp "$KAFKA_LIBS/*" $CG --bootstrap-server "$BOOTSTRAP" --list \
        >"$out" 2>"$err" </dev/null && grep -qx "$GROUP" "$out"; then
        it_pass "kafka-consumer-groups --list shows $GROUP"
    else
        it_fail "kafka-consumer-groups --list"; cat "$out" "$err" | tail -n 20 | sed 's/^/       /'
    fi
    # --describe: one line per partition, current offset 10 = log end, lag 0, no consumer.
    if timeout -k 5 60 java "${JFLAGS[@]}" -cp "$KAFKA_LIBS/*" $CG --bootstrap-server "$BOOTSTRAP" \
        --describe --group "$GROUP" >"$out" 2>"$err" </dev/null &&
        [[ $(awk -v g="$GROUP" '$1 == g && $2 == g && $4 == 10 && $5 == 10 && $6 == 0 && $7 == "-"' "$out" | wc -l) -eq 4 ]] &&
        grep -q 'has no active members' "$out" "$err"; then
        it_pass "kafka-consumer-groups --describe: 4 partitions at 10, lag 0, no active members"
    else
        it_fail "kafka-consumer-groups --describe"; cat "$out" "$err" | tail -n 20 | sed 's/^/       /'
    fi
    if timeout -k 5 60 java "${JFLAGS[@]}" -cp "$KAFKA_LIBS/*" $CG --bootstrap-server "$BOOTSTRAP" \
        --describe --group "$GROUP" --state >"$out" 2>"$err" </dev/null &&
        awk -v g="$GROUP" '$1 == g && /Empty/ && / 0 *$/' "$out" | grep -q .; then
        it_pass "kafka-consumer-groups --describe --state: Empty, 0 members"
    else
        it_fail "kafka-consumer-groups --describe --state"; cat "$out" "$err" | tail -n 20 | sed 's/^/       /'
    fi
fi

it_finish "$SUITE"
