#!/usr/bin/env bash
# suite_librdkafka_c.sh - a small C program on the system librdkafka
# (Debian's librdkafka-dev, listed in tests/tools/deps.sh) against the
# broker under test.
#
#   tests/integration/suite_librdkafka_c.sh
#   BROOK_IT_TARGET=kafka tests/integration/suite_librdkafka_c.sh
#
# c/rdk_roundtrip.c, built with -Wall -Wextra -Werror into
# build/it/rdk_roundtrip: admin CreateTopics (with a config; again ->
# TOPIC_ALREADY_EXISTS), DescribeConfigs, Metadata; N messages with keys,
# headers (one with a null value) and timestamps in every codec (acks=all,
# idempotence off, every delivery report checked); watermark offsets and
# offsets_for_times (ListOffsets); rd_kafka_assign() at explicit offsets
# (0, inside a batch, past the end with auto.offset.reset=error) comparing
# every message exactly, and the legacy group-less consume_start path;
# DeleteTopics (again -> UNKNOWN_TOPIC_OR_PART).

IT_SUITE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$IT_SUITE_DIR/lib.sh"
# shellcheck source=client_checks.sh
source "$IT_SUITE_DIR/client_checks.sh"

SUITE=librdkafka_c
SRC="$IT_SUITE_DIR/c/rdk_roundtrip.c"
BIN="$IT_ROOT/build/it/rdk_roundtrip"
CC=${CC:-cc}
ready=1

if ! command -v "$CC" >/dev/null; then
    it_skip "$SUITE: no C compiler ($CC); tests/tools/deps.sh install"
    ready=0
elif ! echo '#include <librdkafka/rdkafka.h>' | "$CC" -E -x c - >/dev/null 2>&1; then
    it_skip "$SUITE: librdkafka headers not found (apt-get install -y librdkafka-dev, or tests/tools/deps.sh install)"
    ready=0
fi
if ((ready)) && [[ ! -x $BIN || $SRC -nt $BIN ]]; then
    mkdir -p "$(dirname "$BIN")"
    if ! timeout 120 "$CC" -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -O1 -o "$BIN" "$SRC" \
            -lrdkafka >"$BIN.log" 2>&1; then
        it_fail "$SUITE: build rdk_roundtrip.c"; sed 's/^/       /' "$BIN.log"
        ready=0
    fi
fi

if ! it_start; then
    it_fail "$SUITE: broker did not start"
    it_finish "$SUITE"
    exit $?
fi

if ((ready)); then
    it_log "$SUITE: rdk_roundtrip against $BOOTSTRAP"
    it_run_checks "librdkafka" 120 "$BIN" "$BOOTSTRAP"
fi

it_finish "$SUITE"
