#!/bin/bash
# run-store-test.sh TEST_BINARY: start @20minutes/s3rver (SigV4 checking) in
# a private loopback-only network namespace and run TEST_BINARY against it.
# The store's data lives in a temporary directory removed afterwards.
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=../lib/netns.sh
. "$repo/tests/lib/netns.sh"
ns_enter "$0" "$@"

bin=${1:?usage: run-store-test.sh TEST_BINARY}
port=19000
dir=$(mktemp -d /tmp/classify-s3-test.XXXXXX) || exit 1
trap 'ns_cleanup; rm -rf "$dir"' EXIT

"$repo/scripts/s3rver/install.sh" || exit 1

export AWS_ACCESS_KEY_ID=classify-test
export AWS_SECRET_ACCESS_KEY=classify-test-secret
ns_start "$dir/s3rver.pid" "$dir/s3rver.log" env S3RVER_PORT=$port \
    S3RVER_DIR="$dir/data" S3RVER_SILENT=1 \
    node --openssl-legacy-provider "$repo/scripts/s3rver/run.js" || exit 1
# s3rver logs this line once its socket accepts requests.
for ((i = 0; i < 300; i++)); do
    grep -q '^s3rver: listening' "$dir/s3rver.log" && break
    ns_alive "$dir/s3rver.pid" || break
    sleep 0.1
done
if ! grep -q '^s3rver: listening' "$dir/s3rver.log"; then
    echo "s3 test: s3rver did not start on 127.0.0.1:$port" >&2
    cat "$dir/s3rver.log" >&2
    exit 1
fi

S3_TEST_ENDPOINT=http://127.0.0.1:$port S3_TEST_BUCKET=classify-test \
    "$bin"
rc=$?
if [ $rc -ne 0 ]; then
    echo "--- s3rver log (last 30 lines)" >&2
    tail -n 30 "$dir/s3rver.log" >&2
fi
exit $rc
