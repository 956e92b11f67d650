"""Phantom CT series with a SEG written by our writer, and dciodvfy, for the SR tests."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import require_tool
from DICOMAnnotatorLib import sample_data
from DICOMAnnotatorLib.reference_series import ReferenceSeries
from DICOMAnnotatorLib.seg_writer import write_seg
from DICOMAnnotatorLib.segmentation import MaskKind, Segmentation


def phantom_case(folder: Path, *, enhanced: bool = False, fractional: bool = False) -> tuple[Path, Path]:
    """Write a phantom CT series and a SEG of its liver, lesion and vertebra; returns (series folder, SEG)."""
    geometry = sample_data.phantom_geometry()
    hu, labels = sample_data.phantom_volume(geometry)
    series_folder = folder / "ct"
    sample_data.write_datasets(sample_data.ct_datasets(geometry, hu, enhanced=enhanced), series_folder)
    series = ReferenceSeries.from_paths(series_folder)
    segmentation = Segmentation.from_labelmap(series.geometry, labels, sample_data.PHANTOM_SEGMENTS,
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
