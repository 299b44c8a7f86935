#!/bin/bash
#
# run-pipeline.sh - the main job end to end: a real restate-server, a real
# PostgreSQL, classifyd with the six stage plugins and the classify CLI,
# all inside a private loopback-only network namespace.
#
# Usage: run-pipeline.sh BUILD_DIR SCENARIO
#   basic  N indicators (default 300) with the rules provider, a part
#          first and the rest resumed under the same run id: one
#          classifications row each, every stage table filled, plugin
#          versions recorded; a second run does nothing; --force re-runs
#          under a new run id; bad and oversized batches change nothing;
#          the same run id submitted twice runs once and says so.
#   kill   the same run with classifyd killed (SIGKILL) mid-run and
#          restarted: the same exact counts.
#   llm    100 indicators with every LLM-capable stage on the openai
#          provider, against the fake LLM server limited to 500
#          requests/min and 200,000 tokens/min with 800 ms latency: every
#          indicator completes, no journal mismatch, rejected calls at most
#          5% of accepted ones.
#
# Environment: E2E_COUNT (indicators for basic/kill), KEEP_E2E_WORK=1.

set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/tests/lib/netns.sh"
. "$ROOT/tests/lib/restate.sh"
. "$ROOT/tests/lib/pg.sh"
. "$ROOT/tests/lib/check.sh"
. "$ROOT/tests/lib/host.sh"
. "$ROOT/tests/lib/pipeline.sh"
if [ -z "${CLASSIFY_NETNS:-}" ]; then
    restate_install || exit 1
fi
ns_enter "$0" "$@"

BUILD=$(cd "${1:?usage: run-pipeline.sh BUILD_DIR SCENARIO}" && pwd)
SCENARIO=${2:?usage: run-pipeline.sh BUILD_DIR SCENARIO}
COUNT=${E2E_COUNT:-300}
[ "$SCENARIO" = llm ] && COUNT=100
WORK=$(mktemp -d /tmp/classify-pipeline.XXXXXX) || exit 1
CONF=$WORK/classify.conf
D_PIDFILE=$WORK/classifyd.pid
LLM_PIDFILE=$WORK/fake-llm.pid
CLI=("$BUILD/core/cli/classify" --config "$CONF")
CHECK_LABEL=$SCENARIO

finish()
{
    local rc=$?

    ns_cleanup
    pg_stop
    if check_failed "$rc"; then
        check_tail "classifyd log" 60 "$WORK"/classifyd*.log
        check_tail "restate-server log" 30 "$WORK/restate/server.log"
    fi
    check_clean_work "$WORK" "${KEEP_E2E_WORK:-}"
}
trap finish EXIT

# --- servers ---------------------------------------------------------------

pg_start || fail "postgres did not start"
pg_createdb classify || fail "createdb"
DB=$(pg_conninfo_unix classify)
restate_start "$WORK/restate" || fail "restate-server did not start"

LLM_PORT=
if [ "$SCENARIO" = llm ]; then
    ns_start "$LLM_PIDFILE" "$WORK/fake-llm.out" \
        "$BUILD/tests/fake-llm/fake-llm" --latency-ms 800 --rpm 500 \
        --tpm 200000
    for _ in $(seq 1 50); do
        LLM_PORT=$(awk '/^PORT/ {print $2}' "$WORK/fake-llm.out")
        [ -n "$LLM_PORT" ] && break
        sleep 0.1
    done
    [ -n "$LLM_PORT" ] || fail "fake LLM did not start"
fi

# The default config with this run's database, plugins and provider.
write_config()
{
    local stage_provider=rules

    [ "$SCENARIO" = llm ] && stage_provider=openai
    host_config "$CONF" "$DB" "$BUILD/plugins" "$WORK/plugin-copies" \
        "s|rate_per_second = .*|rate_per_second = 200.0;|" \
        "s|provider = \"[a-z]*\";|provider = \"$stage_provider\";|" \
        "s|fallback_to_rules = true;|fallback_to_rules = false;|" ||
        fail "cannot write $CONF"
    if [ "$SCENARIO" = llm ]; then
        sed -i \
            -e "s|base_url = \"https://api.openai.com/v1\";|base_url = \"http://127.0.0.1:$LLM_PORT/v1\";|" \
            -e 's|api_key_env = "OPENAI_API_KEY";|api_key_env = "FAKE_LLM_KEY";|' \
            "$CONF"
        # The normalization stage stays on its rules: it has no LLM path
        # the pipeline needs.
    fi
}
write_config
export FAKE_LLM_KEY=test-key-not-secret

start_classifyd()
{
    host_start "$BUILD" "$CONF" "$D_PIDFILE" "$WORK/classifyd.$1.log" ||
        fail "classifyd did not come up"
}
start_classifyd 1
"${CLI[@]}" register >/dev/null || fail "registration"

head -n "$COUNT" "$ROOT/data/indicators.jsonl" >"$WORK/sample.jsonl"
"${CLI[@]}" seed "$WORK/sample.jsonl" || fail "seed"
expect_eq "seeded indicators" "$(sql 'SELECT count(*) FROM source_indicators')" \
    "$COUNT"

# check_run RUN_ID: every indicator classified exactly once by RUN_ID, and
# every stage row names its plugin version and build.
check_run()
{
    local t

    check_classified "$1" "$COUNT"
    for t in $STAGE_TABLES; do
        expect_eq "$t rows without plugin version" \
            "$(sql "SELECT count(*) FROM $t WHERE plugin_version IS NULL OR build_id IS NULL")" \
            0
    done
}

# --- scenarios ---------------------------------------------------------------

scenario_basic()
{
    local run1 run2 before after out code

    # A run stopped after 7 indicators, then resumed under the same run id:
    # the rest must be submitted, not answered from the first part's cache.
    "${CLI[@]}" run --run-id part-1 --limit 7 --timeout 900 \
        >"$WORK/run0.out" 2>&1 ||
        { cat "$WORK/run0.out"; fail "partial run failed"; }
    expect_eq "classified after the partial run" \
        "$(sql "SELECT count(*) FROM classifications WHERE run_id = 'part-1'")" 7
    "${CLI[@]}" run --run-id part-1 --timeout 900 >"$WORK/run1.out" \
        2>"$WORK/run1.err" ||
        { cat "$WORK/run1.out" "$WORK/run1.err"; fail "resumed run failed"; }
    cat "$WORK/run1.out"
    run1=$(run_id_of "$WORK/run1.out")
    expect_eq "resumed run id" "$run1" part-1
    check_run "$run1"
    # Classifying never rewrites the source data: seeding the same file
    # again changes nothing.
    "${CLI[@]}" seed "$WORK/sample.jsonl" >"$WORK/reseed.out" ||
        fail "seed again"
    grep -q ' 0 updated' "$WORK/reseed.out" ||
        fail "a run changed the stored indicators: $(cat "$WORK/reseed.out")"

    "${CLI[@]}" run --timeout 60 >"$WORK/run2.out" 2>&1 ||
        fail "second run exited non-zero"
    grep -q "nothing to do" "$WORK/run2.out" ||
        fail "second run did something: $(cat "$WORK/run2.out")"
    expect_eq "runs after a second plain run" \
        "$(sql 'SELECT count(DISTINCT run_id) FROM classifications')" 1

    "${CLI[@]}" run --force --timeout 900 >"$WORK/run3.out" 2>&1 ||
        { cat "$WORK/run3.out"; fail "forced run failed"; }
    run2=$(run_id_of "$WORK/run3.out")
    [ -n "$run2" ] && [ "$run2" != "$run1" ] ||
        fail "forced run reused run id '$run1'"
    check_run "$run2"

    before=$(sql "SELECT (SELECT count(*) FROM source_indicators) || '/' ||
        (SELECT count(*) FROM classifications) || '/' ||
        (SELECT count(*) FROM processing_log)")
    out=$WORK/bad.json
    code=$(curl -s -o "$out" -w '%{http_code}' -X POST \
        -H 'content-type: application/json' \
        -d '{"run_id":"bad-1","indicators":[{"id":"e2e:ok","name":"Fine"},{"id":"e2e:bad","name":42}]}' \
        "$RESTATE_INGRESS/classify-api/batch")
    expect_eq "bad batch status" "$code" 400
    grep -q 'indicators\[1\] (id e2e:bad).name' "$out" ||
        fail "bad batch answer does not name the item: $(cat "$out")"
    code=$(python3 -c 'import json; print(json.dumps({"run_id": "big-1",
        "indicators": [{"id": "e2e:%d" % i, "name": "n"} for i in range(101)]}))' |
        curl -s -o "$out" -w '%{http_code}' -X POST \
            -H 'content-type: application/json' --data-binary @- \
            "$RESTATE_INGRESS/classify-api/batch")
    expect_eq "oversized batch status" "$code" 400
    grep -q 'allowed 1..100' "$out" ||
        fail "oversized batch answer: $(cat "$out")"
    code=$(curl -s -o "$out" -w '%{http_code}' -X POST \
        -H 'content-type: application/json' \
        -d '{"run_id":"nul-1","indicators":[{"id":"e2e:nul","name":"a\u0000b"}]}' \
        "$RESTATE_INGRESS/classify-api/batch")
    expect_eq "batch with a NUL in a string" "$code" 400
    grep -q 'u0000' "$out" || fail "NUL batch answer: $(cat "$out")"
    code=$(curl -s -o "$out" -w '%{http_code}' -X POST \
        -H 'content-type: application/json' \
        -d '{"run_id":"inf-1","indicators":[{"id":"e2e:inf","name":"n","sample_values":[{"date":"2020","value":1e400}]}]}' \
        "$RESTATE_INGRESS/classify-api/batch")
    expect_eq "batch with an overflowing sample value" "$code" 400
    grep -q 'sample_values\[0\].value' "$out" ||
        fail "overflow batch answer: $(cat "$out")"
    # Over classifyd's request limit (8 MiB by default): refused for good,
    # at once, instead of being retried by Restate forever.
    python3 -c 'import json; print(json.dumps({"run_id": "huge-1",
        "indicators": [{"id": "e2e:huge", "name": "n", "sample_values":
        [{"date": "%d-01-01" % (1000 + i % 9000), "value": i}
         for i in range(300000)]}]}))' >"$WORK/huge.json"
    code=$(curl -s -m 60 -o "$out" -w '%{http_code}' -X POST \
        -H 'content-type: application/json' --data-binary @"$WORK/huge.json" \
        "$RESTATE_INGRESS/classify-api/batch")
    expect_eq "batch over the request limit" "$code" 413
    grep -q "exceeds the endpoint's limit" "$out" ||
        fail "oversized body answer: $(cat "$out")"
    code=$(curl -s -o "$out" -w '%{http_code}' -X POST \
        -H 'content-type: application/json' -d '{"run_id":"bad-2",' \
        "$RESTATE_INGRESS/classify-api/batch")
    expect_eq "truncated JSON body" "$code" 400
    grep -q 'not valid JSON (parsing stopped at byte' "$out" ||
        fail "truncated body answer: $(cat "$out")"
    after=$(sql "SELECT (SELECT count(*) FROM source_indicators) || '/' ||
        (SELECT count(*) FROM classifications) || '/' ||
        (SELECT count(*) FROM processing_log)")
    expect_eq "rows after rejected batches" "$after" "$before"

    # The same run id twice: started once, reported honestly.
    local item
    item=$(head -n 1 "$WORK/sample.jsonl")
    for n in 1 2; do
        curl -s -X POST -H 'content-type: application/json' \
            -d "{\"run_id\":\"twice-1\",\"indicators\":[$item]}" \
            "$RESTATE_INGRESS/classify-api/batch" >"$WORK/twice.$n.json" ||
            fail "batch $n of twice-1"
    done
    expect_eq "first submission accepted" \
        "$(jq -r .accepted "$WORK/twice.1.json")" 1
    expect_eq "second submission accepted" \
        "$(jq -r .accepted "$WORK/twice.2.json")" 0
    expect_eq "second submission reported as already submitted" \
        "$(jq -r '.already_submitted | length' "$WORK/twice.2.json")" 1
}

scenario_kill()
{
    local run done_before

    "${CLI[@]}" run --timeout 900 >"$WORK/run1.out" 2>"$WORK/run1.err" &
    local cli_pid=$!
    for _ in $(seq 1 600); do
        done_before=$(sql "SELECT count(*) FROM classifications WHERE status <> 'running'")
        [ "$done_before" -ge $((COUNT / 4)) ] && break
        sleep 0.2
    done
    [ "$done_before" -lt "$COUNT" ] || fail "run finished before the kill"
    ns_kill "$D_PIDFILE"
    echo "killed classifyd with $done_before of $COUNT finished"
    sleep 2
    start_classifyd 2
    wait "$cli_pid" || { cat "$WORK/run1.out" "$WORK/run1.err";
        fail "run did not complete after the restart"; }
    cat "$WORK/run1.out"
    run=$(run_id_of "$WORK/run1.out")
    check_run "$run"
    # Every stage of every indicator logged its completion.  A step cut
    # short by the kill runs again in a later attempt and logs under that
    # attempt's number: that is the log doing its job, not a duplicate.
    expect_eq "stage completions logged" \
        "$(sql "SELECT count(DISTINCT (indicator_id, stage)) FROM processing_log
            WHERE run_id = '$run' AND event = 'completed'
              AND stage <> 'workflow'")" "$((COUNT * 6))"
    echo "steps that ran again after the kill:" \
        "$(sql "SELECT count(*) FROM processing_log
            WHERE run_id = '$run' AND attempt > 1")"
}

scenario_llm()
{
    local run stats accepted rejected mismatches

    "${CLI[@]}" run --timeout 1500 >"$WORK/run1.out" 2>"$WORK/run1.err" ||
        { cat "$WORK/run1.out" "$WORK/run1.err"; fail "LLM run failed"; }
    cat "$WORK/run1.out"
    run=$(run_id_of "$WORK/run1.out")
    check_run "$run"
    expect_eq "stage rows answered by the fake LLM" \
        "$(sql "SELECT count(*) FROM family_results WHERE run_id = '$run' AND provider = 'openai'")" \
        "$COUNT"
    mismatches=$(restate_query "SELECT count(*) AS n FROM sys_invocation
        WHERE last_failure_error_code = 570" | jq -r '.rows[0].n')
    expect_eq "invocations that hit a journal mismatch" "$mismatches" 0
    stats=$(curl -s "http://127.0.0.1:$LLM_PORT/stats")
    accepted=$(echo "$stats" | jq -r .accepted)
    rejected=$(echo "$stats" | jq -r .rejected)
    echo "fake LLM: accepted $accepted, rejected $rejected"
    [ "$((rejected * 100))" -le "$((accepted * 5))" ] ||
        fail "rejected calls $rejected exceed 5% of accepted $accepted"
}

case $SCENARIO in
basic) scenario_basic ;;
kill) scenario_kill ;;
llm) scenario_llm ;;
*) fail "unknown scenario $SCENARIO" ;;
esac
echo "PASS [$SCENARIO]"
