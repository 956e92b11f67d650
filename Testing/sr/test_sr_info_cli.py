"""``sr info`` on other producers' reports, and the ``sr`` commands' exit codes and JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import third_party_file
from DICOMAnnotatorLib.errors import InputError
from DICOMAnnotatorLib.sr.reader import sr_summary
from sr_cases import dciodvfy_errors, phantom_case, write_json

COMMAND = str(Path(sys.executable).with_name("dicom-annotator"))
CT_SLICE = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([COMMAND, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.shared_data
def test_highdicom_report():
    summary = sr_summary(third_party_file("highdicom/sr_document.dcm"))
    assert summary["title"] == ["126000", "DCM", "Imaging Measurement Report"]
    (area,) = summary["measurements"]
    assert area == {"segment": None, "tracking_id": "Planar ROI Measurements",
                    "tracking_uid": "1.2.826.0.1.3680043.8.498.95005499519195632686309166061552196996",
                    "finding": ["T-A7010", "SRT", "Spinal cord"], "name": ["G-A16A", "SRT", "Area of defined region"],
                    "derivation": None, "method": None, "value": 1.7,
                    "unit": ["cm2", "UCUM", "square centimeter"]}
    assert summary["labels"] == []  # Normality and Significance are properties of the measurement, not labels
    (region,) = summary["regions"]
    assert (region["graphic_type"], region["points"], region["instance"]) == ("CIRCLE", [[58.0, 52.0], [58.0, 41.0]],
                                                                              CT_SLICE)


@pytest.mark.shared_data
def test_highdicom_report_with_several_groups():
    summary = sr_summary(third_party_file("highdicom/sr_document_with_multiple_groups.dcm"))
    assert [(m["tracking_id"], m["name"][2], m["value"], m["unit"][0]) for m in summary["measurements"]] == [
        ("Image0001", "Intensity Histogram Mean", -119.07385253906, "[hnsf'U]"),
        ("LungNodule0001", "Diameter", 10.0, "mm"), ("Aorta0001", "Diameter", 20.0, "mm"),
        ("Vertebra0001", "Volume", 200.0, "mm3")]
    assert [(label["tracking_id"], label["name"][2], label["value"][2]) for label in summary["labels"]] == [
        ("Image0001", "Anatomical position (finding)", "Level of T4/T5 intervertebral disc"),
        ("LungNodule0001", "Level of Significance", "Not significant")]
    point = summary["regions"][-1]
    assert (point["tracking_id"], point["name"][2], point["graphic_type"]) == ("Vertebra0001", "Volume Surface",
                                                                                "POINT")
    assert point["points_mm"] == [pytest.approx([123.5, 234.1, -23.7], abs=1e-5)]


@pytest.mark.shared_data
def test_dcmjs_report():
    """An Enhanced SR from Cornerstone/OHIF (dcmjs): a bidirectional measurement on one image."""
    summary = sr_summary(third_party_file("dcmjs/test/sample-sr.dcm"))
    assert summary["sop_class_uid"] == "1.2.840.10008.5.1.4.1.1.88.22"
    assert [(m["name"][2], m["value"]) for m in summary["measurements"]] == [
        ("Long Axis", pytest.approx(64.4505437946691)), ("Short Axis", pytest.approx(42.9670291964462))]
    assert {m["tracking_uid"] for m in summary["measurements"]} == {"2.25.639471218588509803385904782051176077285"}
    assert [(r["graphic_type"], len(r["points"])) for r in summary["regions"]] == [("POLYLINE", 2), ("POLYLINE", 2)]
    image = "1.3.6.1.4.1.14519.5.2.1.3098.5025.258689768683178195119522016250"
    assert {r["instance"] for r in summary["regions"]} == {image}


@pytest.mark.shared_data
def test_not_a_measurement_report():
    with pytest.raises(InputError, match="is not a DICOM Structured Report"):
        sr_summary(third_party_file("highdicom/ct_image.dcm"))


def test_cli_export_and_info(tmp_path):
    series_folder, seg_path = phantom_case(tmp_path)
    labels = write_json(tmp_path / "labels.json", {"labels": [{"segment": 2, "name": "Liver lesion type",
                                                               "value": "Neoplasm, Secondary"}]})
    output = tmp_path / "out" / "sr.dcm"
    exported = run("sr", "export", str(seg_path), "--series", str(series_folder), "-o", str(output),
                   "--protocol", "liver-lesions-ct", "--labels", str(labels), "--json")
    assert exported.returncode == 0, exported.stderr
    payload = json.loads(exported.stdout)
    assert payload["output"] == str(output) and len(payload["measurements"]) == 3 * 6
    assert dciodvfy_errors(output) == []

    info = run("sr", "info", str(output), "--json")
    assert info.returncode == 0, info.stderr
    summary = json.loads(info.stdout)
    assert {"measurements", "labels"} <= set(summary)
    assert set(summary["measurements"][0]) >= {"segment", "tracking_uid", "name", "value", "unit"}
    assert summary["labels"][0]["value"] == ["14799000", "SCT", "Neoplasm, Secondary"]
    text = run("sr", "info", str(output))
    assert text.returncode == 0 and "segment 2 Liver lesion" in text.stdout and "Neoplasm, Secondary" in text.stdout

    again = run("sr", "export", str(seg_path), "--series", str(series_folder), "-o", str(output))
    assert again.returncode == 1 and again.stderr.startswith("error: ") and "--force" in again.stderr
    bad_labels = write_json(tmp_path / "bad.json", {"labels": [{"segment": 2, "name": "Liver lesion type",
                                                                "value": "Banana"}]})
    refused = run("sr", "export", str(seg_path), "--series", str(series_folder), "-o", str(tmp_path / "x.dcm"),
                  "--protocol", "liver-lesions-ct", "--labels", str(bad_labels))
    assert refused.returncode == 1 and "Banana" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "x.dcm").exists()
    assert run("sr", "export", str(seg_path), "-o", str(tmp_path / "y.dcm")).returncode == 2  # --series missing
    not_sr = run("sr", "info", str(seg_path))
    assert not_sr.returncode == 1 and not_sr.stderr.startswith("error: ")
