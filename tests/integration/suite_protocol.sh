#!/usr/bin/env bash
# suite_protocol.sh - protocol semantics real clients depend on, on raw
# sockets (py/test_protocol.py, Python stdlib only): fetch sessions (KIP-227:
# create, incremental, wrong epoch 71, unknown id 70, forgotten topics, epoch
# -1 closes), long poll (MaxWaitMs honoured, early completion by a produce on
# another connection), KIP-74 (an oversized batch comes back whole), fetch at
# the high watermark / past the log end / inside a batch, Produce acks=0
# (no response), 1, -1, 2 (INVALID_REQUIRED_ACKS), pipelined responses in
# request order, ListOffsets v7 (-1, -2, -3, timestamp lookups inside a
# batch), OffsetForLeaderEpoch v4, DeleteRecords. Expectations are Kafka 4.0's.
# Run: tests/integration/suite_protocol.sh  (BROOK_IT_TARGET=kafka for Kafka 4.0)

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
source tests/integration/lib.sh
source tests/integration/lib_py.sh

SUITE=protocol

if ! command -v python3 >/dev/null; then
    it_skip "$SUITE: python3 not found"
    it_finish "$SUITE"; exit
fi
if ! it_start; then
    it_fail "$SUITE: broker did not start"
    it_finish "$SUITE"; exit
fi
it_py 120 python3 test_protocol.py "$IT_PORT"
it_finish "$SUITE"
