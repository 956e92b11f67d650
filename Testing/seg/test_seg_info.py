"""``seg info`` on other producers' SEGs: segments, codes and voxel counts their producers wrote."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import SimpleITK as sitk
from conftest import COMMAND, third_party_file
from DICOMAnnotatorLib.errors import InputError
from DICOMAnnotatorLib.seg.info import seg_summary


def label_counts(relative: str) -> dict[int, int]:
    array = sitk.GetArrayFromImage(sitk.ReadImage(str(third_party_file(relative))))
    return {int(v): int((array == v).sum()) for v in np.unique(array) if v}


@pytest.mark.shared_data
def test_dcmqi_liver_matches_its_source_label_map():
    summary = seg_summary(third_party_file("dcmqi/segmentations/liver.dcm"))
    assert summary["segmentation_type"] == "BINARY" and summary["frames"] == 3
    assert summary["referenced_series_uid"] == "1.2.392.200103.20080913.113635.1.2009.6.22.21.43.10.23430.1"
    (liver,) = summary["segments"]
    assert liver["voxels"] == label_counts("dcmqi/segmentations/liver_seg.nrrd")[1]
    assert liver["type"] == ["T-62000", "SRT", "Liver"]  # dcmqi wrote the retired SNOMED RT code


@pytest.mark.shared_data
def test_dcmqi_overlapping_segments_match_their_label_maps():
    summary = seg_summary(third_party_file("dcmqi/segmentations/partial_overlaps.dcm"))
    expected = {}
    for part in (1, 2, 3):
        expected.update(label_counts(f"dcmqi/segmentations/partial_overlaps-{part}.nrrd"))
    assert {s["number"]: s["voxels"] for s in summary["segments"]} == expected
    assert summary["content_creator"] == "Slicer"


@pytest.mark.shared_data
def test_highdicom_fractional_and_labelmap():
    fractional = seg_summary(third_party_file("highdicom/seg_image_ct_true_fractional.dcm"))
    assert fractional["segmentation_type"] == "FRACTIONAL"
    assert fractional["segments"][0]["fraction_sum"] == pytest.approx(326.0235294, abs=1e-5)
    labelmap = seg_summary(third_party_file("highdicom/seg_image_sm_control_labelmap.dcm"))
    assert labelmap["segmentation_type"] == "LABELMAP"
    assert labelmap["sop_class_uid"] == "1.2.840.10008.5.1.4.1.1.66.7"
    voxels = {s["number"]: s["voxels"] for s in labelmap["segments"]}
    assert 0 not in voxels, "the background segment (pixel value 0) is not a segment"
    assert (voxels[1], voxels[2], voxels[20]) == (14, 0, 30)


@pytest.mark.shared_data
def test_cli_json_and_errors(tmp_path):
    result = subprocess.run([COMMAND, "seg", "info", str(third_party_file("dcmqi/segmentations/liver.dcm")), "--json"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert set(payload) == {"sop_class_uid", "segmentation_type", "transfer_syntax_uid", "referenced_series_uid",
                            "frames", "content_creator", "segments"}
    assert payload["segments"][0]["voxels"] > 0
    missing = subprocess.run([COMMAND, "seg", "info", str(tmp_path / "x.dcm")], capture_output=True, text=True)
    assert missing.returncode == 1 and missing.stderr.startswith("error: ") and "Traceback" not in missing.stderr
    with pytest.raises(InputError, match="is not a DICOM Segmentation"):
        seg_summary(third_party_file("highdicom/ct_image.dcm"))
