#!/usr/bin/env bash
# Capture scenario for kcat (Debian's kcat, built on the system librdkafka).
#
# usage: kcat.sh BOOTSTRAP        (e.g. 127.0.0.1:39093, the proxy)
#
# kcat has no admin API (no CreateTopics, DescribeConfigs, DeleteTopics):
# the topic is auto-created by the first producer's Metadata request. Its
# producer sets headers per run (-H), not per record, so every record of a
# kcat batch carries the same two headers. See README.md.
set -uo pipefail

B=${1:?usage: kcat.sh BOOTSTRAP}
CLIENT=kcat
TOPIC=golden-$CLIENT
TXN_TOPIC=$TOPIC-txn
GROUP=$TOPIC-classic
N=${GOLDEN_RECORDS:-20}
CODECS=(none gzip snappy lz4 zstd)
FILL=abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789
T0=$SECONDS
FAILED=()

log() { printf '[%s %5ds] %s\n' "$CLIENT" $((SECONDS - T0)) "$*" >&2; }

# step NAME CMD...: run one step; a failure is reported and the scenario
# goes on. Every kcat run is bounded by `timeout` (see K below).
step() {
    local name=$1 rc
    shift
    log "step $name"
    "$@"
    rc=$?
    if ((rc != 0)); then
        log "step $name FAILED (exit $rc)"
        FAILED+=("$name")
    fi
}

# The record set of golden_common.py, as kcat -K'|' -Z input lines
# "key|value": an empty key or value is sent as NULL (-Z).
records() {
    local codec=$1 n=${2:-$N} i key value
    for ((i = 0; i < n; i++)); do
        key=$(printf 'key-%02d' "$i")
        ((i % 4 == 3)) && key=
        value=$(printf '%s %s record %02d %s' "$CLIENT" "$codec" "$i" "$FILL")
        value=${value:0:100}
        ((i % 5 == 4)) && [[ -n $key ]] && value=
        printf '%s|%s\n' "$key" "$value"
    done
}

log "note: kcat has no admin API: no CreateTopics, DescribeConfigs, DeleteTopics, ListGroups (topic auto-created)"
log "note: kcat sets headers per run, so every record carries trace-id=kcat and empty="
log "note: kcat's transactional producer only commits: no abort, no AddOffsetsToTxn/TxnOffsetCommit"
log "note: system librdkafka $(kcat -V 2>&1 | sed -n 's/.*librdkafka \([^ ]*\).*/\1/p') predates KIP-848: classic group protocol only"

K=(timeout -k 5 40 kcat -b "$B" -X socket.timeout.ms=15000 -X topic.metadata.refresh.interval.ms=-1)

step metadata "${K[@]}" -X client.id=golden-kcat-metadata -L -t "$TOPIC"

produce() {
    local codec=$1
    shift
    records "$codec" | "${K[@]}" -P -t "$TOPIC" -K '|' -Z -z "$codec" \
        -H trace-id=kcat -H empty= \
        -X client.id=golden-kcat-producer -X enable.idempotence=true -X acks=all \
        -X linger.ms=50 "$@"
}
for codec in "${CODECS[@]}"; do
    step "produce-$codec" produce "$codec"
done
produce_acks0() {
    records acks0 5 | "${K[@]}" -P -t "$TOPIC" -K '|' -Z \
        -X client.id=golden-kcat-producer-acks0 -X acks=0
}
step produce-acks0 produce_acks0
total=$((${#CODECS[@]} * N + 5))

# Simple consumer: ListOffsets (offset "beginning") and Fetch, no group.
consume_simple() {
    local got
    got=$("${K[@]}" -C -t "$TOPIC" -p 0 -o beginning -e -q -f 'x\n' \
        -X client.id=golden-kcat-simple -X fetch.wait.max.ms=200 | wc -l)
    log "simple consumer read $got of $total"
    ((got == total))
}
step consume-simple consume_simple

# Balanced consumer (-G): FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
# OffsetFetch, Fetch, OffsetCommit (auto commit on close), LeaveGroup.
consume_group() {
    local id=$1 want=$2 got
    got=$("${K[@]}" -G "$GROUP" "$TOPIC" -e -q -f 'x\n' \
        -X client.id="$id" -X auto.offset.reset=earliest -X fetch.wait.max.ms=200 \
        -X heartbeat.interval.ms=300 -X session.timeout.ms=10000 \
        -X auto.commit.interval.ms=500 | wc -l)
    log "$id read $got of $want"
    ((got == want))
}
step consume-group consume_group golden-kcat-consumer "$total"
# Same group again: OffsetFetch returns the committed offsets.
step rejoin-group consume_group golden-kcat-consumer2 0

# Transactional producer: kcat wraps everything it produces in one
# transaction and commits it at the end (InitProducerId with a
# transactional id, AddPartitionsToTxn, EndTxn).
produce_txn() {
    records txn-commit 5 | "${K[@]}" -P -t "$TXN_TOPIC" -K '|' -Z -z gzip \
        -X client.id=golden-kcat-txn -X transactional.id=golden-kcat-txn
}
step transactions produce_txn

read_committed() {
    local got
    got=$("${K[@]}" -C -t "$TXN_TOPIC" -p 0 -o beginning -e -q -f 'x\n' \
        -X client.id=golden-kcat-read-committed -X isolation.level=read_committed \
        -X fetch.wait.max.ms=200 | wc -l)
    log "read_committed consumer read $got"
    ((got == 5))
}
step read-committed read_committed

if ((${#FAILED[@]})); then
    log "done; failed steps: ${FAILED[*]}"
    exit 1
fi
log "done; all steps passed"
