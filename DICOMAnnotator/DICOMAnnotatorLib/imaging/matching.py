"""Which segment of one annotator's segmentation is which segment of another's.

Segments are matched by their codes (category, type, type modifier, anatomic region), never
by label text: "Lesion" and "lesion 1" are the same structure when coded the same, and two
"Lesion" segments in different organs are not. All inputs must lie on one grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..dicom import Code
from ..errors import GeometryMismatchError, SegmentationError
from .segmentation import Segmentation, SegmentDescription

SegmentKey = tuple[tuple[str, str] | None, ...]


def segment_key(description: SegmentDescription) -> SegmentKey:
    """The identity of a segment across annotators: its codes, without meanings or label."""

    def part(code: Code | None) -> tuple[str, str] | None:
        return None if code is None else (code.value, code.scheme)

    return (part(description.category), part(description.type), part(description.type_modifier),
            part(description.anatomic_region))


@dataclass(frozen=True)
class MatchedSegment:
    """One structure across inputs: its description and, per input, the segment number (or None)."""

    key: SegmentKey
    description: SegmentDescription
    numbers: tuple[int | None, ...]


def match_segments(
    segmentations: Sequence[Segmentation],
    names: Sequence[str],
    *,
    missing_as_empty: bool = True,
) -> list[MatchedSegment]:
    """Match segments of ``segmentations`` (named ``names`` in messages) by code.

    A structure missing from some inputs counts as empty there when ``missing_as_empty``
    (an annotator found nothing: SEG writers drop empty segments); otherwise it is an
    error that names the inputs and codes.
    """
    if len(segmentations) < 2:
        raise SegmentationError(f"Need at least 2 segmentations to compare, got {len(segmentations)}")
    require_same_grid(segmentations, names)
    order: dict[SegmentKey, SegmentDescription] = {}
    per_input: list[dict[SegmentKey, int]] = []
    for segmentation, name in zip(segmentations, names, strict=True):
        numbers: dict[SegmentKey, int] = {}
        for description in segmentation.segments:
            key = segment_key(description)
            if key in numbers:
                raise SegmentationError(
                    f"{name} has two segments coded {description.type} ({numbers[key]} and "
                    f"{description.number}); give each structure its own code or merge them"
                )
            numbers[key] = description.number
            order.setdefault(key, description)
        per_input.append(numbers)
    matched = []
    for key, description in order.items():
        numbers = tuple(found.get(key) for found in per_input)
        if None in numbers and not missing_as_empty:
            absent = [name for name, number in zip(names, numbers, strict=True) if number is None]
            raise SegmentationError(
                f"Segment {description.type} ('{description.label}') is missing from {', '.join(absent)}; "
                "the inputs must code the same structures (same protocol), or count missing ones as empty"
            )
        matched.append(MatchedSegment(key, description, numbers))
    return matched


def require_same_grid(segmentations: Sequence[Segmentation], names: Sequence[str]) -> None:
    """All inputs on one grid (and one series, where known), else an error naming the odd one."""
    first = segmentations[0]
    for segmentation, name in zip(segmentations[1:], names[1:], strict=True):
        first_uid = first.reference.series_instance_uid if first.reference else None
        uid = segmentation.reference.series_instance_uid if segmentation.reference else None
        if first_uid and uid and first_uid != uid:
            raise GeometryMismatchError(
                f"{name} is on series {uid} but {names[0]} is on series {first_uid}; "
                "compare segmentations of the same series"
            )
        first.geometry.require_same_grid(segmentation.geometry, name)
