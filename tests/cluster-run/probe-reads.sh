#!/bin/bash
#
# probe-reads.sh PID KEY... - run inside the cluster's namespace by
# bench-cluster.sh: SIGKILL PID (0: nobody), then read the state of the
# workflows KEY... (URL-encoded) through n1's ingress, all at once, each
# retried every 50 ms until it answers (at most 60 s).  Prints
# "N/M answered, slowest after X ms" counted from the kill.
set -u

victim=$1
shift
t0=$(date +%s%N)
[ "$victim" != 0 ] && kill -KILL "$victim"
out=$(mktemp) || exit 1
for key in "$@"; do
    (
        for ((i = 0; i < 1200; i++)); do
            if curl -sf -o /dev/null -m 10 -X POST \
                "http://127.0.0.1:8080/classification-workflow/$key/getState"; then
                echo "ok $((($(date +%s%N) - t0) / 1000000))"
                exit 0
            fi
            sleep 0.05
        done
        echo "fail"
    ) >>"$out" &
done
wait
awk -v n=$# '$1 == "ok" { ok++; if ($2 > max) max = $2 }
    END { printf "%d/%d answered, slowest after %d ms\n", ok, n, max }' "$out"
rm -f "$out"
