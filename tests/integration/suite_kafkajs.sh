#!/usr/bin/env bash
# suite_kafkajs.sh - kafkajs (the version pinned in tests/tools/node) against
# the broker under test.
#
#   tests/integration/suite_kafkajs.sh
#   BROOK_IT_TARGET=kafka tests/integration/suite_kafkajs.sh
#
# node/kafkajs_it.js: admin createTopics (with configs; again -> false),
# listTopics, fetchTopicMetadata, describeConfigs, fetchTopicOffsets and
# fetchTopicOffsetsByTimestamp, createPartitions (and a refused decrease),
# deleteTopics (and of a missing topic); producer (idempotent off, acks=1
# and acks=-1) with keys, headers (a repeated one), timestamps, in every
# codec (none, gzip, snappy, lz4, and zstd through @mongodb-js/zstd, since
# @kafkajs/zstd does not build on Node 20). Reads need no group:
# kafkajs' consumer always joins one, so the program uses kafkajs' own
# Cluster + Broker.fetch layer (its Fetch v11 and batch decoders), from 0,
# from inside a batch (the whole batch must come back) and past the end
# (OFFSET_OUT_OF_RANGE).

IT_SUITE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$IT_SUITE_DIR/lib.sh"
# shellcheck source=client_checks.sh
source "$IT_SUITE_DIR/client_checks.sh"
# shellcheck source=../tools/clients.sh
source "$IT_ROOT/tests/tools/clients.sh"

SUITE=kafkajs
ready=1
clients_install_node >/dev/null || true
case ${CLIENTS_STATUS[node]:-} in
    ok) ;;
    SKIPPED) it_skip "$SUITE: ${CLIENTS_REASON[node]}"; ready=0 ;;
    *) it_fail "$SUITE: kafkajs install: ${CLIENTS_REASON[node]:-unknown}"; ready=0 ;;
esac

if ! it_start; then
    it_fail "$SUITE: broker did not start"
    it_finish "$SUITE"
    exit $?
fi

if ((ready)); then
    it_log "$SUITE: kafkajs_it.js against $BOOTSTRAP"
    it_run_checks "kafkajs" 120 env NODE_PATH="$CLIENTS_NODE_DIR/node_modules" KAFKAJS_NO_PARTITIONER_WARNING=1 \
        node "$IT_SUITE_DIR/node/kafkajs_it.js" "$BOOTSTRAP"
fi

it_finish "$SUITE"
