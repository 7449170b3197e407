#!/usr/bin/env bash
# suite_groups_kafkajs.sh - a kafkajs consumer group of three processes
# (node/kafkajs_groups_it.js): one leaves, one is killed (session timeout);
# after each rebalance every partition is owned by exactly one member; no
# record is lost and none is read again once a commit covering it was
# acknowledged.
# Run: tests/integration/suite_groups_kafkajs.sh  (BROOK_IT_TARGET=kafka for Kafka 4.0)

IT_SUITE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$IT_SUITE_DIR/lib.sh"
source "$IT_SUITE_DIR/client_checks.sh"
source "$IT_ROOT/tests/tools/clients.sh"

SUITE=groups_kafkajs
clients_install_node >/dev/null || true
case ${CLIENTS_STATUS[node]:-} in
    ok) ;;
    SKIPPED) it_skip "$SUITE: ${CLIENTS_REASON[node]}"; it_finish "$SUITE"; exit ;;
    *) it_fail "$SUITE: kafkajs install: ${CLIENTS_REASON[node]:-unknown}"; it_finish "$SUITE"; exit ;;
esac

IT_BROOK_ARGS="${IT_BROOK_ARGS:-} --override group.initial.rebalance.delay.ms=0"
export IT_BROOK_ARGS
if ! it_start; then
    it_fail "$SUITE: broker did not start"
    it_finish "$SUITE"; exit
fi
W=$IT_DIR/kjs
mkdir -p "$W"
it_run_checks "kafkajs group" 170 env NODE_PATH="$CLIENTS_NODE_DIR/node_modules" KAFKAJS_NO_PARTITIONER_WARNING=1 \
    node "$IT_SUITE_DIR/node/kafkajs_groups_it.js" "$BOOTSTRAP" "$W"
it_finish "$SUITE"
