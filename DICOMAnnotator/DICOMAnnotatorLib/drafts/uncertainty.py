"""How unsure a model was about its draft: the mean entropy of its probabilities inside what it predicted.

Active learning sends the annotators first the cases the model is least sure of. For each structure
the model gave a probability p per voxel; the voxels it predicts as that structure are those with
p >= 0.5, and there the binary entropy H(p) = -p log2 p - (1 - p) log2(1 - p) is 0 when the model is
sure (p = 1) and 1 bit at p = 0.5. A case's uncertainty is the mean of H over the predicted voxels of
all its structures (each structure's own mean is kept too). Background voxels do not count: a large
scan is not made "sure" by its empty air.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..imaging import Segmentation

#: The probability from which a voxel counts as predicted.
PREDICTED = 0.5


@dataclass(frozen=True)
class Uncertainty:
    """Mean entropy (bits) over the predicted voxels: the case's, and each structure's with its voxel count."""

    mean_entropy: float | None
    segments: dict[str, tuple[float | None, int]]

    def to_json(self) -> dict[str, Any]:
        return {"mean_entropy_bits": _rounded(self.mean_entropy),
                "definition": "mean binary entropy of the model's probability over the voxels it predicts "
                              f"(probability >= {PREDICTED}), pooled over the structures",
                "segments": [{"segment": label, "mean_entropy_bits": _rounded(entropy), "predicted_voxels": voxels}
                             for label, (entropy, voxels) in self.segments.items()]}


def binary_entropy(p: np.ndarray) -> np.ndarray:
    """H(p) in bits, elementwise (0 at p = 0 and p = 1)."""
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
    return np.nan_to_num(terms, nan=0.0)


def mean_entropy(segmentation: Segmentation) -> Uncertainty:
    """The uncertainty of a FRACTIONAL segmentation (one probability map per structure)."""
    total, count = 0.0, 0
    segments = {}
    for description in segmentation.segments:
        _, values = segmentation.cropped_mask(description.number)
        predicted = values[values >= PREDICTED]
        entropy = binary_entropy(predicted)
        segments[description.label] = (float(entropy.mean()) if predicted.size else None, int(predicted.size))
        total += float(entropy.sum())
        count += int(predicted.size)
    return Uncertainty(total / count if count else None, segments)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
