"""Phantom CT series with a SEG written by our writer, and dciodvfy, for the SR tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import require_tool
from DICOMAnnotatorLib.dicom.codes import Code
from DICOMAnnotatorLib.imaging import phantoms
from DICOMAnnotatorLib.imaging.segmentation import MaskKind, Segmentation, SegmentDescription
from DICOMAnnotatorLib.imaging.series import ReferenceSeries
from DICOMAnnotatorLib.seg.writer import write_seg

EMPTY_SEGMENT = SegmentDescription(4, "Metastasis", type=Code("14799000", "SCT", "Neoplasm, Secondary"))


def phantom_case(folder: Path, *, enhanced: bool = False, fractional: bool = False,
                 empty_segment: bool = False) -> tuple[Path, Path]:
    """Write a phantom CT series and a SEG of its liver, lesion and vertebra; returns (series folder, SEG).

    ``empty_segment`` adds segment 4, described but without voxels (nothing found).
    """
    geometry = phantoms.phantom_geometry()
    hu, labels = phantoms.phantom_volume(geometry)
    series_folder = folder / "ct"
    phantoms.write_datasets(phantoms.ct_datasets(geometry, hu, enhanced=enhanced), series_folder)
    series = ReferenceSeries.from_paths(series_folder)
    descriptions = [*phantoms.PHANTOM_SEGMENTS, *([EMPTY_SEGMENT] if empty_segment else [])]
    segmentation = Segmentation.from_labelmap(series.geometry, labels, descriptions,
                                              reference=series, author="Reader^Anna")
    if fractional:
        masks = {s.number: segmentation.mask(s.number).astype("float32") * 0.8 for s in segmentation.segments}
        segmentation = Segmentation(series.geometry, segmentation.segments, masks, kind=MaskKind.FRACTIONAL,
                                    reference=series, author="Reader^Anna")
    seg_path = folder / "seg.dcm"
    write_seg(segmentation, seg_path, segmentation_type="fractional" if fractional else "binary")
    return series_folder, seg_path


def write_json(path: Path, payload: dict) -> Path:
    path.write_text(json.dumps(payload), encoding="utf-8")
    return path


def dciodvfy_errors(path: Path) -> list[str]:
    """The lines of dciodvfy's report on ``path`` that are errors."""
    result = subprocess.run([require_tool("dciodvfy"), str(path)], capture_output=True, text=True, timeout=120)
    report = (result.stdout + result.stderr).splitlines()
    return [line for line in report if line.startswith("Error")]


def venv_tool(name: str) -> str:
    """A program installed by a pip package beside this Python (dcmqi's), else from PATH (see require_tool)."""
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else require_tool(name)


def dcmqi_read_sr(path: Path, folder: Path) -> dict:
    """The JSON that dcmqi's ``tid1500reader`` (DCMTK's TID 1500 classes) makes of an SR."""
    output = folder / f"{path.stem}-dcmqi.json"
    result = subprocess.run([venv_tool("tid1500reader"), "--inputDICOM", str(path), "--outputMetadata", str(output)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(output.read_text(encoding="utf-8"))
