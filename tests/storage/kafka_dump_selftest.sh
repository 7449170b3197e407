#!/usr/bin/env bash
# kafka_dump_selftest.sh: proves that tests/tools/kafka_dump.sh passes what a
# real Apache Kafka 4.0 wrote and fails on damaged copies of it.
#
#   tests/storage/kafka_dump_selftest.sh
#
# 1. The committed reference partition (tests/storage/fixtures/kafka-4.0/)
#    passes `check`, its one-broker-run segments pass `check --index-interval
#    512`, and `batches` agrees with its batches.tsv.
# 2. A real Kafka 4.0 broker (tests/storage/make_kafka_fixture.sh, which
#    uses tests/tools/kafka.sh and confluent-kafka from .venv) writes a fresh
#    partition: several codecs, idempotent and transactional batches, small
#    segment.bytes and index.interval.bytes; the broker is stopped cleanly and
#    `check` must pass on its files. Its batch layout is compared with the
#    committed batches.tsv (a NOTE, not a failure, when it differs).
# 3. Copies of that partition are damaged one way each (a flipped byte in a
#    plain and in a gzip batch, a truncated .log, garbage after it, a moved
#    base offset, index entries truncated, reordered, pointing into a batch,
#    with a wrong offset, missing, untrimmed; the same for the time index;
#    broken leader-epoch-checkpoint, partition.metadata, offset checkpoint,
#    clean-shutdown marker; a misnamed segment, a missing .timeindex) and
#    `check` must fail on each, naming the problem (a pattern per case).
#
# Environment: KAFKA_DUMP_SELFTEST_BROKER=0 skips step 2 and damages copies
# of the committed fixture instead; KAFKA_DUMP_SELFTEST_WORK=DIR keeps the
# work files there (default: a temporary dir, removed).
# Output: "ok - ..." / "not ok - ..." per case, then "N passed, M failed".
# Appends "kafka-dump <passed> <failed>" to build/test-summary.txt.
# Exit: 0 all passed, 1 a case failed, 77 skipped ("SKIPPED: <reason>").

set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
cd "$REPO" || exit 1
KD=tests/tools/kafka_dump.sh
FIX=tests/storage/fixtures/kafka-4.0
TOPIC=storage-fixture
SUITE=${BK_SUITE_NAME:-kafka-dump}

passed=0
failed=0

summary() {
    echo "$passed passed, $failed failed"
    mkdir -p build && echo "$SUITE $passed $failed" >>build/test-summary.txt
}

if [[ -n ${KAFKA_DUMP_SELFTEST_WORK:-} ]]; then
    W=$KAFKA_DUMP_SELFTEST_WORK
    mkdir -p "$W"
    W=$(cd "$W" && pwd)
else
    W=$(mktemp -d "${TMPDIR:-/tmp}/kafka_dump_selftest.XXXXXX")
    trap 'rm -rf "$W"' EXIT
fi

ok() { echo "ok - $1"; passed=$((passed + 1)); }
notok() {
    echo "not ok - $1"
    failed=$((failed + 1))
    [[ -n ${2:-} ]] && sed 's/^/    # /' <<<"$2" | head -40
}

# run_check ARGS...: sets OUT and RC; exits 77 when the checker skips.
run_check() {
    OUT=$("$KD" check "$@" 2>&1)
    RC=$?
    if ((RC == 77)); then
        echo "$OUT" | grep -m1 '^SKIPPED:' || echo "SKIPPED: kafka_dump.sh skipped"
        echo "kafka-dump 0 0" >>build/test-summary.txt 2>/dev/null
        exit 77
    fi
}

expect_pass() { # NAME CHECK-ARGS...
    local name=$1
    shift
    run_check "$@"
    if ((RC == 0)); then ok "$name"; else notok "$name (exit $RC, expected 0)" "$OUT"; fi
}

expect_fail() { # NAME PATTERN CHECK-ARGS...
    local name=$1 pattern=$2
    shift 2
    run_check "$@"
    if ((RC == 1)) && grep -Eq -- "$pattern" <<<"$OUT"; then
        ok "$name"
    elif ((RC == 1)); then
        notok "$name (failed, but no line matches /$pattern/)" "$OUT"
    else
        notok "$name (exit $RC, expected 1)" "$OUT"
    fi
}

# Binary edits, all through python3 (struct, big-endian like Kafka).
bin() { python3 - "$@" <<'EOF'
import struct, sys
op, path = sys.argv[1], sys.argv[2]
a = [int(x) for x in sys.argv[3:]]
data = bytearray(open(path, "rb").read())
if op == "flip":            # POS: invert one byte
    data[a[0]] ^= 0xFF
elif op == "add64":         # POS DELTA: big-endian int64 += DELTA
    v, = struct.unpack_from(">q", data, a[0]); struct.pack_into(">q", data, a[0], v + a[1])
elif op == "add32":         # POS DELTA: big-endian int32 += DELTA
    v, = struct.unpack_from(">i", data, a[0]); struct.pack_into(">i", data, a[0], v + a[1])
elif op == "set32":         # POS VALUE
    struct.pack_into(">i", data, a[0], a[1])
elif op == "swap":          # WIDTH I J: swap two fixed-size entries
    w, i, j = a
    data[i*w:(i+1)*w], data[j*w:(j+1)*w] = data[j*w:(j+1)*w], data[i*w:(i+1)*w]
elif op == "cut":           # N: drop the last N bytes
    del data[len(data) - a[0]:]
elif op == "zeros":         # N: append N zero bytes
    data += bytes(a[0])
elif op == "ff":            # N: append N 0xFF bytes
    data += b"\xff" * a[0]
else:
    sys.exit("bad op " + op)
open(path, "wb").write(bytes(data))
EOF
}

# ------------------------------------------------------------------ 1. fixture
[[ -d $FIX/$TOPIC-0 ]] || { notok "committed fixture $FIX/$TOPIC-0 exists"; summary; exit 1; }

expect_pass "committed Kafka 4.0 fixture passes check (partition dir + log-dir files)" \
    "$FIX/$TOPIC-0" "$FIX"/logdir-files/*-checkpoint "$FIX/logdir-files/.kafka_cleanshutdown" \
    "$FIX/logdir-files/meta.properties"

# Segments whose batches all carry one leader epoch were written in one
# broker run: Kafka's index entries follow index.interval.bytes=512 exactly.
mapfile -t one_run < <(awk -F'\t' 'NR > 1 { e[$1] = e[$1] " " $16 }
    END { for (s in e) { n = split(e[s], x, " "); u = 1; for (i = 2; i <= n; i++) if (x[i] != x[1]) u = 0; if (u) print s } }' \
    "$FIX/batches.tsv" | sort)
if ((${#one_run[@]})); then
    files=()
    for s in "${one_run[@]}"; do
        b=${s%.log}
        files+=("$FIX/$TOPIC-0/$b.log" "$FIX/$TOPIC-0/$b.index" "$FIX/$TOPIC-0/$b.timeindex")
    done
    expect_pass "fixture segments of one broker run match index.interval.bytes=512 exactly (${#one_run[@]} segments)" \
        --index-interval 512 "${files[@]}"
else
    notok "batches.tsv names segments written in one broker run"
fi

# `batches` agrees with batches.tsv (same tool, shallow vs deep iteration).
want=$(awk -F'\t' 'NR > 1 { print $1, $2, $3, $4, $9, $8 }' "$FIX/batches.tsv")
got=""
for f in "$FIX/$TOPIC-0"/*.log; do
    got+=$("$KD" batches "$f" | sed "s/^/$(basename "$f") /")$'\n'
done
if [[ "$want" == "${got%$'\n'}" ]]; then
    ok "kafka_dump.sh batches agrees with batches.tsv ($(wc -l <<<"$want") batches)"
else
    notok "kafka_dump.sh batches agrees with batches.tsv" "$(diff <(echo "$want") <(echo "${got%$'\n'}"))"
fi

# ------------------------------------------------------------------ 2. fresh
SRC="$FIX"
if [[ ${KAFKA_DUMP_SELFTEST_BROKER:-1} != 0 ]]; then
    echo "# starting a real Kafka 4.0 broker (tests/storage/make_kafka_fixture.sh); about 2 minutes"
    tests/storage/make_kafka_fixture.sh --out "$W/fresh" --work "$W/broker" >"$W/make.out" 2>&1
    rc=$?
    if ((rc == 77)); then
        echo "# broker part skipped: $(grep -m1 '^SKIPPED:' "$W/make.out"); damaging copies of the committed fixture"
    elif ((rc != 0)); then
        notok "a real Kafka 4.0 wrote a fresh partition (make_kafka_fixture.sh exit $rc)" "$(tail -n 30 "$W/make.out")"
    else
        ok "a real Kafka 4.0 wrote a fresh partition ($(ls "$W/fresh/$TOPIC-0" | grep -c '\.log$') segments)"
        SRC="$W/fresh"
        expect_pass "fresh Kafka 4.0 partition passes check" \
            "$SRC/$TOPIC-0" "$SRC"/logdir-files/*-checkpoint "$SRC/logdir-files/.kafka_cleanshutdown"
        cols='{ print $1, $2, $3, $4, $7, $8, $10, $14, $15, $16, $17, $18, $19 }'
        if diff <(awk -F'\t' "$cols" "$FIX/batches.tsv") <(awk -F'\t' "$cols" "$SRC/batches.tsv") >"$W/layout.diff"; then
            echo "# NOTE: the fresh batch layout equals the committed batches.tsv (the fixture is reproducible)"
        else
            echo "# NOTE: the fresh batch layout differs from the committed batches.tsv (informational):"
            head -20 "$W/layout.diff" | sed 's/^/#   /'
        fi
    fi
fi

# ------------------------------------------------------------------ 3. damage
P="$W/case/$TOPIC-0"
fresh_copy() {
    rm -rf "$W/case"
    mkdir -p "$W/case"
    cp -a "$SRC/$TOPIC-0" "$W/case/"
    cp -a "$SRC/logdir-files" "$W/case/"
}
# Facts about the source partition, from Kafka's own table of it.
TABLE="$W/table.tsv"
"$KD" table "$SRC/$TOPIC-0"/*.log >"$TABLE" || { notok "kafka_dump.sh table on the source partition"; summary; exit 1; }
S0=$(awk -F'\t' 'NR == 2 { sub(/\.log$/, "", $1); print $1 }' "$TABLE")
seg() { echo "$P/$S0.log" "$P/$S0.index" "$P/$S0.timeindex"; }
# first batch (position size) in segment S0 with codec $1 and at least 3 records
pick() { awk -F'\t' -v s="$S0.log" -v c="$1" '$1 == s && $8 == c && $4 >= 3 { print $5, $6; exit }' "$TABLE"; }
read -r plain_pos plain_size < <(pick none)
read -r gzip_pos gzip_size < <(pick gzip)
second_pos=$(awk -F'\t' -v s="$S0.log" '$1 == s { n++; if (n == 2) { print $5; exit } }' "$TABLE")
last_seg=$(awk -F'\t' 'NR > 1 { s = $1 } END { sub(/\.log$/, "", s); print s }' "$TABLE")
idx_entries=$(($(stat -c %s "$SRC/$TOPIC-0/$S0.index") / 8))
tidx_entries=$(($(stat -c %s "$SRC/$TOPIC-0/$S0.timeindex") / 12))
if [[ -z $plain_pos || -z $gzip_pos || -z $second_pos ]] || ((idx_entries < 3 || tidx_entries < 3)); then
    notok "the source partition's first segment has a plain batch, a gzip batch and 3+ index entries" "$(head -20 "$TABLE")"
    summary
    exit 1
fi

# .log
fresh_copy; bin flip "$P/$S0.log" $((plain_pos + plain_size - 3))
expect_fail "flipped byte in an uncompressed batch" 'isvalid: false' "$P/$S0.log"

fresh_copy; bin flip "$P/$S0.log" $((gzip_pos + gzip_size - 6))
expect_fail "flipped byte in a gzip batch" 'isvalid: false' "$P/$S0.log"

fresh_copy; bin cut "$P/$S0.log" 10
expect_fail ".log cut in the middle of its last batch" 'invalid bytes at the end' "$P/$S0.log"

fresh_copy; bin ff "$P/$S0.log" 64
expect_fail "garbage after the last batch" 'Exception|invalid bytes' "$P/$S0.log"

# baseOffset is outside the CRC, so the batch still looks valid.
fresh_copy; bin add64 "$P/$S0.log" "$second_pos" 1
expect_fail "base offset of a batch moved (not covered by the CRC)" 'Non-consecutive offsets|follows a batch ending' "$P/$S0.log"

# partitionLeaderEpoch (bytes 12..15 of a batch) is outside the CRC too.
fresh_copy; bin set32 "$P/$last_seg.log" 12 7
expect_fail "leader epoch of a batch changed (not covered by the CRC)" 'leader epoch 7' "$P"

# .index (8-byte entries: relative offset, position)
fresh_copy; bin cut "$P/$S0.index" 3
expect_fail ".index cut in the middle of an entry" 'neither positive nor a multiple of 8' $(seg)

fresh_copy; bin swap "$P/$S0.index" 8 1 2
expect_fail ".index entries 1 and 2 swapped" 'entry 2 .* does not follow entry 1' $(seg)

fresh_copy; bin add32 "$P/$S0.index" 4 4
expect_fail ".index entry 0 points 4 bytes into a batch" 'Exception|Mismatches in|not the start of a batch' $(seg)

fresh_copy; bin add32 "$P/$S0.index" 0 1
expect_fail ".index entry 0 names the wrong offset" 'Mismatches in' $(seg)

fresh_copy; bin cut "$P/$S0.index" 8
expect_fail ".index without its last entry (only --index-interval sees it)" 'index.interval.bytes=512 Kafka writes' \
    --index-interval 512 $(seg)

fresh_copy; bin zeros "$P/$S0.index" 4096
expect_fail ".index with untrimmed zero-filled space" 'Kafka stopped after' $(seg)

# .timeindex (12-byte entries: timestamp, relative offset)
fresh_copy; bin add64 "$P/$S0.timeindex" 0 1
expect_fail ".timeindex entry 0 with a wrong timestamp" 'Found timestamp mismatch' $(seg)

fresh_copy; bin swap "$P/$S0.timeindex" 12 0 1
expect_fail ".timeindex entries 0 and 1 swapped" 'Found out of order timestamp|does not follow' $(seg)

fresh_copy; bin cut "$P/$S0.timeindex" 5
expect_fail ".timeindex cut in the middle of an entry" 'neither positive nor a multiple of 12' $(seg)

fresh_copy; bin zeros "$P/$S0.timeindex" 1200
expect_fail ".timeindex with untrimmed zero-filled space" 'Corrupt time index found' $(seg)

fresh_copy; bin cut "$P/$S0.timeindex" 12
expect_fail ".timeindex without its final (largest timestamp) entry" 'not the segment.s largest timestamp' $(seg)

# files beside the segments
fresh_copy; printf '0\n2\n2 %s\n0 0\n' "$((10#$last_seg))" >"$P/leader-epoch-checkpoint"
expect_fail "leader-epoch-checkpoint entries out of order" 'LeaderEpochFileCache keeps' "$P/leader-epoch-checkpoint"

fresh_copy; { head -1 "$SRC/$TOPIC-0/leader-epoch-checkpoint"; echo 9; tail -n +3 "$SRC/$TOPIC-0/leader-epoch-checkpoint"; } >"$P/leader-epoch-checkpoint"
expect_fail "leader-epoch-checkpoint with a wrong count line" 'Expected \[9\] entries' "$P/leader-epoch-checkpoint"

fresh_copy; printf 'version: 0\ntopic_id: not-a-topic-id' >"$P/partition.metadata"
expect_fail "partition.metadata with a bad topic id" 'Kafka could not read it' "$P/partition.metadata"

fresh_copy; printf '0\n1\n%s 0\n' "$TOPIC" >"$W/case/logdir-files/recovery-point-offset-checkpoint"
expect_fail "recovery-point-offset-checkpoint with a malformed line" 'Malformed line' \
    "$W/case/logdir-files/recovery-point-offset-checkpoint"

fresh_copy; : >"$W/case/logdir-files/.kafka_cleanshutdown"
expect_fail "empty clean-shutdown marker (no broker epoch)" 'reads no broker epoch' \
    "$W/case/logdir-files/.kafka_cleanshutdown"

fresh_copy; mv "$P/$S0.log" "$P/${S0:1}.log"
expect_fail "segment named with 19 digits" 'not 20 digits' "$P"

fresh_copy; rm "$P/$last_seg.timeindex"
expect_fail "segment without its .timeindex" "no $last_seg.timeindex beside it" "$P"

summary
((failed == 0))
