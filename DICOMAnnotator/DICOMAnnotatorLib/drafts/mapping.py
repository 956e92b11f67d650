"""A model's labels mapped onto a protocol's structures: by an explicit mapping, then by code, then by name.

- ``--labels`` (``{"label value or label name": "structure label" | null}``) decides first; ``null`` leaves a
  label out (a whole-body model's 104 labels onto a liver protocol's two structures);
- a label that carries codes (a DICOM SEG's segment, a ``seg import`` sidecar) is the structure with the
  same codes: category, type and modifier, and the anatomic region where the protocol gives one (the rule
  the store checks submissions by);
- otherwise its name, compared without case, spaces, hyphens and underscores, is a structure's label
  or the meaning of its type code ("kidney_right" is "Kidney right"; "liver" is "Liver").

Several labels may become one structure (their voxels are joined: "vertebrae_L1" ... "vertebrae_L5" onto
"Lumbar vertebra"). A label that maps nowhere is an error naming it and the protocol's structures, unless
``drop_unmapped`` leaves such labels out (and lists them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from ..protocols import Protocol, StructureTemplate
from .label_tables import SourceLabel


class LabelMappingError(InputError):
    """A label of a model's output maps to no structure of the protocol, or to several."""


@dataclass(frozen=True)
class MappedLabel:
    """A label and the structure it became, with how it was matched (``labels option``, ``code`` or ``name``)."""

    label: SourceLabel
    structure: StructureTemplate
    matched_by: str


@dataclass(frozen=True)
class LabelMapping:
    """Which labels become which structure, and which were left out."""

    mapped: tuple[MappedLabel, ...]
    dropped: tuple[SourceLabel, ...]

    def structures(self) -> list[tuple[StructureTemplate, list[MappedLabel]]]:
        """Each structure that receives labels, in the protocol's label-value order, with those labels."""
        grouped: dict[str, list[MappedLabel]] = {}
        for entry in self.mapped:
            grouped.setdefault(entry.structure.label, []).append(entry)
        ordered = sorted({entry.structure.label: entry.structure for entry in self.mapped}.values(),
                         key=lambda s: s.label_value or 0)
        return [(structure, grouped[structure.label]) for structure in ordered]

    def to_json(self) -> dict[str, Any]:
        return {"structures": [{"structure": structure.label,
                                "labels": [{"name": e.label.name, "values": list(e.label.values),
                                            "matched_by": e.matched_by} for e in entries]}
                               for structure, entries in self.structures()],
                "dropped": [{"name": label.name, "values": list(label.values)} for label in self.dropped]}


def map_labels(labels: Sequence[SourceLabel], protocol: Protocol, *, explicit: Mapping[str, str | None] | None = None,
               drop_unmapped: bool = False, output: str = "the model's output") -> LabelMapping:
    """Map ``labels`` (of ``output``, named in messages) onto ``protocol``'s volume and contour structures."""
    structures = protocol.segment_structures
    if not structures:
        raise LabelMappingError(f"Protocol '{protocol.id}' has no volume or contour structures, so a segmentation "
                                "model's output cannot be its draft")
    explicit = dict(explicit or {})
    _check_explicit(explicit, labels, protocol, output)
    mapped, dropped, unmapped = [], [], []
    names = _StructureNames(structures)
    for label in labels:
        choice = _explicit_choice(label, explicit)
        if choice is not None:
            target = choice[0]
            if target is None:
                dropped.append(label)
            else:
                mapped.append(MappedLabel(label, protocol.structure(target), "labels option"))
            continue
        structure = protocol.structure_for_segment(label.description) if label.description is not None else None
        how = "code"
        if structure is None:
            structure, how = _by_name(label, names, protocol, output), "name"
        if structure is not None:
            mapped.append(MappedLabel(label, structure, how))
        elif drop_unmapped:
            dropped.append(label)
        else:
            unmapped.append(label)
    if unmapped:
        names = ", ".join(str(label) for label in unmapped[:10]) + (", ..." if len(unmapped) > 10 else "")
        first = unmapped[0].name
        raise LabelMappingError(
            f"{names} of {output} match{'es' if len(unmapped) == 1 else ''} no structure of protocol '{protocol.id}' "
            f"(its structures: {_structure_list(structures)}); map it with --labels "
            f'\'{{"{first}": "STRUCTURE"}}\', leave it out with {{"{first}": null}}, or pass --drop-unmapped')
    if not mapped:
        raise LabelMappingError(f"No label of {output} maps onto a structure of protocol '{protocol.id}' (its "
                                f"structures: {_structure_list(structures)}; the labels: "
                                f"{', '.join(str(label) for label in labels[:10]) or 'none'}); map them with --labels")
    return LabelMapping(tuple(mapped), tuple(dropped))


def _check_explicit(explicit: Mapping[str, Any], labels: Sequence[SourceLabel], protocol: Protocol,
                    output: str) -> None:
    known = {label.name for label in labels} | {label.key for label in labels}
    segment_labels = {s.label for s in protocol.segment_structures}
    for key, target in explicit.items():
        if key not in known:
            raise LabelMappingError(f"--labels names '{key}', which is no label of {output}; its labels are "
                                    + (", ".join(str(label) for label in labels[:20]) or "none"))
        if target is not None and (not isinstance(target, str) or target not in segment_labels):
            raise LabelMappingError(f"--labels maps '{key}' to {target!r}, which is no volume or contour structure of "
                                    f"protocol '{protocol.id}'; its structures are "
                                    f"{_structure_list(protocol.segment_structures)}")


def _explicit_choice(label: SourceLabel, explicit: Mapping[str, str | None]) -> tuple[str | None] | None:
    """``(structure label or None to drop,)`` when ``--labels`` names ``label`` (by name, then by value)."""
    for key in (label.name, label.key):
        if key in explicit:
            return (explicit[key],)
    return None


def _by_name(label: SourceLabel, names: _StructureNames, protocol: Protocol, output: str) -> StructureTemplate | None:
    wanted = normalized_name(label.name)
    for by_name in (names.labels, names.types):
        found = by_name.get(wanted, [])
        if len(found) > 1:
            raise LabelMappingError(f"{label} of {output} is the name of several structures of protocol "
                                    f"'{protocol.id}' ({_structure_list(found)}); say which with --labels")
        if found:
            return found[0]
    return None


class _StructureNames:
    """The structures by normalized label and by normalized type meaning (each name may fit several)."""

    def __init__(self, structures: Sequence[StructureTemplate]) -> None:
        self.labels: dict[str, list[StructureTemplate]] = {}
        self.types: dict[str, list[StructureTemplate]] = {}
        for structure in structures:
            self.labels.setdefault(normalized_name(structure.label), []).append(structure)
            self.types.setdefault(normalized_name(structure.type.meaning), []).append(structure)


def normalized_name(name: str) -> str:
    """A name as compared: lower case, runs of spaces, hyphens and underscores as one space."""
    return re.sub(r"[\s_\-]+", " ", name).strip().lower()


def _structure_list(structures: Sequence[StructureTemplate]) -> str:
    return ", ".join(f"'{s.label}'" for s in structures)
