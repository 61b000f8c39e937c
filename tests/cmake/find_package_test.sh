#!/bin/sh
# What an embedder does: `cmake --install` the build into a fresh prefix, then
# build an outside project with find_package(tenantrt) and
# target_link_libraries(... tenantrt::tenantrt) that includes the facade and
# the config loader, and run it. Catches an export that lost a floor's
# library, a header left out of the install, or an internal one let in.
#   find_package_test.sh BUILD_DIR
set -eu
build=$(cd "$1" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >"$work/install.log"
for internal in config/json_io.hpp config/config_checks.hpp actors/runtime_impl.hpp \
                runtime/cluster_pool_state.hpp; do
  if [ -e "$work/prefix/include/tenantrt/$internal" ]; then
    echo "FAIL: internal header $internal was installed"; exit 1
  fi
done
mkdir "$work/app"
cat >"$work/app/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.22)
project(outside CXX)
set(CMAKE_CXX_STANDARD 17)
find_package(tenantrt REQUIRED)
add_executable(outside main.cpp)
target_link_libraries(outside PRIVATE tenantrt::tenantrt)
CMAKE
cat >"$work/app/main.cpp" <<'CPP'
#include "config/config_loader.hpp"
#include "runtime/runtime.hpp"
int main() {
  auto cfg = tenantrt::parse_config(R"({"control": {"listen": ["127.0.0.1:7999"]}})");
  return cfg.clusters.count(cfg.default_cluster) == 1 ? 0 : 1;
}
CPP
cmake -S "$work/app" -B "$work/app/build" -DCMAKE_PREFIX_PATH="$work/prefix" >"$work/configure.log" \
  || { cat "$work/configure.log"; echo "FAIL: find_package(tenantrt)"; exit 1; }
cmake --build "$work/app/build" >"$work/build.log" 2>&1 \
  || { cat "$work/build.log"; echo "FAIL: the outside project does not build"; exit 1; }
"$work/app/build/outside" || { echo "FAIL: the outside program exited $?"; exit 1; }
echo "ok: find_package(tenantrt) from an installed prefix builds and runs"
