#!/usr/bin/env bash
# suite_raw.sh - bad input on raw sockets (py/test_raw.py, Python stdlib
# only): garbage, truncated frames, oversized size prefixes, unknown API
# keys, unsupported versions, ApiVersions too new (error 35, v0 body),
# array counts larger than the bytes present, a bad request after pipelined
# good ones. Each gets exactly what Kafka 4.0 does (an error response or the
# connection closed); the broker answers a fresh connection after each, and
# a concurrent client (ApiVersions + Metadata + Produce on its own
# connection) works throughout and reads back everything it wrote.
# Run: tests/integration/suite_raw.sh  (BROOK_IT_TARGET=kafka for Kafka 4.0)

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
source tests/integration/lib.sh
source tests/integration/lib_py.sh

SUITE=raw

if ! command -v python3 >/dev/null; then
    it_skip "$SUITE: python3 not found"
    it_finish "$SUITE"; exit
fi
if ! it_start; then
    it_fail "$SUITE: broker did not start"
    it_finish "$SUITE"; exit
fi
it_py 180 python3 test_raw.py "$IT_PORT"
it_finish "$SUITE"
