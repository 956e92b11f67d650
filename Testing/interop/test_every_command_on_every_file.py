"""No internal error reaches a user: every command that takes DICOM, on every DICOM file of the test data.

The third-party test data (files other tools and scanners wrote) is found by the DICM preamble, and
each file is handed to every command in the place where that command takes DICOM: ``series info``,
``seg info|import|export``, ``sr info|export``, ``rtstruct import|export``, ``pet suv``, ``export
nifti|models``, ``consensus``, ``agreement`` and ``deidentify``. Commands that need the series a SEG
or SR was made on get that series where the data (or the pydicom wheel) holds it, otherwise a wrong
series, which must be a clean refusal too.

Whatever the file, the command either works or refuses it as the contract says (shared/CLI.md):
exit 0, 1 or 3, at most one ``error: `` line and nothing printed after it, never "unexpected" (the
catch-all for failures nobody foresaw) and never a traceback. Commands run in-process (as
``in_process_cli`` runs them) in one worker per core, each taking the files one at a time, so the
sweep costs the work itself and not a Python start-up per call; each file is then one test.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pydicom
import pytest
from conftest import TEST_DATA, third_party_file
from DICOMAnnotatorLib.errors import DICOMAnnotatorError
from DICOMAnnotatorLib.imaging.image_files import write_image
from DICOMAnnotatorLib.imaging.series import ReferenceSeries

pytestmark = pytest.mark.shared_data

#: The series a SEG or SR of the data is paired with when the series it was made on is not in the data.
WRONG_SERIES = "dcmqi/segmentations/ct-3slice"
KEY = "sweep-key-of-sixteen-bytes-or-more"


@dataclass(frozen=True)
class DataFile:
    path: Path
    series_uid: str
    referenced_series: tuple[str, ...]  # series a SEG or SR refers to (empty for images)


def _is_dicom(path: Path) -> bool:
    try:
        with path.open("rb") as stream:
            return stream.read(132)[128:] == b"DICM"
    except OSError:
        return False


def _referenced_series(ds: pydicom.Dataset) -> tuple[str, ...]:
    uids = [str(item.SeriesInstanceUID) for item in ds.get("ReferencedSeriesSequence") or []]
    for study in ds.get("CurrentRequestedProcedureEvidenceSequence") or []:
        uids += [str(item.SeriesInstanceUID) for item in study.get("ReferencedSeriesSequence") or []]
    return tuple(uids)


@cache
def data_files() -> tuple[DataFile, ...]:
    found = []
    for root, _dirs, names in os.walk(TEST_DATA):
        for name in sorted(names):
            path = Path(root) / name
            if _is_dicom(path):
                ds = pydicom.dcmread(path, stop_before_pixels=True)
                found.append(DataFile(path, str(ds.get("SeriesInstanceUID", "")), _referenced_series(ds)))
    return tuple(sorted(found, key=lambda f: f.path))


@cache
def image_series() -> dict[str, tuple[Path, ...]]:
    """Image files by series UID: the test data's, and the CT series of the pydicom wheel."""
    wheel_ct = Path(pydicom.data.get_testdata_file("DICOMDIR")).parent / "dicomdirtests" / "77654033" / "CT2"
    candidates = [f.path for f in data_files() if not f.referenced_series] + sorted(wheel_ct.glob("*"))
    series: dict[str, list[Path]] = {}
    for path in candidates:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        if "Rows" in ds and ds.get("Modality") not in ("SEG", "SR"):
            series.setdefault(str(ds.SeriesInstanceUID), []).append(path)
    return {uid: tuple(paths) for uid, paths in series.items()}


def series_for(data_file: DataFile) -> tuple[Path, ...]:
    """The series a command pairs with the file: its own, the one it refers to, or a wrong one."""
    for uid in (data_file.series_uid, *data_file.referenced_series):
        if uid in image_series() and (uid != data_file.series_uid or not data_file.referenced_series):
            return image_series()[uid]
    return (TEST_DATA / WRONG_SERIES,)


def _ids() -> list[str]:
    return [str(f.path.relative_to(TEST_DATA)) for f in data_files()] if TEST_DATA.is_dir() else ["missing"]


def _files() -> list[DataFile | None]:
    return list(data_files()) if TEST_DATA.is_dir() else [None]


def commands(data_file: DataFile, work: Path) -> list[list[object]]:
    """Every command that takes DICOM, with ``data_file`` where it takes DICOM."""
    path, series = data_file.path, series_for(data_file)
    return [
        ["series", "info", path, "--json"],
        ["series", "info", *series, "--json"],
        ["seg", "info", path, "--json"],
        ["sr", "info", path, "--json"],
        ["seg", "import", path, "--series", *series, "-o", work / "import.nii.gz"],
        ["seg", "import", path, "--series", *series, "-o", work / "split", "--split"],
        ["export", "nifti", path, "--series", *series, "-o", work / "nifti"],
        ["export", "models", path, "--series", *series, "-o", work / "models"],
        ["sr", "export", path, "--series", *series, "-o", work / "sr.dcm"],
        ["rtstruct", "import", path, "--series", *series, "-o", work / "rtstruct.nii.gz"],
        ["rtstruct", "export", path, "--series", *series, "-o", work / "rtstruct.dcm"],
        ["pet", "suv", path, "--json"],
        ["pet", "suv", *series, "--json"],
        ["consensus", path, path, "--method", "majority", "--series", *series, "-o", work / "consensus.dcm"],
        ["agreement", path, path, "--json"],
        ["deidentify", path, work / "deidentified", "--key", KEY, "--pixels", "flag", "--jobs", "1"],
    ]


def label_map_commands(data_file: DataFile, work: Path) -> list[list[object]]:
    """``seg export`` on the file's series with a label map on its grid, then the commands on that SEG."""
    series = series_for(data_file)
    try:
        geometry = ReferenceSeries.from_paths(series).geometry
    except DICOMAnnotatorError:
        return [["seg", "export", *series, work / "missing-labels.nii.gz", "-o", work / "seg.dcm"]]
    labels = np.zeros(geometry.array_shape, dtype=np.uint8)
    k, j, i = (n // 2 for n in geometry.array_shape)
    labels[k, max(j - 2, 0):j + 2, max(i - 2, 0):i + 2] = 1
    write_image(labels, geometry, work / "labels.nii.gz")
    seg = work / "seg.dcm"
    return [
        ["seg", "export", *series, work / "labels.nii.gz", "-o", seg],
        ["seg", "import", seg, "--series", *series, "-o", work / "back.nii.gz"],
        ["export", "nifti", seg, "--series", *series, "-o", work / "seg-nifti"],
        ["sr", "export", seg, "--series", *series, "-o", work / "seg-sr.dcm"],
        ["rtstruct", "export", seg, "--series", *series, "-o", work / "seg-rtstruct.dcm"],
        ["rtstruct", "import", work / "seg-rtstruct.dcm", "--series", *series, "-o", work / "rtstruct-back.nii.gz"],
    ]


def contract_breach(status: int, stderr: str) -> str | None:
    """What breaks the contract in one command's exit status and stderr, or None."""
    lines = stderr.rstrip("\n").splitlines()
    errors = [n for n, line in enumerate(lines) if line.startswith("error: ")]
    if status not in (0, 1, 3):
        return f"exit {status}"
    if "unexpected" in stderr or "Traceback" in stderr:
        return "an internal error"
    if len(errors) > 1:
        return "more than one error line"
    if status == 1 and errors != [len(lines) - 1]:
        return "exit 1 without one error line, last on stderr"
    return None


def run_in_process(arguments: list[object]) -> tuple[int, str]:
    """``dicom-annotator`` with ``arguments`` in this process: exit status and stderr."""
    from DICOMAnnotatorLib.cli import main as cli_main

    stderr = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(stderr):
        try:
            status = cli_main.main([str(a) for a in arguments])
        except SystemExit as exc:  # argparse usage errors
            status = exc.code
    return status, stderr.getvalue()


def breaches_of(data_file: DataFile, work: Path) -> list[str]:
    """Every command on ``data_file``: the contract breaches, each with its command and stderr."""
    work.mkdir(parents=True)
    breaches = []
    for arguments in commands(data_file, work) + label_map_commands(data_file, work):
        status, stderr = run_in_process(arguments)
        breach = contract_breach(status, stderr)
        if breach:
            breaches.append(f"{' '.join(map(str, arguments))}: {breach}\n{stderr}")
    return breaches


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> dict[Path, list[str]]:
    """The breaches of every data file, swept by one worker process per core."""
    files = data_files()
    work = tmp_path_factory.mktemp("sweep")
    # spawn, not fork: SimpleITK and BLAS threads of this process must not be copied half-way
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = pool.map(breaches_of, files, [work / str(n) for n in range(len(files))])
        return {f.path: breaches for f, breaches in zip(files, results, strict=True)}


@pytest.mark.parametrize("data_file", _files(), ids=_ids())
def test_every_command_refuses_or_handles_the_file(data_file, sweep):
    if data_file is None:
        third_party_file(WRONG_SERIES)  # fails under CI, skips elsewhere
    assert not sweep[data_file.path], "\n".join(sweep[data_file.path])
