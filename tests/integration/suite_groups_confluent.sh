#!/usr/bin/env bash
# suite_groups_confluent.sh - consumer groups with confluent-kafka
# (librdkafka), see py/test_groups_confluent.py: range and cooperative-sticky
# groups (exclusive ownership at every poll, every partition owned once the
# group settles, every record consumed, commits at the end offsets); commit,
# close and resume at the committed offsets; static membership rejoin
# without a rebalance; committed offsets (and metadata) surviving kill -9.
# The broker runs with group.initial.rebalance.delay.ms=0, as tests/tools/kafka.sh
# configures Kafka.
# Run: tests/integration/suite_groups_confluent.sh  (BROOK_IT_TARGET=kafka for Kafka 4.0)

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
source tests/integration/lib.sh
source tests/integration/lib_py.sh
source tests/tools/clients.sh

SUITE=groups_confluent

clients_install_python >/dev/null
if [[ ${CLIENTS_STATUS[python]} != ok ]] || ! "$CLIENTS_PY" -c 'import confluent_kafka' 2>/dev/null; then
    it_skip "$SUITE: confluent-kafka unavailable (${CLIENTS_REASON[python]:-not importable})"
    it_finish "$SUITE"; exit
fi
IT_BROOK_ARGS="${IT_BROOK_ARGS:-} --override group.initial.rebalance.delay.ms=0"
export IT_BROOK_ARGS
if ! it_start; then
    it_fail "$SUITE: broker did not start"
    it_finish "$SUITE"; exit
fi

it_py 120 "$CLIENTS_PY" test_groups_confluent.py "$BOOTSTRAP" range
it_py 120 "$CLIENTS_PY" test_groups_confluent.py "$BOOTSTRAP" cooperative
it_py 90 "$CLIENTS_PY" test_groups_confluent.py "$BOOTSTRAP" resume
it_py 90 "$CLIENTS_PY" test_groups_confluent.py "$BOOTSTRAP" static

W=$IT_DIR/restart
mkdir -p "$W"
if it_py 90 "$CLIENTS_PY" test_groups_confluent.py "$BOOTSTRAP" restart-commit "$W"; then
    it_kill9
    if it_start_again; then
        it_pass "broker started again after kill -9"
        it_py 90 "$CLIENTS_PY" test_groups_confluent.py "$BOOTSTRAP" restart-verify "$W"
    else
        it_fail "start after kill -9 failed"
    fi
fi

it_finish "$SUITE"
