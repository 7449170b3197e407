#!/usr/bin/env bash
# suite_confluent.sh - confluent-kafka (Python binding of librdkafka), see
# py/test_confluent.py:
#   admin    create topics (with configs, validate_only, error cases),
#            describe topics, describe configs (values, sources, defaults),
#            alter configs and incremental alter configs (round trip, and
#            max.message.bytes enforced), create partitions, delete topics;
#   bulk     100,000 records with keys, headers and timestamps across 3
#            partitions read back exactly by assigned partitions; watermarks,
#            offsets_for_times, list_offsets (earliest/latest/max/by time);
#   codecs   a round trip per compression codec;
#   restart  a producer (acks=all, idempotence off) keeps producing while the
#            broker is restarted cleanly (SIGTERM) and then killed (-9) and
#            started again; every acknowledged record must be read back.
# Run: tests/integration/suite_confluent.sh  (BROOK_IT_TARGET=kafka for Kafka 4.0)

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
source tests/integration/lib.sh
source tests/integration/lib_py.sh
source tests/tools/clients.sh

SUITE=confluent

clients_install_python >/dev/null
if [[ ${CLIENTS_STATUS[python]} != ok ]] || ! "$CLIENTS_PY" -c 'import confluent_kafka' 2>/dev/null; then
    it_skip "$SUITE: confluent-kafka unavailable (${CLIENTS_REASON[python]:-not importable})"
    it_finish "$SUITE"; exit
fi
if ! it_start; then
    it_fail "$SUITE: broker did not start"
    it_finish "$SUITE"; exit
fi

it_py 180 "$CLIENTS_PY" test_confluent.py "$BOOTSTRAP" admin
it_py 240 "$CLIENTS_PY" test_confluent.py "$BOOTSTRAP" bulk
it_py 180 "$CLIENTS_PY" test_confluent.py "$BOOTSTRAP" codecs

# ---- restart while producing: the producer runs in the background and
# ---- waits for the go files (see py/test_confluent.py)
W=$IT_DIR/restart
mkdir -p "$W"
wait_file() {  # wait_file PATH SECONDS
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        [[ -e $1 ]] && return 0
        kill -0 "$PRODUCER" 2>/dev/null || { [[ -e $1 ]]; return; }
        sleep 0.1
    done
    return 1
}
timeout 300 "$CLIENTS_PY" tests/integration/py/test_confluent.py "$BOOTSTRAP" restart-produce "$W" \
    >"$W/produce.out" 2>&1 &
PRODUCER=$!
if wait_file "$W/phase1" 90; then
    it_log "restart: clean restart (SIGTERM) while producing"
    if it_restart; then it_pass "restart: broker restarted cleanly while producing"
    else it_fail "restart: clean restart failed"; it_start_again; fi
    touch "$W/go1"
    if wait_file "$W/phase2" 150; then
        it_log "restart: kill -9 and start again while producing"
        it_kill9
        if it_start_again; then it_pass "restart: broker started again after kill -9"
        else it_fail "restart: start after kill -9 failed"; fi
    else
        it_fail "restart: producer did not reach phase 2 after the clean restart"
    fi
    touch "$W/go2"
else
    it_fail "restart: producer did not reach phase 1"
    touch "$W/go1" "$W/go2"
fi
wait "$PRODUCER"
rc=$?
it_py_report "restart-produce" "$rc" "$W/produce.out"
grep '^restart:' "$W/produce.out" | sed 's/^/       /'
if [[ $rc -eq 0 ]]; then
    it_py 120 "$CLIENTS_PY" test_confluent.py "$BOOTSTRAP" restart-verify "$W"
fi

it_finish "$SUITE"
