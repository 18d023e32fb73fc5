# Sourced by the bench scripts that put PyTorch beside our timings. The PyTorch side needs Debian's
# python3-torch stack (scripts/deps.sh, group bench); without it the script says what is missing
# and skips, instead of ending in a Python traceback.
require_torch() {
  local msg
  if ! msg=$(bash scripts/deps.sh --check bench 2>&1); then
    echo "(skipped $(basename "$0"): ${msg%%$'\n'*})"
    exit 0
  fi
}
