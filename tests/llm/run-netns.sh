#!/bin/bash
# run-netns.sh PROGRAM ARGS...: run a test program inside a private,
# loopback-only network namespace, so the fake servers it starts and
# everything it sends stay on this machine.
set -u
# shellcheck source=../lib/netns.sh
source "$(dirname "$0")/../lib/netns.sh"
ns_enter "$0" "$@"
"$@"
exit $?
