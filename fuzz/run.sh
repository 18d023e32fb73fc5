#!/usr/bin/env bash
# fuzz/run.sh BUILD "TARGETS" LIBFUZZER_ARGS...: replays each target's committed regression inputs,
# then fuzzes it from its seeds (fuzz/corpus/<t>) into build/fuzz/corpus/<t>; prints one line a
# target with the execution count and exits 1 on the first finding (saved in build/fuzz/crashes/<t>/).
set -euo pipefail
build=$1 targets=$2
shift 2
for t in $targets; do
  bin=$build/fuzz_$t
  work=$build/corpus/$t crashes=$build/crashes/$t
  mkdir -p "$work" "$crashes"
  if compgen -G "fuzz/regressions/$t/*" >/dev/null; then
    "$bin" -runs=1 fuzz/regressions/$t/* >"$build/$t.replay.log" 2>&1 ||
      { tail -n 30 "$build/$t.replay.log"; echo "fuzz $t: a regression input fails again"; exit 1; }
  fi
  log=$build/$t.log
  if ! "$bin" -print_final_stats=1 -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
        -artifact_prefix="$crashes/" "$@" "$work" "fuzz/corpus/$t" >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "fuzz $t: FOUND a failing input, saved under $crashes/"
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  secs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
  echo "fuzz $t: ${runs:-?} executions, ${secs:-?} exec/s, coverage ${cov:-?} edges, no finding"
done
