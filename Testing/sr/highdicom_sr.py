"""highdicom's TID 1500 report for the same content as ``sr.writer.build_sr``: the oracle of the SR tests.

Our writer encodes the document itself (for speed); highdicom's template classes stay the
reference for what a Measurement Report holds. This builds, with highdicom 0.28, the report of
the same segments, measurements, labels and marks, as the writer did when it was built on
highdicom: same groups, codes, observer context and Image Library (one group of shared
descriptors, bare image entries).
"""

from __future__ import annotations

from collections.abc import Sequence

import highdicom as hd
import numpy as np
import pydicom
from DICOMAnnotatorLib import MANUFACTURER, __version__
from DICOMAnnotatorLib.dicom.codes import Code, to_highdicom_code
from DICOMAnnotatorLib.dicom.person_names import to_person_name
from DICOMAnnotatorLib.dicom.source_attributes import copy_patient_and_study
from DICOMAnnotatorLib.imaging.segmentation import Segmentation, SegmentDescription
from DICOMAnnotatorLib.sr.labels import ClassificationLabel
from DICOMAnnotatorLib.sr.marks import AREA, PIXEL, SQUARE_MILLIMETRE, SQUARE_PIXEL, Mark
from DICOMAnnotatorLib.sr.measurements import SegmentMeasurements
from DICOMAnnotatorLib.sr.templates import (
    CASE_TRACKING_IDENTIFIER,
    DEVICE_OBSERVER_UID,
    DIAMETER,
    IMAGING_PROCEDURE,
    INTENSITY_QUANTITIES,
    LATERALITIES,
    MAXIMUM,
    MEAN,
    MILLILITRE,
    MILLIMETRE,
    MINIMUM,
    PROCEDURES,
    STANDARD_DEVIATION,
    VOLUME,
    coded_modality,
)
from DICOMAnnotatorLib.sr.ventricular_function import EjectionFraction
from DICOMAnnotatorLib.sr.writer import SR_SERIES_NUMBER_OFFSET
from pydicom.sr.codedict import codes


def highdicom_sr(segmentation: Segmentation | None, seg: pydicom.Dataset | None,
                 measurements: Sequence[SegmentMeasurements], *, labels: Sequence[ClassificationLabel] = (),
                 marks: Sequence[Mark] = (), creator: str | None = None, protocol_id: str | None = None,
                 series_number: int | None = None, series_description: str | None = None,
                 reference=None, ejection_fraction: EjectionFraction | None = None,
                 measured_series=()) -> hd.sr.Comprehensive3DSR:
    """highdicom's Comprehensive 3D SR for the arguments of ``build_sr``."""
    reference = segmentation.reference if segmentation is not None else reference
    modality = reference.modality
    by_number: dict[int, list[SegmentMeasurements]] = {}
    for measured in measurements:
        by_number.setdefault(measured.number, []).append(measured)
    groups = [_segment_group(segmentation, description, seg, measured, modality,
                             [label for label in labels if label.segment == description.number])
              for description in (segmentation.segments if segmentation is not None else [])
              for measured in by_number.get(description.number) or [None]]
    if ejection_fraction is not None:
        groups.append(_ventricular_function_group(ejection_fraction, reference))
    groups += [_mark_group(mark, reference.frame_of_reference_uid, [label for label in labels
                                                                    if label.mark == mark.index]) for mark in marks]
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
        imaging_measurements=groups)
    _insert_image_library(report, [reference, *measured_series])
    description = series_description or " ".join(part for part in ("SR", protocol_id, author) if part)
    return hd.sr.Comprehensive3DSR(
        evidence=[_first_evidence(reference.datasets[0]), *reference.datasets[1:],
                  *(ds for series in measured_series for ds in series.datasets), *([seg] if seg is not None else [])],
        content=report, series_instance_uid=hd.UID(),
        series_number=series_number if series_number is not None
        else SR_SERIES_NUMBER_OFFSET + int(reference.datasets[0].get("SeriesNumber") or 0),
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer=MANUFACTURER, is_complete=True,
        series_description=description[:64], manufacturer_model_name="DICOMAnnotatorLib",
        software_versions=__version__)


def _first_evidence(source: pydicom.Dataset) -> pydicom.Dataset:
    """highdicom copies the patient and study from the first evidence item: give it the attributes that
    ``copy_patient_and_study`` keeps (as our document does), with the instance's identity."""
    first = pydicom.Dataset()
    for keyword in ("SpecificCharacterSet", "SOPClassUID", "SOPInstanceUID", "SeriesInstanceUID", "Modality"):
        if keyword in source:
            first[keyword] = source[keyword]
    copy_patient_and_study(source, first)
    return first


def _insert_image_library(report, all_series) -> None:
    """The Image Library as our writer has it: per series one group of shared descriptors, then bare image entries."""
    groups = []
    for series in all_series:
        group = hd.sr.ContainerContentItem(name=codes.DCM.ImageLibraryGroup,
                                           relationship_type=hd.sr.RelationshipTypeValues.CONTAINS)
        group.ContentSequence = hd.sr.ContentSequence([hd.sr.CodeContentItem(
            name=codes.DCM.Modality, value=to_highdicom_code(coded_modality(series.modality)),
            relationship_type=hd.sr.RelationshipTypeValues.HAS_ACQ_CONTEXT)])
        if series.frame_of_reference_uid:
            group.ContentSequence.append(hd.sr.UIDRefContentItem(
                name=codes.DCM.FrameOfReferenceUID, value=series.frame_of_reference_uid,
                relationship_type=hd.sr.RelationshipTypeValues.HAS_ACQ_CONTEXT))
        for ds in series.datasets:
            group.ContentSequence.append(hd.sr.ImageContentItem(
                name=codes.SCT.Source, referenced_sop_class_uid=ds.SOPClassUID,
                referenced_sop_instance_uid=ds.SOPInstanceUID,
                relationship_type=hd.sr.RelationshipTypeValues.CONTAINS))
        groups.append(group)
    library = hd.sr.ContainerContentItem(name=codes.DCM.ImageLibrary,
                                         relationship_type=hd.sr.RelationshipTypeValues.CONTAINS)
    library.ContentSequence = hd.sr.ContentSequence(groups)
    items = report[0].ContentSequence
    position = next(n for n, item in enumerate(items)
                    if item.ConceptNameCodeSequence[0].CodeValue == codes.DCM.ImagingMeasurements.value)
    items.insert(position, library)


def _segment_group(segmentation: Segmentation, description: SegmentDescription, seg: pydicom.Dataset,
                   measured: SegmentMeasurements | None, modality: str, labels: list[ClassificationLabel]):
    k = measured.slice_index if measured is not None else None
    identifier, uid = description.tracking_id or description.label, description.tracking_uid
    if k is not None and segmentation.geometry.size[2] > 1:  # a frame of a cine: its own group
        identifier, uid = f"{identifier} frame {k + 1}", None
    tracking = hd.sr.TrackingIdentifier(uid=uid or hd.UID(), identifier=identifier)
    referenced = hd.sr.ReferencedSegment(
        sop_class_uid=str(seg.SOPClassUID), sop_instance_uid=str(seg.SOPInstanceUID),
        segment_number=description.number, **_sources(segmentation, description.number, k))
    return hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=tracking, referenced_segment=referenced,
        finding_type=to_highdicom_code(description.type), finding_category=to_highdicom_code(description.category),
        finding_sites=_finding_sites(description.anatomic_region, description.anatomic_region_modifier),
        measurements=_measurements(measured, modality) if measured is not None else None,
        qualitative_evaluations=_evaluations(labels) or None)


def _mark_group(mark: Mark, frame_of_reference_uid: str, labels: list[ClassificationLabel]):
    measurements = None
    if mark.points_mm is not None:
        region = hd.sr.ImageRegion3D(graphic_type=hd.sr.GraphicTypeValues3D(mark.graphic_type),
                                     graphic_data=np.asarray(mark.points_mm, dtype=float),
                                     frame_of_reference_uid=frame_of_reference_uid)
    else:  # a 2D image or a frame of a cine: SCOORD selected from it, and its length or area
        source = mark.source
        region = hd.sr.ImageRegion(
            graphic_type=hd.sr.GraphicTypeValues(mark.graphic_type), graphic_data=np.asarray(mark.points, dtype=float),
            source_image=hd.sr.SourceImageForRegion(
                source.sop_class_uid, source.sop_instance_uid,
                referenced_frame_numbers=[source.frame_number] if source.frame_number is not None else None))
        measured = mark.measurement()
        if measured is not None:
            name, value, unit = measured
            measurements = [hd.sr.Measurement(name=to_highdicom_code(name), value=value, unit=to_highdicom_code(unit))]
    return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=mark.label),
        referenced_region=region, measurements=measurements,
        finding_type=to_highdicom_code(mark.finding) if mark.finding else None,
        finding_category=to_highdicom_code(mark.finding_category) if mark.finding_category else None,
        finding_sites=_finding_sites(mark.finding_site, None),
        qualitative_evaluations=_evaluations(labels) or None)


def _sources(segmentation: Segmentation, number: int, only: int | None = None) -> dict:
    reference = segmentation.reference
    box, values = segmentation.cropped_mask(number)
    if not values.size or not values.any():
        return {"source_series": hd.sr.SourceSeriesForSegmentation(reference.series_instance_uid)}
    frames: dict[tuple[str, str], list[int]] = {}
    for k in range(box[0].start, box[0].stop):
        if values[k - box[0].start].any() and only in (None, k):
            source = reference.slices[k]
            numbers = frames.setdefault((source.sop_class_uid, source.sop_instance_uid), [])
            if source.frame_number is not None:
                numbers.append(source.frame_number)
    return {"source_images": [
        hd.sr.SourceImageForSegmentation(class_uid, instance_uid, referenced_frame_numbers=sorted(numbers) or None)
        for (class_uid, instance_uid), numbers in frames.items()]}


def _measurements(measured: SegmentMeasurements, modality: str) -> list:
    def measurement(name: Code, value: float, unit: Code, derivation: Code | None = None):
        return hd.sr.Measurement(name=to_highdicom_code(name), value=float(value), unit=to_highdicom_code(unit),
                                 derivation=to_highdicom_code(derivation) if derivation else None)

    if measured.area is not None:  # a 2D image or a frame of a cine
        length, area = (MILLIMETRE, SQUARE_MILLIMETRE) if measured.calibrated else (PIXEL, SQUARE_PIXEL)
        return [measurement(AREA, measured.area, area),
                *([measurement(DIAMETER, measured.max_diameter_mm, length, MAXIMUM)]
                  if measured.max_diameter_mm is not None else [])]
    items = [measurement(VOLUME, measured.volume_ml, MILLILITRE)]
    if measured.max_diameter_mm is not None:
        items.append(measurement(DIAMETER, measured.max_diameter_mm, MILLIMETRE, MAXIMUM))
    statistics = measured.intensity
    if statistics is not None and modality in INTENSITY_QUANTITIES:
        quantity, unit = INTENSITY_QUANTITIES[modality]
        items += [measurement(quantity, value, unit, derivation) for value, derivation in (
            (statistics.mean, MEAN), (statistics.minimum, MINIMUM), (statistics.maximum, MAXIMUM),
            (statistics.std, STANDARD_DEVIATION))]
    uptake = measured.uptake
    if uptake is not None:  # the codes from pydicom's copy of PS3.16, not from the writer
        quantity, unit = PET_CODES[uptake.suv_type]
        pet = _sources_of_measurement(uptake.sources)
        if uptake.suv_max is not None:
            items += [hd.sr.Measurement(name=quantity, value=value, unit=unit, derivation=derivation,
                                        referenced_images=pet)
                      for value, derivation in ((uptake.suv_max, codes.SCT.Maximum), (uptake.suv_mean, codes.SCT.Mean),
                                                (uptake.suv_peak, codes.DCM.PeakValueWithinROI))]
        glycolysis_unit = ("cm2", "square centimeter") if uptake.suv_type == "bsa" else ("g", "gram")
        items += [hd.sr.Measurement(name=codes.DCM.MetabolicVolume, value=uptake.mtv_ml,
                                    unit=to_highdicom_code(MILLILITRE), referenced_images=pet),
                  hd.sr.Measurement(name=codes.DCM.TotalLesionGlycolysis, value=uptake.tlg_g,
                                    unit=hd.sr.CodedConcept(glycolysis_unit[0], "UCUM", glycolysis_unit[1]),
                                    referenced_images=pet)]
    return items


def _ventricular_function_group(result: EjectionFraction, reference):
    """TID 1501 with EDV, ESV and EF, coded from pydicom's PS3.16 tables (CID 12200, 12227), each with its method and
    the frames its outlines are on."""
    method = {"area-length": codes.DCM.AreaLengthSinglePlane, "volumes": codes.DCM.DirectlyMeasured}[
        result.method.value]
    volume_unit = to_highdicom_code(MILLILITRE) if result.calibrated else hd.sr.CodedConcept(
        "{pixel^3}", "UCUM", "cubic pixel")

    def measured_on(*slices):
        return _sources_of_measurement([reference.slices[k] for k in slices if k is not None])

    ed, es = result.end_diastolic_slice, result.end_systolic_slice
    ejection_fraction = {"US": codes.LN.LeftVentricularEjectionFractionByUS,
                         "MR": codes.LN.LeftVentricularEjectionFractionByMR}[reference.modality]
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier="Left ventricular function"),
        finding_sites=[hd.sr.FindingSite(codes.SCT.LeftVentricle)],
        measurements=[
            hd.sr.Measurement(name=codes.LN.LeftVentricularEndDiastolicVolume, value=result.end_diastolic_volume,
                              unit=volume_unit, method=method, referenced_images=measured_on(ed)),
            hd.sr.Measurement(name=codes.LN.LeftVentricularEndSystolicVolume, value=result.end_systolic_volume,
                              unit=volume_unit, method=method, referenced_images=measured_on(es)),
            hd.sr.Measurement(name=ejection_fraction, value=result.percent, unit=codes.UCUM.Percent, method=method,
                              referenced_images=measured_on(ed, es))])


def _sources_of_measurement(sources) -> list | None:
    """Source of Measurement per instance of ``sources`` (SliceSource), with their frames."""
    frames: dict[tuple[str, str], list[int]] = {}
    for source in sources:
        numbers = frames.setdefault((source.sop_class_uid, source.sop_instance_uid), [])
        if source.frame_number is not None:
            numbers.append(source.frame_number)
    return [hd.sr.SourceImageForMeasurement(class_uid, instance_uid, referenced_frame_numbers=sorted(numbers) or None)
            for (class_uid, instance_uid), numbers in frames.items()] or None


#: PS3.16 CID 7180 (quantity) and CID 7181 (unit) of each SUV type; SUVlbm is Janmahasatian's.
PET_CODES = {
    "bw": (codes.DCM.Suvbw, codes.UCUM.StandardizedUptakeValueBodyWeight),
    "lbm": (codes.DCM.SuvlbmJanma, codes.UCUM.StandardizedUptakeValueLeanBodyMassJanma),
    "bsa": (codes.DCM.Suvbsa, codes.UCUM.StandardizedUptakeValueBodySurfaceArea),
}


def _evaluations(labels: Sequence[ClassificationLabel]) -> list:
    return [hd.sr.QualitativeEvaluation(to_highdicom_code(label.name), to_highdicom_code(label.value))
            for label in labels]


def _finding_sites(region: Code | None, modifier: Code | None) -> list | None:
    if region is None:
        return None
    laterality = topographical = None
    if modifier is not None:
        if (modifier.value, modifier.scheme) in LATERALITIES:
            laterality = to_highdicom_code(modifier)
        else:
            topographical = to_highdicom_code(modifier)
    return [hd.sr.FindingSite(to_highdicom_code(region), laterality=laterality, topographical_modifier=topographical)]
