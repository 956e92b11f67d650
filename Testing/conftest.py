"""Shared fixtures: generated phantom series, third-party test files, external tools.

Third-party files (DICOM written by other tools and people; sources and licences in
docs/testing.md) are not in the repository: tests find them in one folder, named by
$DICOM_ANNOTATOR_TEST_DATA (default: ``../shared/data`` beside the clone, where CI has them).
Without that folder their tests skip (under CI=true they fail), and the summary names them
in one line. Everything else the tests need, they make.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from DICOMAnnotatorLib.imaging import phantoms

REPO = Path(__file__).resolve().parents[1]
#: The installed ``dicom-annotator`` command of the environment running the tests.
COMMAND = str(Path(sys.executable).with_name("dicom-annotator"))
TEST_DATA_SETTING = "DICOM_ANNOTATOR_TEST_DATA"
TEST_DATA = Path(os.environ.get(TEST_DATA_SETTING) or REPO.parent / "shared" / "data").resolve()
#: The skip reason of tests whose third-party files are missing (the summary gathers them).
MISSING_TEST_DATA = "third-party test data missing"
CI = os.environ.get("CI", "").lower() == "true"
#: The npm packages of the interoperability tests (dcmjs), installed by scripts/install-node-tools.sh.
NODE_FOLDER = REPO / "Testing" / "interop" / "node"
DICOMPYLER_PYTHON = REPO / ".tools" / "dicompyler" / "bin" / "python"


def pytest_configure(config) -> None:
    """No test reads or writes the user's own data and settings: default stores, files and sessions go to a
    folder of this run."""
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="dicom-annotator-tests-"))
    os.environ["XDG_DATA_HOME"] = str(home / "data")
    os.environ["DICOM_ANNOTATOR_CONFIG"] = str(home / "config")
    for variable in ("DICOM_ANNOTATOR_STORE", "DICOM_ANNOTATOR_USER", "DICOM_ANNOTATOR_FILES"):
        os.environ.pop(variable, None)


def third_party_file(relative: str) -> Path:
    """A file of the third-party test data folder; missing, it fails under CI and skips elsewhere."""
    path = TEST_DATA / relative
    if not path.exists():
        if CI:
            pytest.fail(f"Test data {path} is missing; CI runs with ../shared/data beside the clone "
                        f"(or ${TEST_DATA_SETTING} naming the folder)")
        pytest.skip(MISSING_TEST_DATA)
    return path


def slicer_terminology_file(name: str) -> Path:
    """Slicer's terminology file ``name`` (e.g. ``SegmentationCategoryTypeModifier-DICOM-Master``).

    From $SLICER_TERMINOLOGY_DIR (a Slicer install's ``share/Slicer-*/.../Terminologies``), else the
    copies trame-slicer ships (``scripts/test.sh`` installs it: the ``web`` extra).
    """
    folders = [Path(os.environ["SLICER_TERMINOLOGY_DIR"])] if os.environ.get("SLICER_TERMINOLOGY_DIR") else []
    spec = importlib.util.find_spec("trame_slicer")  # located, not imported: it would need trame
    if spec is not None and spec.submodule_search_locations:
        folders += [Path(p) / "resources" / "terminologies" for p in spec.submodule_search_locations]
    for folder in folders:
        for candidate in (folder / f"{name}.json", folder / f"{name}.term.json"):
            if candidate.is_file():
                return candidate
    if CI:
        pytest.fail(f"Slicer's terminology file {name} is missing; scripts/test.sh installs trame-slicer's copy")
    pytest.skip("Slicer's terminology files missing (set SLICER_TERMINOLOGY_DIR, or pip install trame-slicer)")


def pytest_terminal_summary(terminalreporter) -> None:
    """Skips in one line per reason; those for missing third-party files say how to get them run."""
    reasons: dict[str, list[str]] = {}
    for report in terminalreporter.stats.get("skipped", []):
        reason = str(report.longrepr[2]).removeprefix("Skipped: ") if isinstance(report.longrepr, tuple) else ""
        reasons.setdefault(reason, []).append(report.nodeid.split("::")[-1])
    for reason, tests in sorted(reasons.items()):
        if reason == MISSING_TEST_DATA:
            terminalreporter.write_line(
                f"SKIPPED {len(tests)} tests that read third-party files, not found in {TEST_DATA}: set "
                f"{TEST_DATA_SETTING} to the folder (docs/testing.md lists its files): {', '.join(sorted(tests))}")
        else:
            terminalreporter.write_line(f"SKIPPED {len(tests)} tests: {reason}: {', '.join(sorted(tests))}")


def require_tool(name: str) -> str:
    """The path of an external program the tests need: missing under CI fails, elsewhere skips."""
    path = shutil.which(name)
    if path is None:
        if CI:
            pytest.fail(f"{name} is not installed; scripts/install-test-tools.sh installs it")
        pytest.skip(f"{name} is not installed (bash scripts/install-test-tools.sh installs it)")
    return path


def require_module(name: str) -> ModuleType:
    """A Python module of the ``test`` extra: missing under CI fails, elsewhere skips."""
    try:
        return importlib.import_module(name)
    except ImportError:
        if CI:
            pytest.fail(f"Python module {name} is missing; bash scripts/test.sh installs the test extra")
        pytest.skip(f"Python module {name} is missing (bash scripts/test.sh installs the test extra)")


def node_script(script: str, *args: object) -> str:
    """What a reader script of ``NODE_FOLDER`` (dcmjs, the library OHIF uses) prints for ``args``;
    node or dcmjs missing under CI fails, elsewhere skips; the script failing fails the test."""
    node = require_tool("node")
    if not (NODE_FOLDER / "node_modules" / "dcmjs").is_dir():
        if CI:
            pytest.fail("dcmjs (npm) is missing; bash scripts/install-node-tools.sh installs it")
        pytest.skip("dcmjs (npm) is missing (bash scripts/install-node-tools.sh installs it)")
    result = subprocess.run([node, str(NODE_FOLDER / script), *map(str, args)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, f"{script} exited {result.returncode}:\n{result.stdout[-2000:]}\n" \
                                   f"{result.stderr[-2000:]}"
    return result.stdout


def dicompyler_structures(path: Path) -> dict[str, dict]:
    """The structures dicompyler-core reads from an RT Structure Set (``Testing/interop/dicompyler_structures.py``
    in its own environment); missing under CI fails, elsewhere skips."""
    if not DICOMPYLER_PYTHON.exists():
        if CI:
            pytest.fail("dicompyler-core is missing; bash scripts/install-dicompyler.sh installs it")
        pytest.skip("dicompyler-core is missing (bash scripts/install-dicompyler.sh installs it)")
    script = REPO / "Testing" / "interop" / "dicompyler_structures.py"
    result = subprocess.run([str(DICOMPYLER_PYTHON), str(script), str(path)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


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


def tree_bytes(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by its relative path, with its bytes (equal trees are byte-identical)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
