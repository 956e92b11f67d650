"""Conversions between the core's codes and segment descriptions and highdicom/pydicom objects.

The core keeps its own small types (:class:`~DICOMAnnotatorLib.codes.Code`,
:class:`~DICOMAnnotatorLib.segmentation.SegmentDescription`) so that protocols and JSON
outputs do not depend on highdicom; this module is the one boundary where they become
DICOM content. highdicom is imported when a function is called, not on import.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .codes import Code
from .display_colors import dicom_lab_to_rgb
from .segmentation import AlgorithmType, SegmentDescription

if TYPE_CHECKING:  # pragma: no cover
    import highdicom as hd

    from .protocols.model import Protocol


def to_highdicom_code(code: Code) -> hd.sr.CodedConcept:
    """Our code as a highdicom CodedConcept (usable wherever pydicom/highdicom take a Code)."""
    from highdicom.sr import CodedConcept

    return CodedConcept(code.value, code.scheme, code.meaning)


def from_dicom_code(code: Any) -> Code:
    """A pydicom ``Code``, a highdicom ``CodedConcept`` or a Code Sequence item as our code."""
    if hasattr(code, "scheme_designator") and hasattr(code, "value"):
        return Code(str(code.value), str(code.scheme_designator), str(code.meaning))
    return Code.from_dataset(code)


def to_highdicom_segment_description(
    description: SegmentDescription,
    *,
    algorithm_version: str = "unknown",
    algorithm_family: Code | None = None,
) -> hd.seg.SegmentDescription:
    """One segment description for highdicom's Segmentation constructor.

    Carries number, label, category, type (with its modifier inside the type item, as in the
    DICOM Segment Description Macro), anatomic region (with modifier), tracking ids and the
    display colour as CIELab. A non-MANUAL segment gets an Algorithm Identification: its
    name, ``algorithm_family`` (default: CID 7162 "Artificial Intelligence" for AUTOMATIC,
    "Manual Processing" otherwise) and ``algorithm_version``.
    """
    import highdicom as hd
    from pydicom.sr.codedict import codes

    identification = None
    if description.algorithm_type is not AlgorithmType.MANUAL:
        if algorithm_family is not None:
            family = to_highdicom_code(algorithm_family)
        elif description.algorithm_type is AlgorithmType.AUTOMATIC:
            family = codes.cid7162.ArtificialIntelligence
        else:
            family = codes.cid7162.ManualProcessing
        identification = hd.AlgorithmIdentificationSequence(
            name=description.algorithm_name or "unnamed", family=family, version=algorithm_version)
    tracking_id, tracking_uid = description.tracking_id, description.tracking_uid
    if (tracking_id is None) != (tracking_uid is None):  # highdicom needs both or none
        tracking_uid = tracking_uid or hd.UID()
        tracking_id = tracking_id or description.label
    result = hd.seg.SegmentDescription(
        segment_number=description.number,
        segment_label=description.label,
        segmented_property_category=to_highdicom_code(description.category),
        segmented_property_type=to_highdicom_code(description.type),
        algorithm_type=description.algorithm_type.value,
        algorithm_identification=identification,
        tracking_id=tracking_id,
        tracking_uid=tracking_uid,
        anatomic_regions=[to_highdicom_code(description.anatomic_region)] if description.anatomic_region else None,
        display_color=hd.color.CIELabColor.from_rgb(*description.color),
    )
    if description.type_modifier is not None:
        result.SegmentedPropertyTypeCodeSequence[0].SegmentedPropertyTypeModifierCodeSequence = [
            to_highdicom_code(description.type_modifier)]
    if description.anatomic_region is not None and description.anatomic_region_modifier is not None:
        result.AnatomicRegionSequence[0].AnatomicRegionModifierSequence = [
            to_highdicom_code(description.anatomic_region_modifier)]
    return result


def to_highdicom_segment_descriptions(
    source: Protocol | Sequence[SegmentDescription], **kwargs: Any,
) -> list[hd.seg.SegmentDescription]:
    """highdicom segment descriptions for a protocol's segments or a list of descriptions."""
    descriptions = source.segment_descriptions() if hasattr(source, "segment_descriptions") else list(source)
    return [to_highdicom_segment_description(d, **kwargs) for d in descriptions]


def segment_description_from_dataset(item: Any) -> SegmentDescription:
    """Our description from a SEG's Segment Sequence item (the inverse of the conversion above)."""
    type_item = item.SegmentedPropertyTypeCodeSequence[0]
    modifiers = getattr(type_item, "SegmentedPropertyTypeModifierCodeSequence", None)
    regions = getattr(item, "AnatomicRegionSequence", None)
    region_modifiers = getattr(regions[0], "AnatomicRegionModifierSequence", None) if regions else None
    color = (128, 174, 128)
    if "RecommendedDisplayCIELabValue" in item:
        lab = [int(v) for v in item.RecommendedDisplayCIELabValue]
        color = dicom_lab_to_rgb(lab)
    algorithm = AlgorithmType(str(item.SegmentAlgorithmType))
    return SegmentDescription(
        number=int(item.SegmentNumber), label=str(item.SegmentLabel),
        category=Code.from_dataset(item.SegmentedPropertyCategoryCodeSequence[0]),
        type=Code.from_dataset(type_item),
        type_modifier=Code.from_dataset(modifiers[0]) if modifiers else None,
        anatomic_region=Code.from_dataset(regions[0]) if regions else None,
        anatomic_region_modifier=Code.from_dataset(region_modifiers[0]) if region_modifiers else None,
        color=tuple(int(c) for c in color),
        algorithm_type=algorithm,
        algorithm_name=str(getattr(item, "SegmentAlgorithmName", "")) or (
            None if algorithm is AlgorithmType.MANUAL else "unnamed"),
        tracking_id=getattr(item, "TrackingID", None),
        tracking_uid=getattr(item, "TrackingUID", None),
    )

