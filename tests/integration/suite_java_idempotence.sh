#!/usr/bin/env bash
# suite_java_idempotence.sh - the Apache Kafka Java client (kafka-clients 4.0)
# with its default producer config, which is idempotent (KIP-679):
# java/JavaIdempotenceIT.java produces to two partitions and reads every
# acknowledged record back exactly once at its offset.
#
#   tests/integration/suite_java_idempotence.sh      # against build/brookd
#   BROOK_IT_TARGET=kafka tests/integration/suite_java_idempotence.sh
# Needs java, javac and mvn (first install of the jars into .cache).

IT_SUITE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$IT_SUITE_DIR/lib.sh"
# shellcheck source=client_checks.sh
source "$IT_SUITE_DIR/client_checks.sh"
# shellcheck source=../tools/clients.sh
source "$IT_ROOT/tests/tools/clients.sh"

SUITE=java_idempotence
BUILD=$IT_JAVA_BUILD

java_ready=0
it_java_prepare "$SUITE" JavaIdempotenceIT && java_ready=1
if ((!java_ready)); then
    it_finish "$SUITE"; exit $?
fi
if ! it_start; then
    it_fail "$SUITE: broker did not start"
    it_finish "$SUITE"; exit $?
fi
JFLAGS=(-Xms64m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true)
it_run_checks "java idempotent" 150 java "${JFLAGS[@]}" -cp "$BUILD:$CLIENTS_JAVA_LIBS/*" JavaIdempotenceIT "$BOOTSTRAP"
it_finish "$SUITE"
