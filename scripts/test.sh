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
# slicer: the MRML bridge on slicer-core; web: trame-slicer and the slicer-core it pins (also the terminology
# files Testing/conftest.py reads); test: the test tools, Playwright among them, which drives Debian's Chromium
# (scripts/install-test-tools.sh), never a browser of its own.
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 bash scripts/setup-venv.sh slicer,web,test
echo "== ruff" >&2
.venv/bin/ruff check .
echo "== pytest" >&2
exec .venv/bin/python -m pytest "$@"
