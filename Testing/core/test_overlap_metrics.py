"""Overlap and surface-distance metrics against hand-computed values, SimpleITK and brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest
import SimpleITK as sitk
from DICOMAnnotatorLib.agreement.overlap import compare_masks
from DICOMAnnotatorLib.imaging.masks import surface_of
from scipy.spatial import cKDTree

SPACING = (2.0, 1.0, 0.5)  # (k, j, i) mm: anisotropic on purpose
SHAPE = (30, 40, 50)


def cube(k0, j0, i0, size=10):
    mask = np.zeros(SHAPE, dtype=bool)
    mask[k0:k0 + size, j0:j0 + size, i0:i0 + size] = True
    return mask


def sphere(centre_mm, radius_mm, shape=(60, 60, 60), spacing=(1.0, 1.0, 1.0)):
    grid = np.indices(shape).astype(float) * np.asarray(spacing)[:, None, None, None]
    distance = np.sqrt(sum((grid[n] - centre_mm[n]) ** 2 for n in range(3)))
    return distance <= radius_mm


def brute_force_distances(a, b, spacing):
    """Directed surface distances by nearest-neighbour search over surface voxel centres (mm)."""
    points_a = np.argwhere(surface_of(a)) * np.asarray(spacing)
    points_b = np.argwhere(surface_of(b)) * np.asarray(spacing)
    return cKDTree(points_b).query(points_a)[0], cKDTree(points_a).query(points_b)[0]


def sitk_image(mask, spacing_kji):
    image = sitk.GetImageFromArray(mask.astype(np.uint8))
    image.SetSpacing(tuple(reversed(spacing_kji)))
    return image


def test_shifted_cubes_by_hand():
    a, b = cube(10, 10, 10), cube(10, 10, 12)  # shifted 2 columns = 1 mm
    m = compare_masks(a, b, SPACING)
    assert m.dice == pytest.approx(2 * 800 / 2000)
    assert m.jaccard == pytest.approx(800 / 1200)
    assert m.volume_a_ml == pytest.approx(1000 * 2 * 1 * 0.5 / 1000)
    assert m.volume_diff_ml == 0 and m.volume_diff_percent == 0
    assert m.hausdorff_mm == pytest.approx(1.0)
    assert 0 < m.assd_mm < m.hd95_mm <= m.hausdorff_mm


def test_shift_along_the_coarse_axis_counts_its_spacing():
    m = compare_masks(cube(10, 10, 10), cube(12, 10, 10), SPACING)  # 2 slices = 4 mm
    assert m.hausdorff_mm == pytest.approx(4.0)


def test_agrees_with_simpleitk_overlap_and_hausdorff():
    a, b = cube(5, 8, 10, size=12), cube(7, 9, 14, size=9)
    m = compare_masks(a, b, SPACING)
    overlap = sitk.LabelOverlapMeasuresImageFilter()
    overlap.Execute(sitk_image(a, SPACING), sitk_image(b, SPACING))
    assert m.dice == pytest.approx(overlap.GetDiceCoefficient(), abs=1e-12)
    assert m.jaccard == pytest.approx(overlap.GetJaccardCoefficient(), abs=1e-12)
    hausdorff = sitk.HausdorffDistanceImageFilter()
    hausdorff.Execute(sitk_image(a, SPACING), sitk_image(b, SPACING))
    # Voxel-set and surface Hausdorff coincide for convex shapes like these boxes.
    assert m.hausdorff_mm == pytest.approx(hausdorff.GetHausdorffDistance(), abs=1e-6)


def test_hd95_and_assd_match_brute_force_on_irregular_shapes():
    rng = np.random.default_rng(1)
    a = sphere((30, 30, 30), 14) & (rng.random((60, 60, 60)) > 0.05)
    b = sphere((33, 28, 30), 12)
    spacing = (1.5, 0.8, 0.6)
    m = compare_masks(a, b, spacing)
    a_to_b, b_to_a = brute_force_distances(a, b, spacing)
    assert m.hausdorff_mm == pytest.approx(max(a_to_b.max(), b_to_a.max()), abs=1e-9)
    assert m.hd95_mm == pytest.approx(max(np.percentile(a_to_b, 95), np.percentile(b_to_a, 95)), abs=1e-9)
    assert m.assd_mm == pytest.approx((a_to_b.sum() + b_to_a.sum()) / (a_to_b.size + b_to_a.size), abs=1e-9)


def test_spheres_at_a_known_offset_match_geometry():
    radius, offset = 15.0, 6.0
    a = sphere((30, 30, 30), radius)
    b = sphere((30, 30, 30 + offset), radius)
    m = compare_masks(a, b, (1.0, 1.0, 1.0))
    lens = math.pi * (4 * radius + offset) * (2 * radius - offset) ** 2 / 12
    assert m.dice == pytest.approx(lens / (4 / 3 * math.pi * radius**3), rel=0.02)
    assert m.hausdorff_mm == pytest.approx(offset, abs=1.0)


def test_empty_cases_are_defined():
    empty = np.zeros(SHAPE, dtype=bool)
    both = compare_masks(empty, empty, SPACING)
    assert (both.dice, both.jaccard, both.hausdorff_mm, both.hd95_mm, both.assd_mm) == (1.0, 1.0, 0, 0, 0)
    one = compare_masks(cube(0, 0, 0), empty, SPACING)
    assert one.dice == 0 and one.jaccard == 0
    assert one.hausdorff_mm is None and one.hd95_mm is None and one.assd_mm is None
    assert one.volume_diff_percent == pytest.approx(-200.0)
    assert one.to_json()["hd95_mm"] is None


def test_masks_touching_the_grid_edge():
    a, b = cube(0, 0, 0), cube(0, 0, 1)
    m = compare_masks(a, b, SPACING)
    assert m.hausdorff_mm == pytest.approx(0.5)
