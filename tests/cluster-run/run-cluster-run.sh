#!/bin/bash
#
# run-cluster-run.sh - the main job on the three-node Restate cluster of
# scripts/cluster: three restate-server nodes, the S3 store, a private
# PostgreSQL and classifyd, all inside a loopback-only network namespace
# of its own (unique name per test run), state in a temporary directory.
#
# Usage: run-cluster-run.sh BUILD_DIR SCENARIO
#   route   the deployment is registered once (every admin API lists one
#           deployment); `classify run` of N indicators (default 300)
#           sends batches to all three ingress ports; every indicator is
#           classified exactly once; each workflow's state and output are
#           readable through every node, and identical.
#   kill    the same run with one node (n2 unless CLUSTER_RUN_KILL_NODE)
#           SIGKILLed mid-run: the run completes with the same exact
#           counts, the summary shows rerouted batches, and after a restart
#           the node is healthy, a metadata member again with partition
#           replicas, and serves the results.
#   export  a run, then `classify export --to s3://...` lands in the
#           store and reads back byte-identical to `export --output FILE`;
#           with a wrong secret key the export fails with
#           SignatureDoesNotMatch and no object appears.
#
# Environment: CLUSTER_RUN_COUNT (indicators, default 300),
# CLUSTER_RUN_KILL_NODE (1-3, default 2), KEEP_CLUSTER_RUN_WORK=1 keeps the
# state directory (logs, database, node data) for a post-mortem.

set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/tests/lib/check.sh"
. "$ROOT/tests/lib/pipeline.sh"
. "$ROOT/tests/lib/cluster.sh"
BUILD=$(cd "${1:?usage: run-cluster-run.sh BUILD_DIR SCENARIO}" && pwd)
SCENARIO=${2:?usage: run-cluster-run.sh BUILD_DIR SCENARIO}
COUNT=${CLUSTER_RUN_COUNT:-300}
[ "$SCENARIO" = export ] && COUNT=${CLUSTER_RUN_COUNT:-120}
KILL_NODE=${CLUSTER_RUN_KILL_NODE:-2}
CLUSTER=$ROOT/scripts/cluster
INGRESS_PORTS="8080 28080 38080"
ADMIN_PORTS="9070 29070 39070"
# The local store's key pair (scripts/cluster's default; not a secret).
export AWS_ACCESS_KEY_ID=classify-local AWS_SECRET_ACCESS_KEY=classify-local-secret
export CLUSTER_NETNS=classify-cr-$SCENARIO-$$
export CLUSTER_BUILD=$BUILD
export CLUSTER_STATE
CLUSTER_STATE=$(mktemp -d /tmp/classify-cluster-run.XXXXXX) || exit 1
# PostgreSQL runs as user postgres and must reach its directory inside.
chmod 0755 "$CLUSTER_STATE"
unset CLUSTER_HOST_CMD CLUSTER_RATE
WORK=$CLUSTER_STATE/work
mkdir -p "$WORK"
DB="host=$CLUSTER_STATE/pg port=5432 user=postgres dbname=classify"
CHECK_LABEL=$SCENARIO

finish()
{
    local rc=$?

    "$CLUSTER" down || rc=1
    check_netns_gone "$CLUSTER_NETNS" || rc=1
    if check_failed "$rc"; then
        for log in host n1 n2 n3 pg; do
            echo "---- $log.log (tail) ----"
            tail -n 25 "$CLUSTER_STATE/$log.log" 2>/dev/null
        done
    fi
    if [ -n "${KEEP_CLUSTER_RUN_WORK:-}" ]; then
        echo "state kept: $CLUSTER_STATE"
    else
        rm -rf "$CLUSTER_STATE"
    fi
    exit "$rc"
}
trap finish EXIT

cli() { "$CLUSTER" classify "$@"; }

# s3 PATH_AND_QUERY: signed GET against the namespace's store.
s3()
{
    ns curl -sf -m 10 --aws-sigv4 aws:amz:us-east-1:s3 \
        --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
        -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
        "http://127.0.0.1:9000$1"
}

# s3_keys BUCKET PREFIX: the object keys under PREFIX, one a line.
s3_keys()
{
    s3 "/$1?list-type=2&prefix=$(jq -rn --arg p "$2" '$p|@uri')" |
        grep -o '<Key>[^<]*</Key>' | sed 's/<[^>]*>//g'
}

# --- checks -------------------------------------------------------------------

# check_registered_once: every admin API lists exactly one deployment, at
# classifyd's URL, with the workflow and API services.
check_registered_once()
{
    local port doc

    for port in $ADMIN_PORTS; do
        doc=$(ns curl -sf -m 5 "http://127.0.0.1:$port/deployments") ||
            fail "admin $port: GET /deployments failed"
        expect_eq "deployments listed by admin $port" \
            "$(jq '.deployments | length' <<<"$doc")" 1
        expect_eq "deployment uri at admin $port" \
            "$(jq -r '.deployments[0].uri' <<<"$doc")" "http://127.0.0.1:9080/"
        jq -e '[.deployments[0].services[].name] |
            index("classification-workflow") and index("classify-api")' \
            <<<"$doc" >/dev/null ||
            fail "admin $port: services missing: $(jq -c \
                '[.deployments[0].services[].name]' <<<"$doc")"
    done
}

# check_run RUN_ID: every indicator classified exactly once by RUN_ID
# (the same counts as the single-node pipeline test), no event logged twice.
check_run()
{
    local run=$1

    check_classified "$run" "$COUNT"
    expect_eq "processing_log duplicates" \
        "$(sql "SELECT count(*) FROM (SELECT indicator_id, stage, event
            FROM processing_log WHERE run_id = '$run'
            GROUP BY 1, 2, 3 HAVING count(*) > 1) d")" 0
}

# batches_on PORT OUT: batches the run summary in OUT credits to PORT.
batches_on()
{
    awk -v url="http://127.0.0.1:$1" '$1 == url {print $2}' "$2"
}

# rerouted OUT: the rerouted batch count of the run summary in OUT.
rerouted()
{
    sed -n 's/^ *batches: [0-9]* (\([0-9]*\) rerouted.*/\1/p' "$1"
}


# run_job OUT ARGS...: `classify run ARGS` over the three ingress URLs,
# summary in OUT, progress and router messages in OUT.err.
run_job()
{
    local out=$1
    shift

    cli run --batch-size 10 --timeout 900 "$@" >"$out" 2>"$out.err"
}

# check_readable RUN N: the state and the output of N workflows of RUN,
# read through every ingress port, say "completed" and agree.
check_readable()
{
    local run=$1 n=$2 id key port state out first_state first_out

    for id in $(sql "SELECT indicator_id FROM classifications
            WHERE run_id = '$run' ORDER BY indicator_id LIMIT $n"); do
        key=$(jq -rn --arg k "$id@$run" '$k|@uri')
        first_state=''
        first_out=''
        for port in $INGRESS_PORTS; do
            state=$(ns curl -sf -m 30 -X POST \
                -H 'content-type: application/json' \
                "http://127.0.0.1:$port/classification-workflow/$key/getState") ||
                fail "getState of $id through $port failed"
            [ "$(jq -r '.status + " " + .indicator_id + " " + .run_id' \
                <<<"$state")" = "completed $id $run" ] ||
                fail "getState of $id through $port: $state"
            out=$(ns curl -sf -m 30 \
                "http://127.0.0.1:$port/restate/workflow/classification-workflow/$key/output") ||
                fail "workflow output of $id through $port failed"
            [ "$(jq -r '.success' <<<"$out")" = true ] ||
                fail "workflow output of $id through $port: $out"
            : "${first_state:=$state}" "${first_out:=$out}"
            if [ "$state" != "$first_state" ] || [ "$out" != "$first_out" ]; then
                fail "$id reads differently through $port"
            fi
        done
    done
    echo "ok: $n workflows of $run read alike through $INGRESS_PORTS"
}

# check_rejoined N GEN: node N is back: health on both ports, a metadata
# member under a new generation (GEN was its old one), with partition
# replicas, and no dead node left in the partition table.
check_rejoined()
{
    local n=$1 gen=$2 port

    cluster_wait_rejoin "$n" "$gen" 120 ||
        fail "n$n did not rejoin within 60s (row: $CLUSTER_ROW)"
    for port in $INGRESS_PORTS; do
        ns curl -sf -o /dev/null -m 3 "http://127.0.0.1:$port/restate/health" ||
            fail "ingress $port not healthy after the rejoin"
    done
    echo "ok: n$n rejoined"
}

# --- setup --------------------------------------------------------------------

step "cluster up (netns $CLUSTER_NETNS, state $CLUSTER_STATE)"
"$CLUSTER" up || fail "scripts/cluster up failed"
[ "$(ns ip -o link show | awk -F': ' '{print $2}')" = lo ] ||
    fail "netns has interfaces besides lo"
check_registered_once

step "seed $COUNT indicators"
head -n "$COUNT" "$ROOT/data/indicators.jsonl" >"$WORK/sample.jsonl"
cli seed "$WORK/sample.jsonl" >/dev/null 2>&1 || fail "seed"
expect_eq "seeded indicators" \
    "$(sql 'SELECT count(*) FROM source_indicators')" "$COUNT"

# --- scenarios ----------------------------------------------------------------

scenario_route()
{
    local run port

    step "run over the three ingress ports"
    run_job "$WORK/run.out" ||
        { cat "$WORK/run.out" "$WORK/run.err"; fail "run failed"; }
    sed -n '/^summary/,/^  submitted/p' "$WORK/run.out"
    run=$(run_id_of "$WORK/run.out")
    for port in $INGRESS_PORTS; do
        [ "$(batches_on "$port" "$WORK/run.out")" -gt 0 ] 2>/dev/null ||
            fail "no batch went through ingress $port"
    done
    expect_eq "rerouted batches" "$(rerouted "$WORK/run.out")" 0
    check_run "$run"

    step "results readable through every node"
    check_readable "$run" 5
    check_registered_once
}

scenario_kill()
{
    local run done_now gen port pid

    gen=$(ctl status | grep -E " n$KILL_NODE " |
        awk '{print $1}')
    [ -n "$gen" ] || fail "n$KILL_NODE not in restatectl status"

    step "run, SIGKILL n$KILL_NODE mid-run"
    # Paced to 20 indicators/s so that batches are still being submitted
    # after the kill (the router must move them to the other nodes).
    run_job "$WORK/run.out" --rate 20 &
    pid=$!
    for ((i = 0; i < 600; i++)); do
        done_now=$(sql "SELECT count(*) FROM classifications
            WHERE status <> 'running'")
        [ "$done_now" -ge $((COUNT / 5)) ] && break
        sleep 0.2
    done
    [ "$done_now" -lt "$COUNT" ] || fail "run finished before the kill"
    "$CLUSTER" kill "$KILL_NODE" || fail "kill of n$KILL_NODE failed"
    echo "killed n$KILL_NODE with $done_now of $COUNT finished"
    wait "$pid" ||
        { cat "$WORK/run.out" "$WORK/run.out.err"; fail "run did not complete"; }
    sed -n '/^summary/,/^  submitted/p' "$WORK/run.out"
    run=$(run_id_of "$WORK/run.out")
    [ "$(rerouted "$WORK/run.out")" -gt 0 ] 2>/dev/null ||
        fail "no batch was rerouted: $(grep 'batches:' "$WORK/run.out")"
    echo "ok: $(rerouted "$WORK/run.out") batch(es) rerouted"
    check_run "$run"

    step "restart n$KILL_NODE, check it rejoins and serves"
    "$CLUSTER" start "$KILL_NODE" || fail "restart of n$KILL_NODE failed"
    check_rejoined "$KILL_NODE" "$gen"
    check_readable "$run" 3
}

scenario_export()
{
    local run prefix keys

    step "run"
    run_job "$WORK/run.out" ||
        { cat "$WORK/run.out" "$WORK/run.out.err"; fail "run failed"; }
    run=$(run_id_of "$WORK/run.out")
    check_run "$run"

    step "export to a file and to the store"
    cli export --run-id "$run" --output "$WORK/local.jsonl" 2>"$WORK/exp.err" ||
        { cat "$WORK/exp.err"; fail "export --output failed"; }
    expect_eq "rows in the local export" "$(wc -l <"$WORK/local.jsonl")" \
        "$COUNT"
    prefix=runs/$run
    cli export --run-id "$run" --to "s3://classify-exports/$prefix" \
        --endpoint http://127.0.0.1:9000 --path-style 2>"$WORK/exp.err" ||
        { cat "$WORK/exp.err"; fail "export --to s3 failed"; }
    grep 'exported' "$WORK/exp.err"
    keys=$(s3_keys classify-exports "$prefix/") || fail "cannot list"
    expect_eq "objects under $prefix" "$(sort <<<"$keys" | tr '\n' ' ')" \
        "$prefix/classifications.jsonl $prefix/manifest.json "
    s3 "/classify-exports/$prefix/classifications.jsonl" >"$WORK/s3.jsonl" ||
        fail "cannot read the object back"
    cmp "$WORK/local.jsonl" "$WORK/s3.jsonl" ||
        fail "the object differs from the local export"
    echo "ok: object byte-identical to the local export" \
        "($(wc -c <"$WORK/s3.jsonl") bytes)"
    s3 "/classify-exports/$prefix/manifest.json" >"$WORK/manifest.json" ||
        fail "cannot read manifest.json"
    expect_eq "manifest rows" "$(jq -r .rows "$WORK/manifest.json")" "$COUNT"
    expect_eq "manifest run_id" "$(jq -r .run_id "$WORK/manifest.json")" "$run"

    step "export with a wrong secret key"
    prefix=denied/$run
    if AWS_SECRET_ACCESS_KEY=not-the-secret cli export --run-id "$run" \
        --to "s3://classify-exports/$prefix" --endpoint http://127.0.0.1:9000 \
        --path-style 2>"$WORK/bad.err"; then
        fail "export with a wrong secret succeeded"
    fi
    grep -v ' INFO ' "$WORK/bad.err"
    grep -q 'SignatureDoesNotMatch' "$WORK/bad.err" ||
        fail "no SignatureDoesNotMatch in: $(cat "$WORK/bad.err")"
    keys=$(s3_keys classify-exports "$prefix/") || fail "cannot list"
    expect_eq "objects under $prefix" "$keys" ""
    # The export is one PUT (under 8 MiB): the whole bucket holds the good
    # export's two objects and nothing else.  (s3rver cannot list
    # multipart uploads, so aborted uploads are not checked here.)
    keys=$(s3_keys classify-exports "") || fail "cannot list"
    expect_eq "objects in the bucket" "$(wc -l <<<"$keys")" 2
}

case $SCENARIO in
route) scenario_route ;;
kill) scenario_kill ;;
export) scenario_export ;;
*) fail "unknown scenario $SCENARIO" ;;
esac
step "PASS [$SCENARIO]"
