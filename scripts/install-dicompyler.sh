#!/usr/bin/env bash
# dicompyler-core, an independent RT Structure Set reader the tests hold our RTSTRUCTs to, in a
# virtual environment of its own (.tools/dicompyler): its last release (0.5.6) imports pydicom 2's
# read_file, which pydicom 3 (the project's) no longer has. Under CI=true a failed install fails.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.tools/dicompyler"
requirements="pydicom==2.4.5 dicompyler-core==0.5.6"
stamp="$venv/.installed"
[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$requirements" ] && exit 0
if ! { python3 -m venv --clear "$venv" && "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      $requirements; }; then
  if [ "${CI:-}" = "true" ]; then
    echo "error: dicompyler-core could not be installed into $venv" >&2
    exit 1
  fi
  echo "warning: dicompyler-core could not be installed; its RTSTRUCT test will be skipped" >&2
  exit 0
fi
echo "$requirements" > "$stamp"
