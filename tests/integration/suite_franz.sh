#!/usr/bin/env bash
# suite_franz.sh - franz-go (kgo + kadm, the module pinned in tests/tools/go)
# against the broker under test.
#
#   tests/integration/suite_franz.sh
#   BROOK_IT_TARGET=kafka tests/integration/suite_franz.sh
#
# go/franz_it.go, built with tests/tools/go's go.mod into build/it/franz_it:
# kadm metadata, create (with a config; again -> TOPIC_ALREADY_EXISTS),
# list/describe, describe and incrementally alter configs, list offsets
# (start, end, after a time, max timestamp), create partitions, delete;
# kgo produce with keys, headers and timestamps in every codec (none, gzip,
# snappy, lz4, zstd; acks=all, gzip with acks=1; idempotence off) and read
# back exactly with kgo.ConsumePartitions (no group), from 0 and from inside
# a batch; a fetch past the end resets to the end.

IT_SUITE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$IT_SUITE_DIR/lib.sh"
# shellcheck source=client_checks.sh
source "$IT_SUITE_DIR/client_checks.sh"
# shellcheck source=../tools/clients.sh
source "$IT_ROOT/tests/tools/clients.sh"

SUITE=franz
BIN="$IT_ROOT/build/it/franz_it"
ready=0
it_go_prepare "$SUITE" franz_it && ready=1

if ! it_start; then
    it_fail "$SUITE: broker did not start"
    it_finish "$SUITE"
    exit $?
fi

if ((ready)); then
    it_log "$SUITE: franz_it against $BOOTSTRAP"
    it_run_checks "franz-go" 120 "$BIN" "$BOOTSTRAP"
fi

it_finish "$SUITE"
