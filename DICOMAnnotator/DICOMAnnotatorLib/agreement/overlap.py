"""Overlap and surface-distance metrics between two masks on one voxel grid.

Distances are in millimetres with anisotropic spacing respected (the grid axes are
orthogonal, so a Euclidean distance transform with per-axis sampling is exact for any
orientation). Work happens inside the bounding box of the two masks, so cost follows the
size of the structures, not of the scan.

Definitions (the ones most papers and MONAI use):
- the surface of a mask is its voxels with at least one face neighbour outside it;
- ``hausdorff_mm`` is the maximum, and ``hd95_mm`` the larger of the two directed 95th
  percentiles, of surface-to-surface distances; ``assd_mm`` averages both directions;
- both masks empty: perfect agreement (dice 1, distances 0); exactly one empty: dice 0
  and distances ``None`` (undefined, never NaN).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
from scipy import ndimage

from ..imaging import surface_of


@dataclass(frozen=True)
class OverlapMetrics:
    """Agreement of mask ``a`` and mask ``b``; volume differences are ``b - a``."""

    dice: float
    jaccard: float
    volume_a_ml: float
    volume_b_ml: float
    volume_diff_ml: float
    volume_diff_percent: float | None
    hausdorff_mm: float | None
    hd95_mm: float | None
    assd_mm: float | None

    def to_json(self) -> dict[str, float | None]:
        return {key: (None if value is None else round(float(value), 6)) for key, value in asdict(self).items()}

    def with_surface_distances(self, a_to_b: np.ndarray, b_to_a: np.ndarray) -> OverlapMetrics:
        """These metrics with Hausdorff, HD95 and ASSD from the two directed distance sets (mm)."""
        return replace(
            self,
            hausdorff_mm=float(max(a_to_b.max(), b_to_a.max())),
            hd95_mm=float(max(np.percentile(a_to_b, 95), np.percentile(b_to_a, 95))),
            assd_mm=float((a_to_b.sum() + b_to_a.sum()) / (a_to_b.size + b_to_a.size)),
        )


def compare_masks(
    a: np.ndarray,
    b: np.ndarray,
    spacing_kji: tuple[float, float, float],
    *,
    surface_distances: bool = True,
) -> OverlapMetrics:
    """All overlap and distance metrics of two boolean masks ``[k, j, i]`` on one grid.

    ``spacing_kji`` is the voxel spacing in array order (slice, row, column) in mm.
    """
    if a.shape != b.shape:
        raise ValueError(f"Masks of shapes {a.shape} and {b.shape} are not on one grid")
    box = union_box([_box_of(a), _box_of(b)], a.shape)
    if box is None:
        return compare_cropped(np.zeros((0, 0, 0), bool), np.zeros((0, 0, 0), bool), spacing_kji)
    return compare_cropped(a[box], b[box], spacing_kji, surface_distances=surface_distances)


def compare_cropped(
    a: np.ndarray,
    b: np.ndarray,
    spacing_kji: tuple[float, float, float],
    *,
    surface_distances: bool = True,
) -> OverlapMetrics:
    """:func:`compare_masks` on two masks already cut to one box that holds both whole.

    The box should keep one voxel of margin where the grid allows, so that surfaces are
    found as on the full grid.
    """
    a = a.astype(bool, copy=False)
    b = b.astype(bool, copy=False)
    voxel_ml = float(np.prod(spacing_kji)) / 1000.0
    count_a, count_b = int(np.count_nonzero(a)), int(np.count_nonzero(b))
    if count_a == 0 and count_b == 0:
        return OverlapMetrics(1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    both = int(np.count_nonzero(a & b))
    either = count_a + count_b - both
    volume_a, volume_b = count_a * voxel_ml, count_b * voxel_ml
    metrics = OverlapMetrics(
        dice=2.0 * both / (count_a + count_b),
        jaccard=both / either,
        volume_a_ml=volume_a,
        volume_b_ml=volume_b,
        volume_diff_ml=volume_b - volume_a,
        volume_diff_percent=100.0 * (volume_b - volume_a) / ((volume_a + volume_b) / 2),
        hausdorff_mm=None,
        hd95_mm=None,
        assd_mm=None,
    )
    if surface_distances and count_a and count_b:
        metrics = metrics.with_surface_distances(directed_surface_distances(a, b, spacing_kji),
                                                 directed_surface_distances(b, a, spacing_kji))
    return metrics


def union_box(boxes: list[tuple[slice, ...] | None], shape: tuple[int, ...],
              margin: int = 1) -> tuple[slice, ...] | None:
    """The smallest box holding every given box (None = empty), plus ``margin`` voxels within ``shape``."""
    present = [box for box in boxes if box is not None]
    if not present:
        return None
    return tuple(
        slice(max(min(box[axis].start for box in present) - margin, 0),
              min(max(box[axis].stop for box in present) + margin, shape[axis]))
        for axis in range(len(shape))
    )


def directed_surface_distances(source: np.ndarray, target: np.ndarray,
                               spacing_kji: tuple[float, float, float]) -> np.ndarray:
    """Distance (mm) from every surface voxel of ``source`` to the nearest surface voxel of ``target``."""
    distance_to_target = ndimage.distance_transform_edt(~surface_of(target), sampling=spacing_kji)
    return distance_to_target[surface_of(source)]


def _box_of(mask: np.ndarray) -> tuple[slice, ...] | None:
    boxes = ndimage.find_objects(mask.astype(np.int8, copy=False))
    return boxes[0] if boxes and boxes[0] is not None else None
