"""Segment measurements, classification labels and marks as a DICOM SR TID 1500 Measurement Report.

Written with highdicom as a Comprehensive 3D SR (SCOORD3D needs it):

- one TID 1411 Volumetric ROI group per segment, referencing the SEG instance and segment
  number (Referenced Segment) and the source images the segment lies on; its tracking
  identifier and UID are the SEG's for that segment when the SEG has them, so the SR and the
  SEG track the same finding; finding type and category are the segment's property type and
  category, the finding site its anatomic region (a laterality modifier becomes the site's
  laterality, any other modifier its topographical modifier);
- measurements with UCUM units: Volume (SCT 118565006) in ``ml``, Diameter (SCT 81827009)
  with derivation Maximum in ``mm``, and, on CT, Attenuation Coefficient (DCM 112031) in
  ``[hnsf'U]`` with derivations Mean, Minimum, Maximum and Standard Deviation (MR: MR signal
  intensity in arbitrary units; other modalities and colour images: no intensity statistics). Definitions are
  in :mod:`.measurements`;
- classification labels as qualitative evaluations of their segment's or mark's group
  (case labels in a TID 1501 group tracked as "Case");
- marks as TID 1410 Planar ROI groups with an SCOORD3D Image Region on the series' frame of
  reference;
- an Image Library of the source images (single-frame series only: highdicom cannot yet describe
  enhanced multi-frame images there; the groups still reference every source frame);
- the observer is the annotator (the SEG's content creator unless another is given) and this
  software as the device.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pydicom
from pydicom.uid import generate_uid

from .. import MANUFACTURER, __version__
from ..atomic import atomic_path
from ..dicom import Code, copy_patient_and_study, to_highdicom_code, to_person_name
from ..errors import InputError, SegmentationError
from ..imaging import ReferenceSeries, Segmentation, SegmentDescription
from .labels import ClassificationLabel, read_labels
from .marks import Mark, read_marks
from .measurements import SegmentMeasurements, measure_on_series

log = logging.getLogger(__name__)

#: SR series get the source series number plus this (SEG series get plus 1000), so they sort beside it.
SR_SERIES_NUMBER_OFFSET = 2000
#: The software as Device Observer: one UID per version, the same on every machine.
DEVICE_OBSERVER_UID = generate_uid(entropy_srcs=["DICOMAnnotator device observer", __version__])

VOLUME = Code("118565006", "SCT", "Volume")
DIAMETER = Code("81827009", "SCT", "Diameter")
MEAN = Code("373098007", "SCT", "Mean")
MINIMUM = Code("255605001", "SCT", "Minimum")
MAXIMUM = Code("56851009", "SCT", "Maximum")
STANDARD_DEVIATION = Code("386136009", "SCT", "Standard Deviation")
MILLILITRE = Code("ml", "UCUM", "milliliter")
MILLIMETRE = Code("mm", "UCUM", "millimeter")
#: The quantity and unit of intensity statistics per modality.
INTENSITY_QUANTITIES = {
    "CT": (Code("112031", "DCM", "Attenuation Coefficient"), Code("[hnsf'U]", "UCUM", "Hounsfield unit")),
    "MR": (Code("110852", "DCM", "MR signal intensity"), Code("[arb'U]", "UCUM", "arbitrary unit")),
}
#: Procedure Reported (CID 100) per modality.
PROCEDURES = {
    "CT": Code("25045-6", "LN", "CT unspecified body region"),
    "MR": Code("25056-3", "LN", "MRI unspecified body region"),
    "PT": Code("44136-0", "LN", "PET unspecified body region"),
    "NM": Code("49118-3", "LN", "NM unspecified body region"),
}
IMAGING_PROCEDURE = Code("363679005", "SCT", "Imaging procedure")
#: Anatomic region modifiers that are a laterality (CID 244) rather than a topographical modifier.
LATERALITIES = {("24028007", "SCT"), ("7771000", "SCT"), ("51440002", "SCT"), ("66459002", "SCT")}
CASE_TRACKING_IDENTIFIER = "Case"


def export_sr(
    seg_path: str | os.PathLike[str],
    series: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    series_uid: str | None = None,
    protocol: str | os.PathLike[str] | None = None,
    labels_path: str | os.PathLike[str] | None = None,
    marks_path: str | os.PathLike[str] | None = None,
    creator: str | None = None,
    force: bool = False,
) -> pydicom.Dataset:
    """``sr export``: measure every segment of a SEG on its series and write the report to ``output``."""
    from ..atomic import check_output
    from ..dicom import read_header
    from ..imaging import ReferenceSeries
    from ..protocols import load_protocol
    from ..seg import read_seg

    check_output(output, force=force)  # fail before the slow part
    loaded = load_protocol(protocol) if protocol is not None else None
    reference = ReferenceSeries.from_paths(series, series_uid=series_uid)
    segmentation = read_seg(seg_path, reference)
    seg_header = read_header(seg_path)  # its per-frame groups stay unparsed: the SR names the SEG instance
    marks = read_marks(marks_path, reference, loaded) if marks_path is not None else []
    labels = read_labels(labels_path, segmentation.segments, marks, loaded) if labels_path is not None else []
    measured = measure_on_series(segmentation, reference)
    sr = build_sr(segmentation, seg_header, measured, labels=labels, marks=marks, creator=creator,
                  protocol_id=loaded.id if loaded is not None else segmentation.protocol_id)
    write_sr(sr, output, force=force)
    return sr


def build_sr(
    segmentation: Segmentation | None,
    seg: pydicom.Dataset | None,
    measurements: Sequence[SegmentMeasurements],
    *,
    labels: Sequence[ClassificationLabel] = (),
    marks: Sequence[Mark] = (),
    creator: str | None = None,
    protocol_id: str | None = None,
    series_number: int | None = None,
    series_description: str | None = None,
    reference: ReferenceSeries | None = None,
) -> pydicom.Dataset:
    """The SR dataset (not yet written) for ``segmentation`` read from the SEG ``seg`` on its series.

    Without a segmentation (``segmentation`` and ``seg`` None: protocols of landmarks, boxes and
    labels only) the report holds the marks and labels on ``reference``.
    """
    import highdicom as hd
    from pydicom.sr.codedict import codes

    reference = segmentation.reference if segmentation is not None else reference
    if reference is None:
        raise SegmentationError("The segmentation has no reference series; the SR must reference the source images")
    if marks and not reference.frame_of_reference_uid:
        raise InputError(f"{reference.description} has no Frame of Reference UID, so marks cannot be written in "
                         "patient coordinates (SCOORD3D)")
    modality = reference.modality
    if measurements and modality not in INTENSITY_QUANTITIES:
        log.warning("Intensity statistics are written for CT and MR only; %s is %s", reference.description, modality)
    by_number = {m.number: m for m in measurements}
    groups = [_segment_group(segmentation, description, seg, by_number.get(description.number), modality,
                             [label for label in labels if label.segment == description.number])
              for description in (segmentation.segments if segmentation is not None else [])]
    groups += [_mark_group(mark, reference.frame_of_reference_uid,
                           [label for label in labels if label.mark == mark.index]) for mark in marks]
    case_labels = [label for label in labels if label.segment is None and label.mark is None]
    if case_labels:
        groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=CASE_TRACKING_IDENTIFIER),
            qualitative_evaluations=_evaluations(case_labels)))
    author = creator or (segmentation.author if segmentation is not None else None)
    person = None
    if author:
        person = hd.sr.ObserverContext(
            observer_type=codes.DCM.Person,
            observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(name=to_person_name(author)))
    device = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=DEVICE_OBSERVER_UID, name=MANUFACTURER, manufacturer_name=MANUFACTURER,
            model_name="DICOMAnnotatorLib"))
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_person_context=person, observer_device_context=device),
        procedure_reported=to_highdicom_code(PROCEDURES.get(modality, IMAGING_PROCEDURE)),
        imaging_measurements=groups,
    )
    _insert_image_library(report, reference)
    description = series_description or " ".join(part for part in ("SR", protocol_id, author) if part)
    return hd.sr.Comprehensive3DSR(
        evidence=[_first_evidence(reference.datasets[0]), *reference.datasets[1:],
                  *([seg] if seg is not None else [])],
        content=report,
        series_instance_uid=hd.UID(),
        series_number=series_number if series_number is not None
        else SR_SERIES_NUMBER_OFFSET + int(reference.datasets[0].get("SeriesNumber") or 0),
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        is_complete=True,
        series_description=description[:64],
        manufacturer_model_name="DICOMAnnotatorLib",
        software_versions=__version__,
    )


def _first_evidence(source: pydicom.Dataset) -> pydicom.Dataset:
    """The first source as highdicom's SR constructor reads it: highdicom copies the patient and study
    from the first evidence item and requires their Type 2 attributes, which anonymised series lack
    or hold invalid values for. So it gets the instance's identity and the attributes that
    :func:`..dicom.copy_patient_and_study` keeps (the series' own header stays as read)."""
    first = pydicom.Dataset()
    for keyword in ("SpecificCharacterSet", "SOPClassUID", "SOPInstanceUID", "SeriesInstanceUID", "Modality"):
        if keyword in source:
            first[keyword] = source[keyword]
    copy_patient_and_study(source, first)
    return first


def _insert_image_library(report, reference) -> None:
    """Add a TID 1600 Image Library of the source instances to the report, before its measurements.

    One Image Library Group carries the descriptors all entries share (modality, frame of
    reference; TID 1602), and each entry is the image reference alone (TID 1601 entries may omit
    their descriptors). highdicom's own library repeats a dozen descriptors per image, which
    for a 300-slice CT made the report ten times larger and ten times slower to build and write.
    """
    import highdicom as hd
    from pydicom.sr.codedict import codes

    group = hd.sr.ContainerContentItem(name=codes.DCM.ImageLibraryGroup,
                                       relationship_type=hd.sr.RelationshipTypeValues.CONTAINS)
    group.ContentSequence = hd.sr.ContentSequence([
        hd.sr.CodeContentItem(name=codes.DCM.Modality, value=_coded_modality(reference.modality),
                              relationship_type=hd.sr.RelationshipTypeValues.HAS_ACQ_CONTEXT),
    ])
    if reference.frame_of_reference_uid:
        group.ContentSequence.append(hd.sr.UIDRefContentItem(
            name=codes.DCM.FrameOfReferenceUID, value=reference.frame_of_reference_uid,
            relationship_type=hd.sr.RelationshipTypeValues.HAS_ACQ_CONTEXT))
    for ds in reference.datasets:
        group.ContentSequence.append(hd.sr.ImageContentItem(
            name=codes.SCT.Source, referenced_sop_class_uid=ds.SOPClassUID,
            referenced_sop_instance_uid=ds.SOPInstanceUID,
            relationship_type=hd.sr.RelationshipTypeValues.CONTAINS))
    library = hd.sr.ContainerContentItem(name=codes.DCM.ImageLibrary,
                                         relationship_type=hd.sr.RelationshipTypeValues.CONTAINS)
    library.ContentSequence = hd.sr.ContentSequence([group])
    items = report[0].ContentSequence
    position = next(n for n, item in enumerate(items)
                    if item.ConceptNameCodeSequence[0].CodeValue == codes.DCM.ImagingMeasurements.value)
    items.insert(position, library)


def _coded_modality(modality: str):
    """The CID 29 code of a modality (e.g. CT -> (CT, DCM, "Computed Tomography")).

    CID 29 codes are the Modality attribute's defined terms in scheme DCM, so a modality the
    group does not list keeps its term as value and meaning.
    """
    import highdicom as hd
    from pydicom.sr.codedict import codes

    for name in codes.cid29.dir():
        code = getattr(codes.cid29, name)
        if code.value == modality:
            return code
    return hd.sr.CodedConcept(value=modality or "OT", scheme_designator="DCM", meaning=modality or "Other")


def write_sr(sr: pydicom.Dataset, path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Write an SR dataset to ``path`` (temporary name, then rename)."""
    with atomic_path(path, force=force) as temporary:
        sr.save_as(temporary, enforce_file_format=True)
    log.info("Wrote %s: TID 1500 Measurement Report", path)
    return Path(path)


def _segment_group(segmentation: Segmentation, description: SegmentDescription, seg: pydicom.Dataset,
                   measured: SegmentMeasurements | None, modality: str, labels: list[ClassificationLabel]):
    import highdicom as hd

    tracking = hd.sr.TrackingIdentifier(uid=description.tracking_uid or hd.UID(),
                                        identifier=description.tracking_id or description.label)
    referenced = hd.sr.ReferencedSegment(
        sop_class_uid=str(seg.SOPClassUID), sop_instance_uid=str(seg.SOPInstanceUID),
        segment_number=description.number, **_sources(segmentation, description.number))
    return hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=tracking,
        referenced_segment=referenced,
        finding_type=to_highdicom_code(description.type),
        finding_category=to_highdicom_code(description.category),
        finding_sites=_finding_sites(description.anatomic_region, description.anatomic_region_modifier),
        measurements=_measurements(measured, modality) if measured is not None else None,
        qualitative_evaluations=_evaluations(labels) or None,
    )


def _mark_group(mark: Mark, frame_of_reference_uid: str, labels: list[ClassificationLabel]):
    import highdicom as hd

    region = hd.sr.ImageRegion3D(graphic_type=hd.sr.GraphicTypeValues3D(mark.graphic_type),
                                 graphic_data=np.asarray(mark.points_mm, dtype=float),
                                 frame_of_reference_uid=frame_of_reference_uid)
    return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=mark.label),
        referenced_region=region,
        finding_type=to_highdicom_code(mark.finding) if mark.finding else None,
        finding_category=to_highdicom_code(mark.finding_category) if mark.finding_category else None,
        finding_sites=_finding_sites(mark.finding_site, None),
        qualitative_evaluations=_evaluations(labels) or None,
    )


def _sources(segmentation: Segmentation, number: int) -> dict:
    """The source images of the slices the segment lies on (the series when it is empty)."""
    import highdicom as hd

    reference = segmentation.reference
    box, values = segmentation.cropped_mask(number)
    if not values.size or not values.any():
        return {"source_series": hd.sr.SourceSeriesForSegmentation(reference.series_instance_uid)}
    occupied = box[0].start + np.flatnonzero(values.reshape(len(values), -1).any(axis=1))
    frames: dict[tuple[str, str], list[int]] = {}
    for k in occupied.tolist():
        source = reference.slices[k]
        numbers = frames.setdefault((source.sop_class_uid, source.sop_instance_uid), [])
        if source.frame_number is not None:
            numbers.append(source.frame_number)
    return {"source_images": [
        hd.sr.SourceImageForSegmentation(class_uid, instance_uid, referenced_frame_numbers=sorted(numbers) or None)
        for (class_uid, instance_uid), numbers in frames.items()]}


def _measurements(measured: SegmentMeasurements, modality: str) -> list:
    import highdicom as hd

    def measurement(name: Code, value: float, unit: Code, derivation: Code | None = None):
        return hd.sr.Measurement(name=to_highdicom_code(name), value=float(value), unit=to_highdicom_code(unit),
                                 derivation=to_highdicom_code(derivation) if derivation else None)

    items = [measurement(VOLUME, measured.volume_ml, MILLILITRE)]
    if measured.max_diameter_mm is not None:
        items.append(measurement(DIAMETER, measured.max_diameter_mm, MILLIMETRE, MAXIMUM))
    statistics = measured.intensity
    if statistics is not None and modality in INTENSITY_QUANTITIES:
        quantity, unit = INTENSITY_QUANTITIES[modality]
        items += [measurement(quantity, value, unit, derivation) for value, derivation in (
            (statistics.mean, MEAN), (statistics.minimum, MINIMUM), (statistics.maximum, MAXIMUM),
            (statistics.std, STANDARD_DEVIATION))]
    return items


def _evaluations(labels: Sequence[ClassificationLabel]) -> list:
    import highdicom as hd

    return [hd.sr.QualitativeEvaluation(to_highdicom_code(label.name), to_highdicom_code(label.value))
            for label in labels]


def _finding_sites(region: Code | None, modifier: Code | None) -> list | None:
    import highdicom as hd

    if region is None:
        return None
    laterality = topographical = None
    if modifier is not None:
        if (modifier.value, modifier.scheme) in LATERALITIES:
            laterality = to_highdicom_code(modifier)
        else:
            topographical = to_highdicom_code(modifier)
    return [hd.sr.FindingSite(to_highdicom_code(region), laterality=laterality, topographical_modifier=topographical)]

