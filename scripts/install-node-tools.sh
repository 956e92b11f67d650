#!/usr/bin/env bash
# Node packages the tests use (dcmjs, the DICOM library OHIF uses), installed from the lock
# file into Testing/interop/node/node_modules. Under CI=true a missing npm (Node.js) fails.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
folder="$root/Testing/interop/node"
if ! command -v npm >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then
    echo "error: npm (Node.js) is missing; the dcmjs interoperability tests need it" >&2
    exit 1
  fi
  echo "warning: npm (Node.js) is missing; the dcmjs tests will be skipped" >&2
  exit 0
fi
# npm ci starts from scratch each time: skip it while node_modules matches the lock file.
stamp="$folder/node_modules/.installed-package-lock.json"
cmp -s "$folder/package-lock.json" "$stamp" 2>/dev/null && exit 0
npm ci --prefix "$folder" --no-audit --no-fund --ignore-scripts --loglevel=error
cp "$folder/package-lock.json" "$stamp"
