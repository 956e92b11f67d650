"""dciodvfy (David Clunie's IOD verifier, Debian dicom3tools) on every BINARY and FRACTIONAL SEG we write.

The installed dicom3tools predates the Label Map Segmentation IOD (it reports a SEG whose
segment 0 is the background as an error), so LABELMAP files are checked by the independent
readers in test_seg_readers.py instead.
"""

from __future__ import annotations

import subprocess

import pydicom
import pytest
from conftest import require_tool
from seg_cases import case_names, session_cases

CHECKED = [name for name in case_names() if not name.endswith("-labelmap")]
#: Warnings we accept, each with the reason; today dciodvfy has none for our SEGs.
ACCEPTED_WARNINGS: tuple[str, ...] = ()


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return session_cases(tmp_path_factory)


def dciodvfy(path) -> tuple[int, list[str]]:
    """Exit status and the lines of dciodvfy's report (it names the IOD on stdout, findings on stderr)."""
    result = subprocess.run([require_tool("dciodvfy"), str(path)], capture_output=True, text=True, timeout=120)
    return result.returncode, [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]


@pytest.mark.parametrize("name", CHECKED)
def test_seg_is_a_valid_segmentation_iod(cases, name):
    status, lines = dciodvfy(cases[name].path)
    assert lines[0] == "Segmentation", f"dciodvfy did not recognise the Segmentation IOD: {lines}"
    errors = [line for line in lines if line.startswith("Error")]
    assert not errors and status == 0, f"dciodvfy found errors in the {name} SEG:\n" + "\n".join(errors)
    warnings = [line for line in lines if line.startswith("Warning") and line not in ACCEPTED_WARNINGS]
    assert not warnings, f"dciodvfy warns about the {name} SEG:\n" + "\n".join(warnings)


def test_dciodvfy_reports_a_broken_seg(cases, tmp_path):
    """The check above is live: the same SEG without its Content Label is an error."""
    dataset = pydicom.dcmread(cases["axial-binary"].path)
    del dataset.ContentLabel
    broken = tmp_path / "broken.dcm"
    dataset.save_as(broken)
    status, lines = dciodvfy(broken)
    assert status != 0
    assert "Error - Missing attribute Type 1 Required Element=<ContentLabel> Module=<ContentIdentificationMacro>" \
        in lines
