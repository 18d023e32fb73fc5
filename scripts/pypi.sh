#!/usr/bin/env bash
# The PyPI packages of the fixtures / bench groups that Debian does not package, pinned, in a virtual
# environment inside the build tree (build/pyenv), never in the system's Python:
#   tensorboard  its EventAccumulator reads `vps train`'s event files back in tests/test_tensorboard_train.cpp
#                (the test skips, saying so, without it); `build/pyenv/bin/tensorboard --logdir runs/` shows runs
# Needs Debian's python3-venv (scripts/deps.sh pypi, checked or installed first) and access to PyPI.
# Usage: bash scripts/pypi.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh pypi
ENV=build/pyenv
PACKAGES=(tensorboard==2.18.0)
if [ ! -x "$ENV/bin/python" ]; then
  /usr/bin/python3 -m venv "$ENV" || {
    echo "scripts/pypi.sh: /usr/bin/python3 -m venv $ENV failed" >&2
    exit 1
  }
fi
"$ENV/bin/pip" install -q "${PACKAGES[@]}"
echo "scripts/pypi.sh: ${PACKAGES[*]} in $ENV"
