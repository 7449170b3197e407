#!/usr/bin/env bash
# suite_groups_raw.sh - group coordinator bad input on raw sockets
# (py/test_groups_raw.py): OffsetCommit for unknown groups, with wrong
# generations or members, or with oversized metadata gets Kafka's errors; a
# JoinGroup flood from one client is bounded by group.max.size
# (GROUP_MAX_SIZE_REACHED) and the coordinator still serves another group;
# a JoinGroup still waiting when the broker stops (SIGTERM) is answered
# NOT_COORDINATOR.
# Run: tests/integration/suite_groups_raw.sh  (BROOK_IT_TARGET=kafka for Kafka 4.0)

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
source tests/integration/lib.sh
source tests/integration/lib_py.sh

SUITE=groups_raw
MAX=3
if ! command -v python3 >/dev/null; then
    it_skip "$SUITE: python3 not found"
    it_finish "$SUITE"; exit
fi
IT_BROOK_ARGS="${IT_BROOK_ARGS:-} --override group.max.size=$MAX --override group.initial.rebalance.delay.ms=0"
KAFKA_EXTRA_PROPS=$(printf 'group.max.size=%s' "$MAX")
export IT_BROOK_ARGS KAFKA_EXTRA_PROPS
if ! it_start; then
    it_fail "$SUITE: broker did not start"
    it_finish "$SUITE"; exit
fi
it_py 60 python3 test_groups_raw.py "$IT_PORT" errors
it_py 60 python3 test_groups_raw.py "$IT_PORT" flood "$MAX"

W=$IT_DIR/stop
mkdir -p "$W"
timeout 90 python3 tests/integration/py/test_groups_raw.py "$IT_PORT" stop-wait "$W" >"$W/out" 2>&1 &
waiter=$!
for ((i = 0; i < 300; i++)); do [[ -e $W/ready ]] && break; kill -0 $waiter 2>/dev/null || break; sleep 0.1; done
if [[ -e $W/ready ]]; then
    start=$SECONDS
    if it_stop; then it_pass "broker stopped cleanly with a JoinGroup waiting ($((SECONDS - start)) s)"
    else it_fail "broker did not stop cleanly with a JoinGroup waiting"; fi
    it_start_again || it_fail "$SUITE: broker did not start again"
else
    it_fail "stop-wait: no JoinGroup left waiting"
fi
wait $waiter
it_py_report "stop-wait" $? "$W/out"
grep '^  ' "$W/out"
it_finish "$SUITE"
