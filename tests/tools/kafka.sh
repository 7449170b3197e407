#!/usr/bin/env bash
# kafka.sh: fetch and run a real Apache Kafka 4.0.0 broker (single node,
# KRaft, broker+controller in one JVM) on 127.0.0.1, for tests that compare
# brook with the real thing.
#
# Use it as a command:
#   tests/tools/kafka.sh install
#   tests/tools/kafka.sh start WORKDIR PORT [ADVERTISED_PORT]
#   tests/tools/kafka.sh stop  WORKDIR
#   tests/tools/kafka.sh status WORKDIR
# or source it from another bash script and call the functions:
#   source tests/tools/kafka.sh
#   kafka_install                              # idempotent; fast when done
#   kafka_start "$dir" 39092 39093             # returns once the broker answers
#   ...
#   kafka_stop "$dir"
#
# install  Puts Kafka's jars and its runtime classpath (log4j2 backend
#          included) into .cache/kafka-4.0.0/libs, using Maven with
#          tests/tools/pom.xml and .cache/m2 as the local repository.
# start    WORKDIR is created if needed and holds everything of that broker:
#          server.properties, log4j2.properties, data/ (log.dirs and KRaft
#          metadata), kafka.out (stdout/stderr), logs/, kafka.pid, and
#          ports.env (PORT, ADVERTISED_PORT, CONTROLLER_PORT, INTERNAL_PORT).
#          Storage is formatted with kafka.tools.StorageTool (--standalone)
#          on first start; a restart on the same WORKDIR keeps the data.
#          Listeners, all on 127.0.0.1:
#            PLAINTEXT  PORT, advertised to clients as ADVERTISED_PORT
#                       (default PORT). Point ADVERTISED_PORT at a proxy to
#                       have clients reconnect through it.
#            INTERNAL   inter-broker listener, free port picked at start,
#                       advertised as itself (the broker's own traffic never
#                       goes through the proxy).
#            CONTROLLER KRaft controller listener, free port picked at start.
#          Waits (bounded by KAFKA_START_TIMEOUT_S, default 60) until the
#          broker answers an ApiVersions request on PORT.
# stop     SIGTERM, wait up to KAFKA_STOP_TIMEOUT_S (default 30), then
#          SIGKILL. Leaves WORKDIR on disk (delete it yourself if wanted).
#
# Environment knobs (all optional):
#   KAFKA_CLUSTER_ID        cluster id for formatting (default: random)
#   KAFKA_HEAP              JVM heap, default 512m
#   KAFKA_EXTRA_PROPS       extra lines appended to server.properties
#   KAFKA_CONTROLLER_PORT   fixed controller port instead of a free one
#   KAFKA_INTERNAL_PORT     fixed inter-broker port instead of a free one
#   KAFKA_LOG_LEVEL         root log level (default INFO)
#
# Needs: java (17+), mvn (install only), python3 (readiness probe, free
# ports). Paths are relative to the repository root found from this file.

KAFKA_VERSION=4.0.0
KAFKA_TOOLS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KAFKA_REPO_ROOT=$(cd "$KAFKA_TOOLS_DIR/../.." && pwd)
KAFKA_CACHE_DIR="$KAFKA_REPO_ROOT/.cache"
KAFKA_HOME="$KAFKA_CACHE_DIR/kafka-$KAFKA_VERSION"
KAFKA_LIBS="$KAFKA_HOME/libs"
KAFKA_M2="$KAFKA_CACHE_DIR/m2"

_kafka_log() { echo "kafka.sh: $*" >&2; }

# mvn_copy_deps PROFILE OUTDIR: copy the runtime classpath of a profile of
# tests/tools/pom.xml into OUTDIR (replacing it), then drop a stamp file that
# records which pom it came from. Bounded by 600 s.
kafka_mvn_copy_deps() {
    local profile=$1 out=$2 stamp want
    stamp="$out/.stamp"
    want="$profile $(sha256sum "$KAFKA_TOOLS_DIR/pom.xml" | cut -c1-16)"
    if [[ -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
        return 0
    fi
    command -v mvn >/dev/null || { _kafka_log "mvn not found (apt-get install -y maven)"; return 1; }
    _kafka_log "fetching profile '$profile' into ${out#"$KAFKA_REPO_ROOT"/}"
    rm -rf "$out.tmp"
    # Explicit failure check: callers that source this file may not run
    # under `set -e`, and a failed fetch must not be stamped as installed.
    if ! timeout 600 mvn -q -B -Dstyle.color=never -f "$KAFKA_TOOLS_DIR/pom.xml" -P "$profile" \
        -Dmaven.repo.local="$KAFKA_M2" \
        dependency:copy-dependencies -DincludeScope=runtime \
        -DoutputDirectory="$out.tmp" >&2; then
        _kafka_log "mvn dependency:copy-dependencies (profile '$profile') failed"
        rm -rf "$out.tmp"
        return 1
    fi
    rm -rf "$out"
    mv "$out.tmp" "$out"
    echo "$want" >"$stamp"
}

kafka_install() {
    command -v java >/dev/null || { _kafka_log "java not found (apt-get install -y openjdk-17-jdk-headless)"; return 1; }
    kafka_mvn_copy_deps server "$KAFKA_LIBS"
}

# A free TCP port on 127.0.0.1 (the kernel's pick).
kafka_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# kafka_port_in_use PORT: true if something accepts on 127.0.0.1:PORT.
kafka_port_in_use() {
    python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket()
s.settimeout(1)
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
sys.exit(0)
EOF
}

# kafka_probe PORT [TIMEOUT_S]: true if a Kafka broker on 127.0.0.1:PORT
# answers an ApiVersions v0 request within TIMEOUT_S (default 3).
kafka_probe() {
    python3 - "$1" "${2:-3}" <<'EOF'
import socket, struct, sys
port, limit = int(sys.argv[1]), float(sys.argv[2])
client_id = b"kafka.sh-probe"
# request header v1: api_key 18 (ApiVersions), version 0, correlation id 1
body = struct.pack(">hhih", 18, 0, 1, len(client_id)) + client_id
try:
    s = socket.create_connection(("127.0.0.1", port), timeout=limit)
    s.settimeout(limit)
    s.sendall(struct.pack(">i", len(body)) + body)
    head = b""
    while len(head) < 10:
        chunk = s.recv(10 - len(head))
        if not chunk:
            sys.exit(1)
        head += chunk
    size, corr, err = struct.unpack(">iih", head)
    sys.exit(0 if corr == 1 and err == 0 else 1)
except OSError:
    sys.exit(1)
EOF
}

# kafka_pid WORKDIR: prints the pid if that broker is running.
kafka_pid() {
    local dir=$1 pid
    [[ -f $dir/kafka.pid ]] || return 1
    pid=$(cat "$dir/kafka.pid")
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

kafka_write_config() {
    local dir=$1 port=$2 adv=$3 cport=$4 iport=$5
    cat >"$dir/server.properties" <<EOF
# written by tests/tools/kafka.sh
process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://127.0.0.1:$port,INTERNAL://127.0.0.1:$iport,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$adv,INTERNAL://127.0.0.1:$iport
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=INTERNAL
controller.listener.names=CONTROLLER
controller.quorum.bootstrap.servers=127.0.0.1:$cport
log.dirs=$dir/data
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
delete.topic.enable=true
EOF
    if [[ -n ${KAFKA_EXTRA_PROPS:-} ]]; then
        printf '%s\n' "$KAFKA_EXTRA_PROPS" >>"$dir/server.properties"
    fi
    cat >"$dir/log4j2.properties" <<EOF
# written by tests/tools/kafka.sh
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = $dir/logs/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = ${KAFKA_LOG_LEVEL:-INFO}
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = ${KAFKA_LOG_LEVEL:-INFO}
logger.state.name = state.change.logger
logger.state.level = WARN
EOF
}

# kafka_java_cmd WORKDIR: sets the array KAFKA_JAVA to the java command line
# (classpath, heap, logging) used for every Kafka class we run.
kafka_java_cmd() {
    local dir=$1
    KAFKA_JAVA=(java -Xms128m -Xmx"${KAFKA_HEAP:-512m}" -XX:+UseG1GC
        -Djava.awt.headless=true
        -Dlog4j2.configurationFile="$dir/log4j2.properties"
        -Dkafka.logs.dir="$dir/logs"
        -cp "$KAFKA_LIBS/*")
}

# kafka_start WORKDIR PORT [ADVERTISED_PORT]
kafka_start() {
    local dir=$1 port=$2 adv=${3:-$2} cport iport cid pid i limit
    [[ -n $dir && -n $port ]] || { _kafka_log "usage: kafka_start WORKDIR PORT [ADVERTISED_PORT]"; return 2; }
    [[ -d $KAFKA_LIBS ]] || kafka_install || return 1
    mkdir -p "$dir/logs"
    dir=$(cd "$dir" && pwd)
    if pid=$(kafka_pid "$dir"); then
        _kafka_log "already running in $dir (pid $pid)"
        return 1
    fi
    if kafka_port_in_use "$port"; then
        _kafka_log "port 127.0.0.1:$port is already in use"
        return 1
    fi
    cport=${KAFKA_CONTROLLER_PORT:-$(kafka_free_port)}
    iport=${KAFKA_INTERNAL_PORT:-$(kafka_free_port)}
    kafka_write_config "$dir" "$port" "$adv" "$cport" "$iport"
    kafka_java_cmd "$dir"
    printf 'PORT=%s\nADVERTISED_PORT=%s\nCONTROLLER_PORT=%s\nINTERNAL_PORT=%s\n' \
        "$port" "$adv" "$cport" "$iport" >"$dir/ports.env"
    if [[ ! -f $dir/data/meta.properties ]]; then
        cid=${KAFKA_CLUSTER_ID:-$(python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("="))')}
        timeout 120 "${KAFKA_JAVA[@]}" kafka.tools.StorageTool format --standalone \
            --cluster-id="$cid" -c "$dir/server.properties" >"$dir/format.out" 2>&1 || {
            _kafka_log "storage format failed:"; cat "$dir/format.out" >&2; return 1; }
    fi
    # setsid: the broker gets its own session, so a Ctrl-C in the caller's
    # terminal does not kill it before kafka_stop can stop it cleanly. The
    # inner shell writes its own pid, then becomes java (exec keeps the pid).
    rm -f "$dir/kafka.pid"
    setsid bash -c 'echo $$ >"$0"; exec "$@"' "$dir/kafka.pid" \
        "${KAFKA_JAVA[@]}" kafka.Kafka "$dir/server.properties" \
        </dev/null >"$dir/kafka.out" 2>&1 &
    for ((i = 0; i < 50; i++)); do
        [[ -s $dir/kafka.pid ]] && break
        sleep 0.1
    done
    limit=${KAFKA_START_TIMEOUT_S:-60}
    for ((i = 0; i < limit; i++)); do
        if ! kafka_pid "$dir" >/dev/null; then
            _kafka_log "broker exited during start; last lines of kafka.out and server.log:"
            tail -n 20 "$dir/kafka.out" >&2 || true
            tail -n 20 "$dir/logs/server.log" >&2 || true
            return 1
        fi
        if kafka_probe "$port" 1; then
            _kafka_log "Kafka $KAFKA_VERSION up on 127.0.0.1:$port (advertised :$adv, controller :$cport) in $dir"
            return 0
        fi
        sleep 1
    done
    _kafka_log "broker did not answer within ${limit}s; stopping it"
    kafka_stop "$dir"
    return 1
}

# kafka_stop WORKDIR
kafka_stop() {
    local dir=$1 pid i limit
    [[ -n $dir ]] || { _kafka_log "usage: kafka_stop WORKDIR"; return 2; }
    if ! pid=$(kafka_pid "$dir"); then
        rm -f "$dir/kafka.pid"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    limit=${KAFKA_STOP_TIMEOUT_S:-30}
    for ((i = 0; i < limit * 4; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.25
    done
    if kill -0 "$pid" 2>/dev/null; then
        _kafka_log "broker pid $pid still alive after ${limit}s; SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 1
    fi
    rm -f "$dir/kafka.pid"
    _kafka_log "stopped broker in $dir"
}

kafka_status() {
    local dir=$1 pid
    if pid=$(kafka_pid "$dir"); then
        echo "running (pid $pid)"; cat "$dir/ports.env"
    else
        echo "not running"; return 1
    fi
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -euo pipefail
    cmd=${1:-}
    shift || true
    case $cmd in
        install) kafka_install ;;
        start) kafka_start "$@" ;;
        stop) kafka_stop "$@" ;;
        status) kafka_status "$@" ;;
        *) sed -n '2,20p' "$0" >&2; exit 2 ;;
    esac
fi
