#!/usr/bin/env bash
# suite_groups_migration.sh - online migration between the classic and the
# consumer (KIP-848) group protocols, as Kafka 4.0 runs it by default: the
# Java client 4.0 (java/MigrationIT.java) with classic and consumer-protocol
# members in one group, upgrade, downgrade and a rolling upgrade; every
# partition owned exactly once after each step, the group's type as Kafka
# reports it, every record consumed, committed offsets at the log ends.
# Run: tests/integration/suite_groups_migration.sh  (BROOK_IT_TARGET=kafka for Kafka 4.0)

IT_SUITE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$IT_SUITE_DIR/lib.sh"
source "$IT_SUITE_DIR/client_checks.sh"
source "$IT_ROOT/tests/tools/clients.sh"

SUITE=groups_migration
BUILD=$IT_JAVA_BUILD
if ! it_java_prepare "$SUITE" MigrationIT; then
    it_finish "$SUITE"; exit
fi

# Heartbeats every second so each step settles in seconds, on both brokers.
PROPS="group.consumer.heartbeat.interval.ms=1000
group.consumer.min.heartbeat.interval.ms=1000
group.initial.rebalance.delay.ms=0"
KAFKA_EXTRA_PROPS="${KAFKA_EXTRA_PROPS:+$KAFKA_EXTRA_PROPS
}$PROPS
group.coordinator.rebalance.protocols=classic,consumer"
IT_BROOK_ARGS="${IT_BROOK_ARGS:-} $(sed 's/^/--override /' <<<"$PROPS" | tr '\n' ' ')"
export KAFKA_EXTRA_PROPS IT_BROOK_ARGS
if ! it_start; then
    it_fail "$SUITE: broker did not start"
    it_finish "$SUITE"; exit
fi

JFLAGS=(-Xms64m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true)
it_log "$SUITE: MigrationIT against $BOOTSTRAP"
it_run_checks "java migration" 400 java "${JFLAGS[@]}" -cp "$BUILD:$CLIENTS_JAVA_LIBS/*" MigrationIT "$BOOTSTRAP" it-migration
it_finish "$SUITE"
