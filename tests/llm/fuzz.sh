#!/bin/sh
# fuzz.sh [seconds|build] - build the LLM reply libFuzzer target with clang
# and run it (default 60 s; "build": build only) on a small seed corpus.
# New inputs accumulate in $FUZZ_OUT/corpus; a crash lands in
# $FUZZ_OUT/artifacts/ and makes this script exit non-zero.  FUZZ_OUT
# defaults to build-fuzz-llm at the repository root.
set -eu

secs=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${FUZZ_OUT:-$root/build-fuzz-llm}
cc=${CLANG:-clang}

if ! command -v "$cc" >/dev/null 2>&1; then
    echo "fuzz: clang not found (needed for -fsanitize=fuzzer)" >&2
    exit 2
fi
mkdir -p "$out/corpus" "$out/artifacts" "$out/seeds"
flags="-std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined -Wall -Wextra -Werror
       -I$root/core -I$root/sdk/include"
# shellcheck disable=SC2086
$cc $flags -o "$out/fuzz_llm_reply" "$here/fuzz_llm_reply.c" \
    "$root/core/llm/reply.c" "$root/core/llm/schema.c" \
    "$root/core/llm/wire.c" -lcjson -lm
[ "$secs" = build ] && exit 0

seed()
{
    printf "$2" >"$out/seeds/$1"
}
seed fence '\000```json\n{"family":"price-value","confidence":85}\n```'
seed prose '\000Here:\n{"family":"other","confidence":0.5,"inner":{"n":1}}\nok'
seed bash '\000```bash\necho {"x":1}\n```\n{"family":"other","confidence":1}'
seed openai '\001{"model":"m","choices":[{"finish_reason":"stop","message":{"content":"{}","refusal":null}}],"usage":{"prompt_tokens":5,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":1}}}'
seed anthropic '\002{"model":"m","content":[{"type":"text","text":"{}"}],"stop_reason":"end_turn","usage":{"input_tokens":1,"cache_read_input_tokens":2,"output_tokens":3}}'
seed hint '\003Please try again in 1m2.5s.'
seed schema '\004{"type":"object","properties":{"a":{"type":["integer","null"],"enum":[1,2]}},"required":[]}'
exec "$out/fuzz_llm_reply" -max_total_time="$secs" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/artifacts/" "$out/corpus" "$out/seeds"
