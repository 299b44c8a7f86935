#!/bin/sh
# check_default.sh CLASSIFYD CONF PLUGIN_DIR - the documented default
# configuration, pointed at this build's plugins, passes --check-config
# with all six built-in stages in order.
set -eu
classifyd=$1
conf=$2
plugin_dir=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

sed "s|^\( *plugin_dir = \)\"[^\"]*\";|\1\"$plugin_dir\";|" "$conf" \
    > "$tmp/classify.conf"
grep -q "plugin_dir = \"$plugin_dir\";" "$tmp/classify.conf"

"$classifyd" --check-config "$tmp/classify.conf" > "$tmp/out" 2>&1 || {
    cat "$tmp/out"
    exit 1
}
cat "$tmp/out"
n=1
for stage in normalization time-inference family-assignment \
             type-classification boolean-review final-review; do
    grep -q "^stage $n: $stage " "$tmp/out" ||
        { echo "stage $n is not $stage"; exit 1; }
    n=$((n + 1))
done
grep -q ": OK, 6 stage(s)$" "$tmp/out"
