"""A model's drafts against what people made of them: per structure, per case, and over a project.

The same comparison serves two questions:

- at each submission, how much the annotator changed the draft (voxels added and removed, Dice, HD95);
- for ``evaluate``, how good the model is against the signed results of a project's cases: the
  distribution over cases of Dice, HD95 and volume difference, per structure.

The draft is ``a`` and the human result ``b`` of :func:`.overlap.compare_cropped`; a FRACTIONAL draft
counts where its probability is at least 0.5. Only the draft's structures are compared (a structure the
model does not segment says nothing about it); one missing from the result counts as empty there.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..dicom import Code
from ..imaging import Segmentation, match_segments
from .overlap import OverlapMetrics, compare_cropped
from .segmentations import masks_in_common_box

#: What each figure of an evaluation means (its JSON carries this, for readers such as the dataset card).
DEFINITIONS = {
    "dice": "2|D∩R| / (|D|+|R|) over voxels, D the draft (probability >= 0.5) and R the reference; "
            "1 when both are empty",
    "hd95_mm": "the larger of the two directed 95th percentiles of distances between the surfaces of D and R, in mm "
               "(surface: voxels with a face neighbour outside); undefined when one of them is empty",
    "volume_difference_ml": "volume of D minus volume of R, in mL (positive: the model segments too much)",
    "volume_difference_percent": "volume difference relative to the volume of R, in percent; undefined when R is "
                                 "empty",
    "voxels_added": "voxels in R but not in D (what people added to the draft)",
    "voxels_removed": "voxels in D but not in R (what people removed from the draft)",
    "distribution": "over cases in which D or R holds the structure: n, mean, sd (sample), median, q1 and q3 "
                    "(linear interpolation), min, max; 'undefined' counts cases without a value",
}


@dataclass(frozen=True)
class StructureChange:
    """How a result differs from a draft for one structure."""

    label: str
    type: Code
    draft_voxels: int
    result_voxels: int
    voxels_added: int
    voxels_removed: int
    metrics: OverlapMetrics

    @property
    def both_empty(self) -> bool:
        return self.draft_voxels == 0 and self.result_voxels == 0

    @property
    def volume_difference_percent(self) -> float | None:
        if self.result_voxels == 0:
            return None
        return 100.0 * (self.metrics.volume_a_ml - self.metrics.volume_b_ml) / self.metrics.volume_b_ml

    def to_json(self) -> dict[str, Any]:
        m = self.metrics
        return {"segment": self.label, "type": self.type.as_list(), "dice": _round(m.dice),
                "hd95_mm": _round(m.hd95_mm),
                "volume_draft_ml": _round(m.volume_a_ml), "volume_reference_ml": _round(m.volume_b_ml),
                "volume_difference_ml": _round(m.volume_a_ml - m.volume_b_ml),
                "volume_difference_percent": _round(self.volume_difference_percent),
                "draft_voxels": self.draft_voxels, "reference_voxels": self.result_voxels,
                "voxels_added": self.voxels_added, "voxels_removed": self.voxels_removed}


def compare_with_draft(draft: Segmentation, result: Segmentation) -> list[StructureChange]:
    """Each structure of ``draft`` (matched by code) against ``result`` on the same grid."""
    matched = match_segments([draft, result], ["the draft", "the result"], missing_as_empty=True)
    spacing_kji = tuple(reversed(draft.geometry.spacing))
    changes = []
    for segment in matched:
        if segment.numbers[0] is None:
            continue
        drafted, kept = masks_in_common_box([draft, result], segment, draft.geometry.array_shape)
        metrics = compare_cropped(drafted, kept, spacing_kji)
        changes.append(StructureChange(
            segment.description.label, segment.description.type, int(np.count_nonzero(drafted)),
            int(np.count_nonzero(kept)), int(np.count_nonzero(kept & ~drafted)),
            int(np.count_nonzero(drafted & ~kept)), metrics))
    return changes


def distribution(values: Iterable[float | None]) -> dict[str, Any]:
    """Summary of a sample; ``undefined`` counts the None values left out."""
    values = list(values)
    defined = np.array([v for v in values if v is not None], dtype=np.float64)
    summary: dict[str, Any] = {"n": int(defined.size), "undefined": len(values) - int(defined.size)}
    if not defined.size:
        return summary | {key: None for key in ("mean", "sd", "median", "q1", "q3", "min", "max")}
    q1, median, q3 = np.percentile(defined, [25, 50, 75])
    return summary | {"mean": _round(defined.mean()), "sd": _round(defined.std(ddof=1)) if defined.size > 1 else None,
                      "median": _round(median), "q1": _round(q1), "q3": _round(q3), "min": _round(defined.min()),
                      "max": _round(defined.max())}


def evaluation_summary(cases: Sequence[tuple[int, Sequence[StructureChange]]]) -> list[dict[str, Any]]:
    """Per structure over ``cases`` (``(case, changes)``): counts and the distributions of Dice, HD95 and volume
    difference over the cases in which the draft or the reference holds it."""
    by_structure: dict[str, list[StructureChange]] = {}
    types: dict[str, Code] = {}
    for _case, changes in cases:
        for change in changes:
            by_structure.setdefault(change.label, []).append(change)
            types.setdefault(change.label, change.type)
    summary = []
    for label, changes in by_structure.items():
        present = [c for c in changes if not c.both_empty]
        summary.append({
            "segment": label, "type": types[label].as_list(), "cases": len(present),
            "cases_both_empty": len(changes) - len(present),
            "dice": distribution(c.metrics.dice for c in present),
            "hd95_mm": distribution(c.metrics.hd95_mm for c in present),
            "volume_difference_ml": distribution(c.metrics.volume_a_ml - c.metrics.volume_b_ml for c in present),
            "volume_difference_percent": distribution(c.volume_difference_percent for c in present),
        })
    return summary


def _round(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(float(value), 6)
