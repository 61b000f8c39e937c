# Sourced by run-dev.sh, soak.sh and tests/e2e/daemon_test.sh:
#   start_dev_mongo REPO_DIR LOG_FILE
# starts dev-mongo on a free loopback port in the background and waits for
# its "listening on" line; sets dev_mongo_pid and dev_mongo_port, or prints
# the log and returns 1.
start_dev_mongo() {
  : >"$2" # exists before the child opens it: we read it at once
  "$1/tools/dev-mongo/dev-mongo" --port 0 >"$2" 2>&1 &
  dev_mongo_pid=$!
  dev_mongo_port=""
  for _ in $(seq 1 200); do
    dev_mongo_port=$(sed -n 's/^dev-mongo listening on [0-9.]*:\([0-9]*\)$/\1/p' "$2")
    [ -n "$dev_mongo_port" ] && return 0
    kill -0 "$dev_mongo_pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$2" >&2
  echo "dev-mongo did not start (log: $2)" >&2
  return 1
}
