#!/bin/sh
# make soak: SOAK_SECONDS (default 600) of the `steady` scenario through a
# tenantrtd's control socket, sampling the daemon's RSS and open file
# descriptors every SOAK_SAMPLE_S seconds. Writes bench/SOAK.md with the
# least-squares slopes (after a warm-up) and fails if either grows (a leak
# shows as a slope, not as a single high reading), if tenantload ran no
# operation, or if any operation failed: flat figures of a daemon that
# served nothing, or only errors, prove nothing.
#
#   soak.sh BUILD_DIR
# Environment: SOAK_SECONDS, SOAK_SAMPLE_S (5), SOAK_WARMUP_S (60),
# MONGODB_URI (default: a dev-mongo started here), SOAK_REPORT (bench/SOAK.md).
set -eu
build_dir=$1
here=$(cd "$(dirname "$0")/../.." && pwd)
case "$build_dir" in /*) ;; *) build_dir="$here/$build_dir" ;; esac
seconds=${SOAK_SECONDS:-600}
sample_s=${SOAK_SAMPLE_S:-5}
warmup_s=${SOAK_WARMUP_S:-60}
report=${SOAK_REPORT:-$here/bench/SOAK.md}
work=$(mktemp -d /tmp/tenantrt-soak.XXXXXX)
server_pid=""
daemon_pid=""
load_pid=""

cleanup() {
  [ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null
  [ -n "$daemon_pid" ] && kill -TERM "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  return 0
}
trap cleanup EXIT INT TERM

if [ -z "${MONGODB_URI:-}" ]; then
  . "$here/tools/scripts/dev-mongo.sh"
  start_dev_mongo "$here" "$work/dev-mongo.log" || exit 1
  server_pid=$dev_mongo_pid
  export MONGODB_URI="mongodb://127.0.0.1:$dev_mongo_port/"
fi

# The daemon runs the steady scenario's own tenantrt settings on a private
# Unix socket, so the soak never collides with a `make run` on 7070.
socket="$work/control.sock"
/usr/bin/python3 - "$here/tools/scenarios/steady.json" "$work/tenantrtd.json" "$socket" <<'EOF'
import json, sys
scenario = json.load(open(sys.argv[1]))
cfg = scenario.get("tenantrt", {})
cfg.setdefault("control", {})["listen"] = ["unix:" + sys.argv[3]]
cfg.setdefault("metrics", {})["http_listen"] = ""
json.dump(cfg, open(sys.argv[2], "w"), indent=2)
EOF
"$build_dir/tenantrtd" --config "$work/tenantrtd.json" >"$work/tenantrtd.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 1 200); do
  [ -S "$socket" ] && break
  kill -0 "$daemon_pid" 2>/dev/null || { cat "$work/tenantrtd.log"; exit 1; }
  sleep 0.1
done
[ -S "$socket" ] || { echo "soak: tenantrtd did not open $socket" >&2; exit 1; }

# One tenantload run of `steady` scaled to the whole soak (its phase is 20 s).
scale=$(/usr/bin/python3 -c "print($seconds / 20.0)")
"$build_dir/tenantload" --scenario "$here/tools/scenarios/steady.json" \
  --mode daemon --control "unix:$socket" --uri "$MONGODB_URI" --duration-scale "$scale" --settle 0 \
  --report "$work/load.json" >"$work/tenantload.log" 2>&1 &
load_pid=$!

echo "soak: ${seconds}s of steady through tenantrtd (pid $daemon_pid), sampling every ${sample_s}s"
echo "elapsed_s,rss_kib,fds" >"$work/samples.csv"
start=$(date +%s)
while kill -0 "$load_pid" 2>/dev/null; do
  kill -0 "$daemon_pid" 2>/dev/null || { echo "soak: tenantrtd died" >&2; cat "$work/tenantrtd.log"; exit 1; }
  now=$(date +%s)
  rss=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$daemon_pid/status")
  fds=$(ls "/proc/$daemon_pid/fd" | wc -l)
  echo "$((now - start)),$rss,$fds" >>"$work/samples.csv"
  sleep "$sample_s"
done
load_status=0
wait "$load_pid" || load_status=$?
load_pid=""
[ "$load_status" -eq 0 ] || { echo "soak: tenantload failed ($load_status)" >&2; tail -n 30 "$work/tenantload.log" >&2; exit 1; }

mkdir -p "$(dirname "$report")"
/usr/bin/python3 - "$work/samples.csv" "$work/load.json" "$report" "$warmup_s" "$seconds" <<'EOF'
import csv, json, os, platform, sys, time
samples_path, load_path, report_path, warmup, seconds = sys.argv[1:6]
rows = [{k: int(v) for k, v in r.items()} for r in csv.DictReader(open(samples_path))]
steady = [r for r in rows if r["elapsed_s"] >= int(warmup)] or rows

def slope(key):
    # Least squares, per minute: robust to one noisy sample, unlike first/last.
    xs = [r["elapsed_s"] / 60.0 for r in steady]
    ys = [r[key] for r in steady]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    var = sum((x - mx) ** 2 for x in xs)
    return 0.0 if var == 0 else sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var

load = json.load(open(load_path))
modes = load.get("modes", [])
mode = modes[0] if modes else {}
ops = mode.get("ops", "?")
errors = mode.get("error_total", mode.get("failure", "?"))
# The load itself: at least one operation, and none failed (a mode that
# could not run has "failure" and no counts).
ops_ok = "failure" not in mode and isinstance(ops, int) and ops >= 1
errors_ok = "failure" not in mode and errors == 0
rss_slope, fd_slope = slope("rss_kib"), slope("fds")
rss_first, rss_last = steady[0]["rss_kib"], steady[-1]["rss_kib"]
minutes = max((steady[-1]["elapsed_s"] - steady[0]["elapsed_s"]) / 60.0, 1e-9)
# Flat: RSS grows less than 1% of its warm level per minute (allocator noise)
# and the descriptor count has no upward trend.
rss_ok = rss_slope <= 0.01 * rss_first
fd_ok = fd_slope <= 0.1
with open(report_path, "w") as out:
    out.write("# Soak: steady through tenantrtd\n\n")
    out.write(f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; machine: "
              f"{os.cpu_count()} cores, {platform.platform()}, load average "
              f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    out.write(f"- command: `make soak` (SOAK_SECONDS={seconds}, warm-up {warmup} s excluded)\n")
    out.write(f"- operations through the daemon: {ops} (at least 1: {'yes' if ops_ok else 'NO'}), "
              f"errors: {errors} (none: {'yes' if errors_ok else 'NO'})"
              + (f" {mode['errors']}" if mode.get("errors") else "") + "\n")
    out.write(f"- samples: {len(rows)} ({len(steady)} after warm-up)\n\n")
    out.write("| | after warm-up | at the end | slope (least squares) | flat? |\n|---|---|---|---|---|\n")
    out.write(f"| RSS | {rss_first} KiB | {rss_last} KiB | {rss_slope:+.1f} KiB/min | "
              f"{'yes' if rss_ok else 'NO'} |\n")
    out.write(f"| open fds | {steady[0]['fds']} | {steady[-1]['fds']} | {fd_slope:+.3f} /min | "
              f"{'yes' if fd_ok else 'NO'} |\n\n")
    out.write("Samples (elapsed s, RSS KiB, fds):\n\n```\n")
    out.write("\n".join(f"{r['elapsed_s']},{r['rss_kib']},{r['fds']}" for r in rows))
    out.write("\n```\n")
print(open(report_path).read())
for ok, why in ((rss_ok, f"RSS grows {rss_slope:+.1f} KiB/min"),
                (fd_ok, f"open descriptors grow {fd_slope:+.3f}/min"),
                (ops_ok, f"no operation ran ({mode.get('failure', ops)})"),
                (errors_ok, f"{errors} operations failed")):
    if not ok:
        print("soak: FAIL: " + why, file=sys.stderr)
sys.exit(0 if rss_ok and fd_ok and ops_ok and errors_ok else 1)
EOF
