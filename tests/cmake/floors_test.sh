#!/bin/sh
# cmake/floors.cmake: each floor's include root holds only its folder and the
# ones below, so an include that runs back up does not compile. For every
# floor, an include of its own floor and of the one below must compile (the
# positive control) and an include of each floor above must fail with "No
# such file". Runs the compiler on one-line sources with each floor's root.
#   floors_test.sh CXX BUILD_DIR SOURCE_DIR
set -eu
cxx=$1
floors=$(cd "$2" && pwd)/floors
src=$3
failures=0
empty=$(mktemp -d)
trap 'rmdir "$empty"' EXIT
try() { # try FLOOR HEADER: 0 when "#include HEADER" compiles on FLOOR's root
  # From an empty directory: a quoted include from stdin also searches the
  # working directory, which must not be the source tree.
  (cd "$empty" && printf '#include "%s"\n' "$2" \
    | "$cxx" -std=c++17 -fsyntax-only -x c++ -I "$floors/$1" - 2>"$tmp")
}
expect() { # expect compiles|refused FLOOR HEADER
  tmp=$(mktemp)
  if try "$2" "$3"; then got=compiles; else got=refused; fi
  if [ "$got" = refused ] && [ "$1" = refused ] && ! grep -q "No such file" "$tmp"; then
    got="refused for another reason: $(head -1 "$tmp")"
  fi
  rm -f "$tmp"
  if [ "$got" = "$1" ]; then
    echo "ok: $2 includes $3: $got"
  else
    echo "FAIL: $2 includes $3: expected $1, got $got"
    failures=$((failures + 1))
  fi
}
[ -d "$floors/tenantrt_config" ] || { echo "FAIL: no $floors/tenantrt_config"; exit 1; }
# One header per floor that exists whatever gets split: its facade or rules.
config=config/runtime_config.hpp
runtime=runtime/errc.hpp
actors=actors/protocol.hpp
for f in "$src/$config" "$src/$runtime" "$src/$actors"; do
  [ -f "$f" ] || { echo "FAIL: $f is gone; update this test"; exit 1; }
done
expect compiles tenantrt_config "$config"
expect refused tenantrt_config "$runtime"
expect refused tenantrt_config "$actors"
expect compiles tenantrt_runtime "$config"
expect compiles tenantrt_runtime "$runtime"
expect refused tenantrt_runtime "$actors"
expect compiles tenantrt_actors "$runtime"
expect compiles tenantrt_actors "$actors"
[ "$failures" -eq 0 ] || { echo "$failures floor check(s) failed"; exit 1; }
