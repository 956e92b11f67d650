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
bash scripts/setup-venv.sh
# PyTorch's CPU build, before the test extra asks for torch (the AI-draft tests): on the CI machines pip finds a
# CPU wheel of torch 2.13.0 on disk (about 40 s of CPU to install with MONAI); elsewhere set
# PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu (and TORCH_SPEC to a version it has), or pip takes
# PyPI's CUDA build of several GB.
.venv/bin/python -m pip install --quiet --disable-pip-version-check "${TORCH_SPEC:-torch==2.13.0}"
# slicer: the MRML bridge on slicer-core; web: trame-slicer and the slicer-core it pins (also the terminology
# files Testing/conftest.py reads); test: the test tools, Playwright among them, which drives Debian's Chromium
# (scripts/install-test-tools.sh), never a browser of its own.
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 bash scripts/setup-venv.sh slicer,web,test
echo "== ruff" >&2
.venv/bin/ruff check .
echo "== pytest" >&2
exec .venv/bin/python -m pytest "$@"
