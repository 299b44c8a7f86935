#!/bin/bash
# run-cluster-test.sh: bring the three-node cluster up with scripts/cluster
# in a private, uniquely named loopback-only netns; check health, take a
# snapshot and find it in the store; SIGKILL one node and check the other
# two keep serving (health and a query over every partition); restart it and check it rejoins; then bring it down.
# State lives in a temporary directory removed afterwards.
set -u

repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/tests/lib/check.sh"
. "$repo/tests/lib/cluster.sh"
cluster=$repo/scripts/cluster
export CLUSTER_NETNS=classify-ct-$$
export CLUSTER_STATE
CLUSTER_STATE=$(mktemp -d /tmp/classify-cluster-test.XXXXXX) || exit 1
unset CLUSTER_HOST_CMD
export AWS_ACCESS_KEY_ID=classify-local AWS_SECRET_ACCESS_KEY=classify-local-secret

cleanup()
{
    local rc=$?

    "$cluster" down || rc=1
    check_netns_gone "$CLUSTER_NETNS" || rc=1
    [ $rc -eq 0 ] || tail -n 15 "$CLUSTER_STATE"/*.log >&2
    rm -rf "$CLUSTER_STATE"
    exit $rc
}
trap cleanup EXIT

# query PORT: count invocations through admin PORT; this reads every
# partition's store, so it only answers once each partition has a leader.
query()
{
    ns curl -s -m 10 -X POST -H 'content-type: application/json' \
        -H 'accept: application/json' \
        -d '{"query":"SELECT count(*) AS n FROM sys_invocation"}' \
        "http://127.0.0.1:$1/query"
}
healthy() { ns curl -sf -o /dev/null -m 3 "http://127.0.0.1:$1/restate/health"; }

step "up"
"$cluster" up || fail "scripts/cluster up failed"
[ "$(ns ip -o link show | awk -F': ' '{print $2}')" = lo ] ||
    fail "netns has interfaces besides lo"

step "all three nodes healthy"
for port in 8080 28080 38080; do
    healthy $port || fail "ingress $port not healthy"
done
for port in 9070 29070 39070; do
    ns curl -sf -o /dev/null -m 3 "http://127.0.0.1:$port/health" ||
        fail "admin $port not healthy"
done
status=$(ctl status) || fail "restatectl status failed"
for name in n1 n2 n3; do
    grep -E " $name +.* Member " <<<"$status" >/dev/null ||
        fail "$name is not a metadata member: $status"
done

step "snapshot lands in the bucket"
snap=$("$cluster" snapshot) || fail "snapshot failed"
echo "$snap"
ids=$(grep -o 'snap_[A-Za-z0-9]*' <<<"$snap")
[ "$(wc -l <<<"$ids")" -eq 4 ] || fail "expected 4 snapshot ids: $snap"
keys=$(ns curl -sf -m 10 --aws-sigv4 aws:amz:us-east-1:s3 \
    --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
    'http://127.0.0.1:9000/classify-snapshots?list-type=2&prefix=cluster%2F' |
    grep -o '<Key>[^<]*</Key>' | sed 's/<[^>]*>//g') ||
    fail "cannot list the snapshot bucket"
for id in $ids; do
    grep -q "/lsn_[0-9]*-$id/metadata.json$" <<<"$keys" ||
        fail "no metadata.json for $id in: $keys"
    grep -q "/lsn_[0-9]*-$id/[0-9]*\.sst$" <<<"$keys" ||
        fail "no .sst file for $id"
done
for p in 0 1 2 3; do
    grep -qx "cluster/$p/latest.json" <<<"$keys" ||
        fail "no latest.json for partition $p"
done

step "SIGKILL n3"
gen_before=$(grep -E ' n3 ' <<<"$status" | awk '{print $1}')
"$cluster" kill 3 || fail "kill failed"
healthy 38080 && fail "n3 still answers after SIGKILL"
healthy 8080 || fail "n1 ingress down after n3 was killed"
healthy 28080 || fail "n2 ingress down after n3 was killed"
for ((i = 0; i < 40; i++)); do
    ctl partitions list 2>/dev/null | grep -q 'Dead nodes' && break
    sleep 0.5
done
[ "$i" -lt 40 ] || fail "the cluster did not notice n3 was gone in 20s"
"$cluster" ready 30 || fail "partitions lost their leaders without n3"
step "n1 and n2 still serve: SQL over every partition through both admins"
for port in 9070 29070; do
    for ((i = 0; i < 60; i++)); do
        out=$(query $port)
        grep -q '"rows"' <<<"$out" && break
        sleep 0.5
    done
    [ "$i" -lt 60 ] || fail "admin $port cannot query the partitions: $out"
    echo "admin $port: $out"
done

step "restart n3, check it rejoins"
"$cluster" start 3 || fail "restart of n3 failed"
cluster_wait_rejoin 3 "$gen_before" 60 ||
    fail "n3 did not rejoin within 30s (row: $CLUSTER_ROW)"
for port in 8080 28080 38080; do
    healthy $port || fail "ingress $port not healthy after rejoin"
done

step "down"
