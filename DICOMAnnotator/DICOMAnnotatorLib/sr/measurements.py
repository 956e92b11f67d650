"""Per-segment measurements from calibrated spacing: volume, maximum 3D diameter, intensity statistics.

Definitions (written to the SR, so they are fixed here once):

- ``volume_ml``: voxel count times the voxel volume (the determinant of the series affine).
- ``max_diameter_mm``: the largest distance between the centres of two voxels of the segment,
  in patient millimetres (the "maximum Feret diameter" of ITK and Slicer's Segment Statistics,
  which measure between voxel centres too). It is exact, not sampled: the farthest pair of a
  point set lies on its convex hull, so only the voxels that end their row, column and slice
  line (the only ones that can be its vertices) are considered, pruned by the triangle
  inequality, and of many the hull's vertices alone are compared pairwise. Centres rather than voxel corners: on a
  sphere, corners overestimate the diameter by about one voxel diagonal, centres are within
  a fraction of a voxel.
- ``intensity``: mean, minimum, maximum and population standard deviation (ddof 0) of the
  series values in the segment, in modality units (Hounsfield units on CT).
- colour series (RGB, e.g. a colour FA map or a photograph): no intensity statistics. Colour
  samples have no modality units, and in a colour FA map the hue is a fibre direction and the
  brightness a product of anisotropy and colour, so neither the mean of a channel nor a luminance
  is a figure a reader could compare; the report keeps volume and diameter and the log says why.
- FRACTIONAL segments: the volume is weighted (sum of fractions times voxel volume, the
  expected volume of a probability map, as :meth:`Segmentation.volume_ml`); the diameter and
  the intensity statistics use the voxels with a fraction of at least 0.5.

Work happens in each segment's bounding box, so cost follows the segment, not the scan.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.spatial import ConvexHull
from scipy.spatial.distance import cdist

from ..imaging import MaskKind, ReferenceSeries, Segmentation, UptakeStatistics, VolumeGeometry

log = logging.getLogger(__name__)

#: Fractional voxels at or above this fraction count as inside for shape and intensity.
FRACTIONAL_THRESHOLD = 0.5
#: Rows of the pairwise distance matrix computed at once (bounds memory for large hulls).
_PAIRWISE_CHUNK = 2048


@dataclass(frozen=True)
class IntensityStatistics:
    """Series values inside a segment, in modality units (HU on CT)."""

    mean: float
    minimum: float
    maximum: float
    std: float


@dataclass(frozen=True)
class SegmentMeasurements:
    """What is measured for one segment; diameter and intensity are None for an empty segment.

    On a 2D image or cine a segment is measured on each frame it lies on (``slice_index``): its ``area``
    (mm2, or pixels where the image is uncalibrated: ``calibrated`` False, and then ``max_diameter_mm`` is
    in pixels too) instead of a volume. A segment of a PET/CT measured on the PET has its ``uptake``
    (SUVmax, SUVmean, SUVpeak, MTV, TLG: :mod:`..imaging.uptake`).
    """

    number: int
    voxel_count: int
    volume_ml: float | None
    max_diameter_mm: float | None
    intensity: IntensityStatistics | None
    area: float | None = None
    slice_index: int | None = None
    calibrated: bool = True
    uptake: UptakeStatistics | None = None


def with_uptake(measurements: Sequence[SegmentMeasurements],
                uptake: Sequence[UptakeStatistics]) -> list[SegmentMeasurements]:
    """``measurements`` with each segment's uptake on the PET (matched by segment number)."""
    by_number = {statistics.number: statistics for statistics in uptake}
    return [replace(measured, uptake=by_number.get(measured.number)) for measured in measurements]


def measure_segmentation(segmentation: Segmentation, voxels: np.ndarray | None = None) -> list[SegmentMeasurements]:
    """Measurements of every segment; ``voxels`` (``[k, j, i]`` on the same grid) adds intensities."""
    if voxels is not None and voxels.shape != segmentation.geometry.array_shape:
        raise ValueError(f"Voxels of shape {voxels.shape} are not on the segmentation's grid "
                         f"{segmentation.geometry.array_shape}")
    return [measure_segment(segmentation, s.number, voxels) for s in segmentation.segments]


def measure_on_series(segmentation: Segmentation, series: ReferenceSeries) -> list[SegmentMeasurements]:
    """Measurements of every segment with the intensities of ``series`` (none on a colour series); on a 2D image
    or cine, areas frame by frame (:func:`measure_planar`)."""
    if not segmentation.geometry.in_patient_space:
        return measure_planar(segmentation)
    if series.is_colour:
        log.warning("%s is a colour image: its segments are measured without intensity statistics (colour "
                    "values have no modality units)", series.description)
        return measure_segmentation(segmentation)
    return measure_segmentation(segmentation, series.read_voxels())


def measure_segment(segmentation: Segmentation, number: int, voxels: np.ndarray | None = None) -> SegmentMeasurements:
    """Measurements of segment ``number`` (see the module docstring for the definitions)."""
    box, values = segmentation.cropped_mask(number)
    inside = values >= FRACTIONAL_THRESHOLD if segmentation.kind is MaskKind.FRACTIONAL else values.astype(bool)
    count = int(np.count_nonzero(inside))
    offset = np.array([box[2].start, box[1].start, box[0].start]) if values.size else np.zeros(3)
    diameter = maximum_diameter_mm(inside, segmentation.geometry, offset) if count else None
    intensity = intensity_statistics(voxels[box][inside]) if voxels is not None and count else None
    return SegmentMeasurements(number=number, voxel_count=count, volume_ml=segmentation.volume_ml(number),
                               max_diameter_mm=diameter, intensity=intensity)


def measure_planar(segmentation: Segmentation) -> list[SegmentMeasurements]:
    """On a 2D image or cine: per segment and frame it lies on, its pixel count, area and maximum diameter.

    A frame of a cine is one moment (an end-diastolic and an end-systolic outline are two areas, not
    one volume), so each labelled frame is measured on its own. Areas and diameters are in mm on the
    image's calibration (:mod:`..imaging.calibration`; ultrasound: its largest calibrated region), in
    pixels where it has none. No intensity statistics: radiograph and ultrasound values have no units.
    An empty segment is one entry of area 0.
    """
    geometry = segmentation.geometry
    pixel_area = float(geometry.spacing[0] * geometry.spacing[1])
    calibrated = bool(getattr(geometry, "calibrated", True))
    measured = []
    for description in segmentation.segments:
        box, values = segmentation.cropped_mask(description.number)
        inside = values >= FRACTIONAL_THRESHOLD if segmentation.kind is MaskKind.FRACTIONAL else values.astype(bool)
        found = False
        for offset, plane in enumerate(inside):
            count = int(np.count_nonzero(plane))
            if not count:
                continue
            found = True
            k = box[0].start + offset
            origin = np.array([box[2].start, box[1].start, k], dtype=float)
            measured.append(SegmentMeasurements(
                number=description.number, voxel_count=count, volume_ml=None,
                max_diameter_mm=maximum_diameter_mm(plane[np.newaxis], geometry, origin), intensity=None,
                area=count * pixel_area, slice_index=k, calibrated=calibrated))
        if not found:
            measured.append(SegmentMeasurements(number=description.number, voxel_count=0, volume_ml=None,
                                                max_diameter_mm=None, intensity=None, area=0.0, calibrated=calibrated))
    return measured


def maximum_diameter_mm(mask: np.ndarray, geometry: VolumeGeometry, offset_ijk: np.ndarray) -> float:
    """Largest centre-to-centre distance (mm) of the voxels of ``mask`` (``[k, j, i]``, not empty).

    ``offset_ijk`` is the grid index of ``mask[0, 0, 0]`` in (i, j, k) order.
    """
    kji = np.argwhere(_ends_of_every_grid_line(mask.astype(bool, copy=False)))
    points = geometry.index_to_lps(kji[:, ::-1] + np.asarray(offset_ijk, dtype=float))
    return _largest_pairwise_distance(points)


def _ends_of_every_grid_line(mask: np.ndarray) -> np.ndarray:
    """The voxels of ``mask`` that are the first or the last of the mask along their row, column and slice line.

    A vertex of the convex hull lies between no two points of the set, so it is an end of each of
    its three grid lines; the rest cannot be a vertex (and the grid-to-patient map is affine, so
    this holds in millimetres too). This leaves far fewer points than the surface for the hull.
    """
    ends = mask.copy()
    for axis in range(3):
        before = np.logical_or.accumulate(mask, axis=axis)
        after = np.flip(np.logical_or.accumulate(np.flip(mask, axis=axis), axis=axis), axis=axis)
        inner = np.zeros_like(mask)
        lead = [slice(None)] * 3
        lead[axis] = slice(1, -1)
        previous, following = list(lead), list(lead)
        previous[axis], following[axis] = slice(0, -2), slice(2, None)
        inner[tuple(lead)] = before[tuple(previous)] & after[tuple(following)]
        ends &= ~inner
    return ends


def intensity_statistics(values: np.ndarray) -> IntensityStatistics:
    """Mean, minimum, maximum and population standard deviation of ``values`` (not empty)."""
    values = np.asarray(values, dtype=np.float64)
    return IntensityStatistics(mean=float(values.mean()), minimum=float(values.min()),
                               maximum=float(values.max()), std=float(values.std()))


def _hull_vertices(points: np.ndarray) -> np.ndarray:
    """The points on the convex hull (all extreme points); flat or collinear sets are handled in their span."""
    centred = points - points.mean(axis=0)
    _, singular, axes = np.linalg.svd(centred, full_matrices=False)
    rank = int(np.count_nonzero(singular > 1e-9 * max(float(singular[0]), 1.0)))
    if rank == 0:
        return points[:1]
    projected = centred @ axes[:rank].T
    if rank == 1:
        return points[[int(np.argmin(projected)), int(np.argmax(projected))]]
    return points[ConvexHull(projected).vertices]


def _largest_pairwise_distance(points: np.ndarray) -> float:
    """The largest distance between two of ``points``, exactly.

    A pair farther apart than a known distance ``d`` has both ends farther than ``d - R`` from
    the centroid (``R`` the largest distance from it, by the triangle inequality), so after a
    first guess (the point farthest from the centroid and the point farthest from that one) only
    the points beyond ``d - R`` are compared pairwise: on blob-like segments a small fraction.
    When many are left (long or irregular shapes), only those on their convex hull are (the
    farthest pair of a set lies on its hull).
    """
    centre = points.mean(axis=0)
    radii = np.linalg.norm(points - centre, axis=1)
    start = points[int(np.argmax(radii))]
    guess = float(np.linalg.norm(points - start, axis=1).max())
    candidates = points[radii > guess - float(radii.max())]
    if len(candidates) > _PAIRWISE_CHUNK:
        candidates = _hull_vertices(candidates)
    return max(guess, _all_pairs_largest(candidates))


def _all_pairs_largest(points: np.ndarray) -> float:
    largest = 0.0
    for start in range(0, len(points), _PAIRWISE_CHUNK):
        largest = max(largest, float(cdist(points[start:start + _PAIRWISE_CHUNK], points, "sqeuclidean").max()))
    return float(np.sqrt(largest))
