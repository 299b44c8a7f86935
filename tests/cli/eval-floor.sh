#!/bin/bash
#
# eval-floor.sh - `classify eval` over the bundled dev labels, through the
# default pipeline with the rules provider, must keep the accuracy that
# docs/accuracy.md records.  A regression in any stage fails this test.
#
# Usage: eval-floor.sh BUILD_DIR
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "$1" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

sed -e "s|plugin_dir = .*|plugin_dir = \"$BUILD/plugins\";|" \
    -e 's|provider = "[a-z]*";|provider = "rules";|' \
    "$ROOT/config/classify.conf" >"$WORK/classify.conf"

"$BUILD/core/cli/classify" --config "$WORK/classify.conf" eval \
    --indicators "$ROOT/data/indicators.jsonl" \
    --labels "$ROOT/data/labels_dev.jsonl" --json >"$WORK/eval.json"

# field floor: the measured accuracy, as a floor.
status=0
while read -r field floor; do
    got=$(jq -r ".fields[\"$field\"].accuracy" "$WORK/eval.json")
    if awk -v g="$got" -v f="$floor" 'BEGIN { exit !(g + 1e-9 >= f) }'; then
        echo "ok: $field $got >= $floor"
    else
        echo "FAIL: $field accuracy $got fell below $floor"
        status=1
    fi
done <<FLOORS
family 1.00
indicator_type 0.97
temporal_aggregation 0.97
heat_map_orientation 0.94
is_currency_denominated 1.00
FLOORS
[ "$(jq -r .failures "$WORK/eval.json")" = 0 ] || {
    echo "FAIL: some indicators could not be classified"
    status=1
}
exit $status
