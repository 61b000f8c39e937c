#!/bin/sh
# The compiled examples run against a fresh dev-mongo: the demo workload for
# a few seconds (no failed operation, stats logged) and the CAF example
# (insert then count through the registry's typed handle).
set -eu
build_dir=$1
source_dir=$2
log=$(mktemp /tmp/examples-smoke.XXXXXX)
"$source_dir/tools/dev-mongo/dev-mongo" --port 0 >"$log.server" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -f "$log" "$log.server"' EXIT
port=""
for _ in $(seq 1 200); do
  port=$(sed -n 's/^dev-mongo listening on [0-9.]*:\([0-9]*\)$/\1/p' "$log.server")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "dev-mongo did not start"; cat "$log.server"; exit 1; }
export MONGODB_URI="mongodb://127.0.0.1:$port/"

"$build_dir/tenantrt-demo" --config "$source_dir/config/examples/dev.json" \
  --duration 3 --stats-interval 1 --tenants 5 --rate 200 >"$log" 2>&1 || { cat "$log"; exit 1; }
grep -q "demo finished: [1-9][0-9]* ops ok, 0 failed, drained: yes" "$log" || { cat "$log"; exit 1; }
grep -q "tenants 5/50 active" "$log" || { cat "$log"; exit 1; }
grep -q "cluster default: open" "$log" || { cat "$log"; exit 1; }

"$build_dir/tenantrt-caf-example" --config "$source_dir/config/examples/dev.json" --tenant org42 >"$log" 2>&1 \
  || { cat "$log"; exit 1; }
grep -q '^org42: { *"n" *: *1' "$log" || { cat "$log"; exit 1; }
echo "examples ok"
