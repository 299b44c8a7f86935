#!/bin/sh
# check_config.sh CLASSIFYD PLUGIN_DIR - classifyd --check-config accepts a
# good file (exit 0, lists the stages) and reports every problem of a bad
# one (exit 1, one line per problem, file:line first).
set -u
classifyd=$1
plugin_dir=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

restate='restate = { admin_url = "http://127.0.0.1:9070";
  ingress_urls = [ "http://127.0.0.1:8080" ];
  deployment_url = "http://127.0.0.1:9080"; };'

cat > "$tmp/good.conf" <<CONF
$restate
pipeline = { plugin_dir = "$plugin_dir";
  stages = ( { name = "template"; plugin = "template.so";
               options = { min_confidence = 0.75; }; } ); };
CONF

cat > "$tmp/bad.conf" <<CONF
$restate
pipeline = { plugin_dir = "$plugin_dir";
  stages = ( { name = "template"; plugin = "template.so";
               options = { min_confidence = 2.0; }; },
             { name = "missing"; plugin = "missing.so"; } ); };
CONF

# expect NAME WANT_RC PATTERN... : run, compare exit code and output lines
expect() {
    name=$1 want=$2
    shift 2
    "$classifyd" --check-config "$tmp/$name.conf" > "$tmp/out" 2>&1
    rc=$?
    if [ "$rc" -ne "$want" ]; then
        echo "FAIL $name: exit $rc, expected $want"; cat "$tmp/out"; fail=1
    fi
    for pattern in "$@"; do
        if ! grep -q -F -- "$pattern" "$tmp/out"; then
            echo "FAIL $name: no line with: $pattern"; cat "$tmp/out"; fail=1
        fi
    done
}

expect good 0 "stage 1: template 1.0.0" "$tmp/good.conf: OK, 1 stage(s)"
expect bad 1 \
    "$tmp/bad.conf:6: stage template: option \"min_confidence\" is 2, outside [0, 1]" \
    "$plugin_dir/missing.so: cannot open plugin: No such file or directory"

"$classifyd" --listen nonsense --check-config "$tmp/good.conf" > "$tmp/out" 2>&1
if [ $? -ne 2 ] || ! grep -q 'must be ADDRESS:PORT' "$tmp/out"; then
    echo "FAIL: --listen nonsense was not refused"; cat "$tmp/out"; fail=1
fi
"$classifyd" --help | grep -q -- '--check-config FILE' ||
    { echo "FAIL: --help"; fail=1; }
"$classifyd" --version | grep -q 'stage ABI 1\.' ||
    { echo "FAIL: --version"; fail=1; }

# Run mode without a database: refuses to start, stops cleanly, exit 1.
# (tests/config/run_daemon.sh covers serving, with a private PostgreSQL.)
"$classifyd" --config "$tmp/good.conf" \
    --database "host=127.0.0.1 port=1 dbname=none connect_timeout=5" \
    > "$tmp/run.out" 2>&1
rc=$?
if [ $rc -ne 1 ] || ! grep -q 'ERROR \[classifyd\] database: ' "$tmp/run.out" ||
    ! grep -q 'unloaded template 1.0.0' "$tmp/run.out" ||
    ! grep -q 'INFO  \[classifyd\] stopped' "$tmp/run.out"; then
    echo "FAIL: run mode without a database (exit $rc)"
    cat "$tmp/run.out"
    fail=1
fi

[ $fail -eq 0 ] && echo "check-config: all cases passed"
exit $fail
