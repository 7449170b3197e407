#!/usr/bin/env bash
# clients.sh: install the real Kafka clients that brook's tests talk to, all
# into ignored folders of this repository (nothing system-wide except kcat).
#
#   tests/tools/clients.sh install [python|node|go|java|kcat|all]   (default all)
#
# or source it and use the variables and functions:
#   source tests/tools/clients.sh
#   clients_install_python && "$CLIENTS_PY" ...
#
# python  .venv/ (python3 -m venv) with the pinned packages below:
#         kafka-python (pure Python) with its optional codecs (python-snappy,
#         lz4, zstandard), and confluent-kafka, whose manylinux wheel bundles
#         its own librdkafka (no system librdkafka needed).
# node    npm in tests/tools/node: kafkajs and the codec packages (snappy, lz4, zstd) pinned in
#         its package.json, into node_modules/ there. `npm ci` when a
#         package-lock.json is committed; otherwise `npm install
#         --no-package-lock` (so no untracked lock file appears).
# go      `go mod download` and `go build ./...` of tests/tools/go (franz-go)
#         with GOPATH, GOMODCACHE and GOCACHE under .cache/go.
# java    org.apache.kafka:kafka-clients 4.0.0 and its runtime classpath into
#         .cache/kafka-clients-4.0.0/libs through kafka.sh's Maven helper
#         (profile "clients" of tests/tools/pom.xml); needs java, javac, mvn.
# kcat    Debian's kcat package through apt-get (as root, or with sudo -n);
#         otherwise the exact command to run is printed.
#
# Every step is idempotent and returns at once when a stamp file says the
# same inputs were already installed. A client whose toolchain is missing is
# reported as SKIPPED with the reason; a client whose install failed is
# reported as FAILED. Exit status: 0 unless some client FAILED (a SKIPPED
# client does not fail the command), 2 on bad usage.
# Every network step is bounded with `timeout`.

CLIENTS_TOOLS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CLIENTS_REPO_ROOT=$(cd "$CLIENTS_TOOLS_DIR/../.." && pwd)
CLIENTS_CACHE="$CLIENTS_REPO_ROOT/.cache"

# Pinned versions. Change them here; the stamp files make the next install
# pick the change up.
CLIENTS_PY_PINS=(
    "kafka-python==3.0.12"
    "confluent-kafka==2.16.1"
    "python-snappy==0.7.3"
    "cramjam==2.14.0"
    "lz4==4.4.5"
    "zstandard==0.25.0"
)
CLIENTS_VENV="$CLIENTS_REPO_ROOT/.venv"
CLIENTS_PY="$CLIENTS_VENV/bin/python"
CLIENTS_NODE_DIR="$CLIENTS_TOOLS_DIR/node"
CLIENTS_GO_DIR="$CLIENTS_TOOLS_DIR/go"
CLIENTS_GO_ENV=(GOPATH="$CLIENTS_CACHE/go/path" GOMODCACHE="$CLIENTS_CACHE/go/mod"
                GOCACHE="$CLIENTS_CACHE/go/build" GOTOOLCHAIN=local)
CLIENTS_JAVA_LIBS="$CLIENTS_CACHE/kafka-clients-4.0.0/libs"

_clients_log() { echo "clients.sh: $*" >&2; }

# Results of this run: CLIENTS_RESULTS has one line per client ("name STATUS
# reason"); CLIENTS_STATUS[name] is ok, SKIPPED or FAILED and
# CLIENTS_REASON[name] the reason or version text.
CLIENTS_RESULTS=()
declare -gA CLIENTS_STATUS=() CLIENTS_REASON=()
_clients_result() {
    CLIENTS_STATUS[$1]=$2
    CLIENTS_REASON[$1]=${3:-}
    CLIENTS_RESULTS+=("$(printf '%-7s %-8s %s' "$1" "$2" "${3:-}")")
}

_clients_hash() { cat "$@" 2>/dev/null | sha256sum | cut -c1-16; }

# ------------------------------------------------------------------ python

clients_install_python() {
    local want stamp="$CLIENTS_VENV/.brook-stamp"
    if ! command -v python3 >/dev/null; then
        _clients_result python SKIPPED "python3 not found (apt-get install -y python3 python3-venv)"
        return 0
    fi
    if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
        _clients_result python SKIPPED "python3 has no venv/ensurepip (apt-get install -y python3-venv)"
        return 0
    fi
    want="$(python3 -V 2>&1) ${CLIENTS_PY_PINS[*]}"
    if [[ -x $CLIENTS_PY && -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
        _clients_result python ok "already installed (.venv)"
        return 0
    fi
    _clients_log "python: creating .venv and installing ${CLIENTS_PY_PINS[*]}"
    [[ -x $CLIENTS_PY ]] || timeout 300 python3 -m venv "$CLIENTS_VENV" || {
        _clients_result python FAILED "python3 -m venv .venv failed"; return 1; }
    if ! timeout 900 "$CLIENTS_PY" -m pip install -q --disable-pip-version-check \
            "${CLIENTS_PY_PINS[@]}" >&2; then
        _clients_result python FAILED "pip install failed (see above)"
        return 1
    fi
    if ! "$CLIENTS_PY" -c 'import kafka, confluent_kafka' 2>/dev/null; then
        _clients_result python FAILED "installed packages do not import"
        return 1
    fi
    echo "$want" >"$stamp"
    _clients_result python ok "$("$CLIENTS_PY" -c 'import kafka, confluent_kafka as c; print("kafka-python", kafka.__version__, "/ confluent-kafka", c.__version__, "librdkafka", c.libversion()[0])')"
}

# ------------------------------------------------------------------ node

clients_install_node() {
    local want stamp="$CLIENTS_NODE_DIR/node_modules/.brook-stamp" cmd
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        _clients_result node SKIPPED "node/npm not found (apt-get install -y nodejs npm)"
        return 0
    fi
    want="$(node --version) $(_clients_hash "$CLIENTS_NODE_DIR/package.json" "$CLIENTS_NODE_DIR/package-lock.json")"
    if [[ -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
        _clients_result node ok "already installed (tests/tools/node/node_modules)"
        return 0
    fi
    # npm ci when a lock file is committed (exact tree), npm install otherwise.
    cmd=(install --no-package-lock)
    [[ -f $CLIENTS_NODE_DIR/package-lock.json ]] && cmd=(ci)
    _clients_log "node: npm ${cmd[*]} in tests/tools/node"
    if ! (cd "$CLIENTS_NODE_DIR" && timeout 900 npm "${cmd[@]}" --no-audit --no-fund \
            --loglevel=error >&2); then
        _clients_result node FAILED "npm ${cmd[*]} failed (see above)"
        return 1
    fi
    if ! (cd "$CLIENTS_NODE_DIR" && node -e 'require("kafkajs")' 2>/dev/null); then
        _clients_result node FAILED "kafkajs does not load after npm ${cmd[*]}"
        return 1
    fi
    echo "$want" >"$stamp"
    _clients_result node ok "$(cd "$CLIENTS_NODE_DIR" && node -e '
        const out = ["kafkajs " + require("kafkajs/package.json").version];
        for (const p of ["kafkajs-snappy", "kafkajs-lz4", "@mongodb-js/zstd"]) {
          try { require(p); out.push(p + " " + require(p + "/package.json").version); }
          catch (e) { out.push(p + " MISSING: " + e.message); }
        }
        console.log(out.join(", "));')"
}

# ------------------------------------------------------------------ go

clients_install_go() {
    local want stamp="$CLIENTS_CACHE/go/.brook-stamp"
    if ! command -v go >/dev/null; then
        _clients_result go SKIPPED "go not found (apt-get install -y golang-go, or a Go toolchain matching tests/tools/go/go.mod)"
        return 0
    fi
    want="$(go version) $(_clients_hash "$CLIENTS_GO_DIR/go.mod" "$CLIENTS_GO_DIR/go.sum")"
    if [[ -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
        _clients_result go ok "already installed (.cache/go)"
        return 0
    fi
    mkdir -p "$CLIENTS_CACHE/go"
    _clients_log "go: go mod download + go build ./... in tests/tools/go"
    if ! (cd "$CLIENTS_GO_DIR" && env "${CLIENTS_GO_ENV[@]}" timeout 900 go mod download >&2 &&
            env "${CLIENTS_GO_ENV[@]}" timeout 900 go build ./... >&2); then
        _clients_result go FAILED "go mod download / go build failed (see above)"
        return 1
    fi
    echo "$want" >"$stamp"
    _clients_result go ok "$(cd "$CLIENTS_GO_DIR" && env "${CLIENTS_GO_ENV[@]}" go list -m -f '{{.Path}} {{.Version}}' github.com/twmb/franz-go | tr '\n' ' ')"
}

# ------------------------------------------------------------------ java

clients_install_java() {
    local t
    for t in java javac mvn; do
        if ! command -v "$t" >/dev/null; then
            _clients_result java SKIPPED "$t not found (apt-get install -y openjdk-17-jdk-headless maven)"
            return 0
        fi
    done
    # shellcheck source=kafka.sh
    source "$CLIENTS_TOOLS_DIR/kafka.sh"
    if ! kafka_mvn_copy_deps clients "$CLIENTS_JAVA_LIBS"; then
        _clients_result java FAILED "mvn dependency:copy-dependencies (profile clients) failed"
        return 1
    fi
    if ! compgen -G "$CLIENTS_JAVA_LIBS/kafka-clients-*.jar" >/dev/null; then
        _clients_result java FAILED "no kafka-clients jar in .cache/kafka-clients-4.0.0/libs"
        return 1
    fi
    _clients_result java ok "$(cd "$CLIENTS_JAVA_LIBS" && ls kafka-clients-*.jar) (.cache/kafka-clients-4.0.0/libs)"
}

# ------------------------------------------------------------------ kcat

clients_install_kcat() {
    local cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends kcat"
    if command -v kcat >/dev/null; then
        _clients_result kcat ok "$(kcat -V 2>&1 | sed -n 's/^Version \([^ ]*\).*librdkafka \([^ ]*\).*/kcat \1, librdkafka \2 (system)/p')"
        return 0
    fi
    if ! command -v apt-get >/dev/null; then
        _clients_result kcat SKIPPED "no kcat and no apt-get on this machine"
        return 0
    fi
    _clients_log "kcat: $cmd"
    if [[ $(id -u) == 0 ]]; then
        timeout 900 sh -c "$cmd" >&2 || { _clients_result kcat FAILED "apt-get install kcat failed"; return 1; }
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        timeout 900 sudo sh -c "$cmd" >&2 || { _clients_result kcat FAILED "sudo apt-get install kcat failed"; return 1; }
    else
        _clients_log "cannot install kcat as $(id -un) without sudo; run as root:"
        _clients_log "  $cmd"
        _clients_result kcat SKIPPED "not root and no sudo; run as root: $cmd"
        return 0
    fi
    _clients_result kcat ok "$(kcat -V 2>&1 | sed -n 's/^Version \([^ ]*\).*librdkafka \([^ ]*\).*/kcat \1, librdkafka \2 (system)/p')"
}

# ------------------------------------------------------------------ main

clients_install() {
    local what=${1:-all} rc=0 c
    local all=(python node go java kcat)
    case $what in
        all) ;;
        python | node | go | java | kcat) all=("$what") ;;
        *) _clients_log "unknown client '$what' (python|node|go|java|kcat|all)"; return 2 ;;
    esac
    for c in "${all[@]}"; do
        "clients_install_$c" || rc=1
    done
    printf 'clients.sh: %s\n' "${CLIENTS_RESULTS[@]}" >&2
    return $rc
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -uo pipefail
    case ${1:-} in
        install) clients_install "${2:-all}" ;;
        *) sed -n '2,30p' "$0" >&2; exit 2 ;;
    esac
fi
