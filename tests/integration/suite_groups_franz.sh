#!/usr/bin/env bash
# suite_groups_franz.sh - consumer groups with franz-go (kgo.ConsumerGroup,
# classic protocol: no kgo.ServerSideBalancer, so no KIP-848; the
# cooperative-sticky balancer; auto commit off, kgo.CommitRecords), see
# go/franz_groups_it.go, built with tests/tools/go's go.mod into
# build/it/franz_groups_it: one member consumes exactly and commits; a
# second joins, the partitions are split (never owned twice, each owned once,
# DescribeGroups agrees), new records are consumed exactly once by their
# owners; both close and a new member resumes exactly at the committed
# offsets.
# The broker runs with group.initial.rebalance.delay.ms=0, as tests/tools/kafka.sh
# configures Kafka.
# Run: tests/integration/suite_groups_franz.sh  (BROOK_IT_TARGET=kafka for Kafka 4.0)

IT_SUITE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$IT_SUITE_DIR/lib.sh"
# shellcheck source=client_checks.sh
source "$IT_SUITE_DIR/client_checks.sh"
# shellcheck source=../tools/clients.sh
source "$IT_ROOT/tests/tools/clients.sh"

SUITE=groups_franz
BIN="$IT_ROOT/build/it/franz_groups_it"
ready=0
it_go_prepare "$SUITE" franz_groups_it && ready=1

IT_BROOK_ARGS="${IT_BROOK_ARGS:-} --override group.initial.rebalance.delay.ms=0"
export IT_BROOK_ARGS
if ! it_start; then
    it_fail "$SUITE: broker did not start"
    it_finish "$SUITE"
    exit $?
fi

if ((ready)); then
    it_log "$SUITE: franz_groups_it against $BOOTSTRAP"
    it_run_checks "franz-go groups" 240 "$BIN" "$BOOTSTRAP"
fi

it_finish "$SUITE"
