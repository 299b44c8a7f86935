#!/bin/sh
# Write the fuzzer's seed corpus into DIR: every captured request body of
# tests/restate-unit/vectors, prefixed with the selector byte of the fuzz
# handler standing in for its target (low 3 bits), once fed whole and once
# in 1-byte chunks (high 5 bits = 1).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
vectors=$here/../restate-unit/vectors
dir=$1
mkdir -p "$dir"

for f in "$vectors"/*/*.request.bin; do
    name=$(basename "$f" .request.bin)
    case "$name" in
    *-stage-process | *-flaky-go) sel=0 ;;
    *-wf-run) sel=1 ;;
    *-wf-getState) sel=2 ;;
    *-api-submit) sel=3 ;;
    *-bad-go) sel=5 ;;
    *) continue ;;
    esac
    scen=$(basename "$(dirname "$f")")
    for chunk in 0 1; do
        byte=$((chunk * 8 + sel))
        # shellcheck disable=SC2059
        { printf "\\$(printf '%03o' "$byte")"; cat "$f"; } \
            >"$dir/$scen-$name-c$chunk"
    done
done
