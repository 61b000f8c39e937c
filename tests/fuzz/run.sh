#!/bin/sh
# Runs each libFuzzer target for FUZZ_SECONDS on a scratch copy of its seed
# corpus (so the repository is not polluted), prints libFuzzer's executions
# per target and fails when a target crashed or broke an invariant.
#   tests/fuzz/run.sh BUILD_DIR SOURCE_DIR SECONDS TARGET...
# The targets run side by side (each for SECONDS): CI's budget is wall time.
# A crash leaves its input as crash-* in the scratch directory, printed at the
# end; replay it with BUILD_DIR/tests/fuzz/fuzz_TARGET FILE.
set -eu
build_dir=$1 source_dir=$2 seconds=$3
shift 3
scratch=$(mktemp -d "${TMPDIR:-/tmp}/tenantrt-fuzz.XXXXXX")

fuzz_one() {
  target=$1
  corpus="$scratch/$target/corpus"
  # -timeout: one input running over 25 s is a hang (a loaded 2-core machine
  # is slow, not that slow); -rss_limit_mb bounds a memory blow-up.
  if (cd "$scratch/$target" && "$build_dir/tests/fuzz/fuzz_$target" \
        -max_total_time="$seconds" -print_final_stats=1 -timeout=25 -rss_limit_mb=2048 \
        "$corpus" >"$scratch/$target/fuzz.log" 2>&1); then
    echo ok >"$scratch/$target/status"
  else
    echo FAILED >"$scratch/$target/status"
  fi
}

pids=""
for target in "$@"; do
  echo "== fuzz $target: ${seconds}s"
  mkdir -p "$scratch/$target/corpus"
  cp "$source_dir/tests/fuzz/corpus/$target/"* "$scratch/$target/corpus/"
  fuzz_one "$target" &
  pids="$pids $!"
done
for pid in $pids; do
  wait "$pid" || true
done

failed=""
echo "== fuzz summary"
for target in "$@"; do
  log="$scratch/$target/fuzz.log"
  status=$(cat "$scratch/$target/status" 2>/dev/null || echo FAILED)
  if [ "$status" != ok ]; then
    failed="$failed $target"
    grep -E "invariant violated|ERROR: |SUMMARY|runtime error" "$log" | head -20 || true
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  corpus_size=$(ls "$scratch/$target/corpus" | wc -l)
  echo "$target: $status, ${execs:-?} executions in ${seconds}s, corpus $corpus_size inputs"
done
if [ -n "$failed" ]; then
  echo "fuzz: failed:$failed (logs and crash inputs in $scratch)"
  ls "$scratch"/*/crash-* "$scratch"/*/timeout-* "$scratch"/*/oom-* 2>/dev/null || true
  exit 1
fi
rm -rf "$scratch"
