# shellcheck shell=bash
#
# cluster.sh - helpers for the tests that drive scripts/cluster: the three
# nodes run inside the network namespace $CLUSTER_NETNS.
#
#   ns CMD...                      run CMD inside $CLUSTER_NETNS
#   ctl ARGS...                    restatectl against n1's node port (5122)
#   cluster_wait_rejoin N GEN TRIES
#       poll every 0.5 s, at most TRIES times, until node nN shows a
#       generation other than GEN in `restatectl status`, as a metadata
#       member with partition processors, and no partition lists dead
#       nodes.  Prints "nN before: GEN, now: ROW" and leaves ROW in
#       CLUSTER_ROW.  Returns 0, or 1 when it never did.

CLUSTER_RCTL=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CLUSTER_RCTL=$CLUSTER_RCTL/.cache/restatectl/node_modules/@restatedev
CLUSTER_RCTL=$CLUSTER_RCTL/restatectl-linux-x64/bin/restatectl
CLUSTER_ROW=

ns()
{
    ip netns exec "$CLUSTER_NETNS" "$@"
}

ctl()
{
    ns "$CLUSTER_RCTL" -s http://127.0.0.1:5122 "$@"
}

cluster_wait_rejoin()
{
    local n=$1 gen=$2 tries=$3 dead procs i

    for ((i = 0; i < tries; i++)); do
        CLUSTER_ROW=$(ctl status 2>/dev/null | grep -E " n$n ")
        dead=$(ctl partitions list 2>/dev/null | grep -c 'Dead nodes')
        procs=$(awk '{for (i = 1; i <= NF; i++) if ($i == "Member")
            print $(i + 1) + $(i + 2)}' <<<"$CLUSTER_ROW")
        if [ -n "$CLUSTER_ROW" ] &&
            [ "$(awk '{print $1}' <<<"$CLUSTER_ROW")" != "$gen" ] &&
            [ "$dead" = 0 ] && [ "${procs:-0}" -ge 1 ]; then
            break
        fi
        sleep 0.5
    done
    echo "n$n before: $gen, now: $CLUSTER_ROW"
    [ "$i" -lt "$tries" ]
}
