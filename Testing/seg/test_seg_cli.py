"""``seg export`` and ``seg import`` as pipelines call them (shared/CLI.md): label values, codes, sidecars, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import assert_one_line_error, run
from DICOMAnnotatorLib.imaging.image_files import read_image, write_image
from DICOMAnnotatorLib.protocols.loading import load_protocol
from DICOMAnnotatorLib.seg.info import seg_summary


@pytest.fixture
def case(write_phantom, tmp_path):
    """A phantom series and a label map with the liver-lesions-ct protocol's values (1 liver, 2 lesion)."""
    folder, geometry, _, labels = write_phantom()
    labels = np.where(labels == 3, 0, labels).astype(np.uint8)  # the vertebra is not in this protocol
    write_image(labels, geometry, tmp_path / "labels.nii.gz")
    return folder, geometry, labels


def test_export_with_protocol_codes_segments_by_label_value(case, tmp_path):
    folder, _, labels = case
    result = run("seg", "export", folder, tmp_path / "labels.nii.gz", "-o", tmp_path / "out.dcm",
                 "--protocol", "liver-lesions-ct", "--creator", "Doe^Jane", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert [(s["label"], s["label_value"], s["voxels"]) for s in payload["segments"]] == [
        ("Liver", 1, int((labels == 1).sum())), ("Liver lesion", 2, int((labels == 2).sum()))]
    summary = seg_summary(tmp_path / "out.dcm")
    protocol = load_protocol("liver-lesions-ct")
    assert [s["type"] for s in summary["segments"]] == [protocol.structure(label).type.as_list()
                                                         for label in ("Liver", "Liver lesion")]
    assert summary["content_creator"] == "Doe^Jane" and summary["segmentation_type"] == "BINARY"


def test_export_without_protocol_warns_and_uses_generic_segments(case, tmp_path):
    folder, *_ = case
    result = run("seg", "export", folder, tmp_path / "labels.nii.gz", "-o", tmp_path / "out.dcm", "--type", "labelmap")
    assert result.returncode == 0, result.stderr
    assert "no protocol" in result.stderr
    assert [s["label"] for s in seg_summary(tmp_path / "out.dcm")["segments"]] == ["Segment 1", "Segment 2"]


def test_import_restores_the_label_map_and_sidecar(case, tmp_path):
    folder, geometry, labels = case
    run("seg", "export", folder, tmp_path / "labels.nii.gz", "-o", tmp_path / "out.dcm", "--protocol",
        "liver-lesions-ct")
    result = run("seg", "import", tmp_path / "out.dcm", "--series", folder, "-o", tmp_path / "back.nrrd",
                 "--protocol", "liver-lesions-ct", "--json")
    assert result.returncode == 0, result.stderr
    back, back_geometry = read_image(tmp_path / "back.nrrd")
    assert back_geometry.same_grid(geometry) and np.array_equal(back, labels)
    sidecar = json.loads((tmp_path / "back.nrrd.json").read_text())
    assert [(s["number"], s["label"], s["label_value"]) for s in sidecar["segments"]] == [
        (1, "Liver", 1), (2, "Liver lesion", 2)]
    assert sidecar["segments"][0]["type"] == ["10200004", "SCT", "Liver"]


def test_fractional_export_and_split_import(case, tmp_path):
    folder, geometry, labels = case
    probabilities = np.where(labels == 1, 0.6, 0.0).astype(np.float32)
    write_image(probabilities, geometry, tmp_path / "liver.nii.gz")
    result = run("seg", "export", folder, tmp_path / "liver.nii.gz", "-o", tmp_path / "p.dcm", "--type",
                 "fractional", "--structure", "Liver", "--protocol", "liver-lesions-ct")
    assert result.returncode == 0, result.stderr
    summary = seg_summary(tmp_path / "p.dcm")
    assert summary["segmentation_type"] == "FRACTIONAL"
    assert summary["segments"][0]["fraction_sum"] == pytest.approx(probabilities.sum(), rel=1e-2)
    assert_one_line_error(run("seg", "import", tmp_path / "p.dcm", "--series", folder, "-o", tmp_path / "x.nii.gz"),
                          "--split")
    result = run("seg", "import", tmp_path / "p.dcm", "--series", folder, "-o", tmp_path / "masks", "--split")
    assert result.returncode == 0, result.stderr
    mask, _ = read_image(tmp_path / "masks" / "1.nii.gz")
    np.testing.assert_allclose(mask, probabilities, atol=1 / 255)


def test_bad_inputs_are_named_and_nothing_is_written(case, tmp_path, write_phantom):
    folder, geometry, labels = case
    unknown = labels.copy()
    unknown[0, 0, 0] = 7
    write_image(unknown, geometry, tmp_path / "unknown.nii.gz")
    assert_one_line_error(run("seg", "export", folder, tmp_path / "unknown.nii.gz", "-o", tmp_path / "o.dcm",
                              "--protocol", "liver-lesions-ct"), "unknown.nii.gz", "[7]", "liver-lesions-ct")
    other_folder, other_geometry, *_ = write_phantom(name="other", spacing=(1.0, 1.0, 3.0))
    write_image(np.zeros(other_geometry.array_shape, np.uint8), other_geometry, tmp_path / "other.nii.gz")
    assert_one_line_error(run("seg", "export", folder, tmp_path / "other.nii.gz", "-o", tmp_path / "o.dcm"),
                          "other.nii.gz")
    assert not list(tmp_path.glob("o.dcm*")) and not list(tmp_path.glob(".o.dcm*"))
    run("seg", "export", folder, tmp_path / "labels.nii.gz", "-o", tmp_path / "out.dcm")
    assert_one_line_error(run("seg", "export", folder, tmp_path / "labels.nii.gz", "-o", tmp_path / "out.dcm"),
                          "out.dcm", "--force")
    assert_one_line_error(run("seg", "import", tmp_path / "out.dcm", "--series", other_folder, "-o",
                              tmp_path / "x.nii.gz"), "out.dcm", "give the series the SEG was made on")
