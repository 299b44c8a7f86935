#!/bin/sh
# Build the restate libFuzzer target with clang into OUT (default:
# build-fuzz at the repository root): protoc-c generates the codec, every
# source of core/restate plus the logging facade is compiled with
# -fsanitize=fuzzer,address,undefined.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$root/build-fuzz}
cc=${CLANG:-clang}

mkdir -p "$out/gen"
protoc-c --proto_path="$root/core/restate" --c_out="$out/gen" protocol.proto

flags="-std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined -I$root/core -isystem $out/gen"
# Our own code must be warning-free; the generated and shared files are
# compiled without -Werror (they are built with gcc in the main build).
strict="-Wall -Wextra -Werror"
# shellcheck disable=SC2086
$cc $flags -w -c "$out/gen/protocol.pb-c.c" -o "$out/protocol.pb-c.o"
# shellcheck disable=SC2086
$cc $flags -w -c "$root/core/common/log.c" -o "$out/log.o"
objs="$out/protocol.pb-c.o $out/log.o"
for src in "$root"/core/restate/*.c "$here/fuzz_restate.c"; do
    obj="$out/$(basename "$src" .c).o"
    # shellcheck disable=SC2086
    $cc $flags $strict -c "$src" -o "$obj"
    objs="$objs $obj"
done
# shellcheck disable=SC2086
$cc $flags $objs -o "$out/fuzz_restate" -lprotobuf-c -lcjson -lpthread
echo "$out/fuzz_restate"
