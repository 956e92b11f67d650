"""Agreement between raters on labels, landmarks and boxes.

Classification labels (e.g. BI-RADS class, nodule malignancy) are compared with chance-
corrected statistics: Cohen's kappa for two raters (optionally weighted for ordinal
scales), Fleiss' kappa for more raters who all rated every item, and Krippendorff's alpha
when ratings are missing. Landmarks are compared by distance in mm, boxes by IoU.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Sequence

import numpy as np

#: A rating; ``None`` means the rater did not rate that item.
Rating = Hashable | None


class Weighting(enum.Enum):
    """How far apart two categories are: nominal (all equally), linear or quadratic (ordinal)."""

    NONE = "none"
    LINEAR = "linear"
    QUADRATIC = "quadratic"


def cohen_kappa(
    rater_a: Sequence[Rating],
    rater_b: Sequence[Rating],
    *,
    categories: Sequence[Hashable] | None = None,
    weighting: Weighting | str = Weighting.NONE,
) -> float | None:
    """Cohen's kappa of two raters over the items both rated.

    ``categories`` gives the order of an ordinal scale (needed for weighted kappa; default:
    sorted observed values). Returns None when fewer than one item was rated by both, and
    1.0 when both raters used one and the same category throughout (no disagreement possible
    to correct for chance).
    """
    if len(rater_a) != len(rater_b):
        raise ValueError(f"The raters rated different numbers of items ({len(rater_a)} and {len(rater_b)})")
    pairs = [(x, y) for x, y in zip(rater_a, rater_b, strict=True) if x is not None and y is not None]
    if not pairs:
        return None
    order = _category_order(categories, [v for pair in pairs for v in pair])
    index = {c: n for n, c in enumerate(order)}
    size = len(order)
    observed = np.zeros((size, size))
    for x, y in pairs:
        observed[index[x], index[y]] += 1
    observed /= observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    disagreement = _disagreement_weights(size, Weighting(weighting))
    expected_disagreement = float((disagreement * expected).sum())
    if expected_disagreement == 0:
        return 1.0
    return 1.0 - float((disagreement * observed).sum()) / expected_disagreement


def fleiss_kappa(ratings: Sequence[Sequence[Rating]], *, categories: Sequence[Hashable] | None = None) -> float | None:
    """Fleiss' kappa; ``ratings[item][rater]``, every item rated by the same number of raters (>= 2)."""
    if not ratings:
        return None
    counts_per_item = {sum(r is not None for r in item) for item in ratings}
    if len(counts_per_item) != 1 or min(counts_per_item) < 2:
        raise ValueError(
            "Fleiss' kappa needs every item rated by the same number (>= 2) of raters; "
            "use Krippendorff's alpha when ratings are missing"
        )
    raters = counts_per_item.pop()
    order = _category_order(categories, [r for item in ratings for r in item if r is not None])
    index = {c: n for n, c in enumerate(order)}
    table = np.zeros((len(ratings), len(order)))
    for row, item in enumerate(ratings):
        for rating in item:
            if rating is not None:
                table[row, index[rating]] += 1
    agreement_per_item = ((table * (table - 1)).sum(axis=1)) / (raters * (raters - 1))
    observed = float(agreement_per_item.mean())
    proportions = table.sum(axis=0) / table.sum()
    expected = float((proportions**2).sum())
    if expected == 1.0:
        return 1.0
    return (observed - expected) / (1.0 - expected)


def krippendorff_alpha(
    ratings: Sequence[Sequence[Rating]],
    *,
    level: str = "nominal",
    categories: Sequence[Hashable] | None = None,
) -> float | None:
    """Krippendorff's alpha; ``ratings[item][rater]`` with ``None`` for missing ratings.

    ``level`` is ``nominal``, ``ordinal`` (ranks of ``categories``) or ``interval``
    (numeric values). Items with fewer than two ratings carry no information and are
    left out. Returns None when no item has two ratings.
    """
    if level not in ("nominal", "ordinal", "interval"):
        raise ValueError(f"Unknown measurement level {level!r}; use nominal, ordinal or interval")
    units = [[r for r in item if r is not None] for item in ratings]
    units = [u for u in units if len(u) >= 2]
    if not units:
        return None
    order = _category_order(categories, [r for u in units for r in u])
    index = {c: n for n, c in enumerate(order)}
    size = len(order)
    coincidences = np.zeros((size, size))
    for unit in units:
        values = np.array([index[r] for r in unit])
        counts = np.bincount(values, minlength=size).astype(float)
        coincidences += (np.outer(counts, counts) - np.diag(counts)) / (len(unit) - 1)
    marginals = coincidences.sum(axis=1)
    total = marginals.sum()
    distance = _alpha_distances(order, marginals, level)
    observed = float((coincidences * distance).sum())
    expected = float((np.outer(marginals, marginals) * distance).sum()) / (total - 1)
    if expected == 0:
        return 1.0
    return 1.0 - observed / expected


def landmark_distance_mm(a: Sequence[float], b: Sequence[float]) -> float:
    """Euclidean distance of two points in patient coordinates (mm)."""
    return float(np.linalg.norm(np.asarray(a, dtype=float) - np.asarray(b, dtype=float)))


def box_iou(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]]) -> float:
    """Intersection over union of two axis-aligned boxes, each given by two opposite corners.

    Works in 2D (pixel coordinates) and 3D (mm). An axis along which both boxes are flat (two
    rectangles in one axial plane, say) is left out of the measure when they lie at the same place
    on it, and makes the IoU 0 when they do not; two identical points count as identical boxes.
    """
    a_lo, a_hi = np.minimum(*np.asarray(a, dtype=float)), np.maximum(*np.asarray(a, dtype=float))
    b_lo, b_hi = np.minimum(*np.asarray(b, dtype=float)), np.maximum(*np.asarray(b, dtype=float))
    if a_lo.shape != b_lo.shape:
        raise ValueError(f"Boxes of {a_lo.size} and {b_lo.size} dimensions cannot be compared")
    flat = (a_hi == a_lo) & (b_hi == b_lo)
    if np.any(flat & (a_lo != b_lo)):
        return 0.0
    a_lo, a_hi, b_lo, b_hi = (v[~flat] for v in (a_lo, a_hi, b_lo, b_hi))
    intersection = float(np.prod(np.clip(np.minimum(a_hi, b_hi) - np.maximum(a_lo, b_lo), 0, None)))
    union = float(np.prod(a_hi - a_lo) + np.prod(b_hi - b_lo)) - intersection
    return 1.0 if union == 0 else intersection / union


def _category_order(categories: Sequence[Hashable] | None, observed: list[Hashable]) -> list[Hashable]:
    if categories is None:
        try:
            return sorted(set(observed))
        except TypeError:  # mixed types: keep first-seen order
            return list(dict.fromkeys(observed))
    unknown = [v for v in dict.fromkeys(observed) if v not in set(categories)]
    if unknown:
        raise ValueError(f"Ratings {unknown} are not among the categories {list(categories)}")
    return list(categories)


def _disagreement_weights(size: int, weighting: Weighting) -> np.ndarray:
    i, j = np.indices((size, size))
    if weighting is Weighting.NONE:
        return (i != j).astype(float)
    span = max(size - 1, 1)
    if weighting is Weighting.LINEAR:
        return np.abs(i - j) / span
    return ((i - j) / span) ** 2


def _alpha_distances(order: list[Hashable], marginals: np.ndarray, level: str) -> np.ndarray:
    size = len(order)
    if level == "nominal":
        return 1.0 - np.eye(size)
    if level == "interval":
        values = np.array([float(v) for v in order])
        return (values[:, None] - values[None, :]) ** 2
    # Ordinal: squared sums of the marginals between two ranks (Krippendorff 2011).
    cumulative = np.concatenate([[0.0], np.cumsum(marginals)])
    distance = np.zeros((size, size))
    for g in range(size):
        for h in range(size):
            lo, hi = min(g, h), max(g, h)
            span = cumulative[hi + 1] - cumulative[lo] - (marginals[g] + marginals[h]) / 2
            distance[g, h] = span**2
    return distance

