# Sourced by the bench scripts. The PyTorch side needs Debian's python3-torch stack (scripts/deps.sh,
# group bench); without it a script says what is missing and skips, instead of ending in a Python
# traceback.
#
# BENCH_SMOKE=1 (make bench-smoke): every script at tiny sizes and one repetition, so that a fresh
# clone (and CI) proves each one runs; the timings mean nothing. Without PyTorch the scripts then
# run our side only and leave the torch columns empty ("-"), saying so once.
smoke() { [ "${BENCH_SMOKE:-0}" = 1 ]; }
bench_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

have_torch() { bash "$bench_root/scripts/deps.sh" --check bench >/dev/null 2>&1; }

require_torch() {
  local msg
  if ! msg=$(bash "$bench_root/scripts/deps.sh" --check bench 2>&1); then
    if smoke; then
      echo "(smoke: $(basename "$0") without PyTorch, our side only: ${msg%%$'\n'*})"
      return 0
    fi
    echo "(skipped $(basename "$0"): ${msg%%$'\n'*})"
    exit 0
  fi
}

# torch_py SCRIPT ARGS...: the PyTorch side (Debian's /usr/bin/python3), nothing when it is missing.
torch_py() {
  have_torch || return 0
  /usr/bin/python3 "$@"
}

# torch_version MODULE: torch's or torchvision's version, "missing" without it.
torch_version() {
  have_torch || { echo missing; return 0; }
  /usr/bin/python3 -c "import $1; print($1.__version__)"
}
