#!/usr/bin/python3
"""tenantload end to end: the 5-second smoke scenario in every mode against
its own dev-mongo (--dev-server). Every mode must count operations, no
errors, sockets measured from /proc/net/tcp (peak > 0; runtime and daemon
never above their cap), and the report JSON and the SVG plot must be written
and parse. A bad scenario and a bad mode exit 2 naming the problem.

usage: tenantload_smoke.py BUILD_DIR SOURCE_DIR
"""
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

build_dir, source_dir = sys.argv[1], sys.argv[2]
tenantload = os.path.join(build_dir, "tenantload")
smoke = os.path.join(source_dir, "tools", "scenarios", "smoke.json")
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


with tempfile.TemporaryDirectory(prefix="tenantload-smoke.") as tmp:
    # Bad input first: clear errors, exit status 2, no server needed.
    bad = os.path.join(tmp, "bad.json")
    with open(bad, "w") as f:
        json.dump({"phases": [{"name": "x", "duration_s": -1, "tenants": 2, "concurrency": 1,
                               "mix": {}}]}, f)
    run = subprocess.run([tenantload, "--scenario", bad, "--dev-server"], capture_output=True,
                         text=True, timeout=60)
    check(run.returncode == 2, f"bad scenario: exit {run.returncode}, expected 2")
    check("phases[0].duration_s: must be greater than 0" in run.stderr
          or "phases[0].duration_s: must not be negative" in run.stderr,
          f"bad scenario: duration_s not named: {run.stderr!r}")
    check("phases[0].mix: empty mix" in run.stderr, f"bad scenario: empty mix not named: {run.stderr!r}")
    run = subprocess.run([tenantload, "--scenario", smoke, "--dev-server", "--mode", "pooled"],
                         capture_output=True, text=True, timeout=60)
    check(run.returncode == 2 and "--mode pooled: unknown mode" in run.stderr,
          f"bad mode: exit {run.returncode}: {run.stderr!r}")

    report_path = os.path.join(tmp, "smoke.json")
    plot_path = os.path.join(tmp, "smoke.svg")
    run = subprocess.run([tenantload, "--scenario", smoke, "--dev-server", "--mode", "all",
                          "--report", report_path, "--plot", plot_path, "--settle", "10"],
                         capture_output=True, text=True, timeout=240)
    output = run.stdout + run.stderr
    check(run.returncode == 0, f"smoke run: exit {run.returncode}")
    if not os.path.exists(report_path) or not os.path.exists(plot_path):
        print(output)
        print("FAIL: report or plot not written")
        sys.exit(1)
    with open(report_path) as f:
        report = json.load(f)
    modes = {m["mode"]: m for m in report["modes"]}
    check(sorted(modes) == sorted(["runtime", "runtime-async", "daemon", "naive", "pool-per-tenant",
                                   "direct"]),
          f"modes in report: {sorted(modes)}")
    for name, m in modes.items():
        if "failure" in m:
            failures.append(f"{name}: failed: {m['failure']}")
            continue
        check(m["ops"] > 0, f"{name}: no operation counted")
        check(m["error_total"] == 0, f"{name}: errors {m['errors']}")
        check(m["connections"]["peak"] > 0, f"{name}: no connection measured")
        check(m["latency"]["p50_us"] > 0, f"{name}: no latency")
        check(m["cpu"]["client_us_per_op"] > 0, f"{name}: no client CPU")
        # The series exist and cover the run. Not the sampler's rate: its
        # 100 ms thread runs beside the load, and on a loaded 2-core machine
        # it was starved to 14 samples (and 1 window of 10) in 5 s.
        samples = m["series"]["samples"]
        check(len(samples) >= 5, f"{name}: {len(samples)} samples")
        check(len(samples) >= 2 and samples[-1][0] - samples[0][0] >= 3.0,
              f"{name}: samples span {samples[-1][0] - samples[0][0] if samples else 0:.1f} s"
              " of a 5 s run")
        check(len(m["series"]["windows"]) >= 1, f"{name}: {len(m['series']['windows'])} windows")
        check([p["name"] for p in m["phases"]] == ["load", "idle"], f"{name}: phases")
        if name in ("runtime", "runtime-async", "daemon"):
            check(m["connections"]["cap"] == 4, f"{name}: cap {m['connections']['cap']}")
            check(m["connections"]["samples_over_cap"] == 0 and m["connections"]["peak"] <= 4,
                  f"{name}: above the cap: peak {m['connections']['peak']}")
            check(max(s[2] for s in m["series"]["samples"]) > 0, f"{name}: tenants never seen")
    check(modes.get("daemon", {}).get("cpu", {}).get("daemon_s") is not None,
          "daemon: its CPU not measured")
    check("pass" not in json.dumps(report).lower(), "report mentions a password")
    root = ET.parse(plot_path).getroot()
    check(root.tag == "{http://www.w3.org/2000/svg}svg", f"plot root {root.tag}")
    lines = [e for e in root.iter("{http://www.w3.org/2000/svg}polyline")]
    check({e.get("data-mode") for e in lines} == set(modes), "plot: a line per mode")
    for name in modes:
        check(name in run.stdout, f"table does not name {name}")

    # Interleaved: two modes at once, each worker's operations alternating.
    run = subprocess.run([tenantload, "--scenario", smoke, "--dev-server", "--mode", "runtime",
                          "--interleave"], capture_output=True, text=True, timeout=60)
    check(run.returncode == 2 and "--interleave needs two or more different modes" in run.stderr,
          f"interleave of one mode: exit {run.returncode}: {run.stderr!r}")
    pair_path = os.path.join(tmp, "pair.json")
    pair = subprocess.run([tenantload, "--scenario", smoke, "--dev-server", "--mode", "runtime",
                           "--mode", "direct", "--interleave", "--report", pair_path],
                          capture_output=True, text=True, timeout=120)
    output += pair.stdout + pair.stderr
    check(pair.returncode == 0, f"interleaved run: exit {pair.returncode}")
    with open(pair_path) as f:
        pair_modes = {m["mode"]: m for m in json.load(f)["modes"]}
    check(sorted(pair_modes) == ["direct", "runtime"], f"interleaved modes: {sorted(pair_modes)}")
    if sorted(pair_modes) == ["direct", "runtime"]:
        rt, direct = pair_modes["runtime"], pair_modes["direct"]
        check(rt["interleaved_with"] == ["direct"] and direct["interleaved_with"] == ["runtime"],
              f"interleaved_with: {rt['interleaved_with']}, {direct['interleaved_with']}")
        for name, m in pair_modes.items():
            check(m["ops"] > 0 and m["error_total"] == 0, f"interleaved {name}: {m['ops']} ops, "
                  f"errors {m['errors']}")
            check(m["latency"]["p50_us"] > 0, f"interleaved {name}: no latency")
            check(m["cpu"]["client_us_per_op"] is None, f"interleaved {name}: CPU per op given")
            check(m["connections"]["cap"] is None, f"interleaved {name}: a cap for the shared sockets")
            check(m["connections"]["peak"] > 0, f"interleaved {name}: no connection measured")
        # Turns alternate in every worker: the two lanes differ by at most
        # one operation per worker.
        check(abs(rt["ops"] - direct["ops"]) <= 4, f"interleaved ops: {rt['ops']} vs {direct['ops']}")
        check(max(s[2] for s in rt["series"]["samples"]) > 0, "interleaved runtime: tenants never seen")
    check("interleaved: the modes ran at once" in pair.stdout, "interleaved: no note under the table")
    if failures:
        print(output)
        for f in failures:
            print("FAIL:", f)
        sys.exit(1)
    print(run.stdout)
    print("tenantload smoke ok")
