#!/usr/bin/env bash
# Create .venv and install myovision into it: torch first (2.13.0), then the package with a constraints
# file pinning the torch just installed, so pip never swaps it for a multi-GB CUDA build.
# Usage: bash scripts/setup.sh [extras]    (extras: comma-separated names from pyproject.toml, e.g. test or
# test,peers; peers also installs LibEMG 2.0.3 without its dependencies, for benchmarks/bench_features.py)
# VENV (default: .venv in the repository) and PYTHON, when relative paths, are taken from the caller's directory.
set -euo pipefail
caller=$PWD
repo=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
[[ $PYTHON == */* && $PYTHON != /* ]] && PYTHON=$caller/$PYTHON
VENV=${VENV:-$repo/.venv}
[[ $VENV != /* ]] && VENV=$caller/$VENV
extras=${1:-}
cd "$repo"
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
# The machine's pip configuration lists local file:// indexes; pip warns "Location 'file://...' is ignored"
# for every package one of them does not hold. Those lines are noise: drop them, keep every other message.
pip() {
  { "$VENV/bin/python" -m pip --disable-pip-version-check -q "$@" 2>&1 >&3 \
      | sed "/^WARNING: Location 'file:.*' is ignored/d" >&2; } 3>&1
}
# Read torch's version from its metadata: importing torch before numpy is installed warns "Failed to
# initialize NumPy".
torch_version() { "$VENV/bin/python" -c "import importlib.metadata as m; print(m.version('torch'))" 2>/dev/null; }
if ! torch_version >/dev/null; then
  pip install "torch==${TORCH_VERSION:-2.13.0}"
fi
constraints="$VENV/torch-constraint.txt"
echo "torch==$(torch_version)" > "$constraints"
target="."
[ -n "$extras" ] && target=".[$extras]"
pip install -c "$constraints" -e "$target"
case ",$extras," in
  *,peers,*) pip install --no-deps "libemg==2.0.3" ;;
esac
echo "myovision installed in $VENV ($(cat "$constraints"))"
