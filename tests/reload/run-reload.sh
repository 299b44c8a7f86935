#!/bin/bash
#
# run-reload.sh - hot reload end to end: a real restate-server, a real
# PostgreSQL, classifyd with the six stage plugins and the classify CLI,
# all inside a private loopback-only network namespace.  The plugins are
# deployed into a directory of this run (never the build tree) and
# replaced there by rename, as docs/operations.md asks.
#
# Usage: run-reload.sh BUILD_DIR SCENARIO
#   load     RELOAD_COUNT indicators (default 600); midway the
#            type-classification plugin is replaced by a 2.0.0 test build
#            and `classify reload` runs.  Every indicator completes, no
#            invocation fails or hits a journal mismatch (570), rows of
#            both versions are in type_results and each names its
#            version, build id and generation, the 2.0.0 rows carry the
#            marked reasoning, and generation 1 is closed.
#   refuse   refused reloads leave generation 1 serving: wrong ABI major,
#            create() failing, no entry symbol, a configuration error and
#            a restart-only setting; then the admin API refuses a missing
#            or wrong token; then a reload to 2.0.0 and `classify
#            rollback`: new invocations use 1.0.0 again.  Finally a
#            stage is added (a new Restate service: served and registered
#            again) and removed.
#
# Environment: RELOAD_COUNT, KEEP_E2E_WORK=1.

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

BUILD=$(cd "${1:?usage: run-reload.sh BUILD_DIR SCENARIO}" && pwd)
SCENARIO=${2:?usage: run-reload.sh BUILD_DIR SCENARIO}
COUNT=${RELOAD_COUNT:-600}
[ "$SCENARIO" = refuse ] && COUNT=40
WORK=$(mktemp -d /tmp/classify-reload.XXXXXX) || exit 1
CONF=$WORK/classify.conf
PLUGINS=$WORK/plugins
D_PIDFILE=$WORK/classifyd.pid
# The CLI reads its own copy, so it still reaches the admin API while the
# daemon's file is being broken on purpose.
CLI_CONF=$WORK/cli.conf
CLI=("$BUILD/core/cli/classify" --config "$CLI_CONF")
V2=$BUILD/tests/reload/plugins/reload-type-v2.so
BROKEN=$BUILD/tests/reload/plugins
ADMIN=http://127.0.0.1:9081
CHECK_LABEL="reload $SCENARIO"
export CLASSIFY_ADMIN_TOKEN=reload-test-token-$$

finish()
{
    local rc=$?

    ns_cleanup
    pg_stop
    if check_failed "$rc"; then
        check_tail "classifyd log" 80 "$WORK/classifyd.log"
        check_tail "restate-server log" 30 "$WORK/restate/server.log"
    fi
    check_clean_work "$WORK" "${KEEP_E2E_WORK:-}"
}
trap finish EXIT

# deploy SRC NAME: publish SRC as $PLUGINS/NAME with a new inode.
deploy()
{
    cp "$1" "$PLUGINS/.$2.new" && mv -f "$PLUGINS/.$2.new" "$PLUGINS/$2" ||
        fail "deploy $1 as $2"
}

admin_status()
{
    "${CLI[@]}" generations --json || fail "classify generations"
}

active_generation()
{
    admin_status | jq -r .active
}

# --- servers -----------------------------------------------------------------

pg_start || fail "postgres did not start"
pg_createdb classify || fail "createdb"
DB=$(pg_conninfo_unix classify)
restate_start "$WORK/restate" || fail "restate-server did not start"

mkdir -p "$PLUGINS" || fail "mkdir $PLUGINS"
cp -r "$BUILD/plugins/." "$PLUGINS/" || fail "copy plugins"
for f in "$V2" "$BROKEN"/reload_major2.so "$BROKEN"/reload_create_fails.so \
    "$BROKEN"/reload_no_entry.so; do
    [ -f "$f" ] || fail "missing test plugin $f (build the reload tests)"
done

host_config "$CONF" "$DB" "$PLUGINS" "$WORK/plugin-copies" \
    "s|rate_per_second = .*|rate_per_second = 60.0;|" \
    "s|drain_timeout_ms = .*|drain_timeout_ms = 60000;|" \
    's|# token_env = "CLASSIFY_ADMIN_TOKEN";|token_env = "CLASSIFY_ADMIN_TOKEN";|' ||
    fail "cannot write $CONF"
grep -q '^ *token_env = "CLASSIFY_ADMIN_TOKEN";' "$CONF" ||
    fail "config template has no token_env line to enable"
cp "$CONF" "$CLI_CONF" || fail "copy config"

host_start "$BUILD" "$CONF" "$D_PIDFILE" "$WORK/classifyd.log" ||
    fail "classifyd did not come up"
"${CLI[@]}" register >/dev/null || fail "registration"
expect_eq "generation at start" "$(active_generation)" 1

head -n "$COUNT" "$ROOT/data/indicators.jsonl" >"$WORK/sample.jsonl"
"${CLI[@]}" seed "$WORK/sample.jsonl" >/dev/null || fail "seed"

no_journal_mismatch()
{
    local n

    n=$(restate_query "SELECT count(*) AS n FROM sys_invocation
        WHERE last_failure_error_code = 570" | jq -r '.rows[0].n')
    expect_eq "invocations that hit a journal mismatch" "$n" 0
}

# --- scenarios ---------------------------------------------------------------

scenario_load()
{
    local run done_now v1 v2 gen_v2 out

    "${CLI[@]}" run --timeout 1200 >"$WORK/run.out" 2>"$WORK/run.err" &
    local cli_pid=$!
    for _ in $(seq 1 1200); do
        done_now=$(sql "SELECT count(*) FROM type_results")
        [ "$done_now" -ge $((COUNT / 5)) ] && break
        sleep 0.1
    done
    [ "$done_now" -lt "$COUNT" ] || fail "run finished before the reload"

    deploy "$V2" type-classification.so
    out=$("${CLI[@]}" reload) || fail "reload refused: $out"
    echo "$out"
    echo "reloaded with $done_now of $COUNT type rows written"
    expect_eq "generation after the reload" "$(active_generation)" 2
    "${CLI[@]}" generations || fail "classify generations"

    wait "$cli_pid" || { cat "$WORK/run.out" "$WORK/run.err";
        fail "run did not complete across the reload"; }
    cat "$WORK/run.out"
    run=$(run_id_of "$WORK/run.out")

    expect_eq "completed classifications" \
        "$(sql "SELECT count(*) FROM classifications WHERE run_id = '$run' AND status = 'completed'")" \
        "$COUNT"
    expect_eq "failed classifications" \
        "$(sql "SELECT count(*) FROM classifications WHERE status <> 'completed'")" 0
    expect_eq "type_results rows" \
        "$(sql "SELECT count(*) FROM type_results WHERE run_id = '$run'")" "$COUNT"
    v1=$(sql "SELECT count(*) FROM type_results WHERE plugin_version = '1.0.0'")
    v2=$(sql "SELECT count(*) FROM type_results WHERE plugin_version = '2.0.0'")
    echo "type_results: $v1 row(s) by 1.0.0, $v2 by 2.0.0"
    expect_gt "type rows by 1.0.0" "$v1" 0
    expect_gt "type rows by 2.0.0" "$v2" 0
    expect_eq "type rows by another version" \
        "$(sql "SELECT count(*) FROM type_results WHERE plugin_version NOT IN ('1.0.0', '2.0.0')")" 0
    expect_eq "2.0.0 rows not from the v2 build, generation 2" \
        "$(sql "SELECT count(*) FROM type_results WHERE plugin_version = '2.0.0'
            AND (build_id <> 'reload-test-v2' OR generation <> 2
                 OR reasoning NOT LIKE '[type-classification 2.0.0] %')")" 0
    expect_eq "1.0.0 rows not from generation 1 or marked" \
        "$(sql "SELECT count(*) FROM type_results WHERE plugin_version = '1.0.0'
            AND (generation <> 1 OR reasoning LIKE '[type-classification%')")" 0
    expect_eq "other stages' rows not from generation 1" \
        "$(sql "SELECT count(*) FROM family_results WHERE generation <> 1")" 0
    expect_eq "stage invocations that failed (classifyd log)" \
        "$(grep -c 'failed on' "$WORK/classifyd.log")" 0
    expect_eq "failed events in processing_log" \
        "$(sql "SELECT count(*) FROM processing_log WHERE event = 'failed'")" 0
    no_journal_mismatch

    # Generation 1 drained and was closed.
    for _ in $(seq 1 100); do
        [ "$(admin_status | jq '.generations | length')" = 1 ] && break
        sleep 0.2
    done
    expect_eq "generations loaded at the end" \
        "$(admin_status | jq -c '[.generations[] | [.id, .state]]')" \
        '[[2,"active"]]'
    grep -q "generation 1 drained after [0-9]* ms and was closed" \
        "$WORK/classifyd.log" || fail "no log line closing generation 1"
    expect_eq "type-classification copies mapped by classifyd" \
        "$(grep plugin-copies "/proc/$(ns_pid "$D_PIDFILE")/maps" |
            awk '{print $6}' | sort -u | grep -c '/type-classification-')" 1
    curl -sf -H "Authorization: Bearer $CLASSIFY_ADMIN_TOKEN" \
        "$ADMIN/metrics" >"$WORK/metrics.txt" || fail "metrics"
    grep -q '^classify_reloads_total 1$' "$WORK/metrics.txt" ||
        fail "metrics: $(head -n 20 "$WORK/metrics.txt")"
    grep -q '^classify_generation_drain_seconds_count 1$' \
        "$WORK/metrics.txt" || fail "metrics: drain not recorded"
    echo "ok: metrics report the reload and the drain"
}

# expect_refused WHAT PATTERN: classify reload fails, its message matches
# PATTERN, generation 1 still serves.
expect_refused()
{
    local out

    if out=$("${CLI[@]}" reload 2>&1); then
        fail "$1: reload accepted: $out"
    fi
    echo "$out" | grep -q -- "$2" || fail "$1: unexpected refusal: $out"
    expect_eq "$1: generation after the refusal" "$(active_generation)" 1
}

# run_all [--force]: classify everything; prints the run id.
run_all()
{
    "${CLI[@]}" run "$@" --timeout 600 >"$WORK/run.out" 2>&1 ||
        { cat "$WORK/run.out"; fail "run $* failed"; }
    run_id_of "$WORK/run.out"
}

scenario_refuse()
{
    local good=$PLUGINS/type-classification.so run1 run2 run3 code

    cp "$good" "$WORK/type-v1.so" || fail "keep v1"
    deploy "$BROKEN/reload_major2.so" type-classification.so
    expect_refused "wrong ABI major" \
        "type-classification.so: built for stage ABI major 2, this host supports major 1"
    deploy "$BROKEN/reload_create_fails.so" type-classification.so
    expect_refused "create fails" \
        "create() of stage type-classification 1.0.0 failed: threshold must be set"
    deploy "$BROKEN/reload_no_entry.so" type-classification.so
    expect_refused "missing entry symbol" \
        "no entry symbol cls_stage_entry_v1"
    deploy "$WORK/type-v1.so" type-classification.so

    cp "$CONF" "$WORK/conf.good"
    echo "pipeline = {" >>"$CONF"
    expect_refused "config syntax error" "syntax error"
    cp "$WORK/conf.good" "$CONF"
    sed -i 's|^database_pool_size = .*|database_pool_size = 3;|' "$CONF"
    expect_refused "restart-only setting" \
        'setting "database_pool_size" changed; it only takes effect when classifyd restarts'
    cp "$WORK/conf.good" "$CONF"
    kill -HUP "$(ns_pid "$D_PIDFILE")"
    sleep 1
    expect_eq "generation after an unchanged SIGHUP" "$(active_generation)" 2
    expect_eq "refusals counted" "$(admin_status | jq .refusals)" 5

    run1=$(run_all)
    expect_eq "rows of run 1 by 1.0.0" \
        "$(sql "SELECT count(*) FROM type_results WHERE run_id = '$run1' AND plugin_version = '1.0.0'")" \
        "$COUNT"

    code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$ADMIN/reload")
    expect_eq "reload without a token" "$code" 401
    code=$(curl -s -o /dev/null -w '%{http_code}' -X POST \
        -H "Authorization: Bearer not-$CLASSIFY_ADMIN_TOKEN" "$ADMIN/reload")
    expect_eq "reload with a wrong token" "$code" 401
    grep -q "$CLASSIFY_ADMIN_TOKEN" "$WORK/classifyd.log" &&
        fail "the admin token appears in the log"
    expect_eq "generation after refused admin calls" "$(active_generation)" 2

    deploy "$V2" type-classification.so
    "${CLI[@]}" reload || fail "reload to 2.0.0"
    run2=$(run_all --force)
    expect_eq "rows of run 2 by 2.0.0 (generation 3)" \
        "$(sql "SELECT count(*) FROM type_results WHERE run_id = '$run2' AND plugin_version = '2.0.0' AND generation = 3")" \
        "$COUNT"

    "${CLI[@]}" rollback || fail "rollback"
    expect_eq "generation after the rollback" "$(active_generation)" 4
    run3=$(run_all --force)
    expect_eq "rows of run 3 by 1.0.0 again (generation 4)" \
        "$(sql "SELECT count(*) FROM type_results WHERE run_id = '$run3' AND plugin_version = '1.0.0' AND generation = 4")" \
        "$COUNT"
    expect_eq "failed classifications" \
        "$(sql "SELECT count(*) FROM classifications WHERE status <> 'completed'")" 0
    no_journal_mismatch
    services_change
}

# A reload that adds a stage (a new Restate service) serves it and
# registers the deployment again; removing it does the same.
services_change()
{
    local out run4

    cp "$BUILD/tests/abi/plugins/probe.so" "$PLUGINS/probe.so" ||
        fail "deploy probe"
    cp "$CONF" "$WORK/conf.six"
    sed -i 's|^    );$|        , { name = "probe"; plugin = "probe.so"; }\n    );|' \
        "$CONF"
    out=$("${CLI[@]}" reload) || fail "reload adding a stage: $out"
    echo "$out"
    echo "$out" | grep -q "registered again with Restate" ||
        fail "deployment not registered again: $out"
    curl -sf "$RESTATE_ADMIN/services" | jq -e \
        '.services | map(.name) | index("probe") != null' >/dev/null ||
        fail "Restate does not know the new service"
    run4=$(run_all --force)
    expect_eq "classifications of run 4 with the added stage" \
        "$(sql "SELECT count(*) FROM classifications WHERE run_id = '$run4' AND status = 'completed'")" \
        "$COUNT"

    cp "$WORK/conf.six" "$CONF"
    out=$("${CLI[@]}" reload) || fail "reload removing the stage: $out"
    echo "$out" | grep -q "registered again with Restate" ||
        fail "deployment not registered again after the removal: $out"
    run_all --force >/dev/null
    expect_eq "failed classifications" \
        "$(sql "SELECT count(*) FROM classifications WHERE status <> 'completed'")" 0
    no_journal_mismatch
}

case $SCENARIO in
load) scenario_load ;;
refuse) scenario_refuse ;;
*) fail "unknown scenario $SCENARIO" ;;
esac
echo "PASS [reload $SCENARIO]"
