"""Inter-annotator agreement of segmentations: every pair, per segment, and against a consensus.

For each segment the masks of all inputs are cut to one common box, and each input's
surface distance map is computed once and reused for every pair it is in: N annotators
cost N distance transforms per segment, not N(N-1).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..imaging import MatchedSegment, Segmentation, match_segments, surface_of
from .overlap import OverlapMetrics, compare_cropped, union_box


@dataclass(frozen=True)
class PairAgreement:
    a: int
    b: int
    metrics: OverlapMetrics

    def to_json(self) -> dict:
        return {"a": self.a, "b": self.b, **self.metrics.to_json()}


@dataclass(frozen=True)
class SegmentAgreement:
    matched: MatchedSegment
    pairs: tuple[PairAgreement, ...]
    #: each input against the reference (e.g. the consensus), when one was given
    versus_reference: tuple[OverlapMetrics, ...] | None = None

    def to_json(self) -> dict:
        entry = {
            "type": self.matched.description.type.as_list(),
            "label": self.matched.description.label,
            "pairs": [pair.to_json() for pair in self.pairs],
        }
        if self.versus_reference is not None:
            entry["versus_reference"] = [
                {"input": index, **metrics.to_json()} for index, metrics in enumerate(self.versus_reference)
            ]
        return entry

    def mean(self, field: str) -> float | None:
        """Mean of one metric over the pairs where it is defined."""
        values = [getattr(p.metrics, field) for p in self.pairs if getattr(p.metrics, field) is not None]
        return float(np.mean(values)) if values else None


@dataclass(frozen=True)
class AgreementReport:
    inputs: tuple[str, ...]
    segments: tuple[SegmentAgreement, ...]
    reference: str | None = None

    def to_json(self) -> dict:
        payload = {"inputs": list(self.inputs), "segments": [s.to_json() for s in self.segments]}
        if self.reference is not None:
            payload["reference"] = self.reference
        return payload


def segmentation_agreement(
    segmentations: Sequence[Segmentation],
    names: Sequence[str],
    *,
    reference: Segmentation | None = None,
    reference_name: str = "consensus",
    surface_distances: bool = True,
) -> AgreementReport:
    """Agreement of every pair of inputs on every matched segment (missing segments count as empty).

    With ``reference`` (e.g. the consensus), each input is also compared with it; its
    segments are matched by code like the inputs'.
    """
    names = tuple(str(n) for n in names)
    everything = list(segmentations) + ([reference] if reference is not None else [])
    all_names = names + ((reference_name,) if reference is not None else ())
    matched = match_segments(everything, all_names, missing_as_empty=True)
    spacing_kji = tuple(reversed(segmentations[0].geometry.spacing))
    shape = segmentations[0].geometry.array_shape
    results = []
    for segment in matched:
        masks = _SegmentMasks(masks_in_common_box(everything, segment, shape), spacing_kji, surface_distances)
        pairs = tuple(PairAgreement(a, b, masks.compare(a, b))
                      for a, b in itertools.combinations(range(len(segmentations)), 2))
        versus = None
        if reference is not None:
            versus = tuple(masks.compare(len(segmentations), i) for i in range(len(segmentations)))
        results.append(SegmentAgreement(segment, pairs, versus))
    return AgreementReport(names, tuple(results), reference_name if reference is not None else None)


class _SegmentMasks:
    """The masks of one segment in a common box, each surface and distance map computed once."""

    def __init__(self, masks: list[np.ndarray], spacing_kji: tuple[float, ...], surface_distances: bool) -> None:
        self.masks = masks
        self.spacing_kji = spacing_kji
        self.surfaces = [surface_of(m) for m in masks]
        self.distance_maps = [
            ndimage.distance_transform_edt(~surface, sampling=spacing_kji)
            if surface_distances and surface.any() else None
            for surface in self.surfaces
        ]

    def compare(self, a: int, b: int) -> OverlapMetrics:
        metrics = compare_cropped(self.masks[a], self.masks[b], self.spacing_kji, surface_distances=False)
        distance_a, distance_b = self.distance_maps[a], self.distance_maps[b]
        if distance_a is None or distance_b is None:
            return metrics
        return metrics.with_surface_distances(distance_b[self.surfaces[a]], distance_a[self.surfaces[b]])


def masks_in_common_box(segmentations: Sequence[Segmentation], segment: MatchedSegment,
                        shape: tuple[int, int, int]) -> list[np.ndarray]:
    """One matched segment's mask of each input, in the smallest box (plus a voxel) holding them all; a
    FRACTIONAL mask counts where it is at least 0.5."""
    boxes = [seg.bounding_box(n) if n is not None else None
             for seg, n in zip(segmentations, segment.numbers, strict=True)]
    box = union_box(boxes, shape, margin=1)
    if box is None:
        return [np.zeros((0, 0, 0), dtype=bool) for _ in segmentations]
    extent = tuple(s.stop - s.start for s in box)
    masks = []
    for seg, number, own in zip(segmentations, segment.numbers, boxes, strict=True):
        mask = np.zeros(extent, dtype=bool)
        if number is not None and own is not None:
            own_box, values = seg.cropped_mask(number)
            target = tuple(slice(o.start - b.start, o.stop - b.start) for o, b in zip(own_box, box, strict=True))
            mask[target] = values if values.dtype == bool else values >= 0.5
        masks.append(mask)
    return masks
