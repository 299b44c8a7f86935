# shellcheck shell=bash
#
# restate.sh - install, start, drive and stop a single-node restate-server
# for tests.  Source tests/lib/netns.sh first and call ns_enter: every
# function here refuses to start a server outside a loopback-only namespace.
#
# The server binary comes from npm (@restatedev/restate-server, pinned
# version below) and is cached under <repo>/.cache/restate-server, which is
# git-ignored and reused by later runs.
#
# Variables set by restate_start: RESTATE_INGRESS (http://127.0.0.1:PORT),
# RESTATE_ADMIN, RESTATE_DIR (config, data and log), RESTATE_PIDFILE.

RESTATE_VERSION=1.7.12
RESTATE_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RESTATE_REPO_ROOT=$(cd "$RESTATE_LIB_DIR/../.." && pwd)
RESTATE_CACHE=${RESTATE_CACHE:-$RESTATE_REPO_ROOT/.cache/restate-server}
RESTATE_BIN=$RESTATE_CACHE/node_modules/@restatedev/restate-server-linux-x64/bin/restate-server

# restate_install: make sure the pinned server binary is in the cache.
restate_install()
{
    local have

    if [ -x "$RESTATE_BIN" ]; then
        have=$("$RESTATE_BIN" --version 2>/dev/null | awk '{print $2}')
        [ "$have" = "$RESTATE_VERSION" ] && return 0
        echo "restate: cached server is '$have', want $RESTATE_VERSION" >&2
    fi
    mkdir -p "$RESTATE_CACHE" || return 1
    (
        cd "$RESTATE_CACHE" || exit 1
        [ -f package.json ] || npm init -y >/dev/null || exit 1
        npm install --no-fund --no-audit \
            "@restatedev/restate-server@$RESTATE_VERSION" >/dev/null
    ) || { echo "restate: npm install of the server failed" >&2; return 1; }
    [ -x "$RESTATE_BIN" ] || {
        echo "restate: $RESTATE_BIN missing after install" >&2
        return 1
    }
}

# restate_write_config DIR INGRESS_PORT ADMIN_PORT FABRIC_PORT: write
# DIR/restate.toml for a loopback-only single node with a fresh data dir.
restate_write_config()
{
    local dir=$1 ingress=$2 admin=$3 fabric=$4

    mkdir -p "$dir/data" || return 1
    cat >"$dir/restate.toml" <<TOML
node-name = "n1"
cluster-name = "classify-test"
base-dir = "$dir/data"
bind-ip = "127.0.0.1"
advertised-host = "127.0.0.1"
bind-port = $fabric
disable-telemetry = true
auto-provision = true
default-num-partitions = 4
rocksdb-total-memory-size = "256 MiB"

[ingress]
bind-port = $ingress

[admin]
bind-port = $admin
TOML
}

# restate_start DIR [INGRESS_PORT ADMIN_PORT FABRIC_PORT]: start the server
# with its state in DIR (created; must not hold another server's data) and
# wait until admin and ingress health answer.  Extra environment for the
# server (e.g. RESTATE_DEFAULT_RETRY_POLICY__INITIAL_INTERVAL) is passed
# through from the caller.
restate_start()
{
    local dir=$1 ingress=${2:-8080} admin=${3:-9070} fabric=${4:-5122}

    ns_assert_isolated || {
        echo "restate: refusing to start outside a loopback-only netns" >&2
        return 1
    }
    restate_install || return 1
    restate_write_config "$dir" "$ingress" "$admin" "$fabric" || return 1

    RESTATE_DIR=$dir
    RESTATE_PIDFILE=$dir/server.pid
    RESTATE_INGRESS=http://127.0.0.1:$ingress
    RESTATE_ADMIN=http://127.0.0.1:$admin
    ns_start "$RESTATE_PIDFILE" "$dir/server.log" "$RESTATE_BIN" \
        --config-file "$dir/restate.toml" --no-logo \
        --log-disable-ansi-codes true || return 1

    ns_wait_url "$RESTATE_ADMIN/health" 60 "$RESTATE_PIDFILE" &&
        ns_wait_url "$RESTATE_INGRESS/restate/health" 60 "$RESTATE_PIDFILE" ||
        { tail -n 20 "$dir/server.log" >&2; return 1; }
}

# restate_stop: SIGTERM the server started by restate_start and wait.
restate_stop()
{
    [ -n "${RESTATE_PIDFILE:-}" ] || return 0
    ns_stop "$RESTATE_PIDFILE" 30
}

# restate_register URI: register an HTTP/1.1 request-response deployment at
# URI (force, so re-registration replaces it).  Prints the response JSON;
# fails unless the admin API answers 2xx.
restate_register()
{
    local uri=$1 body code out

    body=$(printf '{"uri":"%s","use_http_11":true,"force":true}' "$uri")
    out=$(mktemp) || return 1
    code=$(curl -s -o "$out" -w '%{http_code}' -m 30 -X POST \
        -H 'content-type: application/json' -d "$body" \
        "$RESTATE_ADMIN/deployments")
    cat "$out"
    rm -f "$out"
    case $code in
    2??) return 0 ;;
    *)
        echo "restate: registration of $uri answered HTTP $code" >&2
        return 1
        ;;
    esac
}

# restate_query SQL: run SQL through the admin /query API; prints the JSON
# answer ({"rows":[...]}).
restate_query()
{
    local body

    body=$(jq -cn --arg q "$1" '{query: $q}') || return 1
    curl -sf -m 30 -X POST -H 'content-type: application/json' \
        -H 'accept: application/json' -d "$body" "$RESTATE_ADMIN/query"
}
