"""Clean Recognizable Visual Features: photographs and head volumes are refused, never claimed clean."""

from __future__ import annotations

import numpy as np
import pydicom
from canary_study import _image_instance
from deid_support import run_deidentify
from DICOMAnnotatorLib.imaging import phantoms

OPTION = "--clean-recognizable-visual-features"


def _ct_series(folder, **attributes) -> None:
    geometry = phantoms.phantom_geometry(size=(8, 8, 2))
    datasets = phantoms.ct_datasets(geometry, phantoms.phantom_volume(geometry)[0])
    for ds in datasets:
        for keyword, value in attributes.items():
            if value is None:
                delattr(ds, keyword)
            else:
                setattr(ds, keyword, value)
    phantoms.write_datasets(datasets, folder)


def _photograph(path) -> None:
    study = pydicom.Dataset()
    study.StudyInstanceUID = pydicom.uid.generate_uid()
    ds = _image_instance("1.2.840.10008.5.1.4.1.1.77.1.4", study, "XC")  # VL Photographic Image
    ds.set_pixel_data(np.zeros((16, 16, 3), np.uint8), "RGB", 8, generate_instance_uid=False)
    ds.save_as(path, enforce_file_format=True)


def _outputs(folder) -> list[pydicom.Dataset]:
    return [pydicom.dcmread(p) for p in sorted(folder.rglob("*.dcm"))]


def test_photographs_and_head_volumes_are_not_written_and_say_why(tmp_path):
    source = tmp_path / "in"
    _ct_series(source / "head", BodyPartExamined="HEAD", SeriesNumber=7)
    # No body part, description or protocol name: a face cannot be ruled out.
    _ct_series(source / "unnamed", BodyPartExamined=None, StudyDescription=None, SeriesDescription=None)
    _ct_series(source / "abdomen")  # the phantom says ABDOMEN
    _photograph(source / "photo.dcm")
    status, report = run_deidentify(source, tmp_path / "out", "--pixels", "keep", OPTION)
    assert status == 3
    reasons = {p["source"].split("/")[0]: p["reason"] for p in report["problems"]}
    assert {p["status"] for p in report["problems"]} == {"not_written"} and len(report["problems"]) == 5
    assert "VL Photographic Image" in reasons["photo.dcm"] and "cannot be cleaned" in reasons["photo.dcm"]
    assert "head or neck (BodyPartExamined 'HEAD') of series 7" in reasons["head"]
    assert "deface the series with a dedicated tool first" in reasons["head"]
    assert "does not say which part of the body" in reasons["unnamed"]
    assert "clean_recognizable_visual_features" in report["options"]
    written = _outputs(tmp_path / "out")
    assert len(written) == 2 and {ds.BodyPartExamined for ds in written} == {"ABDOMEN"}
    for ds in written:  # judged free of recognizable features: the option is met without a change
        assert ds.RecognizableVisualFeatures == "NO"
        assert "113102" in [item.CodeValue for item in ds.DeidentificationMethodCodeSequence]


def test_113102_is_claimed_only_for_what_this_run_judged(tmp_path):
    source = tmp_path / "in"
    _ct_series(source / "defaced", BodyPartExamined="HEAD", RecognizableVisualFeatures="NO")  # cleaned before
    status, report = run_deidentify(source, tmp_path / "out", "--pixels", "keep", OPTION)
    assert status == 0, report["problems"]
    for ds in _outputs(tmp_path / "out"):
        assert ds.RecognizableVisualFeatures == "NO"
        assert "113102" not in [item.CodeValue for item in ds.DeidentificationMethodCodeSequence]
    _ct_series(tmp_path / "plain", BodyPartExamined="HEAD")
    status, _ = run_deidentify(tmp_path / "plain", tmp_path / "out-plain", "--pixels", "keep")
    assert status == 0, "without the option head volumes are written"
    for ds in _outputs(tmp_path / "out-plain"):
        assert "RecognizableVisualFeatures" not in ds
        assert "113102" not in [item.CodeValue for item in ds.DeidentificationMethodCodeSequence]
