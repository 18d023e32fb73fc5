#!/usr/bin/env bash
# Checks the Debian packages vps builds against. As root, installs the missing ones with apt-get;
# otherwise stops with the exact command to run.
set -euo pipefail
declare -A need=(
  [/usr/include/x86_64-linux-gnu/cblas.h]=libopenblas-dev
  [/usr/include/nlohmann/json.hpp]=nlohmann-json3-dev
  [/usr/include/gtest/gtest.h]=libgtest-dev
  [/usr/include/png.h]=libpng-dev
  [/usr/include/jpeglib.h]=libjpeg-dev
  [/usr/include/zlib.h]=zlib1g-dev
)
missing=()
for f in "${!need[@]}"; do
  [ -e "$f" ] || missing+=("${need[$f]}")
done
# the static/shared gtest library itself
if [ ! -e /usr/lib/x86_64-linux-gnu/libgtest.a ] && [ ! -e /usr/lib/x86_64-linux-gnu/libgtest.so ]; then
  missing+=(libgtest-dev)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "vps: installing missing build dependencies: $pkgs"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq $pkgs
else
  echo "vps: missing build dependencies. Run:" >&2
  echo "  sudo apt-get install -y $pkgs" >&2
  exit 1
fi
