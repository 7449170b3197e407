#!/usr/bin/env bash
# kafka_compat.sh LOGWRITE - brook writes a partition log (several segments,
# every codec, two leader epochs); Apache Kafka 4.0's DumpLogSegments and
# checkpoint reader must accept every file, with exactly the index entries
# Kafka itself writes, and list the batches brook says it wrote.
# Appends "kafka-compat <passed> <failed>" to build/test-summary.txt.
set -u
tool=$1
dir=build/tmp/kafka-compat
rm -rf "$dir" && mkdir -p "$dir"
summary() { echo "kafka-compat $1 $2" >>build/test-summary.txt; }

if ! "$tool" "$dir" >"$dir/expected.tsv" 2>"$dir/logwrite.err"; then
    echo "kafka-compat: FAILED: logwrite failed:"; cat "$dir/logwrite.err"; summary 0 1; exit 1
fi
part="$dir/compat-0"
# brook-checkpoint is brook's own file, not one of Kafka's: not given to Kafka.
files=("$part"/*.log "$part"/*.index "$part"/*.timeindex "$part/leader-epoch-checkpoint")
tests/tools/kafka_dump.sh check --quiet --index-interval 512 "${files[@]}"
rc=$?
if [ "$rc" -eq 77 ]; then
    echo "kafka-compat: SKIPPED (no java or no Kafka jars): Kafka's tools could not run"
    summary 0 0; exit 0
fi
passed=0 failed=0
if [ "$rc" -eq 0 ]; then
    passed=$((passed + 1))
    echo "kafka-compat: DumpLogSegments accepts every file brook wrote ($(ls "$part" | wc -l) files)"
else
    failed=$((failed + 1))
    echo "kafka-compat: FAILED: Kafka's DumpLogSegments complained (above)"
fi
# The batches Kafka reads are the batches brook wrote: offsets, codecs, CRCs,
# and the leader epoch each was stamped with (0 for the first 150, then 1).
codecs=(none gzip snappy lz4 zstd)
n=0
want=$(while IFS=$'\t' read -r base last codec; do
    n=$((n + 1)); echo "$base $last $((last - base + 1)) true ${codecs[$codec]} $((n > 150))"
    done <"$dir/expected.tsv")
have=$(tests/tools/kafka_dump.sh table "$part"/*.log | awk -F'\t' 'NR > 1 {print $2, $3, $4, $9, $8, $16}')
if [ "$want" == "$have" ] && [ -n "$want" ]; then
    passed=$((passed + 1))
    echo "kafka-compat: Kafka reads the $(echo "$want" | wc -l) batches brook wrote, in order, CRCs valid"
else
    failed=$((failed + 1))
    echo "kafka-compat: FAILED: batches differ (want < > have):"
    diff <(echo "$want") <(echo "$have") | head -10
fi
summary "$passed" "$failed"
[ "$failed" -eq 0 ]
