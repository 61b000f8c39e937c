#!/bin/sh
# make run: starts dev-mongo on loopback unless MONGODB_URI is set, then the
# demo runtime with the dev config; Ctrl-C stops both.
set -eu
build_dir=$1
config=$2
here=$(cd "$(dirname "$0")/../.." && pwd)
server_pid=""
demo_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  return 0
}
trap cleanup EXIT
# Ctrl-C / SIGTERM: let the runtime drain, then stop the server (EXIT trap).
trap '[ -n "$demo_pid" ] && kill -TERM "$demo_pid" 2>/dev/null' INT TERM
if [ -z "${MONGODB_URI:-}" ]; then
  log=$(mktemp /tmp/dev-mongo.XXXXXX.log)
  "$here/tools/dev-mongo/dev-mongo" --port 0 >"$log" 2>&1 &
  server_pid=$!
  port=""
  for _ in $(seq 1 100); do
    port=$(sed -n 's/^dev-mongo listening on [0-9.]*:\([0-9]*\)$/\1/p' "$log")
    [ -n "$port" ] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$log"; echo "dev-mongo failed to start" >&2; exit 1; }
    sleep 0.1
  done
  [ -n "$port" ] || { echo "dev-mongo did not report its port" >&2; exit 1; }
  export MONGODB_URI="mongodb://127.0.0.1:$port/"
  echo "dev-mongo on 127.0.0.1:$port (log: $log)"
else
  echo "using MONGODB_URI from the environment"
fi
"$here/$build_dir/tenantrt-demo" --config "$here/$config" &
demo_pid=$!
status=0
while kill -0 "$demo_pid" 2>/dev/null; do
  wait "$demo_pid" && status=0 || status=$?
done
exit "$status"
