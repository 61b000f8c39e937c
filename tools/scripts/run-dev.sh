#!/bin/sh
# make run / make demo: starts dev-mongo on loopback unless MONGODB_URI is
# set, then
#   daemon (default, `make run`)  tenantrtd with the config, and prints how
#                                 to reach it with tenantctl;
#   demo (`make demo`)            the embedded demo runtime with its workload.
# Ctrl-C (or SIGTERM) drains the runtime first, then stops dev-mongo.
#
#   run-dev.sh BUILD_DIR CONFIG [daemon|demo]
set -eu
build_dir=$1
config=$2
mode=${3:-daemon}
here=$(cd "$(dirname "$0")/../.." && pwd)
case "$mode" in
  daemon) program="$here/$build_dir/tenantrtd" ;;
  demo) program="$here/$build_dir/tenantrt-demo" ;;
  *) echo "run-dev.sh: mode must be daemon or demo, not '$mode'" >&2; exit 2 ;;
esac
server_pid=""
runtime_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  return 0
}
trap cleanup EXIT
# Ctrl-C / SIGTERM: let the runtime drain, then stop the server (EXIT trap).
# (Started with &, dev-mongo ignores the terminal's SIGINT, so it outlives the drain.)
trap '[ -n "$runtime_pid" ] && kill -TERM "$runtime_pid" 2>/dev/null' INT TERM
if [ -z "${MONGODB_URI:-}" ]; then
  log=$(mktemp /tmp/dev-mongo.XXXXXX.log)
  . "$here/tools/scripts/dev-mongo.sh"
  start_dev_mongo "$here" "$log" || exit 1
  server_pid=$dev_mongo_pid
  port=$dev_mongo_port
  export MONGODB_URI="mongodb://127.0.0.1:$port/"
  echo "dev-mongo on 127.0.0.1:$port (log: $log)"
else
  echo "using MONGODB_URI from the environment"
fi

"$program" --config "$here/$config" &
runtime_pid=$!

if [ "$mode" = daemon ]; then
  # The control addresses from the config; print the hint once one answers.
  addresses=$(/usr/bin/python3 -c 'import json, sys
for a in json.load(open(sys.argv[1])).get("control", {}).get("listen", ["127.0.0.1:7070"]):
    print(a)' "$here/$config")
  first=$(echo "$addresses" | head -n 1)
  for _ in $(seq 1 100); do
    kill -0 "$runtime_pid" 2>/dev/null || break
    rc=0
    "$here/$build_dir/tenantctl" --socket "$first" --timeout 1 health >/dev/null 2>&1 || rc=$?
    if [ "$rc" -ne 2 ]; then
      echo
      echo "tenantrtd is up. Reach it with tenantctl, e.g.:"
      for address in $addresses; do
        echo "  $build_dir/tenantctl --socket $address stats"
      done
      echo "  $build_dir/tenantctl exec demo-org-1 '{\"insert\": \"orders\", \"documents\": [{\"total\": 42}]}'"
      echo "  $build_dir/tenantctl watch        (stats every 2 s; also health, history, details, metrics, ...)"
      echo "Ctrl-C drains and stops tenantrtd, then dev-mongo."
      echo
      break
    fi
    sleep 0.1
  done
fi

status=0
while kill -0 "$runtime_pid" 2>/dev/null; do
  wait "$runtime_pid" && status=0 || status=$?
done
exit "$status"
