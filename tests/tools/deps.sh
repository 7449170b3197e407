#!/usr/bin/env bash
# deps.sh check|install - the Debian packages brook needs to build and test.
# `check` exits non-zero when one is missing; `install` installs the missing
# ones with apt-get, as root or through sudo, or prints the exact command.
set -euo pipefail

PKGS=(build-essential pkg-config python3 libuv1-dev libssl-dev libzstd-dev liblz4-dev
      libsnappy-dev zlib1g-dev check clang libclang-rt-14-dev clang-format
      openjdk-17-jdk-headless maven systemd librdkafka-dev shellcheck docker-compose
      python3-yaml)

missing() {
    local p
    for p in "${PKGS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
    done
}

case "${1:-check}" in
check)
    m=$(missing)
    [ -z "$m" ] && exit 0
    echo "deps: missing Debian packages:" $m >&2
    exit 1
    ;;
install)
    m=$(missing)
    [ -z "$m" ] && { echo "deps: all Debian packages present"; exit 0; }
    cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(echo $m)"
    if [ "$(id -u)" = 0 ]; then
        sh -c "$cmd"
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        sudo sh -c "$cmd"
    else
        echo "deps: cannot install as $(id -un) without sudo; run as root:" >&2
        echo "  $cmd" >&2
        exit 1
    fi
    ;;
*)
    echo "usage: $0 check|install" >&2
    exit 2
    ;;
esac
