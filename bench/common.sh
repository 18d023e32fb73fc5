# Sourced by the bench scripts. The PyTorch side runs on the first Python that has torch and
# torchvision: $BENCH_PYTHON when set, else Debian's /usr/bin/python3 with the python3-torch stack
# (scripts/deps.sh, group bench), else the `python3` on PATH (a GPU machine's image holds PyTorch
# there); without one a script says what is missing and skips, instead of ending in a traceback.
#
# BENCH_SMOKE=1 (make bench-smoke): every script at tiny sizes and one repetition, so that a fresh
# clone (and CI) proves each one runs; the timings mean nothing. Without PyTorch the scripts then
# run our side only and leave the torch columns empty ("-"), saying so once.
#
# Scripts that also run on a GPU (gemm, conv, core, nn, det, dcn, vpsnet, train) take
#   --device cpu|cuda   where both sides run (default cpu; CUDA timings synchronise the device)
#   --tf32 0|1          PyTorch's TF32 for float32 matmuls and cuDNN (default 0; vps has no TF32 mode)
# anywhere among their arguments: parse_bench_args "$@"; set -- "${bench_pos[@]}".
smoke() { [ "${BENCH_SMOKE:-0}" = 1 ]; }
bench_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# bench_python: prints the interpreter of the PyTorch side, or fails with the reason on stderr.
# Importing torch takes seconds: a caller that checked $BENCH_PYTHON already (scripts/gpu_check.sh)
# says so with BENCH_PYTHON_CHECKED=$BENCH_PYTHON, and each script looks once (torch_init).
bench_python() {
  local py
  if [ -n "${BENCH_PYTHON:-}" ]; then
    [ "${BENCH_PYTHON_CHECKED:-}" = "$BENCH_PYTHON" ] || "$BENCH_PYTHON" -c 'import torch, torchvision' 2>/dev/null ||
      { echo "BENCH_PYTHON=$BENCH_PYTHON cannot import torch and torchvision" >&2; return 1; }
    echo "$BENCH_PYTHON"
    return 0
  fi
  if bash "$bench_root/scripts/deps.sh" --check bench >/dev/null 2>&1; then
    echo /usr/bin/python3
    return 0
  fi
  py=$(command -v python3 || true)
  if [ -n "$py" ] && "$py" -c 'import torch, torchvision' 2>/dev/null; then
    echo "$py"
    return 0
  fi
  bash "$bench_root/scripts/deps.sh" --check bench 2>&1 | head -n 1 >&2
  return 1
}

# torch_init: looks for the PyTorch side once per script: $bench_py (empty without one) and
# $bench_py_why (the reason). The functions below call it; a first call outside $(...) keeps the answer.
bench_py_done=0 bench_py='' bench_py_why=''
torch_init() {
  local out
  [ "$bench_py_done" = 1 ] && return 0
  bench_py_done=1
  if out=$(bench_python 2>&1); then bench_py=$out; else bench_py_why=$out; fi
}

have_torch() { torch_init; [ -n "$bench_py" ]; }

# require_torch: without PyTorch, a full CPU run skips the script; a smoke run, or one on a GPU
# (--device cuda: our side is what the GPU check must not lose), runs our side alone.
require_torch() {
  local msg
  torch_init
  msg=$bench_py_why
  if [ -z "$bench_py" ]; then
    if smoke || [ "${device:-cpu}" != cpu ]; then
      echo "($(smoke && echo "smoke: ")$(basename "$0") without PyTorch, our side only: ${msg%%$'\n'*})"
      return 0
    fi
    echo "(skipped $(basename "$0"): ${msg%%$'\n'*})"
    exit 0
  fi
}

# torch_py SCRIPT ARGS...: the PyTorch side, nothing when it is missing.
torch_py() {
  torch_init
  [ -n "$bench_py" ] || return 0
  "$bench_py" "$@"
}

# torch_version MODULE: torch's or torchvision's version, "missing" without it.
torch_version() {
  torch_init
  [ -n "$bench_py" ] || { echo missing; return 0; }
  "$bench_py" -c "import $1; print($1.__version__)"
}

# parse_bench_args ARGS...: takes --device and --tf32 off ARGS; sets $device, $tf32 and the rest, in
# order, in the array bench_pos. Bad values end the script with exit 2, naming them.
parse_bench_args() {
  device=cpu tf32=0 bench_pos=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --device | --tf32)
        [ $# -ge 2 ] || { echo "$(basename "$0"): $1 needs a value" >&2; exit 2; }
        if [ "$1" = --device ]; then device=$2; else tf32=$2; fi
        shift 2 ;;
      *) bench_pos+=("$1"); shift ;;
    esac
  done
  case "$device" in cpu | cuda | cuda:[0-9]*) ;; *) echo "$(basename "$0"): --device must be cpu or cuda, got '$device'" >&2; exit 2 ;; esac
  case "$tf32" in 0 | 1) ;; *) echo "$(basename "$0"): --tf32 must be 0 or 1, got '$tf32'" >&2; exit 2 ;; esac
}

# tf32_note: how the table's TF32 setting reads (ours never uses TF32).
tf32_note() {
  if [ "$device" = cpu ]; then echo ""; elif [ "$tf32" = 1 ]; then echo ", torch with TF32 (ours: full float32, no TF32 mode)"; else echo ", TF32 off on both sides"; fi
}

# lowest_results: of "RESULT name ms ..." lines on stdin (a side's runs, in rounds), per name the line
# with the lowest ms, in first-seen order; other lines dropped. Scripts that alternate the two sides
# (ours, torch, ours, torch, ...) report each side's best round: this machine's speed drifts by 10-30%
# within minutes, so one run of each, one after the other, put the drift into the ratio.
lowest_results() {
  awk '$1 == "RESULT" { if (!($2 in best) || $3 < best[$2]) { best[$2] = $3; line[$2] = $0 }
                        if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 } }
       END { for (i = 1; i <= n; ++i) print line[order[i]] }'
}
