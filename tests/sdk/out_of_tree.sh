#!/bin/sh
# out_of_tree.sh BUILD_DIR SOURCE_DIR [EXTRA_CFLAGS] - the SDK works
# outside the classify tree: install it into a temporary prefix, build
# the template stage with nothing but pkg-config (its Makefile), run its
# unit test against the installed fake host, check its exports, load it
# with classifyd --check-config, and build it again through
# find_package(ClassifyStage).
set -eu
build=$1
src=$2
extra=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

step() { echo "== $*"; }

step "install the SDK into $tmp/prefix"
cmake --install "$build" --prefix "$tmp/prefix" > "$tmp/install.log"
for f in include/classify/stage.h include/classify/taxonomy.h \
         include/classify/fakehost.h lib/libclassify-fakehost.a \
         lib/pkgconfig/classify-stage.pc \
         lib/cmake/ClassifyStage/ClassifyStageConfig.cmake bin/classifyd; do
    test -f "$tmp/prefix/$f" || { echo "not installed: $f"; exit 1; }
done

step "build the template with pkg-config only"
cp -r "$src/sdk/template" "$tmp/tpl"
rm -f "$tmp/tpl/CMakeLists.txt"
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
make -s -C "$tmp/tpl" CFLAGS="-O2 -g $extra" check
"$src/tests/abi/check_exports.sh" "$tmp/tpl/template.so"

step "load it with classifyd --check-config"
cat > "$tmp/stage.conf" <<CONF
restate = { admin_url = "http://127.0.0.1:9070";
            ingress_urls = [ "http://127.0.0.1:8080" ];
            deployment_url = "http://127.0.0.1:9080"; };
pipeline = { plugin_dir = "$tmp/tpl";
             stages = ( { name = "template"; plugin = "template.so";
                          options = { note = "out of tree"; }; } ); };
CONF
"$tmp/prefix/bin/classifyd" --check-config "$tmp/stage.conf" | tee "$tmp/check.out"
grep -q -F "$tmp/stage.conf: OK, 1 stage(s)" "$tmp/check.out"

step "build it with find_package(ClassifyStage)"
mkdir "$tmp/cmk"
cp "$src/sdk/template/template.c" "$src/sdk/template/test_template.c" "$tmp/cmk/"
cat > "$tmp/cmk/CMakeLists.txt" <<'CMK'
cmake_minimum_required(VERSION 3.25)
project(outside C)
find_package(ClassifyStage 0.1 REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
cls_add_stage(template SOURCES template.c)
add_executable(test_template test_template.c)
target_link_libraries(test_template PRIVATE template_objects
                      ClassifyStage::fakehost PkgConfig::CMOCKA)
CMK
cmake -S "$tmp/cmk" -B "$tmp/cmk/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
      -DCMAKE_C_FLAGS="$extra" > "$tmp/cmk.log"
cmake --build "$tmp/cmk/build" > "$tmp/cmk-build.log"
"$tmp/cmk/build/test_template"
test -f "$tmp/cmk/build/template.so"

echo "out-of-tree SDK build: OK"
