"""Segmentation: masks on a grid, label maps, overlaps, validation of descriptions."""

from __future__ import annotations

import numpy as np
import pytest
from DICOMAnnotatorLib.dicom.codes import Code
from DICOMAnnotatorLib.errors import GeometryMismatchError, SegmentationError
from DICOMAnnotatorLib.imaging import phantoms
from DICOMAnnotatorLib.imaging.geometry import VolumeGeometry
from DICOMAnnotatorLib.imaging.segmentation import AlgorithmType, MaskKind, Segmentation, SegmentDescription
from DICOMAnnotatorLib.imaging.series import ReferenceSeries

GRID = VolumeGeometry.from_axes((10, 8, 6), (0, 0, 0), (0.5, 0.5, 2.0), np.eye(3))


def _box_mask(k0, k1, j0, j1, i0, i1):
    mask = np.zeros(GRID.array_shape, dtype=bool)
    mask[k0:k1, j0:j1, i0:i1] = True
    return mask


def test_labelmap_round_trip_and_volumes():
    labels = np.zeros(GRID.array_shape, dtype=np.uint8)
    labels[1:3, 2:4, 2:6] = 1
    labels[4, 0, 0] = 7
    segments = [SegmentDescription(1, "A"), SegmentDescription(7, "B"), SegmentDescription(9, "Empty")]
    seg = Segmentation.from_labelmap(GRID, labels, segments)
    np.testing.assert_array_equal(seg.to_labelmap(), labels)
    assert [s.number for s in seg.segments] == [1, 7, 9]
    assert seg.voxel_count(1) == 16 and seg.voxel_count(7) == 1 and seg.voxel_count(9) == 0
    assert seg.volume_ml(1) == pytest.approx(16 * 0.5 * 0.5 * 2.0 / 1000)
    assert seg.bounding_box(9) is None
    assert seg.bounding_box(1) == (slice(1, 3), slice(2, 4), slice(2, 6))
    np.testing.assert_array_equal(seg.mask(7), labels == 7)
    assert not seg.has_overlaps()


def test_unknown_label_values_are_refused_or_made_generic():
    labels = np.zeros(GRID.array_shape, dtype=np.int16)
    labels[0, 0, 0] = 3
    with pytest.raises(SegmentationError, match=r"Label values \[3\] have no segment description"):
        Segmentation.from_labelmap(GRID, labels, [SegmentDescription(1, "A")])
    seg = Segmentation.from_labelmap(GRID, labels, [SegmentDescription(1, "A")], allow_unknown_labels=True)
    assert seg.segment(3).label == "Segment 3"
    assert seg.segment(3).type == Code("85756007", "SCT", "Tissue")


def test_overlaps_are_kept_as_masks_but_refused_as_labelmap():
    segments = [SegmentDescription(1, "Organ"), SegmentDescription(2, "Lesion")]
    masks = {1: _box_mask(0, 4, 0, 4, 0, 4), 2: _box_mask(2, 5, 2, 5, 2, 5)}
    seg = Segmentation(GRID, segments, masks)
    assert seg.has_overlaps()
    np.testing.assert_array_equal(seg.mask(2), masks[2])
    with pytest.raises(SegmentationError, match=r"Segments 1 \('Organ'\) and 2 \('Lesion'\) overlap"):
        seg.to_labelmap()


def test_fractional_masks_keep_fractions():
    probabilities = np.zeros(GRID.array_shape, dtype=np.float32)
    probabilities[1, 1, 1:4] = [0.25, 0.5, 1.0]
    seg = Segmentation(GRID, [SegmentDescription(1, "P")], {1: probabilities}, kind=MaskKind.FRACTIONAL)
    np.testing.assert_array_equal(seg.mask(1), probabilities)
    assert seg.volume_ml(1) == pytest.approx(1.75 * GRID.voxel_volume_mm3 / 1000)
    with pytest.raises(SegmentationError, match=r"must hold values in \[0, 1\]"):
        Segmentation(GRID, [SegmentDescription(1, "P")], {1: probabilities * 2}, kind="FRACTIONAL")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"number": 0, "label": "x"}, "Segment numbers must be integers from 1, found 0"),
    ({"number": 1, "label": " "}, "needs a non-empty label"),
    ({"number": 1, "label": "x", "color": (0, 300, 0)}, r"has colour \(0, 300, 0\); give 3 integers in 0..255"),
    ({"number": 1, "label": "x", "algorithm_type": "automatic"}, "is AUTOMATIC: name its algorithm"),
])
def test_segment_description_validation(kwargs, message):
    with pytest.raises(SegmentationError, match=message):
        SegmentDescription(**kwargs)


def test_description_accepts_algorithm_strings():
    description = SegmentDescription(1, "x", algorithm_type="semiautomatic", algorithm_name="Grow from seeds")
    assert description.algorithm_type is AlgorithmType.SEMIAUTOMATIC


def test_mask_validation_names_the_segment():
    segments = [SegmentDescription(1, "Liver"), SegmentDescription(1, "Again")]
    with pytest.raises(SegmentationError, match=r"unique, found \[1\]"):
        Segmentation(GRID, segments, {})
    with pytest.raises(SegmentationError, match=r"mask of segment 1 \('Liver'\) has array shape \[6, 8, 9\]"):
        Segmentation(GRID, segments[:1], {1: np.zeros((6, 8, 9), bool)})
    with pytest.raises(SegmentationError, match=r"mask of segment 1 \('Liver'\) holds values other than 0 and 1"):
        Segmentation(GRID, segments[:1], {1: np.full(GRID.array_shape, 2)})
    with pytest.raises(SegmentationError, match=r"Masks given for segments \[4\]"):
        Segmentation(GRID, segments[:1], {4: np.zeros(GRID.array_shape, bool)})
    with pytest.raises(SegmentationError, match="no segment 5"):
        Segmentation(GRID, segments[:1], {}).mask(5)


def test_reference_series_grid_must_match():
    geometry = phantoms.phantom_geometry(size=(10, 8, 6))
    hu, labels = phantoms.phantom_volume(geometry)
    series = ReferenceSeries.from_datasets(phantoms.ct_datasets(geometry, hu))
    seg = Segmentation.from_labelmap(series.geometry, labels, phantoms.PHANTOM_SEGMENTS, reference=series)
    assert seg.reference is series
    with pytest.raises(GeometryMismatchError, match="corners differ by up to"):
        Segmentation(GRID, [], {}, reference=series)


def test_with_segments_keeps_voxels_and_summary_lists_segments():
    labels = np.zeros(GRID.array_shape, dtype=np.uint8)
    labels[0, 0, :3] = 1
    seg = Segmentation.from_labelmap(GRID, labels, [SegmentDescription(1, "Old")], author="Doe^Jane")
    renamed = seg.with_segments([SegmentDescription(1, "Nodule", type=Code("27925004", "SCT", "Nodule"))])
    assert renamed.voxel_count(1) == 3 and renamed.segment(1).label == "Nodule"
    assert seg.segment(1).label == "Old"
    summary = renamed.summary()
    assert "Nodule" in summary and "3 voxels" in summary and "by Doe^Jane" in summary


def test_cropped_masks_are_placed_on_the_grid_and_trimmed():
    values = np.zeros((2, 3, 4), dtype=bool)
    values[1, 1:3, 2] = True
    seg = Segmentation.from_cropped_masks(GRID, [SegmentDescription(1, "A")],
                                          {1: ((slice(2, 4), slice(1, 4), slice(3, 7)), values)})
    expected = np.zeros(GRID.array_shape, dtype=bool)
    expected[3, 2:4, 5] = True
    np.testing.assert_array_equal(seg.mask(1), expected)
    assert seg.bounding_box(1) == (slice(3, 4), slice(2, 4), slice(5, 6))
    with pytest.raises(SegmentationError, match=r"cropped mask of segment 1 \('A'\) has shape \[2, 3, 4\]"):
        Segmentation.from_cropped_masks(GRID, [SegmentDescription(1, "A")],
                                        {1: ((slice(5, 7), slice(1, 4), slice(3, 7)), values)})


def test_cropped_masks_handed_over_are_kept_unless_trimmed():
    """copy=False: a tight mask of the segmentation's type is kept as given; one to trim is copied (a view would keep
    all of the given array alive); the voxels are the same either way."""
    tight = np.ones((2, 2, 3), dtype=bool)
    loose = np.zeros((2, 3, 4), dtype=bool)
    loose[1, 1:3, 2] = True
    box = (slice(2, 4), slice(1, 4), slice(3, 7))
    seg = Segmentation.from_cropped_masks(GRID, [SegmentDescription(1, "A"), SegmentDescription(2, "B")],
                                          {1: ((slice(1, 3), slice(0, 2), slice(4, 7)), tight), 2: (box, loose)},
                                          copy=False)
    assert seg.cropped_mask(1)[1] is tight and seg.bounding_box(1) == (slice(1, 3), slice(0, 2), slice(4, 7))
    kept = seg.cropped_mask(2)[1]
    assert not np.shares_memory(kept, loose) and seg.bounding_box(2) == (slice(3, 4), slice(2, 4), slice(5, 6))
    copied = Segmentation.from_cropped_masks(GRID, [SegmentDescription(1, "A")], {1: (box, loose)})
    np.testing.assert_array_equal(seg.mask(2), copied.mask(1))
