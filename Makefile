# brook - build, test and tooling entry points. See README.md.
#
#   make            build brookd and the libraries (build/)
#   make run        build, then start one broker on localhost:9092 with data in ./data
#   make test       every test: unit (also under ASan+UBSan), codec freshness, short fuzz,
#                   real clients against brookd (ASan build), deployment files
#   make unit       unit tests only
#   make sim        Raft simulation over SIM_SEEDS seeds (also in make test); sim-bug, bench-raft
#   make integration  the real-client suites against build/brookd
#   make fuzz       bounded libFuzzer run of every fuzz target (FUZZ_SECONDS each)
#   make bench      benchmarks (tests/bench), figures beside the machine's own limits
#   make bench-broker  brookd against Apache Kafka under the same loads
#   make bench-groups  consumer group rebalance times and offset commit rates, brookd and Kafka
#   make bench-idempotence  produce throughput with idempotence on and off, brookd and Kafka
#   make regen      regenerate protocol/gen from the Kafka JSON specs
#   make api-table  refresh README.md's table of APIs from the codec's own table
#   make deps       install the Debian packages brook needs (apt, as root or via sudo)

CC       ?= cc
BUILD    ?= build
SAN      ?=
OPT      ?= -O2
SPECS    ?= ../shared/kafka-protocol
PYTHON   ?= python3
FUZZ_SECONDS ?= 60

PKGS     := libuv libzstd liblz4 zlib openssl
CFLAGS_BASE := -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wvla \
               -g $(OPT) -fno-strict-aliasing -MMD -MP -I. -Iprotocol
ifeq ($(SAN),1)
CFLAGS_BASE += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS_SAN := -fsanitize=address,undefined
endif
CFLAGS   ?=
CFLAGS   += $(CFLAGS_BASE)
LDLIBS   := -luv -lzstd -llz4 -lsnappy -lz -lm -lpthread
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lrt -lpthread -lm)

PROTO_SRC := $(sort $(wildcard protocol/*.c protocol/gen/*.c))
PROTO_OBJ := $(PROTO_SRC:%.c=$(BUILD)/%.o)
PROTO_LIB := $(BUILD)/libbkproto.a

STORE_SRC := $(sort $(wildcard storage/*.c))
STORE_OBJ := $(STORE_SRC:%.c=$(BUILD)/%.o)
STORE_LIB := $(BUILD)/libbkstore.a

REPL_SRC := $(sort $(wildcard replication/*.c))
REPL_OBJ := $(REPL_SRC:%.c=$(BUILD)/%.o)
REPL_LIB := $(BUILD)/libbkrepl.a

CONFIG_SRC := $(sort $(wildcard config/*.c))
CONFIG_OBJ := $(CONFIG_SRC:%.c=$(BUILD)/%.o)
CONFIG_LIB := $(BUILD)/libbkconfig.a

# Everything of brookd but main() is a library, so unit tests can link it.
SERVER_SRC := $(sort $(filter-out server/main.c,$(wildcard server/*.c server/*/*.c)))
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/%.o)
SERVER_LIB := $(BUILD)/libbkserver.a
BROOKD     := $(BUILD)/brookd
BROOK_LIBS := $(SERVER_LIB) $(CONFIG_LIB) $(REPL_LIB) $(STORE_LIB) $(PROTO_LIB)

UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_HELP_SRC := $(sort $(filter-out $(UNIT_SRC),$(wildcard tests/unit/*.c)))
UNIT_HELP_OBJ := $(UNIT_HELP_SRC:%.c=$(BUILD)/%.o)

BENCH_SRC  := $(sort $(wildcard tests/bench/bench_*.c))
BENCH_BIN  := $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)

FUZZ_SRC   := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN   := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)

.PHONY: all run test unit unit-asan fuzz fuzz-smoke bench regen regen-check deps \
        check-deps format clean golden-capture api-table readme-check storage-compat

all: check-deps $(BROOKD) $(BROOK_LIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(PROTO_LIB): $(PROTO_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(STORE_LIB): $(STORE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(REPL_LIB): $(REPL_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# RAFT_DEFS compiles deliberate bugs into the Raft core (make sim-bug).
$(REPL_OBJ): CFLAGS += $(RAFT_DEFS)

$(CONFIG_LIB): $(CONFIG_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(SERVER_LIB): $(SERVER_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BROOKD): $(BUILD)/server/main.o $(BROOK_LIBS)
	$(CC) $(LDFLAGS_SAN) -o $@ $(BUILD)/server/main.o $(BROOK_LIBS) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(UNIT_HELP_OBJ) $(BROOK_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(UNIT_HELP_OBJ) $(BROOK_LIBS) $(LDFLAGS_SAN) $(CHECK_LIBS) $(LDLIBS)

$(BUILD)/bench/%: tests/bench/%.c $(BROOK_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -march=native -o $@ $< $(BROOK_LIBS) $(LDFLAGS_SAN) $(LDLIBS)

# Fuzzers are always built with clang, libFuzzer and both sanitizers.
FUZZ_CFLAGS := -std=gnu11 -g -O1 -I. -Iprotocol -fsanitize=fuzzer,address,undefined \
               -fno-sanitize-recover=all -Wall -Wextra -Werror
build/fuzz/%: tests/fuzz/%.c $(PROTO_SRC) $(wildcard protocol/*.h protocol/gen/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< $(PROTO_SRC) $(LDLIBS)

run: all
	@mkdir -p data
	./$(BROOKD)

APITABLE := $(BUILD)/tools/apitable
$(APITABLE): protocol/codegen/apitable.c $(BROOK_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BROOK_LIBS) $(LDFLAGS_SAN) $(LDLIBS)

LOGWRITE := $(BUILD)/tools/logwrite
$(LOGWRITE): tests/storage/logwrite.c $(STORE_LIB) $(PROTO_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(STORE_LIB) $(PROTO_LIB) $(LDFLAGS_SAN) $(LDLIBS)

# Segments that brook writes, checked by Apache Kafka's DumpLogSegments.
storage-compat: $(LOGWRITE)
	@tests/storage/kafka_compat.sh $(LOGWRITE)

# Rewrites the table between the api-table markers in README.md.
api-table: $(APITABLE)
	@$(APITABLE) >$(BUILD)/api-table.md
	@awk -v f=$(BUILD)/api-table.md '/<!-- api-table:end -->/ {skip=0} \
	    !skip {print} /<!-- api-table:begin -->/ {while ((getline l < f) > 0) print l; skip=1}' \
	    README.md >$(BUILD)/README.new && mv $(BUILD)/README.new README.md
	@echo "README.md: API table refreshed"

readme-check: $(APITABLE)
	@tests/readme_check.sh $(APITABLE)

unit: check-deps $(UNIT_BIN)
	@tests/unit/run.sh $(UNIT_BIN)

unit-asan:
	BK_SUITE_NAME=unit-asan $(MAKE) BUILD=build/asan SAN=1 OPT=-O1 unit

# kill -9 at thousands of random moments while a child appends and flushes;
# recovery must keep every acknowledged batch (BK_CRASH_SEED=<n> replays a run).
CRASH_ROUNDS ?= 5000
.PHONY: crash
crash: check-deps $(BUILD)/tests/test_log_crash
	BK_CRASH_ROUNDS=$(CRASH_ROUNDS) $(BUILD)/tests/test_log_crash

# Real clients against a real brookd (tests/integration): kcat, librdkafka
# from C, confluent-kafka, kafka-python, kafkajs, franz-go, the Java client
# and Kafka's CLI tools, and raw bad input. `make test` runs them against the
# ASan+UBSan build of brookd, so a memory error in the server fails the run.
.PHONY: integration integration-asan deploy
integration: check-deps $(BROOKD)
	@tests/integration/run.sh

integration-asan: check-deps
	@$(MAKE) --no-print-directory BUILD=build/asan SAN=1 OPT=-O1 build/asan/brookd
	@BROOKD=$(CURDIR)/build/asan/brookd tests/integration/run.sh

# The deployment files: compose, Dockerfile, systemd unit, sd_notify readiness.
deploy: check-deps $(BROOKD)
	@tests/deploy/run.sh

# Every test.
# Each step records its totals in build/test-summary.txt; a failing step does
# not hide the others, and the summary decides the exit status.
test: check-deps
	@mkdir -p build && rm -f build/test-summary.txt
	@# Apache Kafka's jars (Maven Central, into .cache/): several suites check
	@# brook's files with Kafka's own tools and skip, saying so, without them.
	@tests/tools/kafka.sh install || echo "test: Kafka's jars could not be installed; Kafka-tool checks will be SKIPPED"
	@$(MAKE) --no-print-directory unit || echo "make-unit 0 1" >>build/test-summary.txt
	@$(MAKE) --no-print-directory unit-asan || echo "make-unit-asan 0 1" >>build/test-summary.txt
	@$(MAKE) --no-print-directory sim || echo "make-sim 0 1" >>build/test-summary.txt
	@$(MAKE) --no-print-directory regen-check || echo "make-regen-check 0 1" >>build/test-summary.txt
	@$(MAKE) --no-print-directory readme-check || echo "make-readme-check 0 1" >>build/test-summary.txt
	@$(MAKE) --no-print-directory storage-compat || echo "make-storage-compat 0 1" >>build/test-summary.txt
	@$(MAKE) --no-print-directory fuzz-smoke || echo "make-fuzz-smoke 0 1" >>build/test-summary.txt
	@$(MAKE) --no-print-directory integration-asan || echo "make-integration 0 1" >>build/test-summary.txt
	@$(MAKE) --no-print-directory deploy || echo "make-deploy 0 1" >>build/test-summary.txt
	@tests/summary.sh

fuzz: check-deps $(FUZZ_BIN)
	@tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_BIN)

fuzz-smoke: check-deps $(FUZZ_BIN)
	@tests/fuzz/run.sh 20 $(FUZZ_BIN)

bench: check-deps $(BENCH_BIN)
	@for b in $(BENCH_BIN); do echo "== $$b"; $$b || exit 1; done

# brookd against Apache Kafka 4.0 under the same loads, beside the machine's
# loopback and disk limits (tests/bench/broker.sh; build/bench-broker.md).
BROKER_BENCH_BIN := $(addprefix $(BUILD)/bench/,loadgen tcp_baseline disk_baseline rdk_perf)
$(BUILD)/bench/rdk_perf: LDLIBS += -lrdkafka
.PHONY: bench-broker
bench-broker: check-deps $(BROOKD) $(BROKER_BENCH_BIN)
	@tests/bench/broker.sh $(BUILD)

# Produce throughput with idempotence on against off (loadgen and librdkafka,
# alternating repetitions), brookd and Kafka 4.0 (build/bench-idempotence.md).
.PHONY: bench-idempotence
bench-idempotence: check-deps $(BROOKD) $(BROKER_BENCH_BIN)
	@tests/bench/broker.sh $(BUILD) idempotence

# Consumer groups on brookd and Apache Kafka 4.0 side by side: rebalance time
# of 20 members over 100 partitions when one joins, offset commits per second
# (tests/bench/groups.sh with a franz-go driver; build/bench-groups.md).
.PHONY: bench-groups
bench-groups: check-deps $(BROOKD)
	@tests/bench/groups.sh $(BUILD)

# Deterministic simulation of Raft groups (tests/sim): SIM_SEEDS seeds with
# faults, safety checked after every step; a failing seed prints its replay
# command and leaves its trace in $(BUILD)/sim. sim-bug proves the checks
# catch cores with bugs compiled in (replication/README.md lists what each
# one breaks and which check sees it). SIM_GROUP_SEEDS more seeds run 8
# groups on the same nodes with their heartbeats coalesced per node pair.
SIM_SEEDS ?= 10000
SIM_GROUP_SEEDS ?= 500
SIM_JOBS ?= 2
SIM_SRC := $(sort $(wildcard tests/sim/*.c))
SIM_BIN := $(BUILD)/sim/raft_sim
$(SIM_BIN): $(SIM_SRC:%.c=$(BUILD)/%.o) $(REPL_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_SAN) -o $@ $^
.PHONY: sim sim-bug bench-raft
sim: $(SIM_BIN)
	@$(SIM_BIN) --seeds $(SIM_SEEDS) --jobs $(SIM_JOBS) --max-seconds 300 \
	    --trace-dir $(BUILD)/sim --summary $(BUILD)/test-summary.txt
	@$(SIM_BIN) --seeds $(SIM_GROUP_SEEDS) --groups 8 --jobs $(SIM_JOBS) --max-seconds 120 \
	    --trace-dir $(BUILD)/sim --summary $(BUILD)/test-summary.txt
RAFT_BUGS := COMMIT_OLD_TERM COUNT_UNFLUSHED NO_PREVOTE NO_CHECK_QUORUM VOTE_STALE_LOG \
    VOTE_LONGER_LOG VOTE_TWICE VOTE_NOT_PERSISTED CANDIDATE_NOT_PERSISTED TERM_NOT_PERSISTED \
    NO_TRUNCATE PREV_TERM_UNCHECKED COMMIT_UNVERIFIED TRUNCATE_STALE BACKOFF_PAST_DIVERGENCE \
    LEARNER_COUNTS CONCURRENT_CHANGES CHANGE_BEFORE_OWN_TERM PREVOTE_FORGETS_VERIFIED
sim-bug:
	@for bug in $(RAFT_BUGS); do \
	    $(MAKE) --no-print-directory BUILD=build/raftbug-$$bug RAFT_DEFS=-DBK_RAFT_BUG_$$bug \
	        build/raftbug-$$bug/sim/raft_sim >/dev/null || exit 1; \
	    if build/raftbug-$$bug/sim/raft_sim --seeds $(SIM_SEEDS) --jobs $(SIM_JOBS) --max-seconds 300 \
	        --trace-dir build/raftbug-$$bug/sim; then \
	        echo "sim-bug: BK_RAFT_BUG_$$bug was NOT caught"; exit 1; fi; \
	    echo "sim-bug: BK_RAFT_BUG_$$bug was caught"; done

# The Raft core's cost per committed batch (3 nodes, pipelined) and the
# simulator's steps per second.
bench-raft: $(BUILD)/bench/bench_raft $(SIM_BIN)
	@$(BUILD)/bench/bench_raft
	@$(SIM_BIN) --seeds 200 --no-faults | tail -1
	@$(SIM_BIN) --seeds 200 | tail -1

regen:
	$(PYTHON) protocol/codegen/bkgen.py --specs $(SPECS) --out protocol/gen

# Fails when the committed codec differs from a fresh generation (skipped
# with a message when the specs are not beside the checkout).
regen-check:
	@tests/regen_check.sh $(SPECS)

deps:
	@tests/tools/deps.sh install

check-deps:
	@tests/tools/deps.sh check || tests/tools/deps.sh install

format:
	clang-format -i $$(git ls-files '*.c' '*.h' | grep -v '^protocol/gen/')

golden-capture:
	tests/golden/capture.sh

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
