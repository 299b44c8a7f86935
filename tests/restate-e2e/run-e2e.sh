#!/bin/bash
#
# run-e2e.sh - one end-to-end scenario of our endpoint against a real
# restate-server 1.7, inside a private loopback-only network namespace.
#
# Usage: run-e2e.sh E2E_ENDPOINT_BINARY SCENARIO
# Scenarios: register stage workflow send flaky terminal kill
# E2E_ENDPOINT_BINARY is our e2e_endpoint, or ts-reference/run.sh for the
# same services written with the official TypeScript SDK (a check that
# the assertions hold for the reference implementation; set
# E2E_EXPECT_PROTOCOLS=5-7 for it, the SDK advertises up to v7).
#
# Each run starts a fresh restate-server (temp data dir) and the endpoint,
# registers the endpoint as an HTTP/1.1 request-response deployment, drives
# the scenario through the ingress with curl and checks real outcomes
# (HTTP answers, side-effect counters written by the endpoint, the admin
# SQL API).  Exit status 0 only when every check passed.  Logs are printed
# on failure; KEEP_E2E_WORK=1 keeps the work directory.

set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/../lib/netns.sh"
. "$HERE/../lib/restate.sh"
. "$HERE/../lib/check.sh"
# Downloads happen before entering the namespace (it has no route out).
if [ -z "${CLASSIFY_NETNS:-}" ]; then
    restate_install || exit 1
    case ${1:-} in
    */ts-reference/run.sh) "$1" --install || exit 1 ;;
    esac
fi
ns_enter "$0" "$@"

ENDPOINT_BIN=${1:?usage: run-e2e.sh ENDPOINT_BINARY SCENARIO}
SCENARIO=${2:?usage: run-e2e.sh ENDPOINT_BINARY SCENARIO}
EP_LISTEN=127.0.0.1:9080
EP_URL=http://$EP_LISTEN
WORK=$(mktemp -d /tmp/classify-e2e.XXXXXX) || exit 1
COUNTS=$WORK/counts
EP_PIDFILE=$WORK/endpoint.pid
CHECK_LABEL=$SCENARIO

mkdir -p "$COUNTS"

finish()
{
    local rc=$?

    ns_cleanup
    collect_endpoint_log
    if check_failed "$rc"; then
        check_tail "endpoint log" 40 "$WORK/endpoint.log"
        check_tail "restate-server log" 40 "$WORK/restate/server.log"
    fi
    check_clean_work "$WORK" "${KEEP_E2E_WORK:-}"
}
trap finish EXIT

# lines NAME SUFFIX: executions recorded by the endpoint for a side effect.
lines()
{
    if [ -f "$COUNTS/$1.$2" ]; then
        wc -l <"$COUNTS/$1.$2" | tr -d ' '
    else
        echo 0
    fi
}

start_endpoint()
{
    ns_start "$EP_PIDFILE" "$WORK/endpoint.log.part" \
        env E2E_COUNT_DIR="$COUNTS" E2E_STEP_DELAY_MS="${STEP_DELAY_MS:-0}" \
        "$ENDPOINT_BIN" "$EP_LISTEN" || fail "cannot start the endpoint"
    ns_wait_url "$EP_URL/health" 20 "$EP_PIDFILE" ||
        fail "endpoint did not answer /health"
}

# Keep the logs of every endpoint incarnation in one file.
collect_endpoint_log()
{
    cat "$WORK/endpoint.log.part" >>"$WORK/endpoint.log" 2>/dev/null
    : >"$WORK/endpoint.log.part"
}

# ingress METHOD PATH [JSON]: prints "STATUS BODY" (body on one line).
ingress()
{
    local method=$1 path=$2 json=${3:-} out code

    out=$(mktemp -p "$WORK")
    if [ -n "$json" ]; then
        code=$(curl -s -m 60 -o "$out" -w '%{http_code}' -X "$method" \
            -H 'content-type: application/json' -d "$json" \
            "$RESTATE_INGRESS$path")
    else
        code=$(curl -s -m 60 -o "$out" -w '%{http_code}' -X "$method" \
            "$RESTATE_INGRESS$path")
    fi
    echo "$code $(tr -d '\n' <"$out")"
    rm -f "$out"
}

# expect_counts NAME STARTED DONE
expect_counts()
{
    expect_eq "executions started of $1" "$(lines "$1" started)" "$2"
    expect_eq "executions finished of $1" "$(lines "$1" done)" "$3"
}

setup()
{
    restate_start "$WORK/restate" 8080 9070 5122 ||
        fail "restate-server did not start"
    start_endpoint
    REGISTRATION=$(restate_register "$EP_URL") ||
        fail "registration failed: $REGISTRATION"
}

# ---- scenarios ----------------------------------------------------------

scenario_register()
{
    local services accept ctype code deployments

    services=$(echo "$REGISTRATION" |
        jq -r '[.services[].name] | sort | join(",")')
    expect_eq "registered services" "$services" \
        "api,bad,bench,benchwf,flaky,stage,wf"
    expect_eq "wf.run handler type" "$(echo "$REGISTRATION" |
        jq -r '.services[] | select(.name=="wf") | .handlers[] |
               select(.name=="run") | .ty')" "Workflow"
    expect_eq "protocol range" "$(echo "$REGISTRATION" |
        jq -r '"\(.min_protocol_version)-\(.max_protocol_version)"')" \
        "${E2E_EXPECT_PROTOCOLS:-5-6}"

    deployments=$(curl -sf "$RESTATE_ADMIN/deployments") ||
        fail "GET /deployments failed"
    expect_eq "deployment protocol" "$(echo "$deployments" |
        jq -r '.deployments[0].protocol_type')" "RequestResponse"
    expect_eq "deployment http version" "$(echo "$deployments" |
        jq -r '.deployments[0].http_version')" "HTTP/1.1"

    # The exact Accept header restate sends.
    accept="application/vnd.restate.endpointmanifest.v1+json"
    for v in 2 3 4; do
        accept="$accept, application/vnd.restate.endpointmanifest.v$v+json"
    done
    ctype=$(curl -s -o /dev/null -w '%{content_type}' -H "accept: $accept" \
        "$EP_URL/discover")
    expect_eq "discovery content type" "$ctype" \
        "application/vnd.restate.endpointmanifest.v4+json"
    code=$(curl -s -o /dev/null -w '%{http_code}' \
        -H 'accept: application/json' "$EP_URL/discover")
    expect_eq "discovery with a foreign Accept" "$code" 415
}

scenario_stage()
{
    local r

    r=$(ingress POST /stage/process '{"item":"x","tag":"s1"}')
    expect_eq "stage/process answer" "$r" \
        '200 {"item":"x","validated":true,"enriched":"x-enriched"}'
    expect_counts s1-x-validate 1 1
    expect_counts s1-x-enrich 1 1
}

scenario_workflow()
{
    local runfile=$WORK/run.out runpid state i r expected

    STEP_DELAY_MS=300
    ns_stop "$EP_PIDFILE"
    collect_endpoint_log
    start_endpoint

    curl -s -m 60 -o "$runfile" -w '%{http_code}' -X POST \
        -H 'content-type: application/json' -d '{}' \
        "$RESTATE_INGRESS/wf/k1/run" >"$runfile.code" &
    runpid=$!

    state=null
    for ((i = 0; i < 100; i++)); do
        state=$(ingress POST /wf/k1/getState)
        [ "$state" != "200 null" ] && break
        sleep 0.05
    done
    expect_eq "getState while run is in flight" "$state" \
        '200 {"phase":"started","done":0}'
    kill -0 "$runpid" 2>/dev/null ||
        fail "workflow run finished before getState could observe it"

    wait "$runpid"
    expect_eq "wf/run status" "$(cat "$runfile.code")" 200
    r=$(jq -c . <"$runfile")
    expected='{"key":"k1","results":['
    for i in a b c; do
        expected="$expected{\"item\":\"$i\",\"validated\":true,"
        expected="$expected\"enriched\":\"$i-enriched\"},"
    done
    expected="${expected%,}]}"
    expect_eq "wf/run result" "$r" "$expected"
    expect_eq "getState after run" "$(ingress POST /wf/k1/getState)" \
        '200 {"phase":"done","done":3}'
    for i in a b c; do
        expect_counts "wf-k1-$i-validate" 1 1
        expect_counts "wf-k1-$i-enrich" 1 1
    done
}

scenario_send()
{
    local r id id2 body out

    r=$(ingress POST /api/submit '{"key":"k3","order":"o-3"}')
    expect_eq "api/submit status" "${r%% *}" 200
    id=$(echo "${r#* }" | jq -r .)
    case $id in
    inv_*) echo "ok: submit returned $id" ;;
    *) fail "api/submit returned '$r', expected an invocation id" ;;
    esac

    body=$(ingress GET /restate/workflow/wf/k3/attach)
    expect_eq "attach status" "${body%% *}" 200
    expect_eq "attach result key" "$(echo "${body#* }" | jq -r .key)" k3
    expect_eq "attach result size" \
        "$(echo "${body#* }" | jq -r '.results | length')" 3
    out=$(ingress GET /restate/workflow/wf/k3/output)
    expect_eq "output equals attach" "$out" "$body"

    r=$(ingress POST /api/submit '{"key":"k3","order":"o-3-again"}')
    id2=$(echo "${r#* }" | jq -r .)
    expect_eq "second submit for the same key" "$id2" "$id"
    expect_counts wf-k3-a-validate 1 1

    # One-way send straight from the ingress.
    r=$(ingress POST /wf/k4/run/send '{}')
    expect_eq "run/send status" "${r%% *}" 202
    body=$(ingress GET /restate/workflow/wf/k4/attach)
    expect_eq "attach k4 result key" "$(echo "${body#* }" | jq -r .key)" k4
}

scenario_flaky()
{
    local hdr=$WORK/flaky.hdr body id rows runs completions

    body=$(curl -s -m 60 -D "$hdr" -H 'content-type: application/json' \
        -d '{"tag":"f1"}' "$RESTATE_INGRESS/flaky/go")
    expect_eq "flaky/go result" "$body" '{"executions":3}'
    expect_counts f1-call-external 3 1

    id=$(awk -F': ' 'tolower($1)=="x-restate-id" {print $2}' "$hdr" |
        tr -d '\r')
    [ -n "$id" ] || fail "no x-restate-id header in the flaky/go answer"
    rows=$(restate_query "SELECT index, entry_type, name FROM sys_journal
                          WHERE id = '$id' ORDER BY index") ||
        fail "admin /query on sys_journal failed"
    echo "journal of $id: $rows"
    runs=$(echo "$rows" | jq '[.rows[] | select(.entry_type ==
                               "Command: Run")] | length')
    completions=$(echo "$rows" | jq '[.rows[] | select(.entry_type ==
                               "Notification: Run")] | length')
    expect_eq "run commands in the journal" "$runs" 1
    expect_eq "run results in the journal" "$completions" 1
}

scenario_terminal()
{
    local r

    r=$(ingress POST /bad/go '"x"')
    expect_eq "bad/go status" "${r%% *}" 400
    expect_eq "bad/go message" "$(echo "${r#* }" | jq -r .message)" \
        'bad input: "x"'
}

scenario_kill()
{
    local r i body

    STEP_DELAY_MS=400
    ns_stop "$EP_PIDFILE"
    collect_endpoint_log
    start_endpoint

    r=$(ingress POST /wf/k6/run/send '{}')
    expect_eq "run/send status" "${r%% *}" 202

    # Kill while the second call's first side effect is executing: every
    # side effect of the first call is journaled by then.
    for ((i = 0; i < 200; i++)); do
        [ "$(lines wf-k6-b-validate started)" -ge 1 ] && break
        sleep 0.02
    done
    expect_eq "b-validate started before the kill" \
        "$(lines wf-k6-b-validate started)" 1
    ns_kill "$EP_PIDFILE"
    ns_alive "$EP_PIDFILE" && fail "endpoint survived SIGKILL"
    echo "ok: endpoint killed with SIGKILL mid-workflow"
    expect_eq "b-validate finished before the kill" \
        "$(lines wf-k6-b-validate done)" 0
    collect_endpoint_log

    sleep 0.3
    start_endpoint
    body=$(ingress GET /restate/workflow/wf/k6/attach)
    expect_eq "attach after restart" "${body%% *}" 200
    expect_eq "result after restart" \
        "$(echo "${body#* }" | jq -c '[.results[].item]')" '["a","b","c"]'

    expect_counts wf-k6-a-validate 1 1
    expect_counts wf-k6-a-enrich 1 1
    expect_counts wf-k6-b-validate 2 1
    expect_counts wf-k6-b-enrich 1 1
    expect_counts wf-k6-c-validate 1 1
    expect_counts wf-k6-c-enrich 1 1
}

case $SCENARIO in
register | stage | workflow | send | flaky | terminal | kill) ;;
*) fail "unknown scenario '$SCENARIO'" ;;
esac
[ -x "$ENDPOINT_BIN" ] || fail "endpoint binary '$ENDPOINT_BIN' missing"

setup
"scenario_$SCENARIO"
ns_stop "$EP_PIDFILE"
collect_endpoint_log
echo "PASS [$SCENARIO]"
