"""The independent tools the interoperability tests run, found the way the test command installs them.

Python packages of the ``test`` extra live in the test interpreter's environment (their
programs beside ``sys.executable``); dcmjs lives in ``Testing/interop/node`` (installed by
``scripts/install-node-tools.sh``); dciodvfy comes from Debian's dicom3tools. Under CI=true
a missing tool fails the test, elsewhere it skips it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import node_script, require_tool


def python_program(name: str) -> str:
    """A program installed by a Python package of the test environment (e.g. dcmqi's segimage2itkimage)."""
    path = Path(sys.executable).with_name(name)
    return str(path) if path.exists() else require_tool(name)


def run(command: list[str], *, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run an external reader; its failure is a test failure that shows what it printed."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{command[0]} exited {result.returncode}:\n{result.stdout[-2000:]}\n" \
                                   f"{result.stderr[-2000:]}"
    return result


def dcmjs_read(seg: Path, sources: list[Path] = ()) -> dict[str, Any]:
    """What dcmjs (``node/read_seg.js``) reads from ``seg``, with the Cornerstone adapter when sources are given."""
    return json.loads(node_script("read_seg.js", seg, *sources))
