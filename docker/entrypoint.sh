#!/bin/sh
# Entry point of the fedtrade image.
#
#   (no arguments) | serve [FLAG...]   run the node: `fedtrade-node serve` with flags taken
#                                      from the environment (below), then FLAG... as given
#   health                             probe the running node's gRPC health service
#                                      (the image's HEALTHCHECK); exit 0 only when SERVING
#   COMMAND [ARG...]                   run COMMAND, e.g. `fedtrade-node audit verify ...`
#                                      or `fedtrade query ...`
#
# Environment:
#   FEDTRADE_NODE_CONFIG      node trust config (default /config/node.yaml)
#   FEDTRADE_NODE_LISTEN      host:port overriding the config's listen address
#   FEDTRADE_LOG_FORMAT       json or text (default json: one JSON object per line)
#   FEDTRADE_VERBOSE          1 to log debug detail
#   FEDTRADE_METRICS_PORT     serve Prometheus metrics at http://ADDRESS:PORT/metrics
#   FEDTRADE_METRICS_ADDRESS  address for the metrics endpoint (the node's default if unset)
#   FEDTRADE_RUN_DIR          where the bound port is recorded for `health` (default /tmp)
#   FEDTRADE_ALLOW_ROOT       1 to run as root anyway (refused otherwise)
set -eu

fail() {
    echo "fedtrade-entrypoint: $*" >&2
    exit 64
}

if [ "$(id -u)" = 0 ] && [ "${FEDTRADE_ALLOW_ROOT:-}" != 1 ]; then
    fail "refusing to run as root: a node holds private keys and faces the network. Run as" \
        "the image's user (uid 10001, the default; check --user / user: overrides) or set" \
        "FEDTRADE_ALLOW_ROOT=1 if you really must"
fi

config=${FEDTRADE_NODE_CONFIG:-/config/node.yaml}
port_file=${FEDTRADE_RUN_DIR:-/tmp}/fedtrade-node.port

# Flags of `fedtrade-node` itself, which come before the command.
set_global_flags() {
    case "${FEDTRADE_LOG_FORMAT:-json}" in
        json | text) log_format=${FEDTRADE_LOG_FORMAT:-json} ;;
        *) fail "FEDTRADE_LOG_FORMAT must be json or text, not '${FEDTRADE_LOG_FORMAT}'" ;;
    esac
    case "${FEDTRADE_VERBOSE:-0}" in
        1 | true | yes) verbose=-v ;;
        0 | false | no | "") verbose= ;;
        *) fail "FEDTRADE_VERBOSE must be 1 or 0, not '${FEDTRADE_VERBOSE}'" ;;
    esac
}

if [ $# -eq 0 ]; then
    set -- serve
fi
case "$1" in
    -*) set -- serve "$@" ;;
esac

case "$1" in
    serve)
        shift
        set_global_flags
        # Prepend the environment's flags, so flags given as arguments come last and win.
        if [ -n "${FEDTRADE_METRICS_ADDRESS:-}" ]; then
            set -- --metrics-address "$FEDTRADE_METRICS_ADDRESS" "$@"
        fi
        if [ -n "${FEDTRADE_METRICS_PORT:-}" ]; then
            case "$FEDTRADE_METRICS_PORT" in
                *[!0-9]*) fail "FEDTRADE_METRICS_PORT must be a port number, not" \
                    "'$FEDTRADE_METRICS_PORT'" ;;
            esac
            set -- --metrics-port "$FEDTRADE_METRICS_PORT" "$@"
        fi
        if [ -n "${FEDTRADE_NODE_LISTEN:-}" ]; then
            set -- --listen "$FEDTRADE_NODE_LISTEN" "$@"
        fi
        rm -f "$port_file"
        exec fedtrade-node ${verbose:+"$verbose"} --log-format "$log_format" \
            serve --config "$config" --port-file "$port_file" "$@"
        ;;
    health)
        [ -s "$port_file" ] || fail "the node has not started listening yet (no $port_file)"
        port=$(cat "$port_file")
        # Probe over loopback unless the node listens on one specific address.
        host=${FEDTRADE_NODE_LISTEN:-}
        host=${host%:*}
        case "$host" in
            "" | 0.0.0.0 | "[::]" | "*") host=127.0.0.1 ;;
        esac
        exec fedtrade-node health --address "$host:$port" --tls-config "$config"
        ;;
    *)
        exec "$@"
        ;;
esac
