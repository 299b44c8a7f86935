#!/bin/sh
# install.sh - install @20minutes/s3rver (pinned below) into <repo>/.cache/s3rver
# unless that exact version is already there.  Needs npm and the npm registry.
# Prints nothing on success when already installed.
set -eu

VERSION=5.0.0
here=$(cd "$(dirname "$0")" && pwd)
prefix=${S3RVER_MODULES:-$here/../../.cache/s3rver}
pkg=$prefix/node_modules/@20minutes/s3rver/package.json

if [ -f "$pkg" ] &&
    node -e "process.exit(require('$pkg').version === '$VERSION' ? 0 : 1)"; then
    exit 0
fi
mkdir -p "$prefix"
cd "$prefix"
[ -f package.json ] || npm init -y >/dev/null
npm install --no-fund --no-audit "@20minutes/s3rver@$VERSION" >/dev/null
[ -f "$pkg" ] || { echo "s3rver: install into $prefix failed" >&2; exit 1; }
