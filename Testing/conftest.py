"""Shared fixtures: generated phantom series and the third-party files in ../shared/data."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from DICOMAnnotatorLib.imaging import phantoms

REPO = Path(__file__).resolve().parents[1]
#: The installed ``dicom-annotator`` command of the environment running the tests.
COMMAND = str(Path(sys.executable).with_name("dicom-annotator"))
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()


def shared_file(relative: str) -> Path:
    """A file of ../shared/data; missing data fails under CI and skips on a developer's machine."""
    path = SHARED_DATA / relative
    if not path.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Test data {path} is missing; CI runs beside shared/ with its data folder")
        pytest.skip(f"Test data {path} is not on this machine")
    return path


def require_tool(name: str) -> str:
    """The path of an external program the tests need: missing under CI fails, elsewhere skips."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{name} is not installed; scripts/install-test-tools.sh installs it")
        pytest.skip(f"{name} is not installed (bash scripts/install-test-tools.sh installs it)")
    return path


def run(*args, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``dicom-annotator`` with ``args`` as a user would, capturing its output."""
    return subprocess.run([COMMAND, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout)


def in_process_cli(capsys):
    """``dicom-annotator`` run in this process (fast, no start-up): ``invoke(*args) -> (status, stdout, stderr)``."""
    from DICOMAnnotatorLib.cli import main as cli_main

    def invoke(*args: object) -> tuple[int, str, str]:
        try:
            status = cli_main.main([str(a) for a in args])
        except SystemExit as exc:  # argparse usage errors
            status = exc.code
        out, err = capsys.readouterr()
        return status, out, err

    return invoke


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit 1 with exactly one ``error: `` line on stderr naming ``fragments`` (shared/CLI.md)."""
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def dciodvfy_errors(path: Path) -> list[str]:
    """The ``Error`` lines dicom3tools' ``dciodvfy`` reports for a DICOM file (warnings are not errors)."""
    dciodvfy = require_tool("dciodvfy")
    result = subprocess.run([dciodvfy, str(path)], capture_output=True, text=True, timeout=120)
    return [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error")]


def chromium_command(chromium: str, profile: Path) -> list[str]:
    """Headless Chromium that reaches for no network (this machine has none) and keeps no state."""
    return [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}"]


def dump_dom_in_chromium(page: Path, profile: Path) -> str:
    """The DOM of an HTML file after headless Chromium has run its scripts."""
    chromium = require_tool("chromium")
    result = subprocess.run([*chromium_command(chromium, profile), "--dump-dom", page.as_uri()],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture
def write_phantom(tmp_path):
    """Write a phantom CT series; returns (folder, geometry, hu, labels)."""

    def write(orientation: str = "axial", *, enhanced: bool = False, name: str = "series", **geometry_args):
        geometry = phantoms.phantom_geometry(orientation=orientation, **geometry_args)
        hu, labels = phantoms.phantom_volume(geometry)
        folder = tmp_path / name
        phantoms.write_datasets(phantoms.ct_datasets(geometry, hu, enhanced=enhanced), folder)
        return folder, geometry, hu, labels

    return write
