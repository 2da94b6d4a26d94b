#!/usr/bin/env bash
# Create .venv and install myovision into it: torch first (2.13.0), then the package with a constraints
# file pinning the torch just installed, so pip never swaps it for a multi-GB CUDA build.
# Usage: bash scripts/setup.sh [extra...]    (extras: test)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
extras=${1:-}
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@"; }
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  pip install "torch==${TORCH_VERSION:-2.13.0}"
fi
constraints="$VENV/torch-constraint.txt"
"$VENV/bin/python" -c "import torch; print('torch==' + torch.__version__)" > "$constraints"
target="."
[ -n "$extras" ] && target=".[$extras]"
pip install -c "$constraints" -e "$target"
echo "myovision installed in $VENV ($(cat "$constraints"))"
