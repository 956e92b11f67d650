"""A submission checked against its project's protocol, by codes, before the store records it.

The Slicer desk and the web app only offer the protocol's structures, but a SEG or SR can come
from any tool, so the store itself checks (in local mode too): every segment of a SEG is one of
the protocol's structures by its codes (category, type, modifier; anatomic region where the
protocol gives one), every required volume structure is there, and every classification answer
of an SR is a question of the protocol answered with one of its allowed coded values.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..dicom import Code
from ..errors import InputError
from ..protocols import AnnotationKind, Protocol
from .errors import SubmissionFileError


def check_seg_structures(path: str | os.PathLike[str], protocol: Protocol, case_id: int) -> None:
    """Refuse a SEG with segments outside the protocol or without its required volume structures."""
    from ..seg import read_segment_descriptions

    structures = protocol.segment_structures
    found: set[str] = set()
    strangers = []
    for segment in read_segment_descriptions(path):
        structure = protocol.structure_for_segment(segment)
        if structure is None:
            strangers.append(f"segment {segment.number} '{segment.label}' ({_codes(segment.category, segment.type)})")
        else:
            found.add(structure.label)
    where = f"{Path(path).name} for case {case_id}"
    expected = "; ".join(f"'{s.label}' ({_codes(s.category, s.type)})" for s in structures)
    if strangers:
        raise SubmissionFileError(f"{where}: {', '.join(strangers)} is not a structure of protocol '{protocol.id}' "
                                  f"version {protocol.version}; its structures are {expected}")
    missing = [s.label for s in structures if s.required and s.kind is AnnotationKind.VOLUME and s.label not in found]
    if missing:
        raise SubmissionFileError(f"{where}: required structure(s) {', '.join(missing)} of protocol '{protocol.id}' "
                                  "are missing; annotate them and submit again")


def check_sr_answers(path: str | os.PathLike[str], protocol: Protocol, case_id: int) -> None:
    """Refuse an SR whose classification answers are not the protocol's questions and allowed values."""
    from ..agreement import read_annotations

    questions = [s for s in protocol.structures if s.kind is AnnotationKind.CLASSIFICATION]
    try:
        answers = read_annotations(path).answers
    except InputError:
        return  # an SR that is no TID 1500 Measurement Report holds no answers to check
    for (target, question), answer in answers.items():
        asked = [s for s in questions if s.type.matches(question)]
        where = f"{Path(path).name} for case {case_id}: the answer to '{question.meaning}' ({target})"
        if not asked:
            offered = "; ".join(f"'{s.label}'" for s in questions) or "none"
            raise SubmissionFileError(f"{where} is not a question of protocol '{protocol.id}' (its questions: "
                                      f"{offered})")
        if not any(value.matches(answer) for s in asked for value in s.values):
            allowed = "; ".join(v.meaning for s in asked for v in s.values)
            raise SubmissionFileError(f"{where} is '{answer.meaning}' ({answer.scheme} {answer.value}), not one of "
                                      f"its allowed values: {allowed}")


def _codes(category: Code | None, type_: Code) -> str:
    prefix = f"{category.scheme} {category.value} / " if category else ""
    return f"{prefix}{type_.scheme} {type_.value} {type_.meaning}"
