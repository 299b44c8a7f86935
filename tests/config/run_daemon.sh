#!/bin/bash
# run_daemon.sh CLASSIFYD PLUGIN_DIR - classifyd in run mode against a
# private PostgreSQL: it migrates the database, serves the Restate
# endpoint (/health, /discover) on loopback, keeps running through SIGHUP
# (reserved) and shuts down cleanly on SIGTERM.
set -u
classifyd=$1
plugin_dir=$2
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/pg.sh
. "$here/../lib/pg.sh"

tmp=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid"
    pg_stop
    rm -rf "$tmp"
}
trap cleanup EXIT

pg_start || exit 1
pg_createdb classify || exit 1
port=$(pg_pick_port)

cat > "$tmp/run.conf" <<CONF
restate = { admin_url = "http://127.0.0.1:9070";
            ingress_urls = [ "http://127.0.0.1:8080" ];
            deployment_url = "http://127.0.0.1:$port"; };
pipeline = { plugin_dir = "$plugin_dir";
             stages = ( { name = "template"; plugin = "template.so"; } ); };
CONF

"$classifyd" --config "$tmp/run.conf" --listen "127.0.0.1:$port" \
    --database "$(pg_conninfo classify)" > "$tmp/run.out" 2>&1 &
pid=$!

fail() {
    echo "FAIL: $*"
    cat "$tmp/run.out"
    exit 1
}

# wait_for PATTERN: until classifyd logs it (20 s at most, or it exits).
wait_for() {
    local tries=0
    until grep -q "$1" "$tmp/run.out"; do
        tries=$((tries + 1))
        [ $tries -gt 200 ] && fail "classifyd did not log: $1"
        kill -0 "$pid" 2>/dev/null || fail "classifyd exited before: $1"
        sleep 0.1
    done
}

wait_for "serving the Restate endpoint on 127.0.0.1:$port"
[ "$(curl -s --max-time 5 "http://127.0.0.1:$port/health")" = "OK" ] ||
    fail "/health did not answer OK"
curl -s --max-time 5 -H 'Accept: application/vnd.restate.endpointmanifest.v1+json' \
    "http://127.0.0.1:$port/discover" > "$tmp/manifest.json"
grep -q '"template"' "$tmp/manifest.json" ||
    fail "/discover does not list the template stage: $(cat "$tmp/manifest.json")"

kill -HUP "$pid"
wait_for 'SIGHUP received'
kill -0 "$pid" 2>/dev/null || fail "classifyd exited on SIGHUP"

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
[ $rc -eq 0 ] || fail "exit status $rc after SIGTERM"
grep -q 'SIGTERM received, shutting down' "$tmp/run.out" || fail "no SIGTERM line"
grep -q 'unloaded template 1.0.0' "$tmp/run.out" || fail "stage not unloaded"
echo "classifyd run mode: OK"
