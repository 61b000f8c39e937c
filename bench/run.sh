#!/bin/sh
# The standard comparison behind `make bench`: the steady, burst and idle-reap
# scenarios in all five tenantload modes (each scenario against its own fresh
# dev-mongo, its modes one after another in one run so their ratios compare),
# the microbenchmarks when they are built, then bench/REPORT.md with the
# figures, the targets (PASS/FAIL/N/A), every step's exit status, the machine
# and the date. Plots and the raw JSON reports are written beside it.
#
#   bench/run.sh [--strict] [BUILD_DIR]   (default: build)
#   DURATION_SCALE=0.5 bench/run.sh        quicker, noisier
#   BENCH_OUT_DIR=/tmp/b bench/run.sh      report and JSON there, not in bench/
#
# Exit status: 1 when a step failed (a tenantload run or a microbenchmark
# exited non-zero; the other steps still run and the report says which, with
# its exit status); with --strict (make bench) also when a target is FAIL or
# N/A (its figures missing) or a microbenchmark was not built. 0 otherwise.
set -eu
strict=0
if [ "${1:-}" = "--strict" ]; then
  strict=1
  shift
fi
source_dir=$(cd "$(dirname "$0")/.." && pwd)
build_dir=$(cd "${1:-$source_dir/build}" && pwd)
out_dir=${BENCH_OUT_DIR:-$source_dir/bench}
mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)
scale=${DURATION_SCALE:-1}
tenantload=$build_dir/tenantload
[ -x "$tenantload" ] || { echo "bench/run.sh: $tenantload not built (make bench builds it)" >&2; exit 1; }

table=$(mktemp /tmp/tenantload-table.XXXXXX)
steps=$(mktemp /tmp/bench-steps.XXXXXX)
trap 'rm -f "$table" "$steps"' EXIT

# run_step NAME CMD...: runs CMD and records "NAME<TAB>exit status" in
# $steps. A failed step does not stop the others; the run fails at the end.
run_step() {
  step_name=$1
  shift
  step_status=0
  "$@" || step_status=$?
  printf '%s\t%s\n' "$step_name" "$step_status" >>"$steps"
  [ "$step_status" -eq 0 ] || echo "bench/run.sh: $step_name failed (exit status $step_status)" >&2
}
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# steady also measures the future API (runtime-async); the other scenarios
# are about sockets and reaping, where it behaves as runtime does.
modes_of() {
  case $1 in
    steady) echo "--mode all" ;;
    *) echo "--mode runtime --mode daemon --mode naive --mode pool-per-tenant --mode direct" ;;
  esac
}
for scenario in steady burst idle-reap; do
  echo "== tenantload $scenario ($(modes_of $scenario))" >&2
  rm -f "$out_dir/$scenario.json"
  # shellcheck disable=SC2046 # the modes are words
  run_step "tenantload $scenario" \
    "$tenantload" --scenario "$source_dir/tools/scenarios/$scenario.json" --dev-server $(modes_of $scenario) \
    --duration-scale "$scale" --report "$out_dir/$scenario.json" --plot "$out_dir/$scenario.svg" \
    >"$table"
  cat "$table"
done

# runtime against direct, paired: four half-length steady runs in ABBA order
# (runtime first, then direct first, ...), each pair against its own fresh
# dev-mongo. On this shared 2-core VM one mode's p50 moves 25% between runs
# (and drifts within one as collections grow), more than the 10% the target
# allows; the median of the four paired ratios is what the targets read.
pair_scale=$(/usr/bin/python3 -c "print($scale * 0.5)")
for pair in 1 2 3 4; do
  case $pair in 1|4) first=runtime second=direct ;; *) first=direct second=runtime ;; esac
  echo "== tenantload steady pair $pair ($first, $second)" >&2
  rm -f "$out_dir/steady-pair-$pair.json"
  run_step "tenantload steady pair $pair" \
    "$tenantload" --scenario "$source_dir/tools/scenarios/steady.json" --dev-server \
    --mode $first --mode $second --duration-scale "$pair_scale" --settle 3 \
    --report "$out_dir/steady-pair-$pair.json" >"$table"
  cat "$table"
done

# runtime and direct at once (--interleave): each worker's operations
# alternate between them, so both see the same machine at the same moments.
# Latency compares fairly so even when the VM's noise moves a whole run by
# 2x; CPU cannot be split per mode then, so the CPU target keeps the pairs.
for run in 1 2 3; do
  echo "== tenantload steady interleaved $run (runtime, direct)" >&2
  rm -f "$out_dir/steady-interleaved-$run.json"
  run_step "tenantload steady interleaved $run" \
    "$tenantload" --scenario "$source_dir/tools/scenarios/steady.json" --dev-server \
    --mode runtime --mode direct --interleave --duration-scale "$scale" --settle 3 \
    --report "$out_dir/steady-interleaved-$run.json" >"$table"
  cat "$table"
done

# Microbenchmarks (bench/*.cpp, built with -DTENANTRT_BENCH=ON): each one
# built runs; one not built is recorded as such, a failed one with its status.
rm -f "$out_dir/registry_acquire.json" "$out_dir/idle_tenant_memory.json"
if [ -x "$build_dir/bench/registry_acquire_bench" ]; then
  echo "== registry_acquire_bench" >&2
  run_step registry_acquire_bench \
    "$build_dir/bench/registry_acquire_bench" --benchmark_format=json >"$out_dir/registry_acquire.json"
else
  printf 'registry_acquire_bench\tnot built\n' >>"$steps"
fi
if [ -x "$build_dir/bench/idle_tenant_memory" ]; then
  echo "== idle_tenant_memory" >&2
  run_step idle_tenant_memory "$build_dir/bench/idle_tenant_memory" >"$out_dir/idle_tenant_memory.json"
else
  printf 'idle_tenant_memory\tnot built\n' >>"$steps"
fi

report_status=0
/usr/bin/python3 - "$out_dir" "$started" "$load_before" "$scale" "$steps" "$strict" <<'EOF' || report_status=$?
import json, os, platform, subprocess, sys

out_dir, started, load_before, scale, steps_path, strict = sys.argv[1:7]
strict = strict == "1"
# Every step's outcome: "0", another exit status, or "not built".
steps = []
with open(steps_path) as f:
    for line in f:
        name, _, status = line.rstrip("\n").partition("\t")
        steps.append((name, status))
step_status = dict(steps)
failed_steps = [(n, s) for n, s in steps if s not in ("0", "not built")]

def load(name):
    path = os.path.join(out_dir, name)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except (ValueError, OSError):
        return None

reports = {s: load(s + ".json") for s in ("steady", "burst", "idle-reap")}

def mode(report, name):
    if not report:
        return None
    for m in report["modes"]:
        if m["mode"] == name and "failure" not in m:
            return m
    return None

def ms(us):
    return "-" if us is None else (f"{us / 1000:.2f} ms" if us >= 1000 else f"{us:.0f} us")

def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b

targets = []

def target(name, ok, measured):
    targets.append((name, "PASS" if ok else ("FAIL" if ok is not None else "N/A"), measured))

st = reports["steady"]
rt, ppt, naive, direct, rta = (mode(st, m) for m in ("runtime", "pool-per-tenant", "naive", "direct",
                                                    "runtime-async"))
if rt and ppt:
    cut = 1 - rt["connections"]["peak"] / max(ppt["connections"]["peak"], 1)
    target("steady: peak connections runtime vs pool-per-tenant, at least 90% fewer", cut >= 0.9,
           f"{rt['connections']['peak']} vs {ppt['connections']['peak']} ({cut:.1%} fewer)")
else:
    target("steady: peak connections runtime vs pool-per-tenant, at least 90% fewer", None, "mode missing")
if rt:
    cap = rt["connections"]["cap"]
    over = rt["connections"]["samples_over_cap"]
    target("steady: runtime never above its cap (max_pool_size per cluster) in any 100 ms sample",
           cap is not None and over == 0 and rt["connections"]["peak"] <= cap,
           f"peak {rt['connections']['peak']}, cap {cap}, samples over cap {over} of "
           f"{len(rt['series']['samples'])}")
    target("steady: 0 errors for runtime", rt["error_total"] == 0,
           f"{rt['error_total']} errors of {rt['ops'] + rt['error_total']} ops"
           + (f" {rt['errors']}" if rt["error_total"] else ""))
r = ratio(naive and naive["latency"]["p50_us"], rt and rt["latency"]["p50_us"])
target("steady: p50 latency naive / runtime at least 3x", None if r is None else r >= 3,
       "-" if r is None else f"{ms(naive['latency']['p50_us'])} / {ms(rt['latency']['p50_us'])} = {r:.2f}x")
pairs = []
for n in (1, 2, 3, 4):
    pr = load(f"steady-pair-{n}.json")
    a, b = mode(pr, "runtime"), mode(pr, "direct")
    if a and b:
        pairs.append((n, a, b))

def median(xs):
    xs = sorted(xs)
    return None if not xs else (xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2)

def paired_target(name, limit, value, fmt):
    ratios = [value(a) / value(b) for _, a, b in pairs if value(b)]
    full = ratio(rt and value(rt), direct and value(direct))
    med = median(ratios)
    detail = ("paired runs " + ", ".join(f"{fmt(value(a))} / {fmt(value(b))} = {value(a) / value(b):.2f}x"
                                         for _, a, b in pairs)
              + f"; median **{med:.2f}x**" if med is not None else "no paired run")
    detail += "; in the six-mode run above: " + (
        "-" if full is None else f"{fmt(value(rt))} / {fmt(value(direct))} = {full:.2f}x")
    target(name, None if med is None else med <= limit, detail)

paired_target("steady: client CPU per op runtime / direct at most 1.5x (median of 4 ABBA pairs)", 1.5,
              lambda m: m["cpu"]["client_us_per_op"], lambda v: f"{v:.0f} us")
interleaved = []
for n in (1, 2, 3):
    ir = load(f"steady-interleaved-{n}.json")
    a, b = mode(ir, "runtime"), mode(ir, "direct")
    if a and b and b["latency"]["p50_us"]:
        interleaved.append((a, b))
p50 = lambda m: m["latency"]["p50_us"]
p50_ratios = [p50(a) / p50(b) for a, b in interleaved]
p50_median = median(p50_ratios)
pair_p50 = median([p50(a) / p50(b) for _, a, b in pairs if p50(b)])
full_p50 = ratio(rt and p50(rt), direct and p50(direct))
target("steady: p50 latency runtime / direct at most 1.1x (median of 3 interleaved runs)",
       None if p50_median is None else p50_median <= 1.1,
       ("interleaved runs " + ", ".join(f"{ms(p50(a))} / {ms(p50(b))} = {p50(a) / p50(b):.2f}x"
                                        for a, b in interleaved)
        + f"; median **{p50_median:.2f}x**" if p50_median is not None else "no interleaved run")
       + "; run apart: median of the 4 ABBA pairs "
       + ("-" if pair_p50 is None else f"{pair_p50:.2f}x")
       + ", six-mode run " + ("-" if full_p50 is None else f"{full_p50:.2f}x"))
notes = []
if rta and direct:
    notes.append(f"The future API (`runtime-async`: `run_command(...).get()`, commands on the executor) in the "
                 f"same run: client CPU/op {rta['cpu']['client_us_per_op']:.0f} us "
                 f"({rta['cpu']['client_us_per_op'] / direct['cpu']['client_us_per_op']:.2f}x direct), "
                 f"p50 {ms(rta['latency']['p50_us'])} "
                 f"({rta['latency']['p50_us'] / direct['latency']['p50_us']:.2f}x direct). "
                 "`runtime` is the blocking `execute()`, run on the caller's thread.")
ir = reports["idle-reap"]
for name in ("runtime", "daemon"):
    m = mode(ir, name)
    if not m:
        target(f"idle-reap ({name}): tenants and sockets at the minimum within idle_timeout_ms + cleanup_interval_ms", None, "mode missing")
        continue
    settings = ir["tenantrt_config"]["settings"]
    limit = settings["idle_timeout_ms"] + settings["cleanup_interval_ms"]
    idle = [p for p in m["phases"] if p["idle"]]
    reach = idle[-1]["reach_min_ms"] if idle else None
    target(f"idle-reap ({name}): tenants to 0 and sockets to min_pool_size ({m['connections']['floor']}) "
           f"within idle_timeout_ms + cleanup_interval_ms ({limit} ms) of the load stopping",
           reach is not None and reach <= limit,
           ("not reached" if reach is None else f"reached after {reach:.0f} ms "
            f"(end of idle: {idle[-1]['connections']['end']} sockets, {idle[-1]['tenants']['end']} tenants)")
           + (f"; tenant count unknown in {m['tenants']['count_failures']} samples (never taken as 0)"
              if m.get("tenants", {}).get("count_failures") else ""))

lines = []
w = lines.append
w("# tenantrt benchmarks")
w("")
w(f"Generated by `make bench` (`bench/run.sh`) on {started}. Each scenario ran against its own")
w("fresh dev-mongo (a single-threaded Python server: absolute throughput is bounded by it, so the")
w("ratios between modes measured in the same run are the meaningful figures). Connections are")
w("established TCP sockets to the server port counted every 100 ms from `/proc/net/tcp`,")
w("independently of tenantrt's own counters; CPU is `getrusage` of tenantload (minus its")
w("sampler thread) and, for the daemon, `/proc/PID/stat` of tenantrtd.")
w("")
m0 = next((r for r in reports.values() if r), None)
w("## Machine")
w("")
if m0:
    mi = m0["machine"]
    w(f"- CPUs: {mi['cpus']} ({mi['model']})")
    w(f"- Kernel: {mi['kernel']}")
w(f"- Load average before the run: {load_before}; after: {' '.join(open('/proc/loadavg').read().split()[0:3])}")
w(f"- Duration scale: {scale}")
w("")
w("## Targets")
w("")
w("| target | result | measured |")
w("| --- | --- | --- |")
for name, result, measured in targets:
    w(f"| {name} | **{result}** | {measured} |")
w("")
for note in notes:
    w(note)
    w("")

def corrected_p99(m):
    """p99 from the scheduled send (tenantload's corrected_latency), or '-'."""
    c = m.get("corrected_latency")
    return ms(c["p99_us"]) if c and c["count"] else "-"

def mode_table(report):
    w("Latency is from the actual send; *p99 sched.* is from the scheduled send (corrected for "
      "coordinated omission: a caller's wait behind a stalled operation included); *skipped* "
      "counts scheduled sends dropped when a worker fell more than 1 s behind.")
    w("")
    w("| mode | ops | ops/s | errors | skipped | p50 | p95 | p99 | p99 sched. | max | client CPU/op | daemon CPU/op | conns peak | conns mean | RSS MB (client+daemon) |")
    w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for m in report["modes"]:
        if "failure" in m:
            w(f"| {m['mode']} | failed: {m['failure']} |||||||||||||| ")
            continue
        l = m["latency"]
        dcpu = m["cpu"]["daemon_us_per_op"]
        rss = f"{m['rss_kb']['client_peak'] / 1024:.0f}"
        if m["rss_kb"]["daemon_peak"] is not None:
            rss += f"+{m['rss_kb']['daemon_peak'] / 1024:.0f}"
        errs = str(m["error_total"]) + ("" if not m["error_total"] else " (" + ", ".join(f"{k} {v}" for k, v in m["errors"].items()) + ")")
        w(f"| {m['mode']} | {m['ops']} | {m['throughput_ops_s']:.0f} | {errs} | {m.get('skipped_sends', '-')} | "
          f"{ms(l['p50_us'])} | {ms(l['p95_us'])} | {ms(l['p99_us'])} | {corrected_p99(m)} | {ms(l['max_us'])} | "
          f"{m['cpu']['client_us_per_op']:.0f} us | "
          f"{'-' if dcpu is None else f'{dcpu:.0f} us'} | {m['connections']['peak']} | {m['connections']['mean']:.1f} | {rss} |")
    w("")
    w("| mode | phase | ops | errors | skipped | p50 | p99 | p99 sched. | conns peak | conns at end | tenants at end | floor reached after |")
    w("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for m in report["modes"]:
        if "failure" in m:
            continue
        for p in m["phases"]:
            reach = p["reach_min_ms"]
            w(f"| {m['mode']} | {p['name']} | {p['ops']} | {p['error_total']} | {p.get('skipped_sends', '-')} | "
              f"{ms(p['latency']['p50_us']) if p['ops'] else '-'} | {ms(p['latency']['p99_us']) if p['ops'] else '-'} | "
              f"{corrected_p99(p)} | "
              f"{p['connections']['peak']} | {p['connections']['end']} | "
              f"{'-' if p['tenants']['end'] < 0 else p['tenants']['end']} | "
              f"{'-' if not p['idle'] else ('not reached' if reach is None else f'{reach / 1000:.1f} s')} |")
    w("")

for name, report in reports.items():
    w(f"## Scenario `{name}`")
    w("")
    if not report:
        w("Not run (no report: see Steps below for its exit status).")
        w("")
        continue
    w(report["description"])
    w("")
    s = report["tenantrt_config"]["settings"]
    w(f"tenantrt config: max_pool_size {s['max_pool_size']}, min_pool_size {s['min_pool_size']}, "
      f"max_idle_time_ms {s['max_idle_time_ms']}, max_tenant_connections {s['max_tenant_connections']}, "
      f"idle_timeout_ms {s['idle_timeout_ms']}, cleanup_interval_ms {s['cleanup_interval_ms']}, "
      f"executor threads {s['executor_threads']}.")
    w("")
    mode_args = " ".join(f"--mode {m['mode']}" for m in report["modes"])
    w(f"`tenantload --scenario tools/scenarios/{name}.json --dev-server {mode_args} --duration-scale {scale}`")
    w("")
    mode_table(report)
    w(f"![{name}: connections and p99 latency per second]({name}.svg)")
    w("")

if interleaved:
    w("## `steady`, runtime and direct interleaved")
    w("")
    w("Both modes at once, each worker's operations alternating between them "
      "(`tenantload --scenario tools/scenarios/steady.json --dev-server --mode runtime --mode direct "
      f"--interleave --duration-scale {scale}`), three runs: the fair latency comparison on a noisy "
      "machine. Sockets and CPU are of the whole run there, so they are not shown per mode.")
    w("")
    w("| run | mode | ops | errors | skipped | p50 | p95 | p99 | p99 sched. | max |")
    w("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for n, (a, b) in enumerate(interleaved, 1):
        for m in (a, b):
            l = m["latency"]
            w(f"| {n} | {m['mode']} | {m['ops']} | {m['error_total']} | {m.get('skipped_sends', '-')} | "
              f"{ms(l['p50_us'])} | {ms(l['p95_us'])} | {ms(l['p99_us'])} | {corrected_p99(m)} | "
              f"{ms(l['max_us'])} |")
    w("")

w("## Microbenchmarks")
w("")

def micro(name, json_name):
    """The benchmark's JSON when it ran and exited 0; else a line saying what happened."""
    status = step_status.get(name, "not built")
    if status == "not built":
        w(f"`{name}`: not built in this run (`bench/` microbenchmarks need `-DTENANTRT_BENCH=ON`).")
        w("")
        return None
    if status != "0":
        w(f"`{name}`: **failed** (exit status {status}); its figures are not shown.")
        w("")
        return None
    data = load(json_name)
    if data is None:
        w(f"`{name}`: exited 0 but wrote no readable JSON.")
        w("")
    return data

acq = micro("registry_acquire_bench", "registry_acquire.json")
mem = micro("idle_tenant_memory", "idle_tenant_memory.json")
if acq:
    w("`registry_acquire_bench` (Google Benchmark), time per acquire:")
    w("")
    w("| benchmark | time | cpu | iterations |")
    w("| --- | ---: | ---: | ---: |")
    for b in acq.get("benchmarks", []):
        w(f"| {b['name']} | {b.get('real_time', 0):.0f} {b.get('time_unit', 'ns')} | "
          f"{b.get('cpu_time', 0):.0f} {b.get('time_unit', 'ns')} | {b.get('iterations', '')} |")
    w("")
if mem:
    w("`idle_tenant_memory`: " + (f"**{mem['heap_bytes_per_tenant']:.0f} heap bytes per idle tenant actor**"
      if "heap_bytes_per_tenant" in mem else "") +
      (f" ({mem['rss_bytes_per_tenant']:.0f} RSS bytes)" if "rss_bytes_per_tenant" in mem else "") + ":")
    w("")
    w("```json")
    w(json.dumps(mem, indent=1))
    w("```")
    w("")
w("## Steps")
w("")
w("| step | exit status |")
w("| --- | --- |")
for name, status in steps:
    shown = status if status in ("0", "not built") else f"**{status}** (failed)"
    w(f"| {name} | {shown} |")
w("")
w("## Files")
w("")
w("`bench/<scenario>.json` (every figure and the 100 ms / 1 s time series), `bench/<scenario>.svg`")
w("(the plots above), `bench/steady-pair-<n>.json` (the four runtime/direct pairs),")
w("`bench/steady-interleaved-<n>.json` (runtime and direct interleaved, three runs),")
w("`bench/registry_acquire.json`")
w("and `bench/idle_tenant_memory.json` when the microbenchmarks ran.")
with open(os.path.join(out_dir, "REPORT.md"), "w") as f:
    f.write("\n".join(lines) + "\n")
print("\n".join(f"{r}: {n}: {m}" for n, r, m in targets))
for name, status in steps:
    if status == "not built":
        print(f"N/A: step {name}: not built")
    elif status != "0":
        print(f"FAIL: step {name}: exit status {status}")
print(f"wrote {os.path.join(out_dir, 'REPORT.md')}")
not_met = [n for n, r, _ in targets if r != "PASS"]
not_built = [n for n, s in steps if s == "not built"]
if failed_steps:
    print(f"bench/run.sh: {len(failed_steps)} step(s) failed: "
          + ", ".join(f"{n} (exit status {s})" for n, s in failed_steps), file=sys.stderr)
if strict and (not_met or not_built):
    print(f"bench/run.sh --strict: {len(not_met)} target(s) FAIL or N/A, {len(not_built)} "
          "microbenchmark(s) not built", file=sys.stderr)
sys.exit(1 if failed_steps or (strict and (not_met or not_built)) else 0)
EOF
exit "$report_status"
