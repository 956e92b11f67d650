"""What a TID 1500 Measurement Report holds (``sr info``), from any producer.

The content tree is walked with pydicom rather than through highdicom's template classes, so
that reports from other producers (dcmjs/OHIF, highdicom, ours) read the same way even
where they bend a template rule. For every Measurement Group of the Imaging Measurements:

- ``measurements``: each NUM item, with its derivation (Mean, Maximum...) and its method (e.g. the
  ejection fraction's Area-Length Single Plane) when it has them;
- ``labels``: each coded qualitative evaluation (CODE items the group CONTAINS other than its
  finding type and category; a second "Finding" item is an evaluation, as the first is the type);
- ``regions``: each spatial coordinate (SCOORD3D in patient mm, or SCOORD in the pixels of
  the image it was selected from), wherever it sits in the group;

each with the group's referenced segment number (or null), tracking identifier and UID.
Image-independent evaluations (the report's "Qualitative Evaluations" container) are labels
without a group.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from ..errors import InputError

IMAGING_MEASUREMENT_REPORT = ("126000", "DCM")
IMAGING_MEASUREMENTS = ("126010", "DCM")
MEASUREMENT_GROUP = ("125007", "DCM")
QUALITATIVE_EVALUATIONS = ("C0034375", "UMLS")
TRACKING_IDENTIFIER = ("112039", "DCM")
TRACKING_UID = ("112040", "DCM")
FINDING = ("121071", "DCM")
DERIVATION = ("121401", "DCM")
MEASUREMENT_METHOD = ("370129005", "SCT")
#: CODE items of a group that describe the finding, not evaluate it (category, site, method).
_DESCRIPTIVE = {("276214006", "SCT"), ("363698007", "SCT"), ("G-C0E3", "SRT"), ("370129005", "SCT"),
                ("G-C036", "SRT")}


def sr_summary(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``sr info --json`` object of the CLI contract for one TID 1500 SR file."""
    ds = _read(Path(path))
    summary: dict[str, Any] = {"sop_class_uid": str(ds.SOPClassUID), "sop_instance_uid": str(ds.SOPInstanceUID),
                               "title": _code_list(ds.ConceptNameCodeSequence[0]),
                               "measurements": [], "labels": [], "regions": []}
    for item in ds.get("ContentSequence") or []:
        if _is_container(item, IMAGING_MEASUREMENTS):
            for group in item.get("ContentSequence") or []:
                if _is_container(group, MEASUREMENT_GROUP):
                    _read_group(group, summary)
        elif _is_container(item, QUALITATIVE_EVALUATIONS):
            context = {"segment": None, "tracking_id": None, "tracking_uid": None}
            for child in item.get("ContentSequence") or []:
                if child.ValueType == "CODE" and "ConceptNameCodeSequence" in child:
                    summary["labels"].append({**context, "name": _code_list(child.ConceptNameCodeSequence[0]),
                                              "value": _code_list(child.ConceptCodeSequence[0])})
    return summary


def _read_group(group: Dataset, summary: dict[str, Any]) -> None:
    context: dict[str, Any] = {"segment": None, "tracking_id": None, "tracking_uid": None}
    finding: list[str] | None = None
    measurements, labels, regions = [], [], []
    for item in group.get("ContentSequence") or []:
        kind = item.ValueType
        name = _name(item) if kind in ("TEXT", "UIDREF", "CODE") else None  # an IMAGE's name is not needed
        if kind == "TEXT" and name == TRACKING_IDENTIFIER:
            context["tracking_id"] = str(item.TextValue)
        elif kind == "UIDREF" and name == TRACKING_UID:
            context["tracking_uid"] = str(item.UID)
        elif kind == "CODE" and name == FINDING and finding is None:
            finding = _code_list(item.ConceptCodeSequence[0])
        elif kind == "CODE" and name not in _DESCRIPTIVE and item.get("RelationshipType") == "CONTAINS":
            labels.append({"name": _code_list(item.ConceptNameCodeSequence[0]),
                           "value": _code_list(item.ConceptCodeSequence[0])})
        elif kind == "IMAGE" and "ReferencedSegmentNumber" in item.ReferencedSOPSequence[0]:
            context["segment"] = int(item.ReferencedSOPSequence[0].ReferencedSegmentNumber)
        elif kind == "NUM":
            measurements.append(_measurement(item))
        regions += _regions(item)
    summary["measurements"] += [{**context, "finding": finding, **m} for m in measurements]
    summary["labels"] += [{**context, **label} for label in labels]
    summary["regions"] += [{**context, "finding": finding, **region} for region in regions]


def _measurement(item: Dataset) -> dict[str, Any]:
    measured = (item.get("MeasuredValueSequence") or [None])[0]
    modifiers = {_name(child): _code_list(child.ConceptCodeSequence[0]) for child in item.get("ContentSequence") or []
                 if child.ValueType == "CODE"}
    return {
        "name": _code_list(item.ConceptNameCodeSequence[0]),
        "derivation": modifiers.get(DERIVATION),
        "method": modifiers.get(MEASUREMENT_METHOD),
        "value": float(measured.NumericValue) if measured is not None else None,
        "unit": _code_list(measured.MeasurementUnitsCodeSequence[0]) if measured is not None else None,
    }


def _regions(item: Dataset) -> list[dict[str, Any]]:
    """The spatial coordinates of ``item`` and of everything under it."""
    found = []
    if item.ValueType in ("SCOORD", "SCOORD3D"):
        data = [float(v) for v in item.GraphicData]
        region: dict[str, Any] = {"name": _code_list(item.ConceptNameCodeSequence[0])
                                  if "ConceptNameCodeSequence" in item else None,
                                  "graphic_type": str(item.GraphicType)}
        if item.ValueType == "SCOORD3D":
            region["frame_of_reference_uid"] = str(item.ReferencedFrameOfReferenceUID)
            region["points_mm"] = [data[n:n + 3] for n in range(0, len(data), 3)]
        else:
            region["points"] = [data[n:n + 2] for n in range(0, len(data), 2)]
            image = next((child for child in item.get("ContentSequence") or [] if child.ValueType == "IMAGE"), None)
            reference = image.ReferencedSOPSequence[0] if image is not None else None
            region["instance"] = str(reference.ReferencedSOPInstanceUID) if reference is not None else None
            frames = reference.get("ReferencedFrameNumber") if reference is not None else None
            region["frame"] = int(frames[0] if isinstance(frames, pydicom.multival.MultiValue) else frames) \
                if frames else None
        found.append(region)
    for child in item.get("ContentSequence") or []:
        found += _regions(child)
    return found


def _read(path: Path) -> Dataset:
    if not path.is_file():
        raise InputError(f"{path} does not exist; give a DICOM SR file")
    try:
        ds = pydicom.dcmread(path)
    except InvalidDicomError:
        raise InputError(f"{path} is not a DICOM file; give a DICOM SR file") from None
    except (OSError, EOFError, ValueError, TypeError, AttributeError, KeyError) as exc:
        raise InputError(f"{path} could not be read as DICOM ({exc}); the file may be truncated") from exc
    root = ds.get("ConceptNameCodeSequence")
    if ds.get("Modality") != "SR" or not root or "ContentSequence" not in ds:
        raise InputError(f"{path} is not a DICOM Structured Report (Modality {ds.get('Modality', '?')}); "
                         "give a TID 1500 Measurement Report")
    templates = [str(t.get("TemplateIdentifier", "")) for t in ds.get("ContentTemplateSequence") or []]
    if _name(ds) != IMAGING_MEASUREMENT_REPORT and "1500" not in templates:
        raise InputError(f"{path} is a '{_code_list(root[0])[2]}' report, not a TID 1500 Measurement Report")
    return ds


def _is_container(item: Dataset, concept: tuple[str, str]) -> bool:
    return item.get("ValueType") == "CONTAINER" and _name(item) == concept


def _name(item: Dataset) -> tuple[str, str] | None:
    names = item.get("ConceptNameCodeSequence")
    return tuple(_code_list(names[0])[:2]) if names else None


def _code_list(item: Dataset) -> list[str]:
    """``[code_value, coding_scheme_designator, code_meaning]`` as written (other producers may leave parts empty)."""
    value = item.get("CodeValue") or item.get("LongCodeValue") or item.get("URNCodeValue") or ""
    return [str(value), str(item.get("CodingSchemeDesignator", "")), str(item.get("CodeMeaning", ""))]
