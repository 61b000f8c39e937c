#!/bin/sh
# End-to-end test of tenantrtd and tenantctl against a fresh dev-mongo:
# every tenantctl command through real sockets (TCP and Unix), reload by
# command and by SIGHUP, SIGTERM under load (drained, exit 0, no connection
# left to the server, counted in /proc/net/tcp), a bad config (exit 2 naming
# the field), an unreachable daemon (exit 2), the control token, JSON logs,
# and no password or token in any log.
#
#   daemon_test.sh BUILD_DIR SOURCE_DIR      (ctest: labels server;e2e)
set -eu
build_dir=$1
source_dir=$2
py=/usr/bin/python3 # Debian's, with the json module the assertions use
ctl="$build_dir/tenantctl"
daemon="$build_dir/tenantrtd"
work=$(mktemp -d /tmp/daemon-e2e.XXXXXX)
password="e2e-Pa55word-never-logged"
token="e2e-token-0123456789abcdef"
server=""
daemon_pid=""

cleanup() {
  # "|| true": under set -e, wait's non-zero status (the killed process)
  # would end the cleanup before dev-mongo is stopped.
  { [ -n "$daemon_pid" ] && kill -KILL "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null; } || true
  { [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; } || true
  rm -rf "$work"
  return 0
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  for f in "$work"/*.log "$work"/*.out "$work"/*.err; do
    [ -f "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }
  done
  exit 1
}

step() { echo "== $*"; }

# check FILE EXPR: EXPR (Python) must hold for the JSON document r in FILE.
check() {
  $py -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
    "$1" "$2" || fail "expected $2 in $(head -c 2000 "$1")"
}

# expect_rc WANT CMD...: runs CMD (stdout to $work/last.out, stderr to
# $work/last.err) and checks its exit status.
expect_rc() {
  want=$1
  shift
  rc=0
  "$@" >"$work/last.out" 2>"$work/last.err" || rc=$?
  [ "$rc" -eq "$want" ] || fail "exit status $rc, expected $want: $*"
}

free_port() {
  $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Established TCP connections whose remote port is $1 (any local process).
established_to() {
  hex=$(printf ':%04X' "$1")
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
    awk -v p="$hex" '$4 == "01" && substr($3, length($3) - 4) == p' | wc -l
}

# wait_for_log FILE TEXT: bounded poll (5 s) for TEXT in FILE.
wait_for_log() {
  i=0
  until grep -q -- "$2" "$1"; do
    i=$((i + 1))
    [ $i -le 100 ] || fail "no \"$2\" in $1"
    sleep 0.05
  done
}

# poll_json EXPR CMD...: runs CMD (stdout to $work/last.out) every 50 ms
# until it exits 0 and EXPR (Python, as in check) holds for its JSON output;
# bounded: 10 s.
poll_json() {
  expr=$1
  shift
  i=0
  until "$@" >"$work/last.out" 2>"$work/last.err" &&
    $py -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
      "$work/last.out" "$expr" 2>/dev/null; do
    i=$((i + 1))
    [ $i -le 200 ] || fail "no $expr within 10 s from $*: $(head -c 2000 "$work/last.out")"
    sleep 0.05
  done
}

# start_daemon CONFIG LOG SOCKET [ARGS...]: starts tenantrtd, waits until
# tenantctl reaches it (bounded: 10 s).
start_daemon() {
  config=$1
  log=$2
  socket=$3
  shift 3
  "$daemon" --config "$config" "$@" >"$log" 2>&1 &
  daemon_pid=$!
  i=0
  while :; do
    rc=0
    "$ctl" --socket "$socket" --token "$token" --timeout 1 stats >/dev/null 2>&1 || rc=$?
    [ "$rc" -ne 2 ] && break
    kill -0 "$daemon_pid" 2>/dev/null || fail "tenantrtd exited at start"
    i=$((i + 1))
    [ $i -le 100 ] || fail "tenantrtd did not open $socket within 10 s"
    sleep 0.1
  done
}

# stop_daemon: SIGTERM, waits, checks exit status 0.
stop_daemon() {
  kill -TERM "$daemon_pid"
  rc=0
  wait "$daemon_pid" || rc=$?
  daemon_pid=""
  [ "$rc" -eq 0 ] || fail "tenantrtd exited with $rc after SIGTERM"
}

step "dev-mongo"
. "$source_dir/tools/scripts/dev-mongo.sh"
start_dev_mongo "$source_dir" "$work/dev-mongo.log" || fail "dev-mongo did not start"
server=$dev_mongo_pid
port=$dev_mongo_port

control_port=$(free_port)
tcp="127.0.0.1:$control_port"
unix_socket="unix:$work/control.sock"
# The password sits in a second cluster nobody uses (min_pool_size 0: never
# connected), since dev-mongo has no authentication.
write_config() { # write_config FILE MAX_TENANTS LISTEN_PORT
  cat >"$1" <<EOF
{
  "clusters": {
    "default": {"uri": "mongodb://127.0.0.1:$port/", "min_pool_size": 1, "max_pool_size": 4},
    "archive": {"uri": "mongodb://svc:$password@127.0.0.1:9/?authSource=admin",
                "min_pool_size": 0, "max_pool_size": 2}
  },
  "registry": {"max_tenant_connections": $2},
  "control": {"listen": ["127.0.0.1:$3", "$unix_socket"]},
  "metrics": {"sample_interval_ms": 200},
  "shutdown": {"drain_timeout_ms": 5000}
}
EOF
}
write_config "$work/tenantrt.json" 10 "$control_port"

step "tenantrtd starts and says how to reach it"
start_daemon "$work/tenantrt.json" "$work/daemon.log" "$tcp"
grep -q "tenantctl --socket $tcp stats" "$work/daemon.log" || fail "no tenantctl hint in the log"

step "exec: insert and find for two tenants, over TCP and the Unix socket"
expect_rc 0 "$ctl" --socket "$tcp" --json exec acme '{"insert": "orders", "documents": [{"sku": "anvil", "qty": 2}]}'
check "$work/last.out" 'r["ok"] and r["reply"]["n"] == 1'
expect_rc 0 "$ctl" --socket "$unix_socket" --json exec globex '{"insert": "orders", "documents": [{"sku": "rocket"}]}'
expect_rc 0 "$ctl" --socket "$tcp" --json exec acme '{"find": "orders", "filter": {}}'
check "$work/last.out" '[d["sku"] for d in r["reply"]["cursor"]["firstBatch"]] == ["anvil"]'
expect_rc 0 "$ctl" --socket "$unix_socket" --json exec globex '{"find": "orders", "filter": {"sku": "rocket"}}'
check "$work/last.out" 'r["reply"]["cursor"]["firstBatch"][0]["sku"] == "rocket"'
expect_rc 0 "$ctl" --socket "$tcp" exec acme '{"count": "orders"}'
grep -q '"n": 1' "$work/last.out" || fail "human exec output lacks the reply"
expect_rc 1 "$ctl" --socket "$tcp" exec 'bad id' '{"ping": 1}'
grep -q "invalid_tenant_id" "$work/last.err" || fail "exec with a bad tenant id: no error code"

step "stats: tenants, totalConnections, human table"
expect_rc 0 "$ctl" --socket "$tcp" --json stats
check "$work/last.out" '{c["tenant"] for c in r["stats"]["tenantDbs"]["connections"]} == {"acme", "globex"}'
check "$work/last.out" 'r["stats"]["totalConnections"] >= 1 and r["stats"]["mainDb"]["name"] == "main"'
check "$work/last.out" '"default" in r["stats"]["clusters"] and isinstance(r["warnings"], list)'
expect_rc 0 "$ctl" --socket "$tcp" stats
grep -q "^TENANT  *STATE  *IDLE  *USES  *IN-FLIGHT  *OPS  *ERRORS" "$work/last.out" || fail "no tenant table"
grep -q "^acme  *active" "$work/last.out" || fail "acme missing from the table"
grep -q "^total (2)" "$work/last.out" || fail "no totals row"
grep -q "^default  " "$work/last.out" || fail "no pool table"
grep -q "$(printf '\033')" "$work/last.out" && fail "colour codes although stdout is no terminal"
expect_rc 0 "$ctl" --socket "$tcp" details
grep -q "P99" "$work/last.out" || fail "details without latency columns"
wait_for_log "$work/daemon.log" "details:"

step "history, health, metrics, config"
# A sample every 200 ms: wait for two.
poll_json 'len(r["samples"]) >= 2' "$ctl" --socket "$tcp" --json history
check "$work/last.out" 'len(r["samples"]) >= 2 and "totalConnections" in r["samples"][-1]'
expect_rc 0 "$ctl" --socket "$tcp" --json history --limit 2
check "$work/last.out" 'len(r["samples"]) == 2'
expect_rc 0 "$ctl" --socket "$tcp" history
grep -q "samples; total connections" "$work/last.out" || fail "no history chart"
expect_rc 0 "$ctl" --socket "$tcp" health
grep -q "^health: ok" "$work/last.out" || fail "health not ok"
expect_rc 0 "$ctl" --socket "$tcp" --json metrics
check "$work/last.out" '"tenantrt_" in r["text"]'
expect_rc 0 "$ctl" --socket "$tcp" --json config
grep -q -- "$password" "$work/last.out" && fail "config shows the password"
check "$work/last.out" '"***" in r["config"]["clusters"]["archive"]["uri"]'

step "raw sockets (TCP and Unix): every command, every error code, 200 garbage lines then stats"
/usr/bin/python3 "$source_dir/tests/e2e/control_socket_e2e.py" "$tcp" "${unix_socket#unix:}" 64 \
  >"$work/raw.out" 2>&1 || { cat "$work/raw.out"; fail "control socket e2e failed"; }

step "evict and cleanup"
expect_rc 0 "$ctl" --socket "$tcp" --json evict acme
check "$work/last.out" 'r["evicted"] is True'
expect_rc 0 "$ctl" --socket "$tcp" --json evict acme
check "$work/last.out" 'r["evicted"] is False'
expect_rc 0 "$ctl" --socket "$tcp" --json cleanup
check "$work/last.out" 'isinstance(r["reaped"], int) and isinstance(r["tenants"], list)'

step "reload: a limit applies, a listen address needs a restart"
other_port=$(free_port)
write_config "$work/tenantrt.json" 12 "$other_port"
started=$(date +%s%N)
expect_rc 0 "$ctl" --socket "$tcp" --json reload
reload_ms=$((($(date +%s%N) - started) / 1000000))
check "$work/last.out" '"registry.max_tenant_connections" in r["applied"]'
check "$work/last.out" '"control.listen" in r["needsRestart"]'
expect_rc 0 "$ctl" --socket "$tcp" --json stats
check "$work/last.out" 'r["stats"]["tenantDbs"]["maxConnections"] == 12'
echo "   tenantctl reload round trip: $reload_ms ms; $(grep -o "reload of .* took .*" "$work/daemon.log" | tail -n 1)"

step "SIGHUP reloads too"
write_config "$work/tenantrt.json" 14 "$other_port"
kill -HUP "$daemon_pid"
wait_for_log "$work/daemon.log" "SIGHUP: configuration reloaded; applied: registry.max_tenant_connections"
expect_rc 0 "$ctl" --socket "$unix_socket" --json stats
check "$work/last.out" 'r["stats"]["tenantDbs"]["maxConnections"] == 14'

step "SIGTERM under load: drained, exit 0, no connection left"
# Each insert holds its connection for 300 ms, so work is in flight at SIGTERM.
expect_rc 0 "$ctl" --socket "$tcp" exec acme \
  '{"configureFailPoint": "failCommand", "mode": "alwaysOn", "data": {"failCommands": ["insert"], "blockConnection": true, "blockTimeMS": 300}}'
loaders=""
for n in 1 2 3 4 5 6; do
  (while "$ctl" --socket "$tcp" exec "load$n" '{"insert": "events", "documents": [{"n": 1}]}' \
    >/dev/null 2>&1; do :; done) &
  loaders="$loaders $!"
done
# Most loaders' inserts in flight (each holds 300 ms at the server), so some
# still are at the SIGTERM.
poll_json 'r["stats"]["tenantDbs"]["inflight"] >= 3' "$ctl" --socket "$tcp" --json stats
[ "$(established_to "$port")" -ge 1 ] || fail "no connection to dev-mongo under load"
before=$(date +%s%N)
stop_daemon
stop_ms=$((($(date +%s%N) - before) / 1000000))
for pid in $loaders; do wait "$pid" 2>/dev/null || true; done
left=$(established_to "$port")
[ "$left" -eq 0 ] || fail "$left connection(s) to dev-mongo left after exit"
grep -q "registry draining: .* [1-9][0-9]* operations in flight" "$work/daemon.log" ||
  fail "no operation was in flight at SIGTERM"
grep -q "tenantrtd stopped in .* (all in-flight work finished)" "$work/daemon.log" ||
  fail "drain did not finish"
echo "   SIGTERM to exit under load: $stop_ms ms; $(grep -o 'registry draining: .*' "$work/daemon.log")"

step "a dead daemon: exit status 2, socket file removed"
[ -e "$work/control.sock" ] && fail "the unix socket file is still there"
expect_rc 2 "$ctl" --socket "$tcp" stats
expect_rc 2 "$ctl" --socket "$unix_socket" health
grep -q "cannot reach tenantrtd" "$work/last.err" || fail "no reason for exit 2"

step "a bad key: exit 2 naming the field"
printf '{"registry": {"max_tenant_connectionz": 5}}\n' >"$work/bad.json"
expect_rc 2 "$daemon" --config "$work/bad.json"
grep -q "registry.max_tenant_connectionz: unknown key" "$work/last.err" || fail "field not named"

step "token, JSON logs, a control address in use"
cat >"$work/token.json" <<EOF
{
  "clusters": {"default": {"uri": "mongodb://127.0.0.1:$port/", "min_pool_size": 1}},
  "control": {"listen": ["$unix_socket"], "token": "$token"},
  "metrics": {"sample_interval_ms": 200}
}
EOF
start_daemon "$work/token.json" "$work/daemon-json.log" "$unix_socket" --log-format json
# A second daemon on the same socket must refuse to start, not steal it.
expect_rc 2 "$daemon" --config "$work/token.json"
grep -q "cannot open the control socket: .*already in use" "$work/last.err" ||
  fail "no reason for the refused control address"
expect_rc 1 "$ctl" --socket "$unix_socket" stats
grep -q "unauthorized" "$work/last.err" || fail "no unauthorized error without the token"
TENANTRT_TOKEN=$token expect_rc 0 "$ctl" --socket "$unix_socket" --json health
grep -q -- "$token" "$work/last.out" && fail "a reply shows the token"
expect_rc 0 "$ctl" --socket "$unix_socket" --token "$token" --json config
grep -q -- "$token" "$work/last.out" && fail "config shows the token"
expect_rc 0 "$ctl" --socket "$unix_socket" --token "$token" exec acme \
  '{"configureFailPoint": "failCommand", "mode": "off"}'
expect_rc 0 "$ctl" --socket "$unix_socket" --token "$token" exec acme \
  '{"insert": "quotes", "documents": [{"text": "say \"hi\"\n"}]}'
# A rejected reload puts quotes into a message: the line must stay JSON.
cp "$work/token.json" "$work/token.good"
printf '{"logging": {"level": "lo\\"ud"}}\n' >"$work/token.json"
kill -HUP "$daemon_pid"
wait_for_log "$work/daemon-json.log" "SIGHUP: reload failed"
cp "$work/token.good" "$work/token.json"
stop_daemon
$py - "$work/daemon-json.log" <<'EOF' || fail "a log line is not a JSON object with time, level, logger, message"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) > 5, lines
for line in lines:
    record = json.loads(line)
    assert list(record) == ["time", "level", "logger", "message"], record
assert any('"' in json.loads(l)["message"] for l in lines), "no message with quotes"
EOF

step "no secret in any log"
for f in "$work/daemon.log" "$work/daemon-json.log"; do
  grep -q -- "$password" "$f" && fail "$f contains the password"
  grep -q -- "$token" "$f" && fail "$f contains the token"
done
echo "daemon e2e ok"
