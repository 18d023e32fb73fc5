#!/usr/bin/env bash
# The Debian packages vps needs, by group, detected by package (dpkg-query), never by a file that
# another package could also provide (netlib's libblas-dev ships a cblas.h too, for example).
#   scripts/deps.sh [GROUP...]        check GROUPs (default: build); as root install the missing ones
#                                     with apt-get, otherwise print the exact command and exit 1
#   scripts/deps.sh --check GROUP...  only report: exit 1 and name the missing packages, install nothing
#   scripts/deps.sh --list GROUP...   print the packages of GROUPs, one a line
# Groups: build (compiler, libraries, GoogleTest), bench and fixtures (Debian's PyTorch stack, the
# numerical reference; python3-venv for the PyPI packages Debian lacks, installed by scripts/pypi.sh into
# build/pyenv), fuzz (clang with libFuzzer and LLVM's OpenMP), mpi (Open MPI), report (headless Chromium for
# make report-check), pypi (what scripts/pypi.sh needs alone: python3 and its venv module).
# build includes protobuf (libprotobuf-dev, protobuf-compiler): the TensorBoard event files of vps train;
# and oneDNN (libdnnl-dev): the float32 GEMM (Makefile DNNL=1, the default). OpenBLAS is the OpenMP build
# (libopenblas-openmp-dev, the Makefile's OPENBLAS_DIR): no thread pool of its own beside OpenMP's.
set -euo pipefail

packages_of() {
  case "$1" in
    build)    echo g++ make libopenblas-openmp-dev libdnnl-dev nlohmann-json3-dev libgtest-dev libpng-dev libjpeg-dev zlib1g-dev libprotobuf-dev protobuf-compiler ;;
    bench)    echo python3 python3-numpy python3-torch python3-torchvision python3-opencv python3-venv ;;
    fixtures) echo python3 python3-numpy python3-torch python3-torchvision python3-opencv python3-venv ;;
    fuzz)     echo clang libclang-rt-dev libomp-dev ;;
    mpi)      echo openmpi-bin libopenmpi-dev ;;
    report)   echo chromium python3 ;;
    pypi)     echo python3 python3-venv ;;
    *) echo "scripts/deps.sh: unknown group '$1' (build, bench, fixtures, fuzz, mpi, report, pypi)" >&2; return 2 ;;
  esac
}

mode=install
case "${1:-}" in
  --check) mode=check; shift ;;
  --list)  mode=list;  shift ;;
esac
[ $# -gt 0 ] || set -- build
groups="$*"
want=()
for g in "$@"; do
  pk=$(packages_of "$g") || exit 2
  for p in $pk; do want+=("$p"); done
done
if [ "$mode" = list ]; then printf '%s\n' "${want[@]}" | sort -u; exit 0; fi

if ! command -v dpkg-query >/dev/null; then
  echo "vps: not a Debian system (no dpkg-query): install the equivalents of: $(printf '%s ' "${want[@]}")" >&2
  exit 1
fi

# 'installed' means dpkg's status says so: "ii" (installed, ok). A package that was removed but
# left config files behind ("rc") is missing.
installed() { [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | cut -c1-2)" = "ii" ]; }

missing=()
for p in $(printf '%s\n' "${want[@]}" | sort -u); do
  installed "$p" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
pkgs="${missing[*]}"
if [ "$mode" = install ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "vps: installing missing packages ($groups): $pkgs"
  export DEBIAN_FRONTEND=noninteractive
  log=$(mktemp)
  # shellcheck disable=SC2086
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends $pkgs; } >"$log" 2>&1; then
    tail -n 20 "$log" >&2
  fi
  rm -f "$log"
  still=()
  for p in "${missing[@]}"; do installed "$p" || still+=("$p"); done
  [ ${#still[@]} -eq 0 ] && exit 0
  echo "vps: apt-get did not install: ${still[*]}" >&2
  exit 1
fi
echo "vps: missing Debian packages ($groups): $pkgs" >&2
echo "  run as root:  apt-get install -y $pkgs" >&2
exit 1
