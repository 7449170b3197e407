#!/usr/bin/env bash
# suite_groups_kafka_python.sh - consumer groups with kafka-python (classic
# protocol, range assignor, auto commit off), see
# py/test_groups_kafka_python.py: one member consumes exactly and commits
# synchronously (with metadata); a second member joins, the partitions are
# split (each owned once, never twice), new records are consumed exactly
# once by their owners; both close and a new consumer resumes exactly at the
# committed offsets; another group starts from the beginning.
# The broker runs with group.initial.rebalance.delay.ms=0, as tests/tools/kafka.sh
# configures Kafka.
# Run: tests/integration/suite_groups_kafka_python.sh  (BROOK_IT_TARGET=kafka for Kafka 4.0)

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
source tests/integration/lib.sh
source tests/integration/lib_py.sh
source tests/tools/clients.sh

SUITE=groups_kafka_python

clients_install_python >/dev/null
if [[ ${CLIENTS_STATUS[python]} != ok ]] || ! "$CLIENTS_PY" -c 'import kafka' 2>/dev/null; then
    it_skip "$SUITE: kafka-python unavailable (${CLIENTS_REASON[python]:-not importable})"
    it_finish "$SUITE"; exit
fi
IT_BROOK_ARGS="${IT_BROOK_ARGS:-} --override group.initial.rebalance.delay.ms=0"
export IT_BROOK_ARGS
if ! it_start; then
    it_fail "$SUITE: broker did not start"
    it_finish "$SUITE"; exit
fi

it_py 240 "$CLIENTS_PY" test_groups_kafka_python.py "$BOOTSTRAP"

it_finish "$SUITE"
