"""Segment descriptions as DICOM: the Segment Description macro (PS3.3 C.8.20-4) and back.

The core keeps its own small types (:class:`~DICOMAnnotatorLib.dicom.codes.Code`,
:class:`~DICOMAnnotatorLib.imaging.segmentation.SegmentDescription`) so that protocols and JSON
outputs do not depend on DICOM libraries; this module is where a segment becomes a Segment
Sequence item (with pydicom, for the SEG writer) or highdicom's type (for highdicom users and
the tests that hold our header equal to highdicom's), and where a read item becomes ours again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from ..dicom import TISSUE, Code, code_item, dicom_lab_to_rgb, property_type_item, rgb_to_dicom_lab
from ..errors import InputError, SegmentationError
from ..imaging import AlgorithmType, SegmentDescription

#: PS3.16 CID 7162 (Surface Processing Algorithm Families): the family of a non-MANUAL segment's algorithm.
ARTIFICIAL_INTELLIGENCE = Code("123110", "DCM", "Artificial Intelligence")
MANUAL_PROCESSING = Code("123109", "DCM", "Manual Processing")

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # pragma: no cover
    import highdicom as hd

    from ..protocols import Protocol


def segment_item(
    description: SegmentDescription,
    *,
    algorithm_version: str = "unknown",
    algorithm_family: Code | None = None,
) -> Dataset:
    """One Segment Sequence item (PS3.3 Segment Description Macro, C.8.20-4).

    Carries number, label, category, type (with its modifier inside the type item), anatomic
    region (with modifier), tracking ids and the display colour as CIELab. A non-MANUAL segment
    gets an Algorithm Identification: its name, ``algorithm_family`` (default: CID 7162
    "Artificial Intelligence" for AUTOMATIC, "Manual Processing" otherwise) and its version (the
    description's own, e.g. an AI model's, else ``algorithm_version``). Tracking ID and UID go
    together (the macro requires both or none): a missing one is made up from the label or a new UID.
    """
    _check_long_strings(description)
    item = Dataset()
    item.SegmentNumber = description.number
    item.SegmentLabel = description.label
    item.SegmentedPropertyCategoryCodeSequence = [code_item(description.category)]
    item.SegmentedPropertyTypeCodeSequence = [property_type_item(description.type, description.type_modifier)]
    item.SegmentAlgorithmType = description.algorithm_type.value
    if description.algorithm_type is not AlgorithmType.MANUAL:
        item.SegmentAlgorithmName = description.algorithm_name or "unnamed"
        family = algorithm_family or (ARTIFICIAL_INTELLIGENCE if description.algorithm_type is AlgorithmType.AUTOMATIC
                                      else MANUAL_PROCESSING)
        identification = Dataset()
        identification.AlgorithmFamilyCodeSequence = [code_item(family)]
        identification.AlgorithmName = item.SegmentAlgorithmName
        identification.AlgorithmVersion = description.algorithm_version or algorithm_version
        item.SegmentationAlgorithmIdentificationSequence = [identification]
    if description.tracking_id is not None or description.tracking_uid is not None:
        item.TrackingID = description.tracking_id or description.label
        item.TrackingUID = description.tracking_uid or generate_uid()
    if description.anatomic_region is not None:
        region = code_item(description.anatomic_region)
        if description.anatomic_region_modifier is not None:
            region.AnatomicRegionModifierSequence = [code_item(description.anatomic_region_modifier)]
        item.AnatomicRegionSequence = [region]
    item.RecommendedDisplayCIELabValue = list(rgb_to_dicom_lab(description.color))
    return item


def _check_long_strings(description: SegmentDescription) -> None:
    """Label, algorithm name and code meanings are LO values: at most 64 characters and no backslash
    (it separates values). Slicer segment names are not limited, so say which segment to rename."""
    codes = (description.category, description.type, description.type_modifier, description.anatomic_region,
             description.anatomic_region_modifier)
    texts = [("label", description.label), ("algorithm name", description.algorithm_name or ""),
             ("algorithm version", description.algorithm_version or ""),
             *(("code meaning", code.meaning) for code in codes if code is not None)]
    for what, text in texts:
        problems = [f"{len(text)} characters"] if len(text) > 64 else []
        if "\\" in text:
            problems.append("a backslash")
        if problems:
            raise SegmentationError(
                f"Segment {description.number} ('{description.label[:40]}'): its {what} has {' and '.join(problems)}; "
                "DICOM allows at most 64 characters and no backslash here, so shorten or rename it")


def to_highdicom_segment_description(description: SegmentDescription, **kwargs: Any) -> hd.seg.SegmentDescription:
    """:func:`segment_item` as highdicom's type, for highdicom's Segmentation constructor."""
    import highdicom as hd

    return hd.seg.SegmentDescription.from_dataset(segment_item(description, **kwargs))


def to_highdicom_segment_descriptions(
    source: Protocol | Sequence[SegmentDescription], **kwargs: Any,
) -> list[hd.seg.SegmentDescription]:
    """highdicom segment descriptions for a protocol's segments or a list of descriptions."""
    descriptions = source.segment_descriptions() if hasattr(source, "segment_descriptions") else list(source)
    return [to_highdicom_segment_description(d, **kwargs) for d in descriptions]


def segment_description_from_dataset(item: Any, source: str = "The SEG") -> SegmentDescription:
    """Our description from a SEG's Segment Sequence item (the inverse of the conversion above).

    SEGs written before the codes were required (syngo.via's of 2012, for one) have segments with
    a label and no Segmented Property Category or Type: such a segment keeps its label and gets
    the generic code Tissue, as a label-map value without a protocol does, and the log says so.
    Anything else missing or invalid is refused, naming ``source`` (the SEG file) and the segment.
    """
    number = int(item.SegmentNumber)
    label = str(item.get("SegmentLabel") or "").strip() or f"Segment {number}"
    category_item = _first(item, "SegmentedPropertyCategoryCodeSequence")
    type_item = _first(item, "SegmentedPropertyTypeCodeSequence")
    if category_item is None or type_item is None:
        log.warning("Segment %d ('%s') of %s has no coded category or type: read with its label and the generic "
                    "code Tissue", number, label, source)
    modifier = _first(type_item, "SegmentedPropertyTypeModifierCodeSequence") if type_item is not None else None
    region = _first(item, "AnatomicRegionSequence")
    region_modifier = _first(region, "AnatomicRegionModifierSequence") if region is not None else None
    color = (128, 174, 128)
    if "RecommendedDisplayCIELabValue" in item:
        lab = [int(v) for v in item.RecommendedDisplayCIELabValue]
        color = dicom_lab_to_rgb(lab)
    try:
        algorithm = AlgorithmType(str(item.get("SegmentAlgorithmType", "")).upper())
    except ValueError:
        raise InputError(f"{source}: segment {number} ('{label}') has Segment Algorithm Type "
                         f"'{item.get('SegmentAlgorithmType', '')}', not MANUAL, SEMIAUTOMATIC or AUTOMATIC; "
                         "the SEG is not conformant") from None
    identification = _first(item, "SegmentationAlgorithmIdentificationSequence")
    try:
        return SegmentDescription(
            number=number, label=label,
            category=Code.from_dataset(category_item) if category_item is not None else TISSUE,
            type=Code.from_dataset(type_item) if type_item is not None else TISSUE,
            type_modifier=Code.from_dataset(modifier) if modifier is not None else None,
            anatomic_region=Code.from_dataset(region) if region is not None else None,
            anatomic_region_modifier=Code.from_dataset(region_modifier) if region_modifier is not None else None,
            color=tuple(int(c) for c in color),
            algorithm_type=algorithm,
            algorithm_name=str(item.get("SegmentAlgorithmName", "") or "") or (
                None if algorithm is AlgorithmType.MANUAL else "unnamed"),
            tracking_id=item.get("TrackingID"),
            tracking_uid=item.get("TrackingUID"),
            algorithm_version=(str(identification.get("AlgorithmVersion", "") or "") or None)
            if identification is not None else None,
        )
    except SegmentationError as exc:
        raise InputError(f"{source}: {exc}; the SEG is not conformant") from exc


def _first(item: Any, keyword: str) -> Any:
    sequence = item.get(keyword)
    return sequence[0] if sequence else None


def read_segment_descriptions(path: str | os.PathLike[str]) -> list[SegmentDescription]:
    """The segments a SEG file describes, from its header alone (frames and per-frame groups unread)."""
    from ..dicom import read_header

    try:
        header = read_header(path)
        items = [item for item in header.get("SegmentSequence") or [] if int(item.SegmentNumber) != 0]
        return [segment_description_from_dataset(item) for item in items]
    except (AttributeError, KeyError, ValueError, TypeError, IndexError) as error:
        raise SegmentationError(f"{path}: its Segment Sequence is incomplete ({error}); every segment needs a "
                                "number, a label and coded category and type") from error
