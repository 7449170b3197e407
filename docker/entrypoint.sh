#!/bin/bash
# entrypoint.sh - starts brookd in the container, or checks its health.
#
#   entrypoint.sh [brookd] [--override key=value ...]   run the broker (default)
#   entrypoint.sh healthcheck [PORT]                     exit 0 when the broker
#                                                        answers a Kafka request
#   entrypoint.sh COMMAND ...                            run anything else (a shell)
#
# Configuration: /etc/brook/brook.properties (mount your own over it), then
# BROOK_* variables, which brookd itself reads (BROOK_NUM_PARTITIONS=3 sets
# num.partitions), then --override flags given to the container.
set -euo pipefail

# BROOKD_BIN / BROOKD_CONF move them for tests (not BROOK_*: brookd would
# take those for config keys).
CONF=${BROOKD_CONF:-/etc/brook/brook.properties}
BROOKD=${BROOKD_BIN:-/usr/local/bin/brookd}

# The value of `key` in the properties file, or nothing (last one wins).
conf_value() {
    [[ -r $CONF ]] || return 0
    sed -n "s/^[[:space:]]*$1[[:space:]]*[=:][[:space:]]*//p" "$CONF" | tail -n 1
}

# The port of the first listener: BROOK_LISTENERS over the file, else 9092.
listen_port() {
    local l=${BROOK_LISTENERS:-$(conf_value listeners)}
    l=${l%%,*}
    l=${l##*:}
    [[ $l =~ ^[0-9]+$ ]] && echo "$l" || echo 9092
}

# Sends ApiVersions v0 (correlation id 42, client id "hc") and expects a reply
# carrying that correlation id and error code 0. Only bash and coreutils: the
# image has no Kafka tools, and a bare TCP connect would pass while the broker
# is still loading its logs.
healthcheck() {
    local port=${1:-$(listen_port)} reply
    exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
    printf '\x00\x00\x00\x0c\x00\x12\x00\x00\x00\x00\x00\x2a\x00\x02hc' >&3
    reply=$(timeout 5 head -c 10 <&3 | od -An -v -tx1 | tr -d ' \n') || true
    exec 3<&-
    [[ ${reply:8:12} == 0000002a0000 ]] || {
        echo "healthcheck: no ApiVersions answer on port $port (got '${reply}')" >&2
        return 1
    }
}

case "${1:-}" in
healthcheck)
    shift
    healthcheck "$@"
    exit
    ;;
brookd | "$BROOKD")
    shift
    ;;
-* | "") ;;
*)
    exec "$@"
    ;;
esac

# Inside a container the host name is the container id, which clients on
# the host cannot resolve; advertise localhost on the published port unless
# told otherwise (by the variable or by a mounted properties file).
if [[ -z ${BROOK_ADVERTISED_LISTENERS:-} && -z $(conf_value advertised.listeners) ]]; then
    BROOK_ADVERTISED_LISTENERS="PLAINTEXT://localhost:$(listen_port)"
    export BROOK_ADVERTISED_LISTENERS
    echo "entrypoint: advertised.listeners=$BROOK_ADVERTISED_LISTENERS" \
        "(set BROOK_ADVERTISED_LISTENERS for clients on other hosts)" >&2
fi

# A bind mount keeps the host's ownership; say what to fix instead of
# letting the broker fail on its first write.
data=${BROOK_LOG_DIRS:-$(conf_value log.dirs)}
data=${data%%,*}
if [[ -n $data && -d $data && ! -w $data ]]; then
    echo "entrypoint: $data is not writable by uid $(id -u); chown it to $(id -u):$(id -g)" >&2
    exit 1
fi

args=()
[[ -r $CONF ]] && args=(-c "$CONF")
exec "$BROOKD" "${args[@]}" "$@"
