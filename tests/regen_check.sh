#!/usr/bin/env bash
# regen_check.sh SPECS - fails when protocol/gen differs from a fresh generation
# from the Kafka JSON specs in SPECS. Skipped (with a message) when SPECS is absent.
set -u
specs=${1:-../shared/kafka-protocol}
mkdir -p build
if [ ! -d "$specs/messages" ]; then
    echo "regen-check: SKIPPED: no Kafka specs at $specs/messages"
    echo "regen 0 0" >>build/test-summary.txt
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 protocol/codegen/bkgen.py --specs "$specs" --out "$tmp" >/dev/null || {
    echo "regen-check: the generator failed"; echo "regen 0 1" >>build/test-summary.txt; exit 1; }
if diff -r -q protocol/gen "$tmp" >/dev/null; then
    echo "regen-check: protocol/gen matches a fresh generation"
    echo "regen 1 0" >>build/test-summary.txt
else
    echo "regen-check: FAILED: protocol/gen differs from a fresh generation; run 'make regen':"
    diff -r -u protocol/gen "$tmp" | head -40
    echo "regen 0 1" >>build/test-summary.txt
    exit 1
fi
