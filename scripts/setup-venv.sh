#!/usr/bin/env bash
# Creates (or updates) the project's virtual environment in .venv and installs the core
# package in editable mode with the extras named in $1 (default: none).
# Idempotent: a second run re-installs only what changed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
extras="${1:-}"
python="${PYTHON:-python3}"
if [ ! -x "$root/.venv/bin/python" ]; then
  "$python" -m venv "$root/.venv"
  "$root/.venv/bin/python" -m pip install --quiet --upgrade pip
fi
spec="$root"
[ -n "$extras" ] && spec="$root[$extras]"
"$root/.venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$spec"
