#!/usr/bin/env bash
# suite_idempotence.sh - the idempotent producer (COMPAT-PITFALLS 21-23):
# InitProducerId and Kafka's sequence checks on raw sockets
# (py/test_idempotence.py: duplicates answered with their original offsets
# and stored once, gaps OUT_OF_ORDER_SEQUENCE_NUMBER, epochs, unknown
# producers), still deduplicated after a clean restart and after kill -9;
# then confluent-kafka (librdkafka) with enable.idempotence=true producing
# while the broker is killed and restarted (py/test_idempotence_client.py):
# every acknowledged message is read back exactly once. Expectations are
# Kafka 4.0's.
# Run: tests/integration/suite_idempotence.sh  (BROOK_IT_TARGET=kafka for Kafka 4.0)

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
source tests/integration/lib.sh
source tests/integration/lib_py.sh
source tests/tools/clients.sh

SUITE=idempotence

if ! command -v python3 >/dev/null; then
    it_skip "$SUITE: python3 not found"
    it_finish "$SUITE"; exit
fi
if ! it_start; then
    it_fail "$SUITE: broker did not start"
    it_finish "$SUITE"; exit
fi
state=$IT_DIR/idempotence-state.json
if it_py 120 python3 test_idempotence.py "$IT_PORT" first "$state"; then
    if it_restart; then
        it_py 60 python3 test_idempotence.py "$IT_PORT" after-restart "$state"
    else
        it_fail "$SUITE: broker did not restart"
    fi
    it_kill9
    if it_start_again; then
        it_py 60 python3 test_idempotence.py "$IT_PORT" after-kill9 "$state"
    else
        it_fail "$SUITE: broker did not start after kill -9"
    fi
fi

# ---- confluent-kafka, idempotent, across two kill -9 restarts: the producer
# ---- runs in the background and waits for the go files
clients_install_python >/dev/null
if [[ ${CLIENTS_STATUS[python]} != ok ]] || ! "$CLIENTS_PY" -c 'import confluent_kafka' 2>/dev/null; then
    it_skip "$SUITE: confluent-kafka unavailable (${CLIENTS_REASON[python]:-not importable})"
    it_finish "$SUITE"; exit
fi
W=$IT_DIR/client
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
timeout 300 "$CLIENTS_PY" tests/integration/py/test_idempotence_client.py "$BOOTSTRAP" produce "$W" \
    >"$W/produce.out" 2>&1 &
PRODUCER=$!
for n in 1 2; do
    if wait_file "$W/phase$n" 150; then
        it_log "idempotent producer: kill -9 and start again while producing ($n)"
        it_kill9
        if it_start_again; then it_pass "idempotent producer: broker started again after kill -9 ($n)"
        else it_fail "idempotent producer: start after kill -9 failed ($n)"; fi
    else
        it_fail "idempotent producer: producer did not reach phase $n"
    fi
    touch "$W/go$n"
done
wait "$PRODUCER"
rc=$?
it_py_report "idempotent produce" "$rc" "$W/produce.out"
grep '^idempotence:' "$W/produce.out" | sed 's/^/       /'
if [[ $rc -eq 0 ]]; then
    it_py 150 "$CLIENTS_PY" test_idempotence_client.py "$BOOTSTRAP" verify "$W"
fi
it_finish "$SUITE"
