"""A model's output, its labels mapped, as the case's AI draft: a segmentation of the protocol's coded structures.

Each structure's segment carries the protocol's codes, label and colour, with Segment Algorithm Type
AUTOMATIC and the model's name and version (PS3.3 C.8.20-4: the Algorithm Identification of the SEG).
Label maps give BINARY segments, probability maps and FRACTIONAL SEGs FRACTIONAL ones (probabilities are
kept, for the annotator to see and for the queue's uncertainty order).

Any segmentation read with its codes (an RT Structure Set's ROIs, another tool's SEG) is mapped onto a protocol the
same way without becoming a draft (:func:`map_segmentation`): its segments are then the protocol's structures, made
as they were.

A label map is walked once to find every label's bounding box (when it is read); each structure's mask is
then cut from inside the boxes of its labels only, so a 104-label map costs about one pass over the volume plus the
labelled voxels, not one pass per structure.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..imaging import (
    AlgorithmType,
    MaskKind,
    Provenance,
    ReferenceSeries,
    Segmentation,
    SegmentDescription,
)
from ..protocols import Protocol, StructureTemplate
from .mapping import LabelMapping, MappedLabel, map_labels
from .model_outputs import ModelOutput, segment_labels
from .uncertainty import Uncertainty, mean_entropy

#: Probabilities that a FRACTIONAL SEG (8 bits, 255 = 1) stores as 0 anyway are dropped at once.
SMALLEST_FRACTION = 0.5 / 255
#: The SEG's Content Label (a code string) and how its series presents itself in a PACS.
CONTENT_LABEL = "AI_DRAFT"


@dataclass(frozen=True)
class Draft:
    """A case's AI draft: the segmentation (on the series), how the model's labels were mapped, and the
    model's uncertainty where it gave probabilities."""

    segmentation: Segmentation
    algorithm: str
    algorithm_version: str
    output: ModelOutput
    mapping: LabelMapping
    uncertainty: Uncertainty | None

    @property
    def segmentation_type(self) -> str:
        return "fractional" if self.segmentation.kind is MaskKind.FRACTIONAL else "binary"

    def write(self, path: str | os.PathLike[str], *, force: bool = False, digest: Any | None = None) -> Path:
        """The draft as a DICOM SEG (BINARY, or FRACTIONAL for probabilities); ``digest`` (a ``hashlib`` object)
        is updated with its bytes as they are written."""
        from ..seg import write_seg

        description = f"AI draft {self.algorithm} {self.algorithm_version}"
        return write_seg(self.segmentation, path, force=force, digest=digest, segmentation_type=self.segmentation_type,
                         series_description=description[:64], content_label=CONTENT_LABEL,
                         content_description=description[:64])

    def to_json(self) -> dict[str, Any]:
        """What was imported: the source, each structure with its labels and voxels, and the uncertainty."""
        voxels = {d.label: self.segmentation.voxel_count(d.number) for d in self.segmentation.segments}
        mapping = self.mapping.to_json()
        for entry in mapping["structures"]:
            entry["voxels"] = voxels[entry["structure"]]
        return {"algorithm": self.algorithm, "algorithm_version": self.algorithm_version,
                "segmentation_type": self.segmentation_type.upper(),
                "source": {"file": str(self.output.path), "form": self.output.form,
                           "label_table": self.output.labels.source},
                **mapping, "uncertainty": self.uncertainty.to_json() if self.uncertainty else None}


def build_draft(output: ModelOutput, mapping: LabelMapping, series: ReferenceSeries, protocol: Protocol, *,
                algorithm: str, algorithm_version: str) -> Draft:
    """The draft segmentation of ``output`` on ``series``, one AUTOMATIC segment per mapped structure."""
    algorithm, algorithm_version = _required(algorithm, "--algorithm"), _required(algorithm_version,
                                                                                  "--algorithm-version")
    structures = mapping.structures()
    descriptions = [_automatic(structure, algorithm, algorithm_version) for structure, _ in structures]
    geometry = series.geometry
    if output.voxels is not None:
        kind, cropped = MaskKind.BINARY, _from_labelmap(output.voxels, output.boxes, structures)
    elif output.channels is not None:
        kind, cropped = MaskKind.FRACTIONAL, _from_channels(output.channels, structures)
    else:
        kind, cropped = output.segmentation.kind, _from_segmentation(output.segmentation, structures)
    segmentation = Segmentation.from_cropped_masks(  # a label map's masks are made here for it: handed over
        geometry, descriptions, {number: box_values for number, box_values in cropped.items() if box_values},
        copy=output.voxels is None, kind=kind, reference=series, protocol_id=protocol.id,
        provenance=Provenance(derived_from=(str(output.path),), method=f"{algorithm} {algorithm_version}"))
    uncertainty = mean_entropy(segmentation) if kind is MaskKind.FRACTIONAL else None
    return Draft(segmentation, algorithm, algorithm_version, output, mapping, uncertainty)


def map_segmentation(segmentation: Segmentation, protocol: Protocol, *,
                     explicit: dict[str, str | None] | None = None, drop_unmapped: bool = False,
                     source: str = "the segmentation") -> tuple[Segmentation, LabelMapping]:
    """``segmentation``'s segments as ``protocol``'s structures, by :func:`.mapping.map_labels`'s rule (``explicit``,
    then code, then name; ``source`` names the input in its messages): each structure's segment has the protocol's
    codes, label, colour and label value as its number, and the voxels of the segments mapped onto it (joined)."""
    mapping = map_labels(segment_labels(segmentation), protocol, explicit=explicit, drop_unmapped=drop_unmapped,
                         output=source)
    structures = mapping.structures()
    cropped = _from_segmentation(segmentation, structures)
    mapped = Segmentation.from_cropped_masks(
        segmentation.geometry, [structure.segment_description() for structure, _ in structures],
        {number: box_values for number, box_values in cropped.items() if box_values}, kind=segmentation.kind,
        reference=segmentation.reference, author=segmentation.author, protocol_id=protocol.id)
    return mapped, mapping


def _required(value: str, option: str) -> str:
    value = (value or "").strip()
    if not value:
        raise InputError(f"An AI draft needs the algorithm's name and version; give {option}")
    return value


def _automatic(structure: StructureTemplate, algorithm: str, version: str) -> SegmentDescription:
    return dataclasses.replace(structure.segment_description(), algorithm_type=AlgorithmType.AUTOMATIC,
                               algorithm_name=algorithm, algorithm_version=version)


Box = tuple[slice, slice, slice]


def _from_labelmap(voxels: np.ndarray, boxes: list, structures: list[tuple[StructureTemplate, list[MappedLabel]]]
                   ) -> dict[int, tuple[Box, np.ndarray] | None]:
    cropped: dict[int, tuple[Box, np.ndarray] | None] = {}
    for structure, labels in structures:
        values = sorted({v for entry in labels for v in entry.label.values})
        present = [boxes[v - 1] for v in values if 0 < v <= len(boxes) and boxes[v - 1] is not None]
        if not present:
            cropped[structure.label_value] = None
            continue
        box = tuple(slice(min(b[axis].start for b in present), max(b[axis].stop for b in present)) for axis in range(3))
        inside = voxels[box]
        mask = inside == values[0] if len(values) == 1 else np.isin(inside, values)
        cropped[structure.label_value] = (box, mask)
    return cropped


def _from_channels(channels: np.ndarray, structures: list[tuple[StructureTemplate, list[MappedLabel]]]
                   ) -> dict[int, tuple[Box, np.ndarray] | None]:
    """Each structure's probability: its channel's, or the sum of its channels' (the probability of their union
    when the channels are a softmax's), with fractions a SEG stores as 0 set to 0."""
    whole = tuple(slice(0, n) for n in channels.shape[1:])
    cropped: dict[int, tuple[Box, np.ndarray] | None] = {}
    for structure, labels in structures:
        picked = sorted({entry.label.channel for entry in labels})
        probability = channels[picked[0]].copy() if len(picked) == 1 else np.minimum(
            channels[picked].sum(axis=0, dtype=np.float32), 1.0)
        probability[probability < SMALLEST_FRACTION] = 0
        cropped[structure.label_value] = (whole, probability)
    return cropped


def _from_segmentation(segmentation: Segmentation, structures: list[tuple[StructureTemplate, list[MappedLabel]]]
                       ) -> dict[int, tuple[Box, np.ndarray] | None]:
    """Each structure from the SEG's segments mapped onto it (several are joined: OR, or the larger fraction)."""
    cropped: dict[int, tuple[Box, np.ndarray] | None] = {}
    for structure, labels in structures:
        numbers = [entry.label.values[0] for entry in labels
                   if segmentation.bounding_box(entry.label.values[0]) is not None]
        if not numbers:
            cropped[structure.label_value] = None
            continue
        if len(numbers) == 1:
            cropped[structure.label_value] = segmentation.cropped_mask(numbers[0])
            continue
        joined = np.zeros(segmentation.geometry.array_shape, dtype=segmentation.mask(numbers[0]).dtype)
        for number in numbers:
            np.maximum(joined, segmentation.mask(number), out=joined)
        cropped[structure.label_value] = (tuple(slice(0, n) for n in joined.shape), joined)
    return cropped
