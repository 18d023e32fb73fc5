# shellcheck shell=bash disable=SC2154  # the plan and helpers come from scripts/gpu_check.sh
# The dry run of scripts/gpu_check.sh (sourced by it, with its plan, `stage`, `record` and `publish`):
# no GPU was found (or --dry-run was given), so nothing runs on a GPU and no GPU figure is written.
# Instead it checks that everything the GPU run would use is there and takes its flags:
#   plan      the scripts, the PyTorch sides (compiled and checked by pyflakes for undefined names, not
#             run, where Python has no torch), the tools
#   cases     `vps_bench --list` has every case the GPU run names, each able to take --device cuda
#   tests     the parity filter matches tests, and each sanitizer test exists (gtest names drift)
#   refusal   --device cuda is refused by name here (exit 1), bad flag values too (exit 2): no silent
#             CPU run could pass for a GPU figure
#   benches   each bench script the GPU run calls, once on the CPU at its smoke sizes (BENCH_SMOKE=1,
#             1 thread) with --device cpu --tf32 0, so its flags and its cases' arguments are proven
#   make      `make -n CUDA=1 all demo` resolves (where nvcc is found)
# Returns 0 when every check passed.

build=${build:-build/current}
headline="no GPU: dry run ($gpu_reason${gpu_reason:+; }$([ "$dry" = 1 ] && echo "--dry-run given; ")build $build): \
nothing ran on a GPU and no GPU figure was measured"
echo "gpu_check: $headline"
export build

dry_plan() {
  local f missing=0 bad_py=0 py
  for f in $bench_scripts; do
    [ -f "bench/$f.sh" ] || { echo "missing bench/$f.sh"; missing=1; }
  done
  for f in vpsnet train gemm conv core nn det dcn; do
    [ -f "bench/${f}_torch.py" ] || { echo "missing bench/${f}_torch.py"; missing=1; }
  done
  for f in bench/common.sh bench/torch_timing.py scripts/demo.sh scripts/deps.sh; do
    [ -f "$f" ] || { echo "missing $f"; missing=1; }
  done
  py=$(command -v python3 || true)
  if [ -n "$py" ]; then
    # compiled only (no import), to a scratch folder: a syntax error fails here
    PYTHONPYCACHEPREFIX=$work/pyc "$py" -m py_compile bench/*_torch.py bench/torch_timing.py || missing=1
  fi
  # an undefined name would end a PyTorch side on the GPU machine only: pyflakes finds it here, where
  # some Python has it (Debian's python3-pyflakes); its other warnings do not fail the check
  for py in /usr/bin/python3 python3; do
    "$py" -m pyflakes --version >/dev/null 2>&1 || continue
    "$py" -m pyflakes bench/*.py >"$work/flakes" 2>&1
    grep -E 'undefined name|unable to detect undefined' "$work/flakes" && bad_py=1
    echo "pyflakes: $(wc -l <"$work/flakes") warnings$([ $bad_py = 0 ] && echo ", none of an undefined name")"
    break
  done
  for t in nvcc compute-sanitizer nvidia-smi; do
    command -v "$t" >/dev/null || [ -x "/usr/local/cuda/bin/$t" ] && echo "found: $t" || echo "absent here: $t (the GPU run needs it)"
  done
  local tp
  tp=$(source bench/common.sh && bench_python 2>&1) && echo "PyTorch side: $tp" || echo "PyTorch side: none here ($tp)"
  echo "NOTE: $(wc -w <<<"$bench_scripts") bench scripts, 8 PyTorch sides, demo and deps scripts $([ $missing = 0 ] && echo present || echo MISSING)$([ $bad_py = 0 ] || echo "; a PyTorch side uses an undefined name (pyflakes)")"
  [ $missing = 0 ] && [ $bad_py = 0 ]
}

dry_cases() {
  local list c bad=0
  [ -x "$build/vps_bench" ] || { echo "NOTE: no $build/vps_bench (build first: make)"; return 1; }
  list=$("$build/vps_bench" --list) || return 1
  for c in $bench_cases; do
    grep -qx "$c cpu,cuda" <<<"$list" || { echo "case $c: not listed with cpu,cuda"; bad=1; }
  done
  echo "NOTE: $(wc -w <<<"$bench_cases") vps_bench cases listed, each taking --device cuda$([ $bad = 0 ] || echo ': SOME MISSING')"
  return $bad
}

dry_tests() {
  local list n t bad=0
  [ -x "$build/vps_tests" ] || { echo "NOTE: no $build/vps_tests (build first: make)"; return 1; }
  n=$("$build/vps_tests" --gtest_filter="$parity_filter" --gtest_list_tests | grep -c '^  ')
  [ "$n" -gt 0 ] || { echo "the parity filter $parity_filter matches no test"; bad=1; }
  list=$("$build/vps_tests" --gtest_list_tests | awk '/^[^ ]/ { s = $1 } /^  / { print s $1 }')
  for t in $memcheck_tests $racecheck_tests; do
    grep -qx "$t" <<<"$list" || { echo "sanitizer test $t: no such test"; bad=1; }
  done
  echo "NOTE: parity filter matches $n tests; $(wc -w <<<"$memcheck_tests") memcheck and $(wc -w <<<"$racecheck_tests") racecheck tests exist$([ $bad = 0 ] || echo ': SOME MISSING')"
  return $bad
}

# expect RC CMD...: runs CMD, fails unless it exits with RC and prints a message.
expect() {
  local want=$1 out rc
  shift
  out=$("$@" 2>&1)
  rc=$?
  echo "$* -> exit $rc: ${out%%$'\n'*}"
  [ "$rc" = "$want" ] && [ -n "$out" ]
}
dry_refusal() {
  local bad=0
  if [ -n "$gpu_reason" ]; then  # with a GPU (--dry-run) these would run on it
    expect 1 "$build/vps_bench" gemm --device cuda 1 64 || bad=1
    expect 1 "$build/vps_bench" vpsnet_frame --device cuda 64 128 1 || bad=1
    expect 1 "$build/vps_bench" heads_pipeline --device cuda || bad=1
  fi
  expect 2 "$build/vps_bench" gemm --device gpu 1 64 || bad=1
  expect 2 "$build/vps_bench" gemm --tf32 1 1 64 || bad=1
  expect 2 bash bench/bench_gemm.sh "$build" --device tpu || bad=1
  echo "NOTE: --device cuda refused without a GPU, bad values refused$([ $bad = 0 ] || echo ': NOT ALL')"
  return $bad
}

dry_benches() {
  local s bad=0
  for s in $bench_scripts; do
    echo "== bench/$s.sh --device cpu --tf32 0 (smoke)"
    if BENCH_SMOKE=1 THREADS=1 OMP_NUM_THREADS=1 GEMM_THREADS=1 NN_THREADS=1 bash "bench/$s.sh" "$build" --device cpu --tf32 0 >"$work/b.out" 2>&1 &&
      ! grep -qiE 'error|traceback' "$work/b.out"; then
      cat "$work/b.out"
    else
      cat "$work/b.out"
      echo "bench/$s.sh FAILED"
      bad=1
    fi
  done
  echo "NOTE: $(wc -w <<<"$bench_scripts") bench scripts ran on the CPU at smoke sizes$([ $bad = 0 ] || echo ': SOME FAILED')"
  return $bad
}

dry_make() {
  if ! command -v nvcc >/dev/null && [ ! -x /usr/local/cuda/bin/nvcc ]; then
    echo "NOTE: no nvcc here: make CUDA=1 not resolved (the GPU machine has it)"
    return 0
  fi
  make -n CUDA=1 all demo >/dev/null || return 1
  echo "NOTE: make -n CUDA=1 all demo resolves ($(make -s CUDA=1 info))"
}

export -f dry_plan dry_cases dry_tests expect dry_refusal dry_benches dry_make
stage plan 60 dry_plan
stage cases 30 dry_cases
stage tests 30 dry_tests
stage refusal 60 dry_refusal
stage benches 300 dry_benches
stage make 60 dry_make
for s in probe build parity frame train ops suite memcheck racecheck demo; do
  record "$s" "not run (no GPU)" 0 "GPU stage"
done
fails=$(grep -c -E 'FAILED|TIMEOUT|skipped' "$work/status")
if [ "$fails" = 0 ]; then
  publish "$headline; every check passed"
else
  publish "$headline; $fails check(s) FAILED"
fi
cat "$out/summary.txt"
[ "$fails" = 0 ]
