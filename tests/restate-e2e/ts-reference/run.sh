#!/bin/sh
# run.sh HOST:PORT - start the TypeScript reference endpoint from
# <repo>/.cache/ts-reference (ESM resolves packages next to the file).
# run.sh --install - install @restatedev/restate-sdk (pinned) there; do this
# outside the test network namespace, which has no route to the registry.
# Environment as for service.mjs.
set -e
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=$(cd "$HERE/../../.." && pwd)/.cache/ts-reference
SDK_VERSION=1.17.2

if [ "${1:-}" = --install ]; then
    [ -f "$CACHE/node_modules/@restatedev/restate-sdk/package.json" ] &&
        exit 0
    mkdir -p "$CACHE"
    cd "$CACHE"
    [ -f package.json ] || npm init -y >/dev/null
    exec npm install --no-fund --no-audit \
        "@restatedev/restate-sdk@$SDK_VERSION" >/dev/null
fi
if [ ! -f "$CACHE/node_modules/@restatedev/restate-sdk/package.json" ]; then
    echo "run.sh: SDK missing in $CACHE; run '$0 --install' first" >&2
    exit 1
fi
cp "$HERE/service.mjs" "$CACHE/service.mjs"
exec node "$CACHE/service.mjs" "$@"
