#!/usr/bin/env bash
# suite_groups_kip848.sh - KIP-848 consumer groups (ConsumerGroupHeartbeat,
# ConsumerGroupDescribe, server-side assignment) with a client that speaks
# them: the Java client 4.0 with group.protocol=consumer (java/Kip848IT.java:
# join, a second member gets its share only after the first revoked it, no
# partition owned twice, describe, commits with the member epoch, leave,
# a broker-side regex subscription); franz-go with kgo.ServerSideBalancer()
# (go/franz_kip848_it.go: join, a second member, revoke before assign, leave,
# committed offsets); confluent-kafka's librdkafka with group.protocol=consumer
# (py/test_groups_kip848_confluent.py, the same checks). On raw sockets
# (py/test_groups_kip848_raw.py): the group survives a kill -9 (members carry
# on at their epochs with their partitions, offsets kept), ListGroups /
# DescribeGroups / DeleteGroups on consumer groups, a deleted group stays
# deleted after a restart, and offline migration (an empty group of one
# protocol taken over by the other) keeps the committed offsets.
# Run: tests/integration/suite_groups_kip848.sh  (BROOK_IT_TARGET=kafka for Kafka 4.0)

IT_SUITE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$IT_SUITE_DIR/lib.sh"
source "$IT_SUITE_DIR/client_checks.sh"
source "$IT_SUITE_DIR/lib_py.sh"
source "$IT_ROOT/tests/tools/clients.sh"

SUITE=groups_kip848
BUILD=$IT_JAVA_BUILD
GROUP=it-k848

java_ready=0
it_java_prepare "$SUITE" Kip848IT && java_ready=1
FRANZ_BIN="$IT_ROOT/build/it/franz_kip848_it"
franz_ready=0
it_go_prepare "$SUITE" franz_kip848_it && franz_ready=1
rdk_ready=1
clients_install_python >/dev/null || true
if [[ ${CLIENTS_STATUS[python]:-} != ok ]] || ! "$CLIENTS_PY" -c 'import confluent_kafka' 2>/dev/null; then
    it_skip "$SUITE: confluent-kafka unavailable (${CLIENTS_REASON[python]:-not importable})"
    rdk_ready=0
fi
if ((!java_ready && !franz_ready && !rdk_ready)); then
    it_finish "$SUITE"; exit
fi

# Kafka 4.0 serves both protocols by default; say so for older defaults.
KAFKA_EXTRA_PROPS="${KAFKA_EXTRA_PROPS:+$KAFKA_EXTRA_PROPS
}group.coordinator.rebalance.protocols=classic,consumer"
export KAFKA_EXTRA_PROPS
if ! it_start; then
    it_fail "$SUITE: broker did not start"
    it_finish "$SUITE"; exit
fi

JFLAGS=(-Xms64m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true)
if ((java_ready)); then
    it_log "$SUITE: Kip848IT against $BOOTSTRAP"
    it_run_checks "java kip848" 240 java "${JFLAGS[@]}" -cp "$BUILD:$CLIENTS_JAVA_LIBS/*" Kip848IT "$BOOTSTRAP" "$GROUP"
fi
if ((franz_ready)); then
    it_log "$SUITE: franz_kip848_it against $BOOTSTRAP"
    it_run_checks "franz-go kip848" 240 "$FRANZ_BIN" "$BOOTSTRAP"
fi
if ((rdk_ready)); then
    it_log "$SUITE: test_groups_kip848_confluent.py against $BOOTSTRAP"
    it_py 150 "$CLIENTS_PY" test_groups_kip848_confluent.py "$BOOTSTRAP"
fi

# Kafka's own reader (DumpLogSegments --offsets-decoder) decodes the
# records the group left in __consumer_offsets: member metadata (type 5),
# subscribed topics (4), group epoch (3), target assignment (7, 6) and
# current assignment (8).
check_records() {
    local data=$IT_DIR/data out types
    [[ $IT_TARGET == kafka ]] && data=$IT_DIR/kafka/data
    out=$(timeout 180 "$IT_ROOT/tests/tools/kafka_dump.sh" dump --offsets-decoder \
        "$data"/__consumer_offsets-*/*.log 2>&1)
    types=$(grep -o '"groupId":"k848-raw"' <<<"$out" >/dev/null &&
        grep -o 'key: {"type":"[0-9]*","data":{"groupId":"k848-raw"' <<<"$out" |
        grep -o '"type":"[0-9]*"' | tr -dc '0-9\n' | sort -un | tr '\n' ' ')
    if [[ $types == "3 4 5 6 7 8 " ]] && ! grep -qi 'exception\|error' <<<"$out"; then
        it_pass "Kafka's DumpLogSegments decodes the group's records (types $types)"
    else
        it_fail "Kafka's DumpLogSegments on __consumer_offsets: types '$types'"
        grep -i -m5 'exception\|error' <<<"$out"
    fi
}

RAW_STATE=$IT_DIR/kip848-raw.json
if it_py 120 python3 test_groups_kip848_raw.py "$IT_PORT" before "$RAW_STATE"; then
    check_records
    if it_kill9 && it_start_again; then
        it_py 120 python3 test_groups_kip848_raw.py "$IT_PORT" after "$RAW_STATE"
        if it_restart; then
            it_py 60 python3 test_groups_kip848_raw.py "$IT_PORT" gone "$RAW_STATE"
            it_py 60 python3 test_groups_kip848_raw.py "$IT_PORT" migrate "$RAW_STATE"
            if it_restart; then
                it_py 60 python3 test_groups_kip848_raw.py "$IT_PORT" migrated "$RAW_STATE"
            else
                it_fail "$SUITE: broker did not restart"
            fi
        else
            it_fail "$SUITE: broker did not restart"
        fi
    else
        it_fail "$SUITE: broker did not start again after kill -9"
    fi
fi

it_finish "$SUITE"
