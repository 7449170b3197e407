#!/usr/bin/env bash
# suite_kcat.sh - kcat (librdkafka) against the broker under test:
#   - metadata (-L): the broker at its address, marked as controller, and a
#     3-partition topic with leader/replicas/isr 1 on every partition;
#   - for each codec (none, gzip, snappy, lz4, zstd): lines produced per
#     partition with keys (-K) and headers (-H), then lines without keys or
#     headers, read back per partition (-C -p N -o beginning -e) and compared
#     exactly: offsets, key and value lengths (null vs empty), keys, values,
#     headers (order, duplicates, empty and null values), order; timestamps
#     within the produce window; a read starting in the middle of the log
#     (-o N -c M) returns exactly those records; and the stored batches carry
#     the producer's codec (Fetch v4 through py/rawtool.py; uncompressed ones
#     are allowed beside them), so a broker that makes librdkafka fall back
#     to uncompressed batches altogether is caught.
# Run: tests/integration/suite_kcat.sh  (BROOK_IT_TARGET=kafka for Kafka 4.0)

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
source tests/integration/lib.sh
source tests/tools/clients.sh

SUITE=kcat
RAWTOOL=tests/integration/py/rawtool.py
KCAT_TIMEOUT=30
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ inside the repository

clients_install_kcat >/dev/null
if ! command -v kcat >/dev/null; then
    it_skip "$SUITE: kcat unavailable (${CLIENTS_REASON[kcat]:-not installed})"
    it_finish "$SUITE"; exit
fi
if ! it_start; then
    it_fail "$SUITE: broker did not start"
    it_finish "$SUITE"; exit
fi
WORK=$IT_DIR/kcat
mkdir -p "$WORK"

kc() { timeout "$KCAT_TIMEOUT" kcat -b "$BOOTSTRAP" "$@"; }

# ---------------------------------------------------------------- metadata

check_metadata() {
    python3 "$RAWTOOL" create-topic "$IT_PORT" kc-meta 3 || return 1
    local out
    out=$(kc -L) || { echo "kcat -L failed"; return 1; }
    printf '%s\n' "$out"
    grep -qx "  broker 1 at 127.0.0.1:$IT_PORT (controller)" <<<"$out" ||
        { echo "broker 1 at 127.0.0.1:$IT_PORT (controller) not listed"; return 1; }
    grep -qx ' 1 brokers:' <<<"$out" || { echo "expected exactly 1 broker"; return 1; }
    out=$(kc -L -t kc-meta) || { echo "kcat -L -t failed"; return 1; }
    printf '%s\n' "$out"
    grep -qx '  topic "kc-meta" with 3 partitions:' <<<"$out" ||
        { echo "topic kc-meta with 3 partitions not listed"; return 1; }
    local p
    for p in 0 1 2; do
        grep -q "^    partition $p, leader 1, replicas: 1, isrs: 1" <<<"$out" ||
            { echo "partition $p: leader/replicas/isrs not 1"; return 1; }
    done
}
# it_check runs a command under timeout(1), so the check functions run in a
# child bash that inherits them.
export WORK RAWTOOL KCAT_TIMEOUT
export -f kc check_metadata
it_check "kcat -L lists the broker and a 3-partition topic" bash -c check_metadata

# ---------------------------------------------------------------- codecs

# make_input CODEC P: writes $WORK/CODEC.P.{keyed,plain} (kcat input) and
# $WORK/CODEC.P.expect (what '%o|%K|%k|%S|%s|%h' must print for them).
make_input() {
    local codec=$1 p=$2 i n=0 big LC_ALL=C   # C locale: ${#v} counts bytes
    local keyed=$WORK/$codec.$p.keyed plain=$WORK/$codec.$p.plain exp=$WORK/$codec.$p.expect
    local hdr="codec=$codec,part=$p,dup=first,dup=second,empty=,nullhdr=NULL"
    : >"$keyed"; : >"$plain"; : >"$exp"
    big=$(printf 'compressible %s payload ' "$codec"{1..800})
    for ((i = 0; i < 300; i++)); do
        local k="key-$p-$i" v
        case $((i % 50)) in
            7) v="" ;;                                     # empty value
            13) v="$big$i" ;;                              # ~20 KB value
            21) v="üñíçødé $codec ✓ $i" ;;                # multi-byte UTF-8
            *) v="value $codec p$p #$i $(printf '%0*d' $((i % 40)) 0)" ;;
        esac
        if ((i % 50 == 31)); then                          # no delimiter: null key
            v="line-without-key $i"
            printf '%s\n' "$v" >>"$keyed"
            printf '%s|-1||%s|%s|%s\n' $n ${#v} "$v" "$hdr" >>"$exp"
        elif ((i % 50 == 37)); then                        # empty key
            printf '\t%s\n' "$v" >>"$keyed"
            printf '%s|0||%s|%s|%s\n' $n ${#v} "$v" "$hdr" >>"$exp"
        else
            printf '%s\t%s\n' "$k" "$v" >>"$keyed"
            printf '%s|%s|%s|%s|%s|%s\n' $n ${#k} "$k" ${#v} "$v" "$hdr" >>"$exp"
        fi
        n=$((n + 1))
    done
    for ((i = 0; i < 60; i++)); do
        local v="plain $codec p$p #$i	with a tab"
        printf '%s\n' "$v" >>"$plain"
        printf '%s|-1||%s|%s|\n' $n ${#v} "$v" >>"$exp"
        n=$((n + 1))
    done
}

# check_codec CODEC: produce to and read back every partition of kc-CODEC.
check_codec() {
    local codec=$1 topic=kc-$1 p t0 t1 n
    python3 "$RAWTOOL" create-topic "$IT_PORT" "$topic" 3 || return 1
    t0=$(date +%s%3N)
    for p in 0 1 2; do
        make_input "$codec" "$p"
        kc -P -t "$topic" -p "$p" -K $'\t' -X compression.codec="$codec" \
            -H "codec=$codec" -H "part=$p" -H dup=first -H dup=second -H empty= -H nullhdr \
            <"$WORK/$codec.$p.keyed" || { echo "kcat -P (keyed) to partition $p failed"; return 1; }
        kc -P -t "$topic" -p "$p" -X compression.codec="$codec" <"$WORK/$codec.$p.plain" ||
            { echo "kcat -P (plain) to partition $p failed"; return 1; }
    done
    t1=$(date +%s%3N)
    for p in 0 1 2; do
        local got=$WORK/$codec.$p.got exp=$WORK/$codec.$p.expect
        kc -C -t "$topic" -p "$p" -o beginning -e -q -f '%o|%K|%k|%S|%s|%h\n' >"$got" ||
            { echo "kcat -C partition $p failed"; return 1; }
        if ! cmp -s "$exp" "$got"; then
            echo "partition $p: read back differs from what was produced (expected < > got):"
            diff "$exp" "$got" | cut -c1-200 | head -20
            return 1
        fi
        # a read that starts inside the log: offsets 137..151 exactly
        kc -C -t "$topic" -p "$p" -o 137 -c 15 -q -f '%o|%K|%k|%S|%s|%h\n' >"$got.mid" ||
            { echo "kcat -C -o 137 partition $p failed"; return 1; }
        if ! sed -n '138,152p' "$exp" | cmp -s - "$got.mid"; then
            echo "partition $p: -o 137 -c 15 returned:"; cut -c1-200 "$got.mid" | head -20
            return 1
        fi
        # CreateTime stamped by the producer, inside the produce window
        n=$(kc -C -t "$topic" -p "$p" -o beginning -e -q -f '%T\n' |
            awk -v lo=$((t0 - 5000)) -v hi=$((t1 + 5000)) '$1 < lo || $1 > hi { bad++ } END { print NR "/" bad+0 }')
        [[ $n == "$(wc -l <"$exp")/0" ]] ||
            { echo "partition $p: timestamps (records/outside window) = $n"; return 1; }
        # the batches as stored carry the producer's codec (librdkafka sends
        # a batch uncompressed when compressing would not make it smaller,
        # e.g. a lone short record, so "none" batches are allowed beside it)
        local codecs
        codecs=$(python3 "$RAWTOOL" batch-codecs "$IT_PORT" "$topic" "$p") || return 1
        if ! grep -qx "$codec" <<<"$codecs" || grep -qvx "$codec\|none" <<<"$codecs"; then
            echo "partition $p: batch codecs are [$(sort <<<"$codecs" | uniq -c | tr '\n' ' ')], expected $codec (and none)"
            return 1
        fi
    done
}

export -f make_input check_codec
for codec in none gzip snappy lz4 zstd; do
    it_check "kcat produce/consume with keys and headers, compression.codec=$codec" \
        bash -c 'check_codec "$1"' _ "$codec"
done

it_finish "$SUITE"
