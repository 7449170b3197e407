#!/usr/bin/env bash
# suite_limits.sh - connection limits on raw sockets (py/test_limits.py):
# connections.max.idle.ms closes idle connections, max.connections makes a
# further client wait (not refused) until a slot frees. The broker starts
# with both set low; expectations are Kafka 4.0's (BROOK_IT_TARGET=kafka).

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
source tests/integration/lib.sh
source tests/integration/lib_py.sh

SUITE=limits
MAX_CONN=4
IDLE_MS=3000

if ! command -v python3 >/dev/null; then
    it_skip "$SUITE: python3 not found"
    it_finish "$SUITE"; exit
fi
IT_BROOK_ARGS="--override max.connections=$MAX_CONN --override connections.max.idle.ms=$IDLE_MS"
KAFKA_EXTRA_PROPS=$(printf 'max.connections=%s\nconnections.max.idle.ms=%s' "$MAX_CONN" "$IDLE_MS")
export IT_BROOK_ARGS KAFKA_EXTRA_PROPS
if ! it_start; then
    it_fail "$SUITE: broker did not start"
    it_finish "$SUITE"; exit
fi
it_py 120 python3 test_limits.py "$IT_PORT" "$MAX_CONN" "$IDLE_MS"
it_finish "$SUITE"
