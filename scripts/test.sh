#!/usr/bin/env bash
# The test command: installs everything the tests need, then runs the linters and the suite.
#   bash scripts/test.sh [pytest arguments...]
# As root it installs the Debian packages the tests use, and the npm packages (dcmjs) into
# Testing/interop/node, and dicompyler-core into .tools/dicompyler; under CI=true a missing tool fails.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/install-test-tools.sh
bash scripts/install-node-tools.sh
bash scripts/install-dicompyler.sh
bash scripts/setup-venv.sh slicer,test
# Slicer's own terminology files, as trame-slicer's wheel ships them (Testing/conftest.py reads them; the
# package itself is not imported, so its dependencies, which pin another slicer-core, are not installed).
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps "trame-slicer==2.0.0"
echo "== ruff" >&2
.venv/bin/ruff check .
echo "== pytest" >&2
exec .venv/bin/python -m pytest "$@"
