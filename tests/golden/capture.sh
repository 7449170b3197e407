#!/usr/bin/env bash
# capture.sh: record golden protocol fixtures from a real Apache Kafka 4.0
# broker and real clients (run by hand: `make golden-capture`; the test
# suite only reads the committed fixtures). See tests/golden/README.md.
#
#   tests/golden/capture.sh [CLIENT...]
#
# CLIENT is one or more of: kcat confluent_kafka kafka_python kafkajs java
# franz_go (default: all). For each client it
#   1. installs it (tests/tools/clients.sh) and builds its scenario program;
#   2. starts tests/golden/proxy.py on the proxy port, recording every frame
#      into WORK/raw/<client>.raw (a separate raw file per client);
#   3. runs the scenario (tests/golden/clients/) against the proxy, bounded
#      by GOLDEN_CLIENT_TIMEOUT_S;
#   4. stops the proxy and runs `proxy.py extract` into
#      tests/golden/fixtures/<client>/ (NNNN-<Api>-v<ver>.req/.resp,
#      INDEX.tsv) and writes CLIENT.txt (client versions, scenario result).
# One Kafka 4.0 broker (tests/tools/kafka.sh) serves all clients; it listens
# on a loopback port and advertises the proxy's port, so every connection a
# client opens after bootstrap also goes through the proxy. The broker, the
# proxy and a watchdog are stopped by an EXIT trap; the watchdog stops the
# broker and proxy by itself after GOLDEN_MAX_S even if this script is
# killed.
#
# Environment (all optional):
#   GOLDEN_WORK             work dir: raw captures, logs, builds (default: a
#                           new /tmp/brook-golden.XXXXXX, removed at the end
#                           unless GOLDEN_KEEP_WORK=1)
#   GOLDEN_BROKER_DIR       the broker's dir (default /tmp/brook-golden-kafka,
#                           wiped before and after). A fixed path: the
#                           broker's log.dirs shows up in DescribeConfigs
#                           responses, and the fixtures should not carry a
#                           random or machine-specific path.
#   GOLDEN_BROKER_PORT      broker port (default 39092, or a free one)
#   GOLDEN_PROXY_PORT       proxy port  (default 39093, or a free one)
#   GOLDEN_CLIENT_TIMEOUT_S per-client scenario limit (default 240)
#   GOLDEN_MAX_S            limit for the whole capture (default 2400)
#   GOLDEN_KEEP             proxy.py extract --keep       (default 2)
#   GOLDEN_KEEP_CODEC       proxy.py extract --keep-codec (default 12)
#   GOLDEN_KEEP_ROLES       proxy.py extract --keep-roles (default 6)
#   GOLDEN_RECORDS          records per codec (default 20)
# Exit status: 0 when every requested client ran its scenario fully or was
# SKIPPED for a missing toolchain; 1 when some client failed or is partial.

set -euo pipefail

GOLDEN_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$GOLDEN_DIR/../.." && pwd)
CLIENTS_DIR="$GOLDEN_DIR/clients"
FIXTURES="$GOLDEN_DIR/fixtures"
PROXY="$GOLDEN_DIR/proxy.py"
ALL_CLIENTS=(kcat confluent_kafka kafka_python kafkajs java franz_go)

# shellcheck source=../tools/kafka.sh
source "$REPO/tests/tools/kafka.sh"
# shellcheck source=../tools/clients.sh
source "$REPO/tests/tools/clients.sh"

log() { echo "capture.sh: $*" >&2; }

CLIENT_TIMEOUT=${GOLDEN_CLIENT_TIMEOUT_S:-240}
MAX_S=${GOLDEN_MAX_S:-2400}
export GOLDEN_RECORDS=${GOLDEN_RECORDS:-20}
# A fixed cluster id keeps Metadata/DescribeCluster responses stable across
# refreshes (base64url of "brook-golden-fix").
export KAFKA_CLUSTER_ID=YnJvb2stZ29sZGVuLWZpeA

# ------------------------------------------------------------------ args

want=()
if (($# == 0)); then
    want=("${ALL_CLIENTS[@]}")
else
    for c in "$@"; do
        case " ${ALL_CLIENTS[*]} " in
            *" $c "*) want+=("$c") ;;
            *) log "unknown client '$c' (one of: ${ALL_CLIENTS[*]})"; exit 2 ;;
        esac
    done
fi

# ------------------------------------------------------------------ work dir, cleanup

BROKER_DIR=${GOLDEN_BROKER_DIR:-/tmp/brook-golden-kafka}
if kafka_pid "$BROKER_DIR" >/dev/null; then
    log "a broker is already running in $BROKER_DIR (another capture?); stop it first:"
    log "  tests/tools/kafka.sh stop $BROKER_DIR"
    exit 1
fi
rm -rf "$BROKER_DIR"
if [[ -n ${GOLDEN_WORK:-} ]]; then
    WORK=$GOLDEN_WORK
    mkdir -p "$WORK"
else
    WORK=$(mktemp -d /tmp/brook-golden.XXXXXX)
fi
WORK=$(cd "$WORK" && pwd)
mkdir -p "$WORK/raw" "$WORK/logs" "$WORK/build"
PROXY_PID=
WATCHDOG_PID=
SCENARIO_PID=

stop_proxy() {
    local i
    [[ -n $PROXY_PID ]] || return 0
    kill -TERM "$PROXY_PID" 2>/dev/null || true
    for ((i = 0; i < 40; i++)); do
        kill -0 "$PROXY_PID" 2>/dev/null || break
        sleep 0.25
    done
    kill -KILL "$PROXY_PID" 2>/dev/null || true
    wait "$PROXY_PID" 2>/dev/null || true
    PROXY_PID=
}

cleanup() {
    local rc=$? i
    if [[ -n $SCENARIO_PID ]]; then
        # `timeout` passes the TERM on to the client program
        kill -TERM "$SCENARIO_PID" 2>/dev/null || true
        for ((i = 0; i < 40; i++)); do
            kill -0 "$SCENARIO_PID" 2>/dev/null || break
            sleep 0.25
        done
        kill -KILL "$SCENARIO_PID" 2>/dev/null || true
    fi
    stop_proxy
    if [[ -n ${BROKER_STARTED:-} ]]; then
        kafka_stop "$BROKER_DIR" 2>/dev/null || true
    fi
    if [[ -n $WATCHDOG_PID ]]; then
        kill -TERM "$WATCHDOG_PID" 2>/dev/null || true
        wait "$WATCHDOG_PID" 2>/dev/null || true
    fi
    if [[ ${GOLDEN_KEEP_WORK:-0} == 1 || -n ${GOLDEN_WORK:-} ]]; then
        log "work dir kept: $WORK (broker dir: $BROKER_DIR)"
    else
        rm -rf "$WORK"
        [[ -n ${BROKER_STARTED:-} ]] && rm -rf "$BROKER_DIR"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ ports

pick_port() {
    local want=$1
    if [[ -n $want ]] && ! kafka_port_in_use "$want"; then
        echo "$want"
    else
        kafka_free_port
    fi
}
BROKER_PORT=$(pick_port "${GOLDEN_BROKER_PORT:-39092}")
PROXY_PORT=$(pick_port "${GOLDEN_PROXY_PORT:-39093}")
if [[ $PROXY_PORT == "$BROKER_PORT" ]]; then
    PROXY_PORT=$(kafka_free_port)
fi
BOOTSTRAP="127.0.0.1:$PROXY_PORT"

# ------------------------------------------------------------------ install, build

declare -A STATUS NOTE

# not_installed CLIENT PART: CLIENT cannot run because clients.sh could not
# install PART: SKIPPED when its toolchain is missing, FAILED otherwise.
not_installed() {
    local c=$1 part=$2 st=${CLIENTS_STATUS[$2]:-FAILED}
    [[ $st == ok ]] && st=FAILED
    STATUS[$c]=$st
    NOTE[$c]="clients.sh install $part: $st: ${CLIENTS_REASON[$part]:-not installed}"
    log "$c: ${STATUS[$c]}: ${NOTE[$c]}"
}

# prepare_<client>: install + build; sets STATUS SKIPPED/FAILED on trouble.
# cmd_<client>: sets CMD to the scenario's command line (run under timeout).
# version_<client>: one line naming the client's version(s).

prepare_python() {
    clients_install_python || return 1
    [[ -x $CLIENTS_PY ]] || return 2
}

prepare_kafka_python() {
    prepare_python || { not_installed kafka_python python; return; }
}
cmd_kafka_python() { CMD=("$CLIENTS_PY" "$CLIENTS_DIR/py_kafka_python.py" "$BOOTSTRAP"); }
version_kafka_python() { "$CLIENTS_PY" -c 'import kafka; print("kafka-python", kafka.__version__)'; }

prepare_confluent_kafka() {
    prepare_python || { not_installed confluent_kafka python; return; }
}
cmd_confluent_kafka() { CMD=("$CLIENTS_PY" "$CLIENTS_DIR/py_confluent.py" "$BOOTSTRAP"); }
version_confluent_kafka() {
    "$CLIENTS_PY" -c 'import confluent_kafka as c; print("confluent-kafka", c.__version__, "(bundled librdkafka %s)" % c.libversion()[0])'
}

prepare_kcat() {
    clients_install_kcat || true
    command -v kcat >/dev/null || not_installed kcat kcat
}
cmd_kcat() { CMD=(bash "$CLIENTS_DIR/kcat.sh" "$BOOTSTRAP"); }
version_kcat() { kcat -V 2>&1 | sed -n 's/^Version \([^ ]*\).*librdkafka \([^ ]*\).*/kcat \1 (Debian package, librdkafka \2)/p'; }

prepare_kafkajs() {
    clients_install_node || true
    [[ -d $CLIENTS_NODE_DIR/node_modules/kafkajs ]] || { not_installed kafkajs node; return; }
}
cmd_kafkajs() { CMD=(env NODE_PATH="$CLIENTS_NODE_DIR/node_modules" node "$CLIENTS_DIR/node_kafkajs.js" "$BOOTSTRAP"); }
version_kafkajs() {
    NODE_PATH="$CLIENTS_NODE_DIR/node_modules" node -e '
        const out = ["kafkajs " + require("kafkajs/package.json").version];
        for (const p of ["kafkajs-snappy", "kafkajs-lz4", "@kafkajs/zstd"]) {
          try { require(p); out.push(p + " " + require(p + "/package.json").version); }
          catch (e) { out.push(p + " not installed"); }
        }
        console.log(out.join(", "));'
}

prepare_java() {
    clients_install_java || true
    if ! compgen -G "$CLIENTS_JAVA_LIBS/kafka-clients-*.jar" >/dev/null; then
        not_installed java java
        return
    fi
    mkdir -p "$WORK/build/java"
    if ! timeout 300 javac -nowarn -d "$WORK/build/java" -cp "$CLIENTS_JAVA_LIBS/*" \
            "$CLIENTS_DIR/java/Capture.java" >"$WORK/logs/javac.log" 2>&1; then
        cat "$WORK/logs/javac.log" >&2
        STATUS[java]=FAILED; NOTE[java]="javac failed"
    fi
}
cmd_java() {
    CMD=(java -Xmx256m -cp "$WORK/build/java:$CLIENTS_JAVA_LIBS/*" -Dlog4j2.level=WARN
         Capture "$BOOTSTRAP")
}
version_java() { echo "Apache Kafka Java client $(cd "$CLIENTS_JAVA_LIBS" && ls kafka-clients-*.jar | sed 's/^kafka-clients-//; s/\.jar$//') on $(java -version 2>&1 | head -n 1)"; }

prepare_franz_go() {
    clients_install_go || true
    if [[ ${CLIENTS_STATUS[go]:-} != ok ]]; then
        not_installed franz_go go
        return
    fi
    if ! (cd "$CLIENTS_GO_DIR" && env "${CLIENTS_GO_ENV[@]}" timeout 600 \
            go build -o "$WORK/build/golden-franz-go" "$CLIENTS_DIR/go/main.go") \
            >"$WORK/logs/go-build.log" 2>&1; then
        cat "$WORK/logs/go-build.log" >&2
        STATUS[franz_go]=FAILED; NOTE[franz_go]="go build failed"
    fi
}
cmd_franz_go() { CMD=("$WORK/build/golden-franz-go" "$BOOTSTRAP"); }
version_franz_go() {
    (cd "$CLIENTS_GO_DIR" && env "${CLIENTS_GO_ENV[@]}" go list -m -f '{{.Path}} {{.Version}}' \
        github.com/twmb/franz-go github.com/twmb/franz-go/pkg/kadm github.com/twmb/franz-go/pkg/kmsg |
        tr '\n' ' ' && go version | cut -d' ' -f3)
}

for c in "${want[@]}"; do
    STATUS[$c]=ready
    NOTE[$c]=
    "prepare_$c"
done

# ------------------------------------------------------------------ broker, watchdog

start_broker() {
    kafka_install
    log "broker on 127.0.0.1:$BROKER_PORT, proxy on $BOOTSTRAP, work dir $WORK"
    # From here on everything is bounded by the watchdog: it stops the broker
    # and the proxy after MAX_S seconds even if this script dies without its trap.
    (
        trap 'exit 0' TERM
        for ((i = 0; i < MAX_S; i++)); do sleep 1; done
        echo "capture.sh: watchdog: ${MAX_S}s limit reached, stopping broker and proxy" >&2
        [[ -f $BROKER_DIR/kafka.pid ]] && kill -KILL "$(cat "$BROKER_DIR/kafka.pid")" 2>/dev/null
        [[ -f $WORK/proxy.pid ]] && kill -KILL "$(cat "$WORK/proxy.pid")" 2>/dev/null
        exit 0
    ) &
    WATCHDOG_PID=$!

    BROKER_STARTED=1
    kafka_start "$BROKER_DIR" "$BROKER_PORT" "$PROXY_PORT"
    if ! grep -q 'group.coordinator.rebalance.protocols = \[.*consumer' "$BROKER_DIR/logs/server.log"; then
        log "note: the broker's group.coordinator.rebalance.protocols lacks 'consumer' (KIP-848 scenarios will fail)"
    fi
}

# ------------------------------------------------------------------ per client

start_proxy() {
    local raw=$1 i
    : >"$raw"
    timeout -k 5 "$MAX_S" python3 "$PROXY" serve --listen "$PROXY_PORT" --broker "$BROKER_PORT" \
        --raw "$raw" --max-seconds "$MAX_S" 2>>"$WORK/logs/proxy.log" &
    PROXY_PID=$!
    echo "$PROXY_PID" >"$WORK/proxy.pid"
    for ((i = 0; i < 50; i++)); do
        kafka_port_in_use "$PROXY_PORT" && return 0
        kill -0 "$PROXY_PID" 2>/dev/null || break
        sleep 0.2
    done
    log "proxy did not come up on $BOOTSTRAP"
    return 1
}

capture_one() {
    local c=$1 raw="$WORK/raw/$1.raw" out="$FIXTURES/$1" rc=0 t0 secs
    log "=== $c"
    start_proxy "$raw" || { STATUS[$c]=FAILED; NOTE[$c]="proxy did not start"; return; }
    t0=$SECONDS
    set +e
    "cmd_$c"
    # In the background + wait, so that a signal to this script is handled at
    # once (cleanup then stops the scenario too).
    timeout -k 10 "$CLIENT_TIMEOUT" "${CMD[@]}" </dev/null >"$WORK/logs/$c.log" 2>&1 &
    SCENARIO_PID=$!
    wait "$SCENARIO_PID"
    rc=$?
    SCENARIO_PID=
    set -e
    secs=$((SECONDS - t0))
    stop_proxy
    if ((rc == 124 || rc == 137)); then
        STATUS[$c]=partial; NOTE[$c]="scenario hit the ${CLIENT_TIMEOUT}s limit"
    elif ((rc != 0)); then
        STATUS[$c]=partial; NOTE[$c]="scenario exited $rc (failed steps: $(grep -o 'failed steps: .*' "$WORK/logs/$c.log" | tail -n 1 | cut -c15- || true))"
    else
        STATUS[$c]=ok; NOTE[$c]="scenario passed in ${secs}s"
    fi
    grep -E 'FAILED|done;' "$WORK/logs/$c.log" | tail -n 20 >&2 || true
    if [[ ! -s $raw ]]; then
        STATUS[$c]=FAILED; NOTE[$c]="nothing recorded (${NOTE[$c]})"
        tail -n 30 "$WORK/logs/$c.log" >&2
        return
    fi
    python3 "$PROXY" extract --raw "$raw" --out "$out" --client "$c" \
        --keep "${GOLDEN_KEEP:-2}" --keep-codec "${GOLDEN_KEEP_CODEC:-12}" \
        --keep-roles "${GOLDEN_KEEP_ROLES:-6}"
    {
        echo "client: $c"
        echo "version: $("version_$c" 2>/dev/null | head -n 1)"
        echo "broker: Apache Kafka $KAFKA_VERSION (KRaft, single node, tests/tools/kafka.sh)"
        echo "scenario: tests/golden/clients/ ($c), $GOLDEN_RECORDS records per codec"
        echo "result: ${STATUS[$c]}: ${NOTE[$c]}"
        # notes the scenario printed (e.g. a codec it had to skip)
        grep -o 'note: .*' "$WORK/logs/$c.log" | sort -u || true
        echo "captured: $(date -u +%Y-%m-%d)"
    } >"$out/CLIENT.txt"
}

# ------------------------------------------------------------------ main

ready=0
for c in "${want[@]}"; do
    [[ ${STATUS[$c]} == ready ]] && ready=$((ready + 1))
done
if ((ready == 0)); then
    log "no client can run; not starting Kafka"
else
    start_broker
    for c in "${want[@]}"; do
        [[ ${STATUS[$c]} == ready ]] || continue
        capture_one "$c"
    done
fi


# ------------------------------------------------------------------ summary

fail=0
# The fixtures are committed: they must not name this checkout or the
# random work dir (the broker's fixed dir is expected in DescribeConfigs).
for c in "${want[@]}"; do
    [[ -d $FIXTURES/$c ]] || continue
    if grep -rlaF -e "$REPO" -e "$WORK" "$FIXTURES/$c" >&2; then
        log "$c: the files above contain a local path (${REPO} or ${WORK})"
        STATUS[$c]=FAILED; NOTE[$c]="fixtures contain a local path"
    fi
done
log "summary:"
for c in "${want[@]}"; do
    printf 'capture.sh:   %-16s %-8s %s\n' "$c" "${STATUS[$c]}" "${NOTE[$c]}" >&2
    case ${STATUS[$c]} in ok | SKIPPED) ;; *) fail=1 ;; esac
done
log "fixtures in ${FIXTURES#"$REPO"/}: $(cat "$FIXTURES"/*/*.req "$FIXTURES"/*/*.resp 2>/dev/null | wc -c) bytes of frames"
exit $fail
