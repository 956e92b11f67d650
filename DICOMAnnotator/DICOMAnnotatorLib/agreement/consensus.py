"""Consensus of several annotators' segmentations: majority vote and STAPLE.

STAPLE (Warfield et al., IEEE TMI 2004) estimates, per segment, the probability that each
voxel belongs to the true structure together with each annotator's sensitivity and
specificity. With a global prior (as in ITK's ``STAPLEImageFilter``) the estimate depends on
a voxel only through its vector of decisions, so the EM runs on the counts of the at most
2^N decision patterns instead of on every voxel: the same figures as ITK's filter on the
whole image, at the cost of one pass over the segments' bounding box.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..errors import SegmentationError
from ..imaging import AlgorithmType, MaskKind, MatchedSegment, Provenance, Segmentation, match_segments
from .overlap import union_box

#: Same stopping rule as ITK: every sensitivity and specificity moved less than 1e-7.
STAPLE_CONVERGENCE = 1.0e-14
STAPLE_MAX_ITERATIONS = 10_000
#: Decision patterns are counted in a table of 2^N entries.
MAX_STAPLE_RATERS = 16


class ConsensusMethod(enum.Enum):
    MAJORITY = "majority"
    STAPLE = "staple"


@dataclass(frozen=True)
class AnnotatorPerformance:
    """STAPLE's estimate of one annotator's quality on one segment."""

    input: str
    sensitivity: float | None
    specificity: float | None


@dataclass(frozen=True)
class SegmentConsensus:
    """How the consensus of one segment was reached."""

    matched: MatchedSegment
    number: int
    annotators: tuple[AnnotatorPerformance, ...]
    iterations: int | None


@dataclass(frozen=True)
class ConsensusResult:
    segmentation: Segmentation
    method: ConsensusMethod
    threshold: float
    inputs: tuple[str, ...]
    segments: tuple[SegmentConsensus, ...]

    def to_json(self) -> dict:
        """The ``consensus --json`` object of the CLI contract."""
        segments = []
        for segment in self.segments:
            entry: dict = {"type": segment.matched.description.type.as_list(),
                           "label": segment.matched.description.label, "number": segment.number}
            if self.method is ConsensusMethod.STAPLE:
                entry["annotators"] = [
                    {"input": a.input, "sensitivity": _round(a.sensitivity), "specificity": _round(a.specificity)}
                    for a in segment.annotators
                ]
                entry["iterations"] = segment.iterations
            else:
                entry["annotators"] = [{"input": a.input} for a in segment.annotators]
            segments.append(entry)
        return {"method": self.method.value, "threshold": self.threshold, "inputs": list(self.inputs),
                "segments": segments}


@dataclass(frozen=True)
class StapleEstimate:
    """Posterior foreground probability per decision pattern, and each rater's quality."""

    pattern_probability: np.ndarray  # indexed by the bit pattern of decisions (bit i = rater i)
    sensitivity: np.ndarray
    specificity: np.ndarray
    iterations: int


def build_consensus(
    segmentations: Sequence[Segmentation],
    names: Sequence[str],
    *,
    method: ConsensusMethod | str = ConsensusMethod.STAPLE,
    threshold: float = 0.5,
    kind: MaskKind | str = MaskKind.BINARY,
    missing_as_empty: bool = False,
    author: str | None = None,
) -> ConsensusResult:
    """One segmentation from several on the same series, segment by segment.

    A voxel is in a BINARY consensus when its probability (the fraction of annotators who
    labelled it, or STAPLE's posterior) is greater than ``threshold``; a FRACTIONAL
    consensus keeps the probabilities. Voxels nobody labelled are outside the consensus.
    """
    method = ConsensusMethod(method)
    kind = MaskKind(kind)
    if not 0.0 <= threshold < 1.0:
        raise SegmentationError(f"The consensus threshold must be in [0, 1), found {threshold}")
    names = tuple(str(n) for n in names)
    matched = match_segments(segmentations, names, missing_as_empty=missing_as_empty)
    geometry = segmentations[0].geometry
    masks: dict[int, tuple[tuple[slice, ...], np.ndarray]] = {}
    descriptions = []
    reports = []
    for number, segment in enumerate(matched, start=1):
        box, decisions = _decisions_in_box(segmentations, segment, geometry.array_shape)
        if method is ConsensusMethod.MAJORITY:
            probability = decisions.mean(axis=0, dtype=np.float32) if box else None
            performances = tuple(AnnotatorPerformance(n, None, None) for n in names)
            iterations = None
        else:
            total = int(np.prod(geometry.array_shape))
            probability, estimate = _staple_in_box(decisions, total) if box else (None, None)
            performances = tuple(
                AnnotatorPerformance(n, None if estimate is None else float(estimate.sensitivity[i]),
                                     None if estimate is None else float(estimate.specificity[i]))
                for i, n in enumerate(names)
            )
            iterations = None if estimate is None else estimate.iterations
        if probability is not None:
            masks[number] = (box, probability if kind is MaskKind.FRACTIONAL else probability > threshold)
        descriptions.append(replace(
            segment.description, number=number, algorithm_type=AlgorithmType.SEMIAUTOMATIC,
            algorithm_name=f"DICOMAnnotator {method.value} consensus",
        ))
        reports.append(SegmentConsensus(segment, number, performances, iterations))
    provenance = Provenance(derived_from=names, method=f"{method.value} consensus, threshold {threshold}")
    result = Segmentation.from_cropped_masks(
        geometry, descriptions, masks, kind=kind, reference=segmentations[0].reference, author=author,
        protocol_id=segmentations[0].protocol_id, provenance=provenance,
    )
    return ConsensusResult(result, method, threshold, names, tuple(reports))


def staple(decision_patterns: np.ndarray, counts: np.ndarray, raters: int, *,
           confidence_weight: float = 1.0) -> StapleEstimate:
    """Binary STAPLE on pattern counts: ``counts[p]`` voxels have decision pattern ``p``.

    Bit ``i`` of ``p`` is rater ``i``'s decision. The prior is the mean decision over all
    voxels (times ``confidence_weight``), kept fixed as ITK does.
    """
    bits = ((decision_patterns[:, None] >> np.arange(raters)) & 1).astype(bool)  # patterns x raters
    counts = counts.astype(np.float64)
    total = counts.sum()
    posterior = bits.mean(axis=1)
    prior = float((counts * posterior).sum() / total) * confidence_weight
    sensitivity = np.full(raters, -10.0)
    specificity = np.full(raters, -10.0)
    iteration = 0
    for iteration in range(STAPLE_MAX_ITERATIONS):  # noqa: B007 (the count is reported)
        weight_in = counts * posterior
        weight_out = counts * (1.0 - posterior)
        new_sensitivity = (weight_in[:, None] * bits).sum(axis=0) / weight_in.sum()
        new_specificity = (weight_out[:, None] * ~bits).sum(axis=0) / weight_out.sum()
        alpha = np.where(bits, new_sensitivity, 1.0 - new_sensitivity).prod(axis=1)
        beta = np.where(bits, 1.0 - new_specificity, new_specificity).prod(axis=1)
        posterior = prior * alpha / (prior * alpha + (1.0 - prior) * beta)
        converged = iteration > 0 and bool(
            np.all((new_sensitivity - sensitivity) ** 2 <= STAPLE_CONVERGENCE)
            and np.all((new_specificity - specificity) ** 2 <= STAPLE_CONVERGENCE)
        )
        sensitivity, specificity = new_sensitivity, new_specificity
        if converged:
            break
    return StapleEstimate(posterior, sensitivity, specificity, iteration)


def _decisions_in_box(segmentations: Sequence[Segmentation], segment: MatchedSegment,
                      shape: tuple[int, int, int]) -> tuple[tuple[slice, ...] | None, np.ndarray]:
    """Each annotator's decision (bool) inside the union of their boxes: ``[rater, k, j, i]``."""
    boxes = [seg.bounding_box(n) if n is not None else None
             for seg, n in zip(segmentations, segment.numbers, strict=True)]
    box = union_box(boxes, shape, margin=0)
    if box is None:
        return None, np.zeros((len(segmentations), 0, 0, 0), dtype=bool)
    extent = tuple(s.stop - s.start for s in box)
    decisions = np.zeros((len(segmentations), *extent), dtype=bool)
    for rater, (seg, number) in enumerate(zip(segmentations, segment.numbers, strict=True)):
        if number is None or boxes[rater] is None:
            continue
        own_box, values = seg.cropped_mask(number)
        target = tuple(slice(o.start - b.start, o.stop - b.start) for o, b in zip(own_box, box, strict=True))
        decisions[(rater, *target)] = values >= 0.5 if values.dtype != bool else values
    return box, decisions


def _staple_in_box(decisions: np.ndarray, total_voxels: int) -> tuple[np.ndarray, StapleEstimate]:
    raters = decisions.shape[0]
    if raters > MAX_STAPLE_RATERS:
        raise SegmentationError(f"STAPLE handles up to {MAX_STAPLE_RATERS} annotators per case, got {raters}")
    dtype = np.uint8 if raters <= 8 else np.uint16
    patterns = np.zeros(decisions.shape[1:], dtype=dtype)
    for rater in range(raters):
        patterns |= decisions[rater].astype(dtype) << dtype(rater)
    counts = np.bincount(patterns.ravel(), minlength=1 << raters)
    counts[0] += total_voxels - patterns.size  # every voxel outside the box: nobody labelled it
    present = np.flatnonzero(counts)
    estimate = staple(present, counts[present], raters)
    lookup = np.zeros(1 << raters, dtype=np.float32)
    lookup[present] = estimate.pattern_probability
    lookup[0] = 0.0  # nobody labelled it: not in the consensus
    return lookup[patterns], estimate


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 8)
