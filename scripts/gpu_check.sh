#!/usr/bin/env bash
# The prepared GPU check (issue #26, docs/gpu.md): one call on a GPU machine that builds CUDA=1 with
# all cores, runs the CPU-vs-CUDA parity tests, the GPU benchmarks side by side with PyTorch and
# torchvision on the same GPU (one 1024x2048 VPSNet-Track frame, a training step of an 800x1600 pair,
# GEMM, conv, softmax, norms, RoIAlign, NMS, deformable conv; TF32 off and on for PyTorch; peak GPU
# memory), the rest of the test suite, compute-sanitizer (memcheck, racecheck) on model-level tests
# and `make demo` with the CUDA build, in that order: the most valuable results first. Each stage is
# time-boxed (timeout) inside a total budget, so one stuck stage cannot eat the machine's minutes;
# a stage that no longer fits is skipped and says so.
#
#   bash scripts/gpu_check.sh [--dry-run] [--budget SECONDS] [--stages LIST] [--out DIR] [--build DIR]
#
# --stages parity,memcheck (a comma-separated list) reruns only those stages after a fix; the probe
# and the build always run (a machine comes bare).
#
# Without a GPU (no nvidia-smi, nvidia-smi fails or lists none) or with --dry-run it does a dry run:
# it says so, then checks that everything the GPU run would use exists and takes its flags (scripts,
# vps_bench cases and their --device flag, test names of the gtest filters, the bench scripts run once
# on the CPU at tiny sizes), and exits 0 when all of that holds, 1 otherwise. A dry run measures no
# GPU figure and the summary says so.
#
# Output under --out (default $OUT, else out/gpu-check), each file replaced atomically after every
# stage so that a run cut short still leaves them: summary.txt (one line a stage: status, seconds,
# key result; then the bench tables), bench.txt (every bench table as printed), logs.tar.gz (each
# stage's whole log). --build names the build folder the dry run uses (default: build/current).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

dry=0 budget=480 out=${OUT:-out/gpu-check} build= only=
all_stages="probe build parity frame train ops suite memcheck racecheck demo"
usage() {
  echo "usage: scripts/gpu_check.sh [--dry-run] [--budget SECONDS] [--stages LIST] [--out DIR] [--build DIR]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry=1; shift ;;
    --budget) [ $# -ge 2 ] || usage; budget=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
    --build) [ $# -ge 2 ] || usage; build=$2; shift 2 ;;
    --stages) [ $# -ge 2 ] || usage; only=",$2,"; shift 2 ;;
    *) echo "scripts/gpu_check.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
case "$budget" in '' | *[!0-9]*) echo "scripts/gpu_check.sh: --budget must be whole seconds, got '$budget'" >&2; exit 2 ;; esac
for s in ${only//,/ }; do
  case " $all_stages " in *" $s "*) ;; *) echo "scripts/gpu_check.sh: --stages: no stage '$s' ($all_stages)" >&2; exit 2 ;; esac
done

mkdir -p "$out" || exit 1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
logs=$work/logs
mkdir -p "$logs"
: >"$work/status" && : >"$work/bench"
SECONDS=0
threads=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)  # all cores, whatever OMP_NUM_THREADS says

# ---- the plan (both modes read it; space-separated words, exported to the stages' shells) ----
# CPU-vs-CUDA parity tests: every test named *Cuda* or *Parity* (tests/gradcheck.h VPS_REQUIRE_CUDA).
parity_filter='*Cuda*:*Parity*'
# Model-level tests under compute-sanitizer: models, heads and their scatter-heavy ops on the GPU, one
# sanitizer process each, the quick ones first (a timeout keeps the verdicts of those done).
memcheck_tests="DeformConv2d.DeformConvWithOffsetCpuCudaParity DetRoIAlign.CudaParity DetNms.CudaParity
  SiamTrackWarp.CpuCudaParity SiamTrackLosses.CpuCudaParity DetHeads.CudaParity
  BackboneGolden.CudaParityWithFixture DetMaskRCNN.CudaParity FlowNet2Parity.CpuVsCuda"
# racecheck is slower (it tracks shared memory): the block reductions and scatter kernels of the models.
racecheck_tests="Reduce.ParityCpuCuda GroupNorm.CpuCudaParity DetRoIAlign.CudaParity
  DeformConv2d.DeformConvWithOffsetCpuCudaParity DetMaskRCNN.CudaParity"
# The bench scripts and the vps_bench cases they run with --device cuda.
bench_scripts="bench_vpsnet bench_train bench_gemm bench_conv bench_core bench_nn bench_det bench_dcn"
bench_cases="vpsnet_frame train_step gemm conv_3x3_256_56 conv_1x1_1024_14 conv_7x7s2_stem_224 core_ew_mul_add
  core_softmax_rows nn det_nms det_roi_align dcn_p2_256 dcn_p2_128"
export parity_filter threads memcheck_tests racecheck_tests bench_scripts bench_cases

# ---- bookkeeping ----
# record NAME STATUS SECONDS NOTE: one line of the summary.
record() { printf '%-10s %-26s %5ss  %s\n' "$1" "$2" "$3" "$4" >>"$work/status"; }

# publish [HEADLINE]: summary.txt, bench.txt, logs.tar.gz under $out, each written beside and renamed.
publish() {
  [ -n "${1:-}" ] && headline=$1
  {
    echo "vps GPU check, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "$headline"
    echo "machine: $machine"
    echo "budget ${budget}s, ${SECONDS}s used"
    echo
    printf '%-10s %-26s %6s  %s\n' stage status time note
    cat "$work/status"
    if [ -s "$work/bench" ]; then echo; echo "== benchmark tables (as printed by bench/*.sh)"; cat "$work/bench"; fi
  } >"$out/.summary.txt.tmp" && mv -f "$out/.summary.txt.tmp" "$out/summary.txt"
  cp "$work/bench" "$out/.bench.txt.tmp" && mv -f "$out/.bench.txt.tmp" "$out/bench.txt"
  tar -czf "$out/.logs.tar.gz.tmp" -C "$work" logs && mv -f "$out/.logs.tar.gz.tmp" "$out/logs.tar.gz"
}

# stage NAME CAP CMD...: runs CMD (a program or a function of this script, exported with export -f)
# under `timeout` in a bash of its own with pipefail, boxed to CAP seconds or to what is left of the
# budget (10 s kept for the summary); timeout signals the whole process group, so make's and the
# benches' children end too. The output goes to logs/NAME.log. Sets $stage_rc (124: timed out, 125:
# skipped). Records the stage with the last line CMD printed that starts with "NOTE:" (its key result).
stage() {
  local name=$1 cap=$2 left box t0 rc note
  shift 2
  if [ -n "$only" ] && [ "$name" != probe ] && [ "$name" != build ] && [[ $only != *",$name,"* ]]; then
    record "$name" "not run (--stages)" 0 ""
    stage_rc=125
    return
  fi
  left=$((budget - SECONDS - 10))
  box=$((cap < left ? cap : left))
  if [ "$box" -lt 15 ]; then
    record "$name" "skipped (budget)" 0 "${left}s left of ${budget}s; needed up to ${cap}s"
    stage_rc=125
    publish
    return
  fi
  echo "== [$((SECONDS))s] $name (up to ${box}s)"
  t0=$SECONDS
  timeout -k 5 "$box" bash -o pipefail -c '"$@"' stage "$@" </dev/null >"$logs/$name.log" 2>&1
  rc=$?
  note=$(sed -n 's/^NOTE: //p' "$logs/$name.log" | tail -n 1)
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    record "$name" "TIMEOUT after ${box}s" $((SECONDS - t0)) "$note"
    rc=124
  elif [ $rc -ne 0 ]; then
    record "$name" "FAILED (exit $rc)" $((SECONDS - t0)) "${note:-$(tail -n 1 "$logs/$name.log")}"
  else
    record "$name" ok $((SECONDS - t0)) "$note"
  fi
  tail -n 3 "$logs/$name.log" | sed 's/^/   /'
  stage_rc=$rc
  publish
}

# ---- finding a GPU ----
gpu_reason=
if ! command -v nvidia-smi >/dev/null 2>&1; then
  gpu_reason="nvidia-smi not found"
elif ! smi=$(nvidia-smi -L 2>&1); then
  gpu_reason="nvidia-smi failed: $(head -n 1 <<<"$smi")"
elif ! grep -q '^GPU ' <<<"$smi"; then
  gpu_reason="nvidia-smi lists no GPU"
fi
if [ -z "$gpu_reason" ]; then
  machine="$(grep '^GPU ' <<<"$smi" | head -n 1), $threads cores"
else
  machine="no GPU ($gpu_reason), $threads cores"
fi
export gpu_reason
headline=
echo "gpu_check: $machine"

if [ -n "$gpu_reason" ] || [ "$dry" = 1 ]; then
  only=  # the dry run checks everything
  # shellcheck source=scripts/gpu_check_dry.sh
  source scripts/gpu_check_dry.sh
  exit $?
fi

# ================= the GPU run =================
headline="GPU run on $machine: every figure below was measured in this run"
export OMP_NUM_THREADS=$threads THREADS=$threads
bench_py=$(source bench/common.sh && bench_python 2>/dev/null) || bench_py=
[ -d /usr/local/cuda/bin ] && export PATH="$PATH:/usr/local/cuda/bin"  # nvcc, compute-sanitizer
# cuDNN: the Makefile finds it by its header in the system folders. Where only PyTorch's pip cuDNN
# is there, build against that one (header and library through CPATH, LIBRARY_PATH and
# LD_LIBRARY_PATH; libcudnn.so linked to its .so.N in a scratch folder) rather than without cuDNN.
make_flags="CUDA=1" cudnn_note="cuDNN as the Makefile finds it (CUDNN=auto)"
if ! ls /usr/local/cuda/include/cudnn.h /usr/include/cudnn.h /usr/local/include/cudnn.h >/dev/null 2>&1 && [ -n "$bench_py" ]; then
  root=$("$bench_py" -c 'import nvidia.cudnn as m; print(list(m.__path__)[0])' 2>/dev/null) || root=
  so=$(ls "$root"/lib/libcudnn.so.[0-9]* 2>/dev/null | head -n 1)
  if [ -n "$root" ] && [ -f "$root/include/cudnn.h" ] && [ -n "$so" ]; then
    mkdir -p "$work/cudnn-lib" && ln -sf "$so" "$work/cudnn-lib/libcudnn.so"
    export CPATH="$root/include${CPATH:+:$CPATH}" LIBRARY_PATH="$work/cudnn-lib${LIBRARY_PATH:+:$LIBRARY_PATH}"
    export LD_LIBRARY_PATH="$root/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    make_flags="CUDA=1 CUDNN=1" cudnn_note="cuDNN of PyTorch's wheel ($root)"
  fi
fi
export bench_py work make_flags cudnn_note
# the bench scripts take this Python without importing torch again to check (bench/common.sh)
[ -n "$bench_py" ] && export BENCH_PYTHON=$bench_py BENCH_PYTHON_CHECKED=$bench_py

probe() {
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  command -v nvcc && nvcc --version | tail -n 2
  echo "$cudnn_note"; ls /usr/local/cuda/include/cudnn.h /usr/include/cudnn.h 2>/dev/null
  command -v compute-sanitizer || echo "compute-sanitizer: not on PATH (the sanitizer stages will fail)"
  if [ -n "$bench_py" ]; then
    "$bench_py" -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__,
"cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version(), "gpu", torch.cuda.is_available())'
  else
    echo "no Python with torch and torchvision: the PyTorch columns stay empty"
  fi
  local deps
  # the build installs missing Debian packages with apt-get, which needs a network the GPU machine lacks
  deps=$(bash scripts/deps.sh --check build 2>&1) && deps="build packages present" || deps="${deps%%$'\n'*} (no network: the build will stop)"
  echo "NOTE: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -n 1); python: ${bench_py:-none}; $deps"
}
export -f probe
stage probe 30 probe

# shellcheck disable=SC2086
build_cuda() {
  make -j"$threads" $make_flags all || return 1
  echo "NOTE: $(make -s $make_flags info); $cudnn_note"
}
export -f build_cuda
stage build 300 build_cuda
# shellcheck disable=SC2086
B=build/$(make -s $make_flags info 2>/dev/null | sed -n 's/.*config=\([^ ]*\).*/\1/p')
export B
if [ $stage_rc -ne 0 ] || [ ! -x "$B/vps_tests" ]; then
  for s in parity frame train ops suite memcheck racecheck demo; do record "$s" "skipped (no build)" 0 ""; done
  publish "GPU run on $machine: the CUDA build failed or timed out, nothing was measured (logs.tar.gz: logs/build.log)"
  exit 1
fi

# tests_note LOG: the suite's closing line ("tests: N passed, M failed, K skipped") as the key result.
tests_note() { echo "NOTE: $(grep -E '^tests: ' "$1" | tail -n 1) $(grep -m1 '^vps tests: CUDA' "$1")"; }
parity() {
  "$B/vps_tests" --gtest_filter="$parity_filter" | tee "$work/parity.out"
  local rc=${PIPESTATUS[0]}
  tests_note "$work/parity.out"
  # nvidia-smi saw a GPU: parity tests that skip for want of one are a failure here, not a pass
  if grep -q '^vps tests: CUDA not available' "$work/parity.out"; then
    echo "NOTE: the tests saw no CUDA device although nvidia-smi lists one: $(grep -E '^tests: ' "$work/parity.out")"
    return 1
  fi
  return "$rc"
}
export -f tests_note parity
stage parity 150 parity

# bench_pair SCRIPT 'ROW...' ARGS...: a bench script with TF32 off, then on (PyTorch's side; ours has
# none), its tables appended to the bench file; NOTE: the table rows named ROW of both runs, as printed.
bench_pair() {
  local s=$1 rows=$2 rc=0 note="" r t
  shift 2
  for t in 0 1; do
    { echo "== bench/$s.sh $* --device cuda --tf32 $t"; bash "bench/$s.sh" "$B" "$@" --device cuda --tf32 "$t"; } |
      tee "$work/pair.out" | tee -a "$work/bench" || rc=1
    for r in $rows; do
      grep -q "^$r " "$work/pair.out" || { note+="[tf32=$t] no $r row; "; rc=1; continue; }
      note+=$(awk -v r="$r" -v t="$t" '$1 == r { $1 = $1; printf "[tf32=%s] %s; ", t, $0 }' "$work/pair.out")
    done
  done
  echo "NOTE: ${note:-done}"
  return $rc
}
frame() {
  export REPS=3 SIZE="1024 2048"
  bench_pair bench_vpsnet "vpsnet_frame vpsnet_peak_gpu_mb"
}
train() {
  export REPS=3 SIZE="800 1600"
  bench_pair bench_train "train_step train_peak_gpu_mb"
}
ops() {
  local rc=0
  bench_pair bench_gemm matmul || rc=1
  bench_pair bench_conv "" "$threads" || rc=1
  bench_pair bench_dcn "" "$threads" 10 || rc=1
  for s in bench_core bench_nn bench_det; do
    { echo "== bench/$s.sh --device cuda"; bash "bench/$s.sh" "$B" --device cuda; } | tee -a "$work/bench" || rc=1
  done
  return $rc
}
export -f bench_pair frame train ops
stage frame 200 frame
stage train 200 train
stage ops 240 ops

suite() {
  "$B/vps_tests" --gtest_filter="-$parity_filter" | tee "$work/suite.out"
  local rc=${PIPESTATUS[0]}
  tests_note "$work/suite.out"
  return "$rc"
}
export -f suite
stage suite 300 suite

# sanitize TOOL TESTS...: compute-sanitizer over each named test in turn (exit 9 when it reports an
# error); after each, a NOTE with the verdicts so far, so that a timeout still records them.
sanitize() {
  local tool=$1 rc=0 t r verdicts="" n=0
  shift
  for t in "$@"; do
    compute-sanitizer --tool "$tool" --error-exitcode 9 --print-limit 20 "$B/vps_tests" --gtest_filter="$t" |
      tee "$work/san.out"
    r=${PIPESTATUS[0]}
    n=$((n + 1))
    # a skipped test (no CUDA device seen) was not checked: not "clean"
    grep -q '^\[  SKIPPED \]' "$work/san.out" && [ "$r" = 0 ] && r=skipped
    case $r in
      0) verdicts+="$t clean; " ;;
      9) verdicts+="$t ERRORS; "; rc=1 ;;
      1) verdicts+="$t test failed; "; rc=1 ;;
      *) verdicts+="$t $r; "; rc=1 ;;
    esac
    echo "NOTE: $tool $n of $#: $verdicts"
  done
  return $rc
}
export -f sanitize
# shellcheck disable=SC2086
stage memcheck 150 sanitize memcheck $memcheck_tests
# shellcheck disable=SC2086
stage racecheck 120 sanitize racecheck $racecheck_tests

# make demo with the CUDA build, shortened: vps train and vps infer have no device flag yet, so the
# demo runs on the CPU kernels of the CUDA build (docs/gpu.md).
demo() {
  # shellcheck disable=SC2086
  DEMO_ITERS=200 DEMO_OUT=$work/demo make $make_flags demo || return 1
  echo "NOTE: 200 iterations on the CUDA build's CPU path; val $(head -n 1 "$work/demo/vpq-final.txt" 2>/dev/null)"
}
export -f demo
stage demo 180 demo

fails=$(grep -c -E 'FAILED|TIMEOUT' "$work/status")
publish "GPU run on $machine: $fails stage(s) failed or timed out; every figure below was measured in this run"
cat "$out/summary.txt"
[ "$fails" = 0 ]
