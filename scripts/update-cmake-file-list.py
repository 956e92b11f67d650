#!/usr/bin/env python3
"""Rewrite CORE_PYTHON_SCRIPTS and CORE_PYTHON_RESOURCES in DICOMAnnotator/CMakeLists.txt from the core's files.

CMake lists every installed file by name (Slicer's scripted-module macros do not glob); run this
after adding or removing a core file. Testing/core/test_extension_layout.py checks the result.
"""

from __future__ import annotations

import re
from pathlib import Path

MODULE = Path(__file__).resolve().parents[1] / "DICOMAnnotator"
CORE = MODULE / "DICOMAnnotatorLib"


def _files(pattern_ok) -> list[str]:
    return sorted(str(p.relative_to(MODULE)) for p in CORE.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and pattern_ok(p))


def main() -> None:
    cmake = MODULE / "CMakeLists.txt"
    text = cmake.read_text(encoding="utf-8")
    blocks = {
        "CORE_PYTHON_SCRIPTS": _files(lambda p: p.suffix == ".py"),
        "CORE_PYTHON_RESOURCES": _files(lambda p: "resources" in p.relative_to(CORE).parts),
    }
    for name, files in blocks.items():
        body = "".join(f"  {f}\n" for f in files)
        text, count = re.subn(rf"set\({name}\n.*?  \)\n", f"set({name}\n{body}  )\n", text, flags=re.S)
        if count != 1:
            raise SystemExit(f"{cmake}: no set({name} ...) block found")
    cmake.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
