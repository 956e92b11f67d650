"""Coded classification labels for the SR, read from a labels JSON file and checked against the protocol.

The file (``sr export --labels FILE.json``)::

    {"labels": [
        {"segment": 2, "name": "Liver lesion type", "value": "Cyst"},
        {"segment": "Liver lesion", "name": ["121071", "DCM", "Finding"],
         "value": {"code_value": "367643001", "coding_scheme_designator": "SCT", "code_meaning": "Cyst"}},
        {"mark": 0, "name": "Genant fracture grade", "value": "Mild"},
        {"name": ..., "value": ...}
    ]}

- The target is ``segment`` (a segment number of the SEG, or its label when that is unique),
  ``mark`` (the 0-based index of a mark in the ``--marks`` file), or neither (the whole case).
- ``name`` (the question) and ``value`` (the answer) are codes in either JSON form. With a
  protocol they may also be text: the classification structure's label or its type's meaning,
  and the meaning or code value of one of its values.
- With a protocol every label must be one of its classifications that applies to the target's
  structure (``applies_to``; none for the whole case) and the value one of its allowed values;
  the protocol's codes are written. A question may be answered once per target.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..dicom import Code
from ..errors import InputError
from ..imaging import SegmentDescription
from .marks import Mark, read_json_list

if TYPE_CHECKING:  # pragma: no cover
    from ..protocols import Protocol, StructureTemplate


@dataclass(frozen=True)
class ClassificationLabel:
    """One coded answer about a segment (``segment``), a mark (``mark``) or the case (both None)."""

    name: Code
    value: Code
    segment: int | None = None
    mark: int | None = None


def read_labels(
    path: str | os.PathLike[str],
    segments: Sequence[SegmentDescription],
    marks: Sequence[Mark] = (),
    protocol: Protocol | None = None,
) -> list[ClassificationLabel]:
    """The labels of a labels file, their targets checked against ``segments`` and ``marks``."""
    labels: list[ClassificationLabel] = []
    for index, entry in enumerate(read_json_list(path, "labels")):
        where = f"{path}: labels[{index}]"
        if not isinstance(entry, dict):
            raise InputError(f"{where} is not an object")
        segment, mark, target, structure = _target(entry, segments, marks, protocol, where)
        if protocol is None:
            name, value = _code(entry.get("name"), f"{where}.name"), _code(entry.get("value"), f"{where}.value")
        else:
            case = segment is None and mark is None
            classification = _classification(entry.get("name"), protocol, target, structure, case, where)
            name, value = classification.type, _allowed_value(entry.get("value"), classification, where)
        label = ClassificationLabel(name=name, value=value, segment=segment, mark=mark)
        if any(other.name.matches(name) and (other.segment, other.mark) == (segment, mark) for other in labels):
            raise InputError(f"{where} answers '{name.meaning}' for {target} a second time; give one value")
        labels.append(label)
    return labels


def _target(entry: dict[str, Any], segments: Sequence[SegmentDescription], marks: Sequence[Mark],
            protocol: Protocol | None, where: str) -> tuple[int | None, int | None, str, str | None]:
    """Segment number, mark index, a description for messages and the protocol structure label."""
    if "segment" in entry and "mark" in entry:
        raise InputError(f"{where} names both a segment and a mark; a label has one target")
    if "segment" in entry:
        description = _segment(entry["segment"], segments, where)
        return (description.number, None, f"segment {description.number} ('{description.label}')",
                _structure_of(description, protocol))
    if "mark" in entry:
        index = entry["mark"]
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(marks):
            raise InputError(f"{where}.mark is {index!r}; give the 0-based index of one of the {len(marks)} marks "
                             "of the --marks file")
        return None, index, f"mark {index} ('{marks[index].label}')", marks[index].structure
    return None, None, "the case", None


def _segment(key: Any, segments: Sequence[SegmentDescription], where: str) -> SegmentDescription:
    if isinstance(key, int) and not isinstance(key, bool):
        found = [s for s in segments if s.number == key]
    elif isinstance(key, str):
        found = [s for s in segments if s.label == key]
        if len(found) > 1:
            raise InputError(f"{where}.segment '{key}' is the label of segments {[s.number for s in found]}; "
                             "give the segment number")
    else:
        found = []
    if not found:
        known = ", ".join(f"{s.number} ('{s.label}')" for s in segments)
        raise InputError(f"{where}.segment {key!r} is not a segment of the SEG; its segments are {known}")
    return found[0]


def _structure_of(description: SegmentDescription, protocol: Protocol | None) -> str | None:
    """The protocol structure of a segment: the one with its label, else the one with its type code."""
    if protocol is None:
        return None
    structures = protocol.segment_structures
    for structure in structures:
        if structure.label == description.label:
            return structure.label
    for structure in structures:
        if structure.type.matches(description.type):
            return structure.label
    return None


def _classification(name: Any, protocol: Protocol, target: str, structure: str | None, case: bool,
                    where: str) -> StructureTemplate:
    """The classification ``name`` of the protocol that applies to the target (whole-case ones for the case)."""
    if not case and structure is None:
        raise InputError(f"{where}: {target} is no structure of protocol '{protocol.id}', so none of its "
                         "classifications applies to it")
    candidates = [s for s in protocol.structures if s.kind.value == "classification"
                  and ((structure in s.applies_to) if not case else not s.applies_to)]
    if isinstance(name, str):
        found = [s for s in candidates if name in (s.label, s.type.meaning)]
    else:
        code = _code(name, f"{where}.name")
        found = [s for s in candidates if s.type.matches(code)]
    if not found:
        offered = "; ".join(f"'{s.label}' ({s.type.meaning})" for s in candidates) or "none"
        raise InputError(f"{where}.name {name!r} is not a classification of protocol '{protocol.id}' for {target}"
                         + (f" (structure '{structure}')" if structure else "") + "; its classifications for it: "
                         + offered)
    return found[0]


def _allowed_value(value: Any, classification: StructureTemplate, where: str) -> Code:
    if isinstance(value, str):
        found = [v for v in classification.values if value in (v.meaning, v.value)]
    else:
        code = _code(value, f"{where}.value")
        found = [v for v in classification.values if v.matches(code)]
    if not found:
        allowed = "; ".join(v.meaning for v in classification.values)
        raise InputError(f"{where}.value {value!r} is not an allowed value of '{classification.label}'; "
                         f"allowed: {allowed}")
    return found[0]


def _code(value: Any, where: str) -> Code:
    if isinstance(value, str):
        raise InputError(f"{where} is the text {value!r}; without --protocol give a code "
                         "[code_value, coding_scheme_designator, code_meaning]")
    try:
        return Code.from_json(value)
    except ValueError as exc:
        raise InputError(f"{where}: {exc}") from None
