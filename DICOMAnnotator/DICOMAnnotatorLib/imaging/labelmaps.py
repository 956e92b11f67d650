"""Label-map files to coded segmentations and back, by the protocol's label values.

Training pipelines speak label maps (value v = structure v); DICOM speaks coded segments.
The protocol is the dictionary between them: structure ``label_value`` v is label value v.
On the way back, a SEG segment finds its label value by its codes (category, type and
modifiers), never by its label text or its SEG segment number, which the SEG renumbers 1..N.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path
from ..errors import InputError, SegmentationError
from .image_files import read_on_grid, write_image
from .matching import segment_key
from .segmentation import MaskKind, Segmentation, SegmentDescription
from .series import ReferenceSeries


@dataclass(frozen=True)
class LabelmapSegmentation:
    """A segmentation read from label-map files, and the label values no protocol structure describes."""

    segmentation: Segmentation
    undescribed_labels: tuple[int, ...]


def from_labelmap_file(
    series: ReferenceSeries, path: str | os.PathLike[str], *, protocol: Any = None, author: str | None = None,
) -> LabelmapSegmentation:
    """Label value v becomes the protocol's structure with ``label_value`` v ("Segment v" without one)."""
    voxels = read_on_grid(path, series.geometry)
    descriptions = protocol.segment_descriptions() if protocol is not None else []
    present = {int(v) for v in np.unique(voxels) if v != 0}
    undescribed = tuple(sorted(present - {d.number for d in descriptions}))
    if protocol is not None and undescribed:
        raise SegmentationError(
            f"{path} holds label values {list(undescribed)} that protocol '{protocol.id}' does not define; its label "
            "values are " + ", ".join(f"{d.number} ({d.label})" for d in descriptions))
    kept = [d for d in descriptions if d.number in present] if descriptions else []
    segmentation = Segmentation.from_labelmap(
        series.geometry, voxels, kept, allow_unknown_labels=protocol is None, reference=series, author=author,
        protocol_id=protocol.id if protocol is not None else None)
    return LabelmapSegmentation(segmentation, undescribed)


def from_probability_files(
    series: ReferenceSeries, paths: Sequence[str | os.PathLike[str]], structures: Sequence[str], *,
    protocol: Any = None, author: str | None = None,
) -> Segmentation:
    """A FRACTIONAL segmentation from one probability image in [0, 1] per structure label."""
    if len(paths) != len(structures) or not paths:
        raise InputError(f"Give one probability image per --structure: {len(paths)} image(s) for "
                         f"{len(structures)} structure(s)")
    descriptions, masks = [], {}
    for number, (path, label) in enumerate(zip(paths, structures, strict=True), start=1):
        if protocol is not None:
            try:
                description = protocol.structure(label).segment_description()
            except KeyError as exc:
                raise InputError(str(exc.args[0])) from None
        else:
            description = SegmentDescription(number=number, label=label)
        descriptions.append(description)
        values = read_on_grid(path, series.geometry).astype(np.float32)
        if values.size and (np.isnan(values).any() or values.min() < 0 or values.max() > 1):
            raise InputError(f"{path} holds values outside [0, 1]; give probabilities for structure '{label}'")
        masks[description.number] = values
    return Segmentation(series.geometry, descriptions, masks, kind=MaskKind.FRACTIONAL, reference=series,
                        author=author, protocol_id=protocol.id if protocol is not None else None)


def label_values(segmentation: Segmentation, protocol: Any = None) -> dict[int, int]:
    """Each segment's label value: the protocol structure with the same codes, else the segment number."""
    by_key = {segment_key(d): d.number for d in protocol.segment_descriptions()} if protocol is not None else {}
    values = {}
    for description in segmentation.segments:
        value = by_key.get(segment_key(description))
        if value is None and protocol is not None:
            raise SegmentationError(
                f"Segment {description.number} ('{description.label}', {description.type.as_list()}) matches no "
                f"structure of protocol '{protocol.id}'; import it without --protocol")
        values[description.number] = value if value is not None else description.number
    return values


def write_labelmap_files(
    segmentation: Segmentation, output: str | os.PathLike[str], *, values: dict[int, int], split: bool = False,
    force: bool = False,
) -> list[Path]:
    """``output`` as one label map (or, with ``split``, a folder of one mask per segment) + ``output.json``."""
    output = Path(output)
    sidecar = output.with_name(output.name + ".json")
    if not split:
        if segmentation.kind is MaskKind.FRACTIONAL:
            raise SegmentationError("A FRACTIONAL SEG holds probabilities, not labels; import it with --split")
        _require_distinct(values)
        labelmap = segmentation.to_labelmap()  # refuses overlaps, naming the two segments
        if any(number != value for number, value in values.items()):
            lookup = np.zeros(max(values) + 1, dtype=np.uint16)
            for number, value in values.items():
                lookup[number] = value
            labelmap = lookup[labelmap]
        files = [output]
        with atomic_path(sidecar, force=force) as temporary_sidecar:
            write_image(labelmap, segmentation.geometry, output, force=force)
            temporary_sidecar.write_text(_sidecar(segmentation, values, None), encoding="utf-8")
    else:
        with atomic_path(output, force=force, directory=True) as folder, \
                atomic_path(sidecar, force=force) as temporary_sidecar:
            for description, mask in segmentation.iter_masks():
                write_image(mask.astype(np.uint8) if mask.dtype == bool else mask, segmentation.geometry,
                            folder / f"{description.number}.nii.gz")
            temporary_sidecar.write_text(_sidecar(segmentation, values, "{number}.nii.gz"), encoding="utf-8")
        files = [output / f"{d.number}.nii.gz" for d in segmentation.segments]
    return [*files, sidecar]


def _require_distinct(values: dict[int, int]) -> None:
    seen: dict[int, int] = {}
    for number, value in values.items():
        if value in seen:
            raise SegmentationError(f"Segments {seen[value]} and {number} both are label value {value} (same codes); "
                                    "import them with --split")
        seen[value] = number


def _sidecar(segmentation: Segmentation, values: dict[int, int], file_pattern: str | None) -> str:
    entries = []
    for d in segmentation.segments:
        entry = {"number": d.number, "label": d.label, "label_value": values[d.number], "type": d.type.as_list(),
                 "category": d.category.as_list(), "color": list(d.color),
                 "voxels": segmentation.voxel_count(d.number), "volume_ml": round(segmentation.volume_ml(d.number), 6)}
        if file_pattern:
            entry["file"] = file_pattern.format(number=d.number)
        entries.append(entry)
    return json.dumps({"segments": entries}, indent=2) + "\n"
