"""Measurements against values computed by hand on known shapes, and against SimpleITK's label statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import SimpleITK as sitk
from DICOMAnnotatorLib.dicom.codes import Code
from DICOMAnnotatorLib.imaging import phantoms
from DICOMAnnotatorLib.imaging.geometry import VolumeGeometry
from DICOMAnnotatorLib.imaging.segmentation import MaskKind, Segmentation, SegmentDescription
from DICOMAnnotatorLib.imaging.series import ReferenceSeries
from DICOMAnnotatorLib.sr.measurements import measure_segment, measure_segmentation

TUMOUR = SegmentDescription(1, "Tumour", type=Code("108369006", "SCT", "Neoplasm"))
OBLIQUE = phantoms.phantom_geometry(size=(40, 36, 30), spacing=(0.5, 0.75, 2.0), orientation="oblique")


def segmentation_of(mask: np.ndarray, geometry: VolumeGeometry, kind=MaskKind.BINARY) -> Segmentation:
    return Segmentation(geometry, [TUMOUR], {1: mask}, kind=kind)


def test_sphere_volume_and_diameter():
    # Spacing divides the radius on every axis, so the voxel centres at +-R on each axis exist and the
    # maximum centre-to-centre distance is exactly 2R; the oblique grid shows that the affine is used.
    geometry = VolumeGeometry.from_axes((61, 61, 17), (0, 0, 0), (0.5, 0.5, 2.0), OBLIQUE.directions.T)
    radius = 12.0
    k, j, i = np.indices(geometry.array_shape)
    centre = np.array([30, 30, 8])
    squared = ((i - centre[0]) * 0.5) ** 2 + ((j - centre[1]) * 0.5) ** 2 + ((k - centre[2]) * 2.0) ** 2
    sphere = squared <= radius ** 2
    measured = measure_segment(segmentation_of(sphere, geometry), 1)
    assert measured.max_diameter_mm == pytest.approx(2 * radius, abs=1e-9)
    assert measured.voxel_count == int(sphere.sum())
    assert measured.volume_ml == pytest.approx(sphere.sum() * 0.5 * 0.5 * 2.0 / 1000, rel=1e-12)
    assert measured.volume_ml == pytest.approx(4 / 3 * math.pi * radius ** 3 / 1000, rel=0.02)
    assert measured.intensity is None  # no voxels given


def test_box_diagonal_on_an_oblique_grid():
    box = np.zeros(OBLIQUE.array_shape, bool)
    box[4:14, 5:25, 3:33] = True  # 10 slices, 20 rows, 30 columns
    measured = measure_segment(segmentation_of(box, OBLIQUE), 1)
    extent = np.array([29 * 0.5, 19 * 0.75, 9 * 2.0])  # centre to centre along i, j, k
    assert measured.max_diameter_mm == pytest.approx(float(np.linalg.norm(extent)), abs=1e-9)
    assert measured.volume_ml == pytest.approx(30 * 20 * 10 * 0.5 * 0.75 * 2.0 / 1000, rel=1e-12)


@pytest.mark.parametrize(("region", "expected_mm"), [
    ((slice(3, 4), slice(5, 6), slice(7, 8)), 0.0),  # one voxel
    ((slice(3, 4), slice(5, 6), slice(7, 15)), 7 * 0.5),  # a line along i
    ((slice(3, 4), slice(5, 12), slice(7, 15)), math.hypot(7 * 0.5, 6 * 0.75)),  # one slice: a flat set
])
def test_degenerate_shapes(region, expected_mm):
    mask = np.zeros(OBLIQUE.array_shape, bool)
    mask[region] = True
    assert measure_segment(segmentation_of(mask, OBLIQUE), 1).max_diameter_mm == pytest.approx(expected_mm, abs=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_diameter_of_irregular_shapes_is_the_largest_distance_between_any_two_voxel_centres(seed):
    """Blobs with holes, spurs and several parts: the hull of the line ends and the pruned pairs give exactly
    what comparing every pair of voxel centres gives."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(OBLIQUE.array_shape, bool)
    for _ in range(rng.integers(1, 5)):
        k, j, i = (rng.integers(2, n - 6) for n in OBLIQUE.array_shape)
        mask[k:k + rng.integers(1, 5), j:j + rng.integers(1, 9), i:i + rng.integers(1, 9)] = True
    mask &= rng.random(mask.shape) > 0.2
    if not mask.any():
        mask[5, 5, 5] = True
    centres = OBLIQUE.index_to_lps(np.argwhere(mask)[:, ::-1].astype(float))
    expected = max(float(np.linalg.norm(centres[:, None] - centres[None], axis=2).max()), 0.0)
    assert measure_segment(segmentation_of(mask, OBLIQUE), 1).max_diameter_mm == pytest.approx(expected, abs=1e-9)


def test_empty_segment_has_zero_volume_and_no_shape():
    measured = measure_segment(segmentation_of(np.zeros(OBLIQUE.array_shape, bool), OBLIQUE), 1)
    assert (measured.voxel_count, measured.volume_ml, measured.max_diameter_mm, measured.intensity) == (0, 0.0, None,
                                                                                                         None)


def test_fractional_volume_is_weighted_and_shape_and_intensity_use_half_or_more():
    fractions = np.zeros(OBLIQUE.array_shape, np.float32)
    fractions[5, 10, 10:20] = 1.0  # 10 voxels inside
    fractions[5, 10, 20] = 0.5  # inside (at the threshold)
    fractions[5, 10, 21:30] = 0.25  # outside for shape and intensity, counted in the volume
    voxels = np.zeros(OBLIQUE.array_shape, np.int16)
    voxels[5, 10, 10:21] = 40
    voxels[5, 10, 21:30] = -1000
    measured = measure_segment(segmentation_of(fractions, OBLIQUE, MaskKind.FRACTIONAL), 1, voxels)
    voxel_ml = 0.5 * 0.75 * 2.0 / 1000
    assert measured.volume_ml == pytest.approx((10 + 0.5 + 9 * 0.25) * voxel_ml, rel=1e-6)
    assert measured.voxel_count == 11
    assert measured.max_diameter_mm == pytest.approx(10 * 0.5, abs=1e-9)
    assert (measured.intensity.minimum, measured.intensity.maximum, measured.intensity.std) == (40, 40, 0)


def test_hu_statistics_on_a_known_phantom_read_from_dicom(tmp_path):
    """A checkerboard of -100 and 300 HU written as CT files: mean 100, std 200, min -100, max 300."""
    geometry = phantoms.phantom_geometry(size=(20, 16, 8))
    hu = np.full(geometry.array_shape, -1000, np.int16)
    k, j, i = np.indices(geometry.array_shape)
    inside = (k >= 2) & (k < 6) & (j >= 4) & (j < 12) & (i >= 5) & (i < 15)
    hu[inside] = np.where((i + j + k) % 2 == 0, -100, 300)[inside]
    phantoms.write_datasets(phantoms.ct_datasets(geometry, hu), tmp_path / "ct")
    series = ReferenceSeries.from_paths(tmp_path / "ct")
    segmentation = Segmentation(series.geometry, [TUMOUR], {1: inside}, reference=series)
    (measured,) = measure_segmentation(segmentation, series.read_voxels())
    statistics = measured.intensity
    assert (statistics.mean, statistics.std, statistics.minimum, statistics.maximum) == (100.0, 200.0, -100.0, 300.0)
    assert measured.max_diameter_mm == pytest.approx(math.sqrt((9 * 0.9) ** 2 + (7 * 0.7) ** 2 + (3 * 2.5) ** 2))


def test_agrees_with_simpleitk_label_statistics():
    """SimpleITK's Feret diameter is also the largest distance between voxel centres: the same number."""
    hu, labels = phantoms.phantom_volume(OBLIQUE)
    segmentation = Segmentation.from_labelmap(OBLIQUE, labels, phantoms.PHANTOM_SEGMENTS)
    ours = {m.number: m for m in measure_segmentation(segmentation, hu)}
    label_image = OBLIQUE.apply_to_sitk(sitk.GetImageFromArray(labels))
    image = OBLIQUE.apply_to_sitk(sitk.GetImageFromArray(hu.astype(np.float64)))
    shape = sitk.LabelShapeStatisticsImageFilter()
    shape.ComputeFeretDiameterOn()
    shape.Execute(label_image)
    intensity = sitk.LabelStatisticsImageFilter()
    intensity.Execute(image, label_image)
    for number, measured in ours.items():
        count = measured.voxel_count
        assert measured.max_diameter_mm == pytest.approx(shape.GetFeretDiameter(number), rel=1e-9)
        assert measured.volume_ml == pytest.approx(shape.GetPhysicalSize(number) / 1000, rel=1e-9)
        assert measured.intensity.mean == pytest.approx(intensity.GetMean(number), rel=1e-9)
        assert (measured.intensity.minimum, measured.intensity.maximum) == (intensity.GetMinimum(number),
                                                                            intensity.GetMaximum(number))
        # SimpleITK's sigma is the sample standard deviation (ddof 1); ours is the population one.
        assert measured.intensity.std == pytest.approx(intensity.GetSigma(number) * math.sqrt((count - 1) / count),
                                                       rel=1e-9)
