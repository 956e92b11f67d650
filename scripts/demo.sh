#!/usr/bin/env bash
# The demo: installs the core into .venv and runs the whole flow on generated sample data.
#   bash scripts/demo.sh [output folder]   (default: ./dicom-annotator-demo, replaced each run)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup-venv.sh"
exec "$root/.venv/bin/dicom-annotator" demo -o "${1:-dicom-annotator-demo}" --force
