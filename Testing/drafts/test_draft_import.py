"""``draft import``: a model's output, in the layout each tool writes it with the tool's own label names, becomes the
case's AI draft, mapped onto the protocol's structures voxel for voxel; an unmapped label is a clear error.

Every output is made here the way its tool writes it: TotalSegmentator's multilabel NIfTI (nibabel, class map in a
header extension), nnU-Net's prediction and dataset.json (SimpleITK, plain and region-based) and its probabilities
.npz, a MONAI bundle's output (MONAI's own NibabelWriter) with its metadata, a SEG written by highdicom as an AI
tool writes one, and a real dcmqi SEG.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from conftest import CI, dciodvfy_errors, third_party_file
from DICOMAnnotatorLib.drafts import binary_entropy
from DICOMAnnotatorLib.imaging import ReferenceSeries, write_image
from DICOMAnnotatorLib.seg import read_seg
from draft_support import (
    TOTALSEGMENTATOR_CLASSES,
    monai_metadata,
    phantom_series,
    softmax,
    write_monai_output,
    write_protocol,
    write_totalsegmentator_output,
)
from review_support import dump_tables

pytest_plugins = ["review_fixtures"]


def _monai():
    """MONAI (its NibabelWriter writes the bundle outputs); under CI it must be installed (the test extra has it)."""
    if CI:
        import monai  # noqa: F401
    else:
        pytest.importorskip("monai")


@pytest.fixture
def case(cli, tmp_path):
    """A store with a lead, a project on the test protocol and one phantom case; (cli, store URL, series, labels)."""
    url = f"sqlite:///{tmp_path / 'review.db'}"
    series, _, labels = phantom_series(tmp_path / "series")
    protocol = write_protocol(tmp_path / "protocol.json")
    for args in (("user", "add", "lead", "--role", "lead"),
                 ("project", "create", "abdomen", "--protocol", protocol, "--user", "lead"),
                 ("case", "add", "abdomen", tmp_path / "series", "--user", "lead")):
        status, _, err = cli(*args, "--store", url)
        assert status == 0, err

    def run(*args):
        return cli(*args, "--store", url, "--user", "lead")

    return run, url, series, labels


def _draft(run, series: ReferenceSeries, *args) -> tuple[dict, dict[str, np.ndarray], object]:
    """Import; returns the JSON, the stored draft's masks by structure label, and the stored SEG's segmentation."""
    status, out, err = run("draft", "import", "1", *args, "--json")
    assert status == 0, err
    result = json.loads(out)
    kept = Path(result["seg"]).read_bytes()
    assert result["seg_sha256"] == hashlib.sha256(kept).hexdigest() == Path(result["seg"]).name, \
        "the SEG is kept under the hash of its bytes"
    stored = read_seg(result["seg"], series)
    return result, {d.label: stored.mask(d.number) for d in stored.segments}, stored


def test_totalsegmentator_multilabel_file(case, tmp_path):
    run, url, series, labels = case
    ts = np.zeros(labels.shape, np.uint8)
    ts[np.isin(labels, (1, 2))] = 5  # TotalSegmentator's liver holds its lesions
    half = labels.shape[0] // 2
    ts[:half][labels[:half] == 3], ts[half:][labels[half:] == 3] = 32, 31
    output = write_totalsegmentator_output(tmp_path / "segmentations.nii", ts, series, TOTALSEGMENTATOR_CLASSES)
    mapping = tmp_path / "labels.json"
    mapping.write_text(json.dumps({"vertebrae_L1": "Vertebra", "31": "Vertebra"}))

    result, masks, stored = _draft(run, series, output, "--algorithm", "TotalSegmentator", "--algorithm-version",
                                   "2.4.0", "--labels", mapping, "--drop-unmapped")
    assert sorted(masks) == ["Liver", "Vertebra"]
    assert np.array_equal(masks["Liver"], ts == 5)
    assert np.array_equal(masks["Vertebra"], np.isin(ts, (31, 32))) and masks["Vertebra"].any()
    by_structure = {e["structure"]: e for e in result["structures"]}
    assert by_structure["Liver"]["labels"] == [{"name": "liver", "values": [5], "matched_by": "name"}]
    assert {e["matched_by"] for e in by_structure["Vertebra"]["labels"]} == {"labels option"}
    assert {d["name"] for d in result["dropped"]} == {"spleen", "kidney_right", "kidney_left", "gallbladder",
                                                      "stomach", "pancreas"}
    assert result["segmentation_type"] == "BINARY" and result["uncertainty"] is None
    assert "NIfTI header" in result["source"]["label_table"]

    # The draft is a conformant SEG of AUTOMATIC segments naming the algorithm and its version, as others read it.
    assert dciodvfy_errors(Path(result["seg"])) == []
    ds = pydicom.dcmread(result["seg"])
    for item in ds.SegmentSequence:
        assert item.SegmentAlgorithmType == "AUTOMATIC" and item.SegmentAlgorithmName == "TotalSegmentator"
        identification = item.SegmentationAlgorithmIdentificationSequence[0]
        assert (identification.AlgorithmName, identification.AlgorithmVersion) == ("TotalSegmentator", "2.4.0")
        assert identification.AlgorithmFamilyCodeSequence[0].CodeMeaning == "Artificial Intelligence"
    import highdicom as hd

    read = hd.seg.Segmentation.from_dataset(ds)
    assert {read.get_segment_description(n).algorithm_type.value for n in read.segment_numbers} == {"AUTOMATIC"}
    assert [d.algorithm_version for d in stored.segments] == ["2.4.0", "2.4.0"]

    # The case shows it; the store keeps its own copy and audits the import with the model's output's hash.
    status, out, _ = run("case", "show", "1", "--json")
    shown = json.loads(out)["drafts"]
    assert [(d["algorithm"], d["algorithm_version"], d["structures"]) for d in shown] == [
        ("TotalSegmentator", "2.4.0", ["Liver", "Vertebra"])]
    audit = [row for row in dump_tables(url)["audit_log"] if row[3] == "draft.import"]
    assert len(audit) == 1 and "model_output" in audit[0][8]


def test_an_unmapped_label_is_an_error_naming_it_and_the_protocols_structures(case, tmp_path):
    run, url, series, labels = case
    ts = np.where(np.isin(labels, (1, 2)), 5, np.where(labels == 3, 32, 0)).astype(np.uint8)
    output = write_totalsegmentator_output(tmp_path / "segmentations.nii", ts, series, TOTALSEGMENTATOR_CLASSES)
    before = dump_tables(url)
    status, out, err = run("draft", "import", "1", output, "--algorithm", "TotalSegmentator",
                           "--algorithm-version", "2.4.0")
    lines = err.strip().splitlines()
    assert status == 1 and out == "" and len(lines) == 1 and lines[0].startswith("error: "), err
    assert "label 1 'spleen'" in lines[0] and "label 32 'vertebrae_L1'" in lines[0]
    assert "'Liver', 'Liver lesion', 'Vertebra'" in lines[0] and "--drop-unmapped" in lines[0]
    after = dump_tables(url)
    for table, rows in after.items():
        if table not in ("audit_log", "audit_head"):
            assert rows == before[table], f"a refused import changed {table}"
    assert not (tmp_path / "review-files" / "sha256").exists(), "a refused import kept a file"

    mapping = tmp_path / "labels.json"
    for content, fragment in (({"vertebrae_L9": "Vertebra"}, "'vertebrae_L9', which is no label of segmentations"),
                              ({"vertebrae_L1": "Spine"}, "'Spine', which is no volume or contour structure")):
        mapping.write_text(json.dumps(content))
        status, _, err = run("draft", "import", "1", output, "--algorithm", "TS", "--algorithm-version", "2",
                             "--labels", mapping, "--drop-unmapped")
        assert status == 1 and fragment in err, err

    no_table = tmp_path / "prediction.nii.gz"
    write_image(ts, series.geometry, no_table)
    status, _, err = run("draft", "import", "1", no_table, "--algorithm", "TS", "--algorithm-version", "2")
    assert status == 1 and "carries no label table" in err and "--label-table" in err


def test_nnunet_predictions_plain_and_region_based(case, tmp_path):
    run, _, series, labels = case
    prediction = np.where(labels == 3, 0, labels).astype(np.uint8)  # nnU-Net writes it with SimpleITK, uint8
    write_image(prediction, series.geometry, tmp_path / "liver_001.nii.gz")
    dataset = {"channel_names": {"0": "CT"}, "labels": {"background": 0, "liver": 1, "tumor": 2},
               "numTraining": 131, "file_ending": ".nii.gz"}
    (tmp_path / "dataset.json").write_text(json.dumps(dataset))
    mapping = tmp_path / "labels.json"
    mapping.write_text(json.dumps({"2": "Liver lesion"}))
    result, masks, _ = _draft(run, series, tmp_path / "liver_001.nii.gz", "--algorithm", "nnUNet 3d_fullres",
                              "--algorithm-version", "2.5.1", "--label-table", tmp_path / "dataset.json", "--labels",
                              mapping)
    assert np.array_equal(masks["Liver"], prediction == 1) and np.array_equal(masks["Liver lesion"], prediction == 2)
    assert "nnU-Net dataset.json labels" in result["source"]["label_table"]

    # Region-based: "liver" is the region of values 1 and 2, so its segment holds the lesion too (they overlap).
    dataset.update(labels={"background": 0, "liver": [1, 2], "tumor": 2}, regions_class_order=[1, 2])
    (tmp_path / "dataset.json").write_text(json.dumps(dataset))
    mapping.write_text(json.dumps({"tumor": "Liver lesion"}))
    result, masks, _ = _draft(run, series, tmp_path / "liver_001.nii.gz", "--algorithm", "nnUNet regions",
                              "--algorithm-version", "2.5.1", "--label-table", tmp_path / "dataset.json", "--labels",
                              mapping)
    assert np.array_equal(masks["Liver"], np.isin(prediction, (1, 2)))
    assert np.array_equal(masks["Liver lesion"], prediction == 2)
    assert (masks["Liver"] & masks["Liver lesion"]).any()


def test_monai_bundle_label_map_and_probabilities(case, tmp_path):
    _monai()
    run, _, series, labels = case
    bundle = tmp_path / "liver_ct_segmentation"
    monai_metadata(bundle, {"0": "background", "1": "liver", "2": "liver tumor"})
    liver_only = np.where(labels == 3, 0, labels)
    write_monai_output(tmp_path / "image_seg.nii.gz", liver_only[None].astype(np.uint8), series)
    mapping = tmp_path / "labels.json"
    mapping.write_text(json.dumps({"liver tumor": "Liver lesion"}))
    result, masks, _ = _draft(run, series, tmp_path / "image_seg.nii.gz", "--algorithm", "liver_ct_segmentation",
                              "--algorithm-version", "0.1.0", "--label-table", bundle, "--labels", mapping)
    assert np.array_equal(masks["Liver"], liver_only == 1) and np.array_equal(masks["Liver lesion"], liver_only == 2)
    assert "MONAI bundle metadata" in result["source"]["label_table"]

    # Kept before the argmax: a softmax of three channels, a 4D NIfTI; the draft keeps the probabilities.
    rng = np.random.default_rng(3)
    logits = np.stack([np.zeros(labels.shape), 4.0 * (liver_only == 1) - 2, 4.0 * (liver_only == 2) - 2])
    probabilities = softmax(logits + rng.normal(0, 1.0, logits.shape))
    write_monai_output(tmp_path / "image_prob.nii.gz", probabilities, series)
    result, fractions, stored = _draft(run, series, tmp_path / "image_prob.nii.gz", "--algorithm", "liver_ct",
                                       "--algorithm-version", "0.1.0", "--label-table", bundle, "--labels", mapping)
    assert result["segmentation_type"] == "FRACTIONAL" and stored.kind.value == "FRACTIONAL"
    for structure, channel in (("Liver", 1), ("Liver lesion", 2)):  # 8-bit fractions: within half a step
        assert np.abs(fractions[structure] - probabilities[channel]).max() <= 0.5 / 255 + 1e-6
    predicted = np.concatenate([probabilities[c][probabilities[c] >= 0.5] for c in (1, 2)])
    expected = float(binary_entropy(predicted).mean())
    independent = float(np.mean([-(p * np.log2(p) + (1 - p) * np.log2(1 - p)) if 0 < p < 1 else 0.0
                                 for p in predicted.astype(np.float64)]))
    assert result["uncertainty"]["mean_entropy_bits"] == pytest.approx(independent, abs=1e-6)
    assert expected == pytest.approx(independent, abs=1e-9)


def test_nnunet_probabilities_npz(case, tmp_path):
    run, _, series, labels = case
    rng = np.random.default_rng(5)
    liver_only = np.where(labels == 3, 0, labels)
    logits = np.stack([np.zeros(labels.shape), 3.0 * (liver_only == 1) - 1, 3.0 * (liver_only == 2) - 1.5])
    probabilities = softmax(logits + rng.normal(0, 0.7, logits.shape))
    np.savez_compressed(tmp_path / "liver_001.npz", probabilities=probabilities)
    (tmp_path / "dataset.json").write_text(json.dumps({"channel_names": {"0": "CT"}, "file_ending": ".nii.gz",
                                                       "labels": {"background": 0, "liver": 1, "tumour": 2}}))
    mapping = tmp_path / "labels.json"
    mapping.write_text(json.dumps({"tumour": "Liver lesion"}))
    result, fractions, _ = _draft(run, series, tmp_path / "liver_001.npz", "--algorithm", "nnUNet",
                                  "--algorithm-version", "2.5.1", "--label-table", tmp_path / "dataset.json",
                                  "--labels", mapping)
    assert result["source"]["form"] == "nnU-Net probabilities (.npz)"
    for structure, channel in (("Liver", 1), ("Liver lesion", 2)):
        assert np.abs(fractions[structure] - probabilities[channel]).max() <= 0.5 / 255 + 1e-6


def test_a_seg_from_another_ai_tool_maps_by_code_then_by_name(case, tmp_path):
    import highdicom as hd
    from DICOMAnnotatorLib.dicom import Code

    run, _, series, labels = case
    liver_code = Code("10200004", "SCT", "Liver")
    descriptions = [
        hd.seg.SegmentDescription(  # the protocol's codes, another label: found by code
            1, "liver parenchyma", hd.sr.CodedConcept("91723000", "SCT", "Anatomical Structure"),
            hd.sr.CodedConcept(liver_code.value, liver_code.scheme, liver_code.meaning),
            hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
            hd.AlgorithmIdentificationSequence("WholeBodyCT", hd.sr.CodedConcept("123110", "DCM",
                                                                                 "Artificial Intelligence"), "3.1")),
        hd.seg.SegmentDescription(  # other codes (SNOMED's older category), the protocol's name: found by name
            2, "Vertebra", hd.sr.CodedConcept("123037004", "SCT", "Anatomical Structure"),
            hd.sr.CodedConcept("51282000", "SCT", "Vertebra"), hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
            hd.AlgorithmIdentificationSequence("WholeBodyCT", hd.sr.CodedConcept("123110", "DCM",
                                                                                 "Artificial Intelligence"), "3.1"))]
    masks = np.stack([np.isin(labels, (1, 2)), labels == 3], axis=-1).astype(np.uint8)
    seg = hd.seg.Segmentation(
        source_images=series.datasets, pixel_array=masks, segmentation_type="BINARY",
        segment_descriptions=descriptions, series_instance_uid=hd.UID(), series_number=300,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="Some AI vendor", manufacturer_model_name="WB",
        software_versions="3.1", device_serial_number="1")
    seg.save_as(tmp_path / "ai.seg.dcm")
    result, drafted, _ = _draft(run, series, tmp_path / "ai.seg.dcm", "--algorithm", "WholeBodyCT",
                                "--algorithm-version", "3.1")
    assert {e["structure"]: e["labels"][0]["matched_by"] for e in result["structures"]} == {
        "Liver": "code", "Vertebra": "name"}
    assert np.array_equal(drafted["Liver"], masks[..., 0] == 1) and np.array_equal(drafted["Vertebra"], labels == 3)


@pytest.mark.shared_data
def test_a_real_dcmqi_seg_maps_by_name(cli, tmp_path):
    """dcmqi's liver SEG (codes SRT T-62000, category Tissue) on its real CT: the protocol's Liver by name."""
    seg = third_party_file("dcmqi/segmentations/liver.dcm")
    images = third_party_file("dcmqi/segmentations/ct-3slice")
    truth = third_party_file("dcmqi/segmentations/liver_seg.nrrd")
    url = f"sqlite:///{tmp_path / 'review.db'}"
    for args in (("user", "add", "lead", "--role", "lead"),
                 ("project", "create", "liver", "--protocol", "liver-lesions-ct", "--user", "lead"),
                 ("case", "add", "liver", images, "--user", "lead")):
        assert cli(*args, "--store", url)[0] == 0
    status, out, err = cli("draft", "import", "1", seg, "--algorithm", "SlicerEditor", "--algorithm-version", "4.8",
                           "--store", url, "--user", "lead", "--json")
    assert status == 0, err
    result = json.loads(out)
    series = ReferenceSeries.from_paths([images])
    drafted = read_seg(result["seg"], series)
    from DICOMAnnotatorLib.imaging.image_files import read_on_grid

    assert [d.label for d in drafted.segments] == ["Liver"]
    assert np.array_equal(drafted.mask(1), read_on_grid(truth, series.geometry) != 0)
    assert result["structures"][0]["labels"][0]["matched_by"] == "name"
