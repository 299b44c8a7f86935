# shellcheck shell=bash
#
# host.sh - a classifyd for one test or script run: its configuration,
# written from the documented defaults, and its start.  Needs netns.sh
# (ns_start, ns_wait_url) for host_start.  scripts/ sources it too, so the
# tests and the demo and benchmark scripts write their configs one way.
#
#   host_config OUT DB PLUGIN_DIR COPY_DIR [SED_EXPR...]
#       config/classify.conf with this run's database (a libpq conninfo),
#       plugin directory and plugin copy directory, then each SED_EXPR
#       applied (e.g. "s|rate_per_second = .*|rate_per_second = 60.0;|"),
#       written to OUT.  Returns sed's status.
#   host_start BUILD CONF PIDFILE LOG
#       start BUILD/core/classifyd/classifyd --config CONF (ns_start) and
#       wait up to 30 s for its /health on 127.0.0.1:9080.  Returns 0, or
#       1 with the reason on stderr.

HOST_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

host_config()
{
    local out=$1 db=$2 plugins=$3 copies=$4 e
    local args=(-e "s|^database = .*|database = \"$db\";|"
        -e "s|plugin_dir = .*|plugin_dir = \"$plugins\";|"
        -e "s|copy_dir = .*|copy_dir = \"$copies\";|")

    shift 4
    for e in "$@"; do
        args+=(-e "$e")
    done
    sed "${args[@]}" "$HOST_REPO/config/classify.conf" >"$out"
}

host_start()
{
    local build=$1 conf=$2 pidfile=$3 log=$4

    if ! ns_start "$pidfile" "$log" "$build/core/classifyd/classifyd" \
        --config "$conf"; then
        echo "classifyd did not start (log: $log)" >&2
        return 1
    fi
    if ! ns_wait_url "http://127.0.0.1:9080/health" 30 "$pidfile"; then
        echo "classifyd not healthy within 30 s (log: $log)" >&2
        return 1
    fi
}
