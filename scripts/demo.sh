#!/usr/bin/env bash
# Set up (if needed) and run the main job on the embedded synthetic default: bash scripts/demo.sh [--out DIR]
# It runs in the caller's directory, so a relative --out (default runs/demo) lands there.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
VENV=${VENV:-$repo/.venv}
[[ $VENV != /* ]] && VENV=$PWD/$VENV
export VENV
bash "$repo/scripts/setup.sh"
exec "$VENV/bin/myovision" demo "$@"
