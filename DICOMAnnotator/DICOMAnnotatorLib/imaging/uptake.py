"""SUV statistics of segments drawn on another series (usually the CT of a PET/CT) measured on the PET.

The segmentation and the PET share a frame of reference but not a grid: each PET voxel takes the
segment's value at its centre, found in the segmentation's grid by the two grids' affines (nearest
voxel), so the PET is never assumed aligned with the CT. On the PET voxels of a segment:

- SUVmax and SUVmean of the SUV values (SUVbw, SUVlbm or SUVbsa: :mod:`.suv`);
- SUVpeak: the highest mean SUV in a 1 cm^3 sphere (radius 6.2 mm) centred on a voxel of the segment,
  the sphere holding the PET voxels whose centres lie within it (PERCIST 1.0, Wahl et al. 2009);
- metabolic tumour volume (MTV, ml): the segment's PET voxels times the PET voxel volume;
- total lesion glycolysis (TLG): SUVmean x MTV, in g (g/ml x ml; cm2 for SUVbsa).

:func:`threshold_region` is the segmentation aid a protocol's SUV thresholds drive (a fixed SUV such as
2.5, or a fraction of the region's SUVmax such as 41 %: ``protocols.SUVThreshold.level``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from ..errors import GeometryMismatchError
from .segmentation import Segmentation
from .series import ReferenceSeries, SliceSource
from .suv import SUVScale

#: The radius of a sphere of 1 cm^3, in mm.
PEAK_SPHERE_RADIUS_MM = (3 * 1000.0 / (4 * np.pi)) ** (1 / 3)


@dataclass(frozen=True)
class UptakeStatistics:
    """One segment's uptake on the PET (None for the SUVs of a segment with no PET voxel), in SUV of
    ``suv_type`` (:data:`.suv.SUV_UNITS`; TLG in g, or cm2 for SUVbsa); ``sources`` are the PET slices its
    voxels lie on, the images the report says it was measured on."""

    number: int
    label: str
    suv_max: float | None
    suv_mean: float | None
    suv_peak: float | None
    mtv_ml: float
    tlg_g: float
    suv_type: str = "bw"
    sources: tuple[SliceSource, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "label": self.label, "suv_max": self.suv_max, "suv_mean": self.suv_mean,
                "suv_peak": self.suv_peak, "mtv_ml": self.mtv_ml, "tlg_g": self.tlg_g}


def uptake_statistics(segmentation: Segmentation, pet: ReferenceSeries, scale: SUVScale) -> list[UptakeStatistics]:
    """SUVmax, SUVmean, SUVpeak, MTV and TLG of every segment, on the PET's own grid."""
    reference = segmentation.reference
    if reference is not None and reference.frame_of_reference_uid != pet.frame_of_reference_uid:
        raise GeometryMismatchError(
            f"The segmentation is on {reference.description} (frame of reference "
            f"{reference.frame_of_reference_uid or 'none'}) and the PET {pet.description} is in "
            f"{pet.frame_of_reference_uid or 'none'}: their coordinates do not match; register them first")
    suv = np.asarray(pet.read_voxels(), dtype=np.float64) * np.asarray(scale.factors)[:, None, None]
    voxel_ml = pet.geometry.voxel_volume_mm3 / 1000.0
    peak = _sphere_means(suv, pet)
    statistics = []
    for description in segmentation.segments:
        inside = _on_pet_grid(segmentation, description.number, pet)
        count = int(np.count_nonzero(inside))
        mtv = count * voxel_ml
        if not count:
            statistics.append(UptakeStatistics(description.number, description.label, None, None, None, 0.0, 0.0,
                                               scale.suv_type))
            continue
        values = suv[inside]
        mean = float(values.mean())
        sources = tuple(pet.slices[k] for k in np.flatnonzero(inside.any(axis=(1, 2))))
        statistics.append(UptakeStatistics(description.number, description.label, float(values.max()), mean,
                                           float(peak[inside].max()), mtv, mean * mtv, scale.suv_type, sources))
    return statistics


def threshold_region(suv: np.ndarray, region: np.ndarray, level: float) -> np.ndarray:
    """The voxels of ``region`` (a boolean mask on the grid of ``suv``, e.g. a box drawn around a lesion) whose SUV
    is at least ``level``: a lesion segmented by a fixed or relative SUV threshold."""
    if region.shape != suv.shape:
        raise GeometryMismatchError(f"A region of shape {region.shape} is not on the PET's grid {suv.shape}")
    return region & (suv >= level)


def _on_pet_grid(segmentation: Segmentation, number: int, pet: ReferenceSeries) -> np.ndarray:
    """The segment on the PET grid: each PET voxel takes the segment's value at its centre (nearest voxel).
    Only the PET voxels around the segment's box are looked up."""
    result = np.zeros(pet.geometry.array_shape, dtype=bool)
    if segmentation.bounding_box(number) is None:
        return result
    box, mask = segmentation.cropped_mask(number)
    faces = [(axis.start - 0.5, axis.stop - 0.5) for axis in (box[2], box[1], box[0])]  # i, j, k
    corners = np.array([[i, j, k] for i in faces[0] for j in faces[1] for k in faces[2]])
    to_pet = np.linalg.inv(pet.geometry.affine)
    around = segmentation.geometry.index_to_lps(corners) @ to_pet[:3, :3].T + to_pet[:3, 3]
    low = np.clip(np.floor(around.min(axis=0)).astype(int), 0, pet.geometry.size)
    high = np.clip(np.ceil(around.max(axis=0)).astype(int) + 1, 0, pet.geometry.size)
    if np.any(high <= low):
        return result
    i, j, k = np.meshgrid(*(np.arange(a, b) for a, b in zip(low, high, strict=True)), indexing="ij")
    centres = pet.geometry.index_to_lps(np.column_stack([i.ravel(), j.ravel(), k.ravel()]))
    to_segmentation = np.linalg.inv(segmentation.geometry.affine)
    index = np.rint(centres @ to_segmentation[:3, :3].T + to_segmentation[:3, 3]).astype(np.int64)
    local = index[:, ::-1] - np.array([s.start for s in box])
    within = np.all((local >= 0) & (local < np.array(mask.shape)), axis=1)
    values = np.zeros(len(local), dtype=bool)
    values[within] = mask[tuple(local[within].T)] > 0.5 if mask.dtype != bool else mask[tuple(local[within].T)]
    result[k.ravel(), j.ravel(), i.ravel()] = values
    return result


def _sphere_means(suv: np.ndarray, pet: ReferenceSeries) -> np.ndarray:
    """At each voxel, the mean SUV of the PET voxels whose centres lie within 1 cm^3 of sphere around it
    (voxels beyond the volume's edge are not counted)."""
    spacing_i, spacing_j, spacing_k = pet.geometry.spacing
    reach = [int(np.floor(PEAK_SPHERE_RADIUS_MM / s)) for s in (spacing_k, spacing_j, spacing_i)]
    k, j, i = np.ogrid[-reach[0]:reach[0] + 1, -reach[1]:reach[1] + 1, -reach[2]:reach[2] + 1]
    kernel = ((k * spacing_k) ** 2 + (j * spacing_j) ** 2 + (i * spacing_i) ** 2) <= PEAK_SPHERE_RADIUS_MM ** 2
    kernel = kernel.astype(np.float64)
    sums = ndimage.correlate(suv, kernel, mode="constant", cval=0.0)
    counts = ndimage.correlate(np.ones_like(suv), kernel, mode="constant", cval=0.0)
    return sums / counts
