#!/usr/bin/env bash
# Set up (if needed) and run the main job on the embedded synthetic default: bash scripts/demo.sh [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/myovision demo "$@"
