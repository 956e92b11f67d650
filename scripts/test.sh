#!/usr/bin/env bash
# The test command: installs everything the tests need, then runs the linters and the suite.
#   bash scripts/test.sh [pytest arguments...]
# As root it installs the Debian packages the tests use, and the npm packages (dcmjs) into
# Testing/interop/node; under CI=true a missing tool fails.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/install-test-tools.sh
bash scripts/install-node-tools.sh
bash scripts/setup-venv.sh slicer,test
echo "== ruff" >&2
.venv/bin/ruff check .
echo "== pytest" >&2
exec .venv/bin/python -m pytest "$@"
