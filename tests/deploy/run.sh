#!/usr/bin/env bash
# run.sh - the deployment suite: what can be checked of docker/, the systemd
# unit and the example properties without a Docker engine or a running
# systemd. Appends "deploy <passed> <failed>" to build/test-summary.txt.
#
#   compose    docker/docker-compose.yml parses (PyYAML, or `docker compose
#              config` when the plugin exists) and has one service on 9092
#              with a named volume at /var/lib/brook
#   docker     hadolint-style checks of docker/Dockerfile (and that they can
#              fail, on a broken copy); the build stage's packages are the
#              build half of tests/tools/deps.sh; its commands build brookd
#              on a copy of the build context; the runtime stage's packages
#              provide every library that binary links, and nothing else
#              but CA certificates; the entrypoint's behaviour with a stand-in
#              brookd
#   systemd    `systemd-analyze verify` of config/brookd.service (ExecStart
#              pointed at build/brookd) with no complaint, and the unit agrees
#              with brook.properties (data dir, stop timeout)
#   notify     build/brookd reports READY=1 once it listens, answers the
#              container healthcheck, reports STOPPING=1 on SIGTERM and exits
#              0; again with config/brook.properties, which must not draw an
#              unknown-key warning
#
# A check that cannot run here (no PyYAML, no systemd-analyze) prints
# "SKIPPED: reason" and counts as neither pass nor fail.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
PY=${PYTHON:-python3}
DF="$PY tests/deploy/dockerfile.py"

PASSED=0 FAILED=0 SKIPPED=0
pass() { PASSED=$((PASSED + 1)); echo "  ok   $*"; }
fail() { FAILED=$((FAILED + 1)); echo "  FAIL $*"; }
skip() { SKIPPED=$((SKIPPED + 1)); echo "  SKIPPED: $*"; }
# show TEXT: indented detail under a failure.
show() { printf '%s\n' "$1" | tail -n 40 | sed 's/^/       /'; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/brook-deploy.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# ------------------------------------------------------------------ compose
echo "== compose"
COMPOSE=docker/docker-compose.yml
YAML_PY=
for p in "$PY" "$ROOT/.venv/bin/python"; do
    if [[ -x $(command -v "$p" 2>/dev/null) ]] && "$p" -c 'import yaml' 2>/dev/null; then
        YAML_PY=$p; break
    fi
done
if [[ -z $YAML_PY ]]; then
    skip "compose structure: no Python with PyYAML (apt-get install python3-yaml)"
else
    out=$("$YAML_PY" - "$COMPOSE" <<'EOF' 2>&1
import os, re, sys, yaml
path = sys.argv[1]
doc = yaml.safe_load(open(path))
errs = []
svcs = doc.get("services") or {}
if len(svcs) != 1:
    errs.append(f"expected one service, found {list(svcs)}")
for name, s in svcs.items():
    if not any(str(p).strip('"') in ("9092:9092", "9092:9092/tcp") for p in s.get("ports", [])):
        errs.append(f"{name}: port 9092 not published as 9092:9092 ({s.get('ports')})")
    vols = [str(v) for v in s.get("volumes", [])]
    named = [v.split(":")[0] for v in vols if v.split(":")[1:2] == ["/var/lib/brook"]]
    if not named:
        errs.append(f"{name}: nothing mounted at /var/lib/brook ({vols})")
    for n in named:
        if n.startswith((".", "/")):
            errs.append(f"{name}: /var/lib/brook is a bind mount ({n}), not a named volume")
        elif n not in (doc.get("volumes") or {}):
            errs.append(f"{name}: volume {n} not declared under top-level volumes")
    b = s.get("build") or {}
    ctx = os.path.normpath(os.path.join(os.path.dirname(path), b.get("context", ".")))
    if not os.path.isfile(os.path.join(ctx, b.get("dockerfile", "Dockerfile"))):
        errs.append(f"{name}: build {b} does not name the Dockerfile")
    if not os.path.isfile(os.path.join(ctx, ".dockerignore")):
        errs.append(f"{name}: no .dockerignore in the build context {ctx}")
    env = s.get("environment") or {}
    keys = list(env) if isinstance(env, dict) else [e.split("=")[0] for e in env]
    if "BROOK_ADVERTISED_LISTENERS" not in keys:
        errs.append(f"{name}: no BROOK_ADVERTISED_LISTENERS example")
    bad = [k for k in keys if not k.startswith("BROOK_")]
    if bad:
        errs.append(f"{name}: environment {bad} is not BROOK_* (brookd reads only those)")
    m = re.fullmatch(r"(\d+)s", str(s.get("stop_grace_period", "")))
    if not m or int(m.group(1)) < 60:
        errs.append(f"{name}: stop_grace_period {s.get('stop_grace_period')} under 60s")
print("\n".join(errs))
sys.exit(1 if errs else 0)
EOF
    ) && pass "compose: parses; one service, 9092:9092, named volume at /var/lib/brook" ||
        { fail "compose structure"; show "$out"; }
fi
# Compose's own parser: the docker CLI plugin, or Debian's docker-compose
# (installed by deps.sh); both check the file without an engine.
if docker compose version >/dev/null 2>&1; then
    out=$(docker compose -f "$COMPOSE" config -q 2>&1) && pass "compose: docker compose config" ||
        { fail "compose: docker compose config"; show "$out"; }
elif command -v docker-compose >/dev/null 2>&1; then
    out=$(docker-compose -f "$COMPOSE" config -q 2>&1) && pass "compose: docker-compose config" ||
        { fail "compose: docker-compose config"; show "$out"; }
else
    skip "compose: no docker compose plugin nor docker-compose (apt-get install docker-compose)"
fi

# ------------------------------------------------------------------ docker
echo "== docker"
out=$($DF lint 2>&1) && pass "Dockerfile: hadolint-style checks" ||
    { fail "Dockerfile: hadolint-style checks"; show "$out"; }

# The checks must be able to fail: a copy with typical mistakes is refused
# for each of them.
mkdir -p "$TMP/bad/docker"
sed -e 's/^USER .*/USER root/' -e 's/--no-install-recommends//' \
    -e 's|^ENTRYPOINT .*|ENTRYPOINT /usr/local/bin/entrypoint.sh|' \
    -e 's/^FROM debian:12-slim/FROM debian:latest/' -e '/^EXPOSE/d' \
    docker/Dockerfile >"$TMP/bad/docker/Dockerfile"
out=$(BK_DEPLOY_ROOT=$TMP/bad $DF lint 2>&1)
missing=
for want in "is root" "without --no-install-recommends" "shell form" "pin a tag" "no EXPOSE"; do
    grep -q -- "$want" <<<"$out" || missing+=" '$want'"
done
[[ -z $missing ]] && pass "Dockerfile checks refuse a broken copy" ||
    { fail "Dockerfile checks missed:$missing"; show "$out"; }

# Build stage packages: exactly the build half of deps.sh (its -dev
# libraries, compiler, pkg-config), nothing outside deps.sh.
mapfile -t build_pkgs < <($DF apt build)
mapfile -t rt_pkgs < <($DF apt runtime)
deps_pkgs=$(bash -c 'source <(sed -n "/^PKGS=(/,/)/p" tests/tools/deps.sh); printf "%s\n" "${PKGS[@]}"')
errs=
for p in "${build_pkgs[@]}"; do
    grep -qx -- "$p" <<<"$deps_pkgs" || errs+=" $p(not in deps.sh)"
done
# librdkafka-dev serves only the C client test, never brookd.
for p in $(grep -E '^(lib.*-dev|zlib1g-dev|build-essential|pkg-config)$' <<<"$deps_pkgs" | grep -v '^libclang\|^librdkafka'); do
    printf '%s\n' "${build_pkgs[@]}" | grep -qx -- "$p" || errs+=" $p(missing from the build stage)"
done
[[ -z $errs && ${#build_pkgs[@]} -gt 0 ]] &&
    pass "build stage packages = deps.sh's build needs (${#build_pkgs[@]})" ||
    fail "build stage packages:${errs:- none found}"

# Runtime packages <-> -dev packages: each -dev package of the build stage
# depends on one runtime package, and each runtime package but
# ca-certificates is such a dependency (nothing stray).
errs='' used=''
for p in "${build_pkgs[@]}"; do
    [[ $p == *-dev ]] || continue
    d=$(dpkg-query -W -f='${Depends}' "$p" 2>/dev/null | tr ',|' '\n\n' | sed 's/[ (].*//; s/^ *//; s/:any$//')
    if [[ -z $d ]]; then errs+=" $p(not installed here: make deps)"; continue; fi
    hit=$(printf '%s\n' "${rt_pkgs[@]}" | grep -Fxf - <(sed 's/^ *//' <<<"$d") | head -n 1)
    [[ -n $hit ]] && used+=" $hit" || errs+=" $p(runtime library not in the runtime stage)"
done
for p in "${rt_pkgs[@]}"; do
    [[ $p == ca-certificates ]] && continue
    [[ " $used " == *" $p "* ]] || errs+=" $p(in the runtime stage, needed by no -dev package)"
done
[[ -z $errs ]] && pass "runtime stage packages = the -dev packages' libraries (+ ca-certificates)" ||
    fail "runtime stage packages:$errs"

# The build stage's commands, on a copy of the build context (the tree as
# COPY . . would see it, .dockerignore applied), in a plain Debian 12.
built=
missing_pkgs=$(for p in "${build_pkgs[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
done)
if [[ -n $missing_pkgs ]]; then
    fail "build stage: packages not installed here (make deps):" $missing_pkgs
elif ! grep -q '^ID=debian' /etc/os-release || ! grep -q '^VERSION_ID="12"' /etc/os-release; then
    skip "build stage commands: this machine is not Debian 12"
else
    mkdir -p "$TMP/ctx" && $DF context "$TMP/ctx"
    ok=1 log=
    while IFS= read -r -d '' cmd; do
        log+="\$ $cmd"$'\n'
        log+=$(cd "$TMP/ctx" && timeout 900 bash -c "set -e; $cmd" 2>&1) || ok=0
        log+=$'\n'
        [[ $ok == 1 ]] || break
    done < <($DF runs build)
    if [[ $ok == 1 && -x $TMP/ctx/build/brookd ]]; then
        pass "build stage commands build build/brookd from the build context"
        built=$TMP/ctx/build/brookd
    else
        fail "build stage commands (as the image build would run them)"; show "$log"
    fi
fi

# Every library the binary links comes from a runtime package or what apt
# pulls in with one (libsnappy1v5 brings libstdc++6), as installed here, or
# from libc6 / libgcc-s1, which debian:12-slim has.
closure() {
    local todo=("$@") seen=" " p d
    while ((${#todo[@]})); do
        p=${todo[0]} todo=("${todo[@]:1}")
        [[ $seen == *" $p "* ]] && continue
        seen+="$p "
        for d in $(dpkg-query -W -f='${Depends},${Pre-Depends}' "$p" 2>/dev/null |
            tr ',|' '\n\n' | sed 's/^ *//; s/[ (].*//; s/:any$//'); do
            [[ -n $d ]] && todo+=("$d")
        done
    done
    echo "$seen"
}
allowed=$(closure "${rt_pkgs[@]}" libc6 libgcc-s1)
bin=${built:-}
[[ -z $bin && -x build/brookd ]] && bin=build/brookd
if [[ -z $bin ]]; then
    fail "runtime libraries: no brookd binary to inspect (the build failed)"
else
    errs='' seen=''
    while read -r lib; do
        pkg=
        for cand in "$lib" "$(readlink -f "$lib")" "${lib#/usr}" "/usr$lib"; do
            pkg=$(dpkg -S "$cand" 2>/dev/null | head -n 1 | cut -d: -f1) && [[ -n $pkg ]] && break
        done
        if [[ -z $pkg ]]; then errs+=" $lib(no package)"; continue; fi
        seen+=" $pkg"
        case $allowed in
        *" $pkg "*) ;;
        *) errs+=" $lib(from $pkg, not in the runtime stage)" ;;
        esac
    done < <(ldd "$bin" | awk '/=> not found/ {print "NOTFOUND:" $1; next}
                                 /=> \// {print $3} /^\s*\/[^ ]+ \(/ {print $1}')
    [[ -z $errs ]] && pass "runtime libraries of $(basename "$bin"): all from runtime packages ($(echo $seen | tr ' ' '\n' | sort -u | tr '\n' ' '))" ||
        fail "runtime libraries:$errs"
fi

# The entrypoint, with a stand-in brookd that prints what it was given.
out=$(bash -n docker/entrypoint.sh 2>&1) && pass "entrypoint.sh: bash -n" ||
    { fail "entrypoint.sh: bash -n"; show "$out"; }
[[ -x docker/entrypoint.sh ]] && pass "entrypoint.sh is executable" || fail "entrypoint.sh is not executable"
if command -v shellcheck >/dev/null; then
    out=$(shellcheck -S warning docker/entrypoint.sh tests/deploy/run.sh 2>&1) && pass "shellcheck" ||
        { fail "shellcheck"; show "$out"; }
else
    skip "shellcheck: not installed (apt-get install shellcheck)"
fi
cat >"$TMP/fake-brookd" <<'EOF'
#!/bin/sh
printf 'arg %s\n' "$@"
echo "adv ${BROOK_ADVERTISED_LISTENERS:-}"
EOF
chmod +x "$TMP/fake-brookd"
printf 'listeners=PLAINTEXT://:9092\nadvertised.listeners=PLAINTEXT://mine:9092\n' >"$TMP/adv.properties"
ep() { env -u BROOK_ADVERTISED_LISTENERS -u BROOK_LISTENERS BROOKD_BIN="$TMP/fake-brookd" \
    BROOKD_CONF="${CONF:-config/brook.properties}" "$@" 2>/dev/null; }
# entry_case NAME EXPECTED_OUTPUT CMD...
entry_case() {
    local name=$1 want=$2 got
    shift 2
    got=$("$@")
    [[ $got == "$want" ]] && pass "entrypoint: $name" ||
        { fail "entrypoint: $name"; show "want:"$'\n'"$want"$'\n'"got:"$'\n'"$got"; }
}
entry_case "no arguments: the properties file, advertised localhost" \
    $'arg -c\narg config/brook.properties\nadv PLAINTEXT://localhost:9092' \
    ep docker/entrypoint.sh
entry_case "flags pass through after the file" \
    $'arg -c\narg config/brook.properties\narg --override\narg num.partitions=3\nadv PLAINTEXT://localhost:9092' \
    ep docker/entrypoint.sh --override num.partitions=3
entry_case "'brookd' as the first word is the broker" \
    $'arg -c\narg config/brook.properties\narg --override\narg x=y\nadv PLAINTEXT://localhost:9092' \
    ep docker/entrypoint.sh brookd --override x=y
entry_case "advertised port follows BROOK_LISTENERS" \
    $'arg -c\narg config/brook.properties\nadv PLAINTEXT://localhost:19092' \
    ep BROOK_LISTENERS=PLAINTEXT://:19092 docker/entrypoint.sh
entry_case "BROOK_ADVERTISED_LISTENERS is kept" \
    $'arg -c\narg config/brook.properties\nadv PLAINTEXT://kafka.example:9092' \
    ep BROOK_ADVERTISED_LISTENERS=PLAINTEXT://kafka.example:9092 docker/entrypoint.sh
entry_case "a file's advertised.listeners is not overridden" \
    $'arg -c\narg '"$TMP"$'/adv.properties\nadv ' \
    env CONF="$TMP/adv.properties" bash -c "$(declare -f ep); TMP='$TMP'; ep docker/entrypoint.sh"
entry_case "another command runs as given" "hello" ep docker/entrypoint.sh echo hello
port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
docker/entrypoint.sh healthcheck "$port" >/dev/null 2>&1 && fail "healthcheck passes on a closed port" ||
    pass "healthcheck fails on a closed port"

# ------------------------------------------------------------------ systemd
echo "== systemd"
UNIT=config/brookd.service
errs=
for kv in Type=notify 'ExecStart=/usr/local/bin/brookd -c /etc/brook/brook.properties' \
    StateDirectory=brook ReadWritePaths=/var/lib/brook LimitNOFILE=1048576 KillSignal=SIGTERM \
    Restart=on-failure NoNewPrivileges=yes ProtectSystem=strict CapabilityBoundingSet= \
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' MemoryDenyWriteExecute=yes; do
    grep -qxF -- "$kv" "$UNIT" || errs+=" '$kv'"
done
grep -qE '^(User=brook|DynamicUser=yes)$' "$UNIT" || errs+=" 'User=brook or DynamicUser=yes'"
# The unit's stop timeout must cover brook's own shutdown bound, and the
# data dir systemd creates must be the one the properties file uses.
stop_s=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s\?$/\1/p' "$UNIT")
shut_ms=$(sed -n 's/^brook.shutdown.timeout.ms=//p' config/brook.properties)
[[ -n $stop_s && -n $shut_ms && $((stop_s * 1000)) -gt $shut_ms ]] ||
    errs+=" TimeoutStopSec=${stop_s:-?}s not above brook.shutdown.timeout.ms=${shut_ms:-?}"
grep -qx 'log.dirs=/var/lib/brook' config/brook.properties || errs+=" brook.properties: log.dirs is not /var/lib/brook"
[[ -z $errs ]] && pass "unit settings agree with the brief and brook.properties" || fail "unit settings: missing$errs"

if ! command -v systemd-analyze >/dev/null; then
    skip "systemd-analyze verify: systemd-analyze not installed (apt-get install systemd)"
else
    exe=$ROOT/build/brookd note=
    if [[ ! -x $exe ]]; then
        make --no-print-directory build/brookd >/dev/null 2>&1
    fi
    if [[ ! -x $exe ]]; then
        # verify only needs ExecStart to be an executable file.
        exe=$TMP/brookd-standin note=" (stand-in binary: build/brookd does not build)"
        printf '#!/bin/sh\nexit 0\n' >"$exe" && chmod +x "$exe"
    fi
    mkdir -p "$TMP/unit"
    sed "s|^ExecStart=/usr/local/bin/brookd |ExecStart=$exe |" "$UNIT" >"$TMP/unit/brookd.service"
    # verify exits 0 on unknown keys and bad values too, only printing them:
    # any output is a failure.
    out=$(cd "$TMP/unit" && systemd-analyze verify --man=no brookd.service 2>&1)
    rc=$?
    [[ $rc -eq 0 && -z $out ]] && pass "systemd-analyze verify brookd.service$note" ||
        { fail "systemd-analyze verify brookd.service (exit $rc)"; show "$out"; }
fi

# ------------------------------------------------------------------ notify
echo "== notify"
# readiness NAME ARGS...: one readiness.py run, each of its checks counted.
readiness() {
    local name=$1 line
    shift
    while IFS= read -r line; do
        case $line in
        "ok "*) pass "$name: ${line#ok }" ;;
        "FAIL "*) fail "$name: ${line#FAIL }" ;;
        *) echo "       $line" ;;
        esac
    done < <("$PY" tests/deploy/readiness.py "$@" 2>&1)
}
out=$(make --no-print-directory build/brookd 2>&1)
if [[ $? -ne 0 || ! -x build/brookd ]]; then
    fail "notify: build/brookd does not build"; show "$out"
else
    readiness "brookd" --health docker/entrypoint.sh -- build/brookd
    readiness "brookd -c config/brook.properties" --forbid unknown -- \
        build/brookd -c config/brook.properties
fi

mkdir -p build
echo "deploy $PASSED $FAILED" >>build/test-summary.txt
echo "deploy: $PASSED passed, $FAILED failed, $SKIPPED skipped"
[[ $FAILED -eq 0 ]]
