#!/usr/bin/env bash
# Set up (if needed, with the test extras) and run the test suite: bash scripts/test.sh [pytest args]
# Paths in the pytest arguments are taken from the caller's directory; without arguments, the whole suite.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
VENV=${VENV:-$repo/.venv}
[[ $VENV != /* ]] && VENV=$PWD/$VENV
export VENV
bash "$repo/scripts/setup.sh" test
if [ $# -eq 0 ]; then
  cd "$repo"  # pytest takes testpaths from pyproject.toml only when run from the root
  exec "$VENV/bin/python" -m pytest
fi
exec "$VENV/bin/python" -m pytest --rootdir "$repo" -c "$repo/pyproject.toml" "$@"
