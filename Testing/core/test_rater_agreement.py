"""Chance-corrected agreement on labels, landmark distances and box IoU against published values."""

from __future__ import annotations

import pytest
from DICOMAnnotatorLib.agreement.raters import (
    box_iou,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    landmark_distance_mm,
)


def test_cohen_kappa_by_hand():
    # 2x2 table [[20, 5], [10, 15]]: po = 0.7, pe = 0.5*0.6 + 0.5*0.4 = 0.5 -> kappa 0.4
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    assert cohen_kappa(a, a) == 1.0
    assert cohen_kappa(["x"] * 3, ["x"] * 3) == 1.0
    assert cohen_kappa([None, "x"], ["y", None]) is None


def test_weighted_kappa_penalises_far_disagreement_less_than_nominal():
    scale = [1, 2, 3, 4, 5]
    a = [1, 2, 3, 4, 5, 3, 2]
    b = [1, 3, 3, 5, 5, 2, 2]
    nominal = cohen_kappa(a, b, categories=scale)
    quadratic = cohen_kappa(a, b, categories=scale, weighting="quadratic")
    linear = cohen_kappa(a, b, categories=scale, weighting="linear")
    assert nominal < linear < quadratic <= 1
    with pytest.raises(ValueError, match=r"Ratings \[6\] are not among the categories"):
        cohen_kappa([6], [1], categories=scale)


def test_fleiss_kappa_matches_fleiss_1971_example():
    # Fleiss (1971) / Wikipedia example: 10 items, 14 raters, 5 categories -> kappa 0.210
    table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
             [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    ratings = [[c for c, n in enumerate(row) for _ in range(n)] for row in table]
    assert fleiss_kappa(ratings) == pytest.approx(0.2099, abs=1e-4)
    with pytest.raises(ValueError, match="Krippendorff"):
        fleiss_kappa([[1, 2], [1, None]])


def test_krippendorff_alpha_matches_krippendorff_2011_example():
    # Krippendorff (2011) "Computing Krippendorff's alpha-reliability", 4 coders, 12 units, missing data.
    coders = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
        [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
    ]
    units = [list(unit) for unit in zip(*coders, strict=True)]
    assert krippendorff_alpha(units, level="nominal") == pytest.approx(0.743, abs=1e-3)
    assert krippendorff_alpha(units, level="interval") == pytest.approx(0.849, abs=1e-3)
    assert krippendorff_alpha(units, level="ordinal", categories=[1, 2, 3, 4, 5]) == pytest.approx(0.815, abs=1e-3)
    assert krippendorff_alpha([[1, None], [None, 2]]) is None


def test_landmarks_and_boxes():
    assert landmark_distance_mm([0, 0, 0], [3, 4, 12]) == pytest.approx(13.0)
    assert box_iou([[0, 0], [10, 10]], [[5, 5], [15, 15]]) == pytest.approx(25 / 175)
    assert box_iou([[10, 10], [0, 0]], [[0, 0], [10, 10]]) == 1.0  # corner order does not matter
    assert box_iou([[0, 0, 0], [2, 2, 2]], [[3, 3, 3], [4, 4, 4]]) == 0.0
    assert box_iou([[0, 0, 5], [10, 10, 5]], [[5, 5, 5], [15, 15, 5]]) == pytest.approx(25 / 175), "one axial plane"
    assert box_iou([[0, 0, 5], [10, 10, 5]], [[0, 0, 6], [10, 10, 6]]) == 0.0, "parallel planes 1 mm apart"
    with pytest.raises(ValueError, match="dimensions"):
        box_iou([[0, 0], [1, 1]], [[0, 0, 0], [1, 1, 1]])
