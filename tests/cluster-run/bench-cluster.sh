#!/bin/bash
#
# bench-cluster.sh - the same job on one Restate node and on the three-node
# cluster of scripts/cluster, in one session: indicators/min, CPU seconds
# and peak RSS of every restate-server and of classifyd, and how long the
# cluster takes to serve every partition again after a node is SIGKILLed.
# A benchmark, not a test: it prints figures and fails only when a run
# does not complete.
#
# Usage: bench-cluster.sh BUILD_DIR [N]     (N indicators, default 1000)
#
# Both setups use the same configuration apart from the ingress URLs:
# rules provider for every stage, batch.rate_per_second 200, batches of 50,
# a fresh database; each does a first run and a --force run of the same N
# indicators.  Everything runs in loopback-only network namespaces (the
# single node under unshare -n, the cluster in scripts/cluster's netns).

set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/tests/lib/netns.sh"
. "$ROOT/tests/lib/restate.sh"
. "$ROOT/tests/lib/pg.sh"

BUILD=$(cd "${1:?usage: bench-cluster.sh BUILD_DIR [N]}" && pwd)
COUNT=${2:-1000}
BATCH=50
TICK=$(getconf CLK_TCK)

# cpu_s PID: user+system CPU seconds of PID so far.
cpu_s()
{
    awk -v t="$TICK" '{printf "%.1f", ($14 + $15) / t}' "/proc/$1/stat"
}

# peak_mb PID: peak resident set (VmHWM) of PID in MB.
peak_mb()
{
    awk '/^VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"
}

# report LABEL NAME=PID...: one line per process: CPU seconds since the
# matching "cpu0_NAME" variable was taken, and peak RSS.
report()
{
    local label=$1 arg name pid before
    shift

    for arg in "$@"; do
        name=${arg%%=*}
        pid=${arg#*=}
        before=CPU0_$name
        printf '%s %-10s cpu %6.1f s  peak rss %5s MB\n' "$label" "$name" \
            "$(awk -v a="$(cpu_s "$pid")" -v b="${!before}" \
                'BEGIN {print a - b}')" "$(peak_mb "$pid")"
    done
}

# mark NAME=PID...: remember the CPU seconds of each process now.
mark()
{
    local arg

    for arg in "$@"; do
        printf -v "CPU0_${arg%%=*}" '%s' "$(cpu_s "${arg#*=}")"
    done
}

# summary_line LABEL OUT: the run's duration and rate from its summary.
summary_line()
{
    echo "$1 $(grep -E '^  (batches|duration):' "$2" | tr -s ' ' | tr '\n' ' ')"
}

# write_config CONF DB URLS...: the default configuration for this bench.
write_config()
{
    local conf=$1 db=$2 urls copies
    shift 2

    urls=$(printf '"%s", ' "$@")
    copies=${conf%/*}/plugin-copies
    sed -e "s|^database = .*|database = \"$db\";|" \
        -e "s|plugin_dir = .*|plugin_dir = \"$BUILD/plugins\";|" \
        -e "s|copy_dir = .*|copy_dir = \"$copies\";|" \
        -e "s|rate_per_second = .*|rate_per_second = 200.0;|" \
        -e "s|provider = \"[a-z]*\";|provider = \"rules\";|" \
        -e "s|fallback_to_rules = true;|fallback_to_rules = false;|" \
        -e "s|ingress_urls = .*|ingress_urls = [ ${urls%, } ];|" \
        "$ROOT/config/classify.conf" >"$conf"
}

# --- one node (runs inside unshare -n) -----------------------------------------

bench_single()
{
    local work cli d_pid rs_pid pass force

    work=$(mktemp -d /tmp/classify-bench-single.XXXXXX) || exit 1
    # shellcheck disable=SC2064 # expand now: the directory is fixed
    trap "ns_cleanup; pg_stop; rm -rf '$work'" EXIT
    pg_start >/dev/null || exit 1
    pg_createdb classify || exit 1
    restate_start "$work/restate" || exit 1
    write_config "$work/classify.conf" "$(pg_conninfo_unix classify)" \
        "$RESTATE_INGRESS"
    ns_start "$work/classifyd.pid" "$work/classifyd.log" \
        "$BUILD/core/classifyd/classifyd" --config "$work/classify.conf"
    ns_wait_url http://127.0.0.1:9080/health 30 "$work/classifyd.pid" ||
        exit 1
    cli=("$BUILD/core/cli/classify" --config "$work/classify.conf")
    "${cli[@]}" register >/dev/null || exit 1
    head -n "$COUNT" "$ROOT/data/indicators.jsonl" >"$work/sample.jsonl"
    "${cli[@]}" seed "$work/sample.jsonl" >/dev/null || exit 1
    d_pid=$(ns_pid "$work/classifyd.pid")
    rs_pid=$(ns_pid "$RESTATE_PIDFILE")

    for pass in 1 2; do
        force=()
        [ "$pass" = 2 ] && force=(--force)
        mark "restate=$rs_pid" "classifyd=$d_pid"
        "${cli[@]}" run --batch-size $BATCH --timeout 1800 "${force[@]}" \
            >"$work/run.out" 2>/dev/null ||
            { cat "$work/run.out"; exit 1; }
        summary_line "single run$pass" "$work/run.out"
        report "single run$pass" "restate=$rs_pid" "classifyd=$d_pid"
    done
}

# --- three nodes -----------------------------------------------------------------

bench_cluster()
{
    local st cluster=$ROOT/scripts/cluster pids=() n pass t0 t1 keys key
    local force run i rctl row

    export CLUSTER_NETNS=classify-bench-$$ CLUSTER_BUILD=$BUILD
    export CLUSTER_STATE
    CLUSTER_STATE=$(mktemp -d /tmp/classify-bench-cluster.XXXXXX) || exit 1
    chmod 0755 "$CLUSTER_STATE"
    st=$CLUSTER_STATE
    # shellcheck disable=SC2064 # expand now: the directory is fixed
    trap "'$cluster' down >/dev/null; rm -rf '$st'" EXIT
    t0=$(date +%s.%N)
    "$cluster" up >/dev/null || exit 1
    t1=$(date +%s.%N)
    echo "cluster up (incl. PostgreSQL, classifyd, registration):" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s"
    head -n "$COUNT" "$ROOT/data/indicators.jsonl" >"$st/sample.jsonl"
    "$cluster" classify seed "$st/sample.jsonl" >/dev/null || exit 1
    for n in 1 2 3; do
        pids+=("n$n=$(cat "$st/n$n.pid")")
    done
    pids+=("classifyd=$(cat "$st/host.pid")")

    for pass in 1 2; do
        force=()
        [ "$pass" = 2 ] && force=(--force)
        mark "${pids[@]}"
        "$cluster" classify run --batch-size $BATCH --timeout 1800 \
            "${force[@]}" >"$st/run.out" 2>/dev/null ||
            { cat "$st/run.out"; exit 1; }
        summary_line "cluster run$pass" "$st/run.out"
        report "cluster run$pass" "${pids[@]}"
    done

    # Recovery: 40 workflows of the run (spread over the partitions) read
    # through n1 in parallel, each retried until it answers; first with
    # every node up, then right after SIGKILL of n2 (same clock start).
    run=$(sed -n 's/^run \([^:]*\):.*/\1/p' "$st/run.out" | head -n 1)
    keys=$(psql -X -At "host=$st/pg port=5432 user=postgres dbname=classify" \
        -c "SELECT indicator_id FROM classifications ORDER BY md5(indicator_id)
            LIMIT 40" | while read -r key; do
        jq -rn --arg k "$key@$run" '$k|@uri'
    done)
    # shellcheck disable=SC2086 # one key per word
    echo "reads of 40 workflows through n1, all nodes up:" \
        "$("$cluster" exec bash "$HERE/probe-reads.sh" 0 $keys)"
    # shellcheck disable=SC2086 # one key per word
    echo "reads of 40 workflows through n1 from SIGKILL of n2:" \
        "$("$cluster" exec bash "$HERE/probe-reads.sh" "$(cat "$st/n2.pid")" \
            $keys)"
    # Rejoin: from the restart until n2 is a metadata member again with
    # partition replicas and no node is listed dead.
    rctl=$ROOT/.cache/restatectl/node_modules/@restatedev/restatectl-linux-x64/bin/restatectl
    t0=$(date +%s.%N)
    "$cluster" start 2 >/dev/null || exit 1
    for ((i = 0; i < 600; i++)); do
        row=$("$cluster" exec "$rctl" -s http://127.0.0.1:5122 status \
            2>/dev/null | grep -E ' n2 ')
        if awk '{for (i = 1; i <= NF; i++) if ($i == "Member")
                exit !($(i + 1) + $(i + 2) >= 1); exit 1}' <<<"$row" &&
            ! "$cluster" exec "$rctl" -s http://127.0.0.1:5122 partitions \
                list 2>/dev/null | grep -q 'Dead nodes'; then
            break
        fi
        sleep 0.1
    done
    t1=$(date +%s.%N)
    echo "restart of n2 until it is a member with partition replicas:" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s"
}

case ${3:-all} in
single)
    ns_enter "$0" "$@"
    bench_single
    ;;
cluster)
    bench_cluster
    ;;
all)
    restate_install || exit 1
    echo "# $COUNT indicators, batches of $BATCH, $(nproc) cores, $(date -u +%FT%TZ)"
    unshare -n -- env CLASSIFY_NETNS=1 bash "$0" "$BUILD" "$COUNT" single ||
        exit 1
    bash "$0" "$BUILD" "$COUNT" cluster || exit 1
    ;;
*)
    echo "usage: bench-cluster.sh BUILD_DIR [N [single|cluster|all]]" >&2
    exit 2
    ;;
esac
