"""Consensus (majority, STAPLE) and segmentation agreement across annotators."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from DICOMAnnotatorLib.agreement.consensus import build_consensus
from DICOMAnnotatorLib.agreement.overlap import compare_masks
from DICOMAnnotatorLib.agreement.segmentations import segmentation_agreement
from DICOMAnnotatorLib.dicom.codes import Code
from DICOMAnnotatorLib.errors import GeometryMismatchError, SegmentationError
from DICOMAnnotatorLib.imaging.geometry import VolumeGeometry
from DICOMAnnotatorLib.imaging.segmentation import AlgorithmType, MaskKind, Segmentation, SegmentDescription
from synthetic_annotators import GRID, LESION, LIVER, TRUTH, annotator, ellipsoid


def test_staple_equals_simpleitk_and_ranks_annotators_by_quality():
    inputs = [annotator(p, seed) for p, seed in ((0.2, 3), (0.05, 1), (0.4, 2))]
    result = build_consensus(inputs, ["mid", "good", "bad"], method="staple", kind=MaskKind.FRACTIONAL)
    staple = sitk.STAPLEImageFilter()
    staple.SetForegroundValue(1)
    expected = sitk.GetArrayFromImage(staple.Execute([sitk.GetImageFromArray(s.mask(1).astype(np.uint8))
                                                      for s in inputs]))
    annotators = result.segments[0].annotators
    np.testing.assert_allclose([a.sensitivity for a in annotators], staple.GetSensitivity(), atol=1e-9)
    np.testing.assert_allclose([a.specificity for a in annotators], staple.GetSpecificity(), atol=1e-9)
    assert result.segments[0].iterations == staple.GetElapsedIterations()
    labelled = sum(s.mask(1) for s in inputs) > 0
    np.testing.assert_allclose(result.segmentation.mask(1)[labelled], expected[labelled], atol=1e-6)
    assert expected[~labelled].max() < 0.5 and result.segmentation.mask(1)[~labelled].max() == 0
    quality = {a.input: a.sensitivity + a.specificity for a in annotators}
    assert quality["good"] > quality["mid"] > quality["bad"]
    binary = build_consensus(inputs, ["mid", "good", "bad"], method="staple")
    assert binary.segmentation.kind is MaskKind.BINARY
    np.testing.assert_array_equal(binary.segmentation.mask(1), result.segmentation.mask(1) > 0.5)
    def dice_to_truth(mask):
        return 2 * (mask & TRUTH).sum() / (mask.sum() + TRUTH.sum())

    assert dice_to_truth(binary.segmentation.mask(1)) > max(dice_to_truth(s.mask(1)) for s in inputs[::2])


def test_majority_vote_equals_simpleitk_label_voting_and_records_provenance():
    inputs = [annotator(p, seed) for p, seed in ((0.3, 4), (0.3, 5), (0.3, 6))]
    names = ["a.dcm", "b.dcm", "c.dcm"]
    result = build_consensus(inputs, names, method="majority", threshold=0.5, author="Lead^Pat")
    voting = sitk.LabelVotingImageFilter()
    voting.SetLabelForUndecidedPixels(0)
    expected = sitk.GetArrayFromImage(voting.Execute([sitk.GetImageFromArray(s.mask(1).astype(np.uint8))
                                                      for s in inputs]))
    np.testing.assert_array_equal(result.segmentation.mask(1), expected == 1)
    seg = result.segmentation
    assert seg.provenance.derived_from == ("a.dcm", "b.dcm", "c.dcm")
    assert "majority" in seg.provenance.method and seg.author == "Lead^Pat"
    description = seg.segment(1)
    assert description.type == LIVER.type and description.algorithm_type is AlgorithmType.SEMIAUTOMATIC
    payload = result.to_json()
    assert payload["method"] == "majority" and payload["segments"][0]["type"] == ["10200004", "SCT", "Liver"]
    assert "sensitivity" not in payload["segments"][0]["annotators"][0]


def test_segments_are_matched_by_code_not_by_label_or_number():
    lesion = ellipsoid((16, 20, 20), (3, 3, 3))
    first = annotator(0.0, 1, (LIVER, LESION), extra=lesion)
    renamed_liver = SegmentDescription(5, "liver (final)", LIVER.category, LIVER.type)
    renamed_lesion = SegmentDescription(1, "nodule?", LESION.category, LESION.type)
    second = annotator(0.0, 1, (renamed_liver, renamed_lesion), extra=lesion)
    result = build_consensus([first, second], ["a", "b"], method="majority", threshold=0.0)
    assert [s.type for s in result.segmentation.segments] == [LIVER.type, LESION.type]
    np.testing.assert_array_equal(result.segmentation.mask(2), lesion)


def test_mismatched_codes_and_grids_are_refused():
    other = SegmentDescription(1, "Liver", LIVER.category, Code("39607008", "SCT", "Lung"))
    with pytest.raises(SegmentationError, match=r"Segment .*Liver.* is missing from b; .*same protocol"):
        build_consensus([annotator(0, 1), annotator(0, 1, (other,))], ["a", "b"])
    moved = GRID.affine.copy()
    moved[:3, 3] += 1.0
    shifted = Segmentation(VolumeGeometry(GRID.size, moved), [LIVER], {})
    with pytest.raises(GeometryMismatchError, match="b does not lie on the series geometry"):
        build_consensus([annotator(0, 1), shifted], ["a", "b"])
    with pytest.raises(SegmentationError, match=r"threshold must be in \[0, 1\)"):
        build_consensus([annotator(0, 1), annotator(0, 2)], ["a", "b"], threshold=1.0)


def test_agreement_pairs_and_versus_consensus():
    inputs = [annotator(0.05, 1), annotator(0.2, 2), annotator(0.0, 0)]
    consensus = build_consensus(inputs, ["a", "b", "c"], method="majority").segmentation
    report = segmentation_agreement(inputs, ["a", "b", "c"], reference=consensus)
    payload = report.to_json()
    assert payload["inputs"] == ["a", "b", "c"] and payload["reference"] == "consensus"
    segment = payload["segments"][0]
    assert [(p["a"], p["b"]) for p in segment["pairs"]] == [(0, 1), (0, 2), (1, 2)]
    pair = segment["pairs"][1]
    assert set(pair) >= {"a", "b", "dice", "jaccard", "volume_diff_ml", "hausdorff_mm", "hd95_mm", "assd_mm"}
    direct = compare_masks(inputs[0].mask(1), inputs[2].mask(1), tuple(reversed(GRID.spacing)))
    assert pair["dice"] == pytest.approx(direct.dice, abs=1e-6)
    assert pair["hd95_mm"] == pytest.approx(direct.hd95_mm, abs=1e-6)
    assert pair["assd_mm"] == pytest.approx(direct.assd_mm, abs=1e-6)
    versus = segment["versus_reference"]
    assert versus[2]["dice"] > versus[1]["dice"]


def test_agreement_when_one_annotator_found_nothing():
    lesion = ellipsoid((16, 20, 20), (3, 3, 3))
    with_lesion = annotator(0.0, 1, (LIVER, LESION), extra=lesion)
    without = annotator(0.0, 1)
    report = segmentation_agreement([with_lesion, without], ["a", "b"])
    lesion_entry = report.to_json()["segments"][1]
    assert lesion_entry["type"] == ["52988006", "SCT", "Lesion"]
    assert lesion_entry["pairs"][0]["dice"] == 0 and lesion_entry["pairs"][0]["hausdorff_mm"] is None
    empty = Segmentation(GRID, [LESION], {})
    both_empty = segmentation_agreement([empty, empty], ["a", "b"]).to_json()["segments"][0]["pairs"][0]
    assert both_empty["dice"] == 1 and both_empty["hd95_mm"] == 0

