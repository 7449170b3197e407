#!/usr/bin/env bash
# suite_kafka_python.sh - kafka-python (pure Python client), see
# py/test_kafka_python.py: admin (create topics with configs, validate_only,
# describe/alter configs, delete topics) and, for each codec kafka-python
# supports, a produce round trip with keys, headers and timestamps read back
# exactly by KafkaConsumer.assign + seek (from the start and from the middle),
# with beginning/end offsets and offsets_for_times.
# Run: tests/integration/suite_kafka_python.sh  (BROOK_IT_TARGET=kafka for Kafka 4.0)

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
source tests/integration/lib.sh
source tests/integration/lib_py.sh
source tests/tools/clients.sh

SUITE=kafka_python

clients_install_python >/dev/null
if [[ ${CLIENTS_STATUS[python]} != ok ]] || ! "$CLIENTS_PY" -c 'import kafka' 2>/dev/null; then
    it_skip "$SUITE: kafka-python unavailable (${CLIENTS_REASON[python]:-not importable})"
    it_finish "$SUITE"; exit
fi
if ! it_start; then
    it_fail "$SUITE: broker did not start"
    it_finish "$SUITE"; exit
fi
it_py 240 "$CLIENTS_PY" test_kafka_python.py "$BOOTSTRAP"
it_finish "$SUITE"
