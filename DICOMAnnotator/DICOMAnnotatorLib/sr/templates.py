"""The content tree of a TID 1500 Measurement Report (PS3.16), from segments, measurements, labels and marks.

The tree, item for item, is the one highdicom 0.28's template classes build for the same
content (a test compares the two apart from UIDs and times); its items are encoded by
:class:`.content.ContentEncoder`. Under the report's root container:

- Language of Content (TID 1204), then the observer context (TID 1001): the annotator as
  Person Observer (TID 1003) when known, and this software as Device Observer (TID 1004);
- Procedure Reported (CID 100 per modality);
- an Image Library (TID 1600) of the source images: one Image Library Group carrying what all
  entries share (modality, frame of reference; TID 1602), and one bare image reference per
  source instance (TID 1601 entries may omit their descriptors); one group more per other series
  measured (the PET of a PET/CT whose SUVs are measured on a segmentation of the CT);
- Imaging Measurements: per segment a TID 1411 Volumetric ROI group (tracking identifier and
  UID, finding category and type, finding site, measurements of TID 300 with their derivation (SUVs also
  with the PET images they were measured on, as Source of Measurement), qualitative evaluations, the
  Referenced Segment of the SEG and the source images it lies on),
  per mark a TID 1410 Planar ROI group (its SCOORD3D Image Region on a volume; on a 2D image its SCOORD with
  the image and frame it was selected from, and its length or area), the left ventricle's end-diastolic and
  end-systolic volumes and ejection fraction in a TID 1501 group tracked as "Left ventricular function" (where the
  protocol names an EF rule: CID 12200's LOINC codes, TID 300's Measurement Method from CID 12227, each volume
  inferred from the image and frame its outline is on), and the case's labels in a TID 1501 group tracked as "Case".
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from .. import MANUFACTURER, __version__
from ..dicom import Code, header_value
from ..errors import InputError, SegmentationError
from ..imaging import ReferenceSeries, Segmentation, SegmentDescription, SliceSource
from .content import ContentEncoder
from .labels import ClassificationLabel
from .marks import AREA, PIXEL, SQUARE_MILLIMETRE, SQUARE_PIXEL, Mark
from .measurements import SegmentMeasurements
from .ventricular_function import EjectionFraction

log = logging.getLogger(__name__)

#: The software as Device Observer: one UID per version, the same on every machine.
DEVICE_OBSERVER_UID = generate_uid(entropy_srcs=["DICOMAnnotator device observer", __version__])
MODEL_NAME = "DICOMAnnotatorLib"

IMAGING_MEASUREMENT_REPORT = Code("126000", "DCM", "Imaging Measurement Report")
LANGUAGE = Code("121049", "DCM", "Language of Content Item and Descendants")
ENGLISH_US = Code("en-US", "RFC5646", "English (United States)")
OBSERVER_TYPE = Code("121005", "DCM", "Observer Type")
PERSON = Code("121006", "DCM", "Person")
DEVICE = Code("121007", "DCM", "Device")
PERSON_OBSERVER_NAME = Code("121008", "DCM", "Person Observer Name")
DEVICE_OBSERVER_UID_NAME = Code("121012", "DCM", "Device Observer UID")
DEVICE_OBSERVER_NAME = Code("121013", "DCM", "Device Observer Name")
DEVICE_OBSERVER_MANUFACTURER = Code("121014", "DCM", "Device Observer Manufacturer")
DEVICE_OBSERVER_MODEL_NAME = Code("121015", "DCM", "Device Observer Model Name")
PROCEDURE_REPORTED = Code("121058", "DCM", "Procedure reported")
IMAGE_LIBRARY = Code("111028", "DCM", "Image Library")
IMAGE_LIBRARY_GROUP = Code("126200", "DCM", "Image Library Group")
MODALITY = Code("121139", "DCM", "Modality")
FRAME_OF_REFERENCE_UID = Code("112227", "DCM", "Frame of Reference UID")
SOURCE = Code("260753009", "SCT", "Source (attribute)")
#: The same concept as highdicom names the image a SCOORD was selected from (TID 1410's Image Region).
SELECTED_FROM_SOURCE = Code("260753009", "SCT", "Source")
IMAGING_MEASUREMENTS = Code("126010", "DCM", "Imaging Measurements")
MEASUREMENT_GROUP = Code("125007", "DCM", "Measurement Group")
TRACKING_IDENTIFIER = Code("112039", "DCM", "Tracking Identifier")
TRACKING_UID = Code("112040", "DCM", "Tracking Unique Identifier")
FINDING_CATEGORY = Code("276214006", "SCT", "Finding category")
FINDING = Code("121071", "DCM", "Finding")
FINDING_SITE = Code("363698007", "SCT", "Finding Site")
LATERALITY = Code("272741003", "SCT", "Laterality")
TOPOGRAPHICAL_MODIFIER = Code("106233006", "SCT", "Topographical modifier")
DERIVATION = Code("121401", "DCM", "Derivation")
REFERENCED_SEGMENT = Code("121191", "DCM", "Referenced Segment")
SOURCE_IMAGE_FOR_SEGMENTATION = Code("121233", "DCM", "Source Image for Segmentation")
SOURCE_SERIES_FOR_SEGMENTATION = Code("121232", "DCM", "Source Series for Segmentation")
IMAGE_REGION = Code("111030", "DCM", "Image Region")

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
#: SUV statistics of a segment measured on a PET (PS3.16): the SUV quantity of each type (CID 7180) with its unit
#: (CID 7181, UCUM with the type as annotation), the Peak derivation (CID 7464), Metabolic Volume and Total Lesion
#: Glycolysis (CID 7466). SUVlbm is Janmahasatian's, coded as such (imaging.suv).
SUV_QUANTITIES = {
    "bw": (Code("126401", "DCM", "SUVbw"), Code("g/ml{SUVbw}", "UCUM", "Standardized Uptake Value body weight")),
    "lbm": (Code("126405", "DCM", "SUVlbm(Janma)"),
            Code("g/ml{SUVlbm(Janma)}", "UCUM", "Standardized Uptake Value lean body mass (Janma)")),
    "bsa": (Code("126403", "DCM", "SUVbsa"),
            Code("cm2/ml{SUVbsa}", "UCUM", "Standardized Uptake Value body surface area")),
}
PEAK = Code("126031", "DCM", "Peak Value Within ROI")
METABOLIC_VOLUME = Code("126032", "DCM", "Metabolic Volume")
TOTAL_LESION_GLYCOLYSIS = Code("126033", "DCM", "Total Lesion Glycolysis")
#: TLG is SUVmean x MTV: g/ml x ml, or cm2/ml x ml for SUVbsa.
GLYCOLYSIS_UNITS = {"bw": Code("g", "UCUM", "gram"), "lbm": Code("g", "UCUM", "gram"),
                    "bsa": Code("cm2", "UCUM", "square centimeter")}
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
#: The ejection fraction's group (TID 1501): where it is, its quantities (PS3.16 CID 12200, Echocardiography Left
#: Ventricle; the EF's code names the modality it was measured by: CID 12200, CID 3833 and CID 3467, LOINC's
#: modality-free code elsewhere) and methods (CID 12227, Echocardiography Measurement Method).
VENTRICULAR_FUNCTION_TRACKING_IDENTIFIER = "Left ventricular function"
LEFT_VENTRICLE = Code("87878005", "SCT", "Left ventricle")
MEASUREMENT_METHOD = Code("370129005", "SCT", "Measurement Method")
SOURCE_OF_MEASUREMENT = Code("121112", "DCM", "Source of Measurement")
END_DIASTOLIC_VOLUME = Code("18026-5", "LN", "Left Ventricular End Diastolic Volume")
END_SYSTOLIC_VOLUME = Code("18148-7", "LN", "Left Ventricular End Systolic Volume")
EJECTION_FRACTIONS = {
    "US": Code("18043-0", "LN", "Left Ventricular Ejection Fraction by US"),
    "MR": Code("8811-2", "LN", "Left ventricular ejection fraction by MR"),
    "CT": Code("8810-4", "LN", "Left ventricular ejection fraction by CT"),
    "XA": Code("8808-8", "LN", "Left Ventricular Ejection Fraction by Angiography"),
}
EJECTION_FRACTION = Code("10230-1", "LN", "Left ventricular Ejection fraction")
#: Area-length from one outline per phase; "volumes" are the segments' own voxel volumes, measured directly.
EJECTION_FRACTION_METHODS = {"area-length": Code("125205", "DCM", "Area-Length Single Plane"),
                             "volumes": Code("125316", "DCM", "Directly measured")}
PERCENT = Code("%", "UCUM", "Percent")
CUBIC_PIXEL = Code("{pixel^3}", "UCUM", "cubic pixel")

CONTAINS, HAS_CONCEPT_MOD, HAS_OBS_CONTEXT, HAS_ACQ_CONTEXT, SELECTED_FROM, INFERRED_FROM = (
    "CONTAINS", "HAS CONCEPT MOD", "HAS OBS CONTEXT", "HAS ACQ CONTEXT", "SELECTED FROM", "INFERRED FROM")


class MeasurementReport:
    """The content of one report: what :func:`content_items` encodes below its root container."""

    def __init__(self, encoder: ContentEncoder, reference: ReferenceSeries,
                 measured_series: Sequence[ReferenceSeries] = ()) -> None:
        """``reference`` is the series segmented or marked; ``measured_series`` other series measured through it
        (the PET of a PET/CT), which the Image Library lists too."""
        self._encode = encoder
        self._reference = reference
        self._measured_series = measured_series

    def content_items(self, segmentation: Segmentation | None, seg: Dataset | None,
                      measurements: Sequence[SegmentMeasurements], labels: Sequence[ClassificationLabel],
                      marks: Sequence[Mark], author: str | None,
                      ejection_fraction: EjectionFraction | None = None) -> list[bytes]:
        """The root container's children (the report's title and template are the document's)."""
        reference = self._reference
        if any(mark.points_mm is not None for mark in marks) and not reference.frame_of_reference_uid:
            raise InputError(f"{reference.description} has no Frame of Reference UID, so marks cannot be written in "
                             "patient coordinates (SCOORD3D)")
        modality = reference.modality
        if measurements and modality not in INTENSITY_QUANTITIES and reference.geometry.in_patient_space:
            log.warning("Intensity statistics are written for CT and MR only; %s is %s", reference.description,
                        modality)
        by_number: dict[int, list[SegmentMeasurements]] = {}
        for measured in measurements:
            by_number.setdefault(measured.number, []).append(measured)
        groups = [self._segment_group(segmentation, description, seg, measured,
                                      [label for label in labels if label.segment == description.number])
                  for description in (segmentation.segments if segmentation is not None else [])
                  for measured in by_number.get(description.number) or [None]]
        if ejection_fraction is not None:
            groups.append(self._ventricular_function_group(ejection_fraction))
        groups += [self._mark_group(mark, [label for label in labels if label.mark == mark.index]) for mark in marks]
        case_labels = [label for label in labels if label.segment is None and label.mark is None]
        if case_labels:
            groups.append(self._encode.container(MEASUREMENT_GROUP, CONTAINS, [
                *self._tracking(CASE_TRACKING_IDENTIFIER, None), *self._evaluations(case_labels)], template="1501"))
        if not groups:
            raise SegmentationError("The report would hold no measurement group; give a SEG, marks or labels")
        encode = self._encode
        return [
            encode.code(LANGUAGE, ENGLISH_US, HAS_CONCEPT_MOD),
            *self._observers(author),
            encode.code(PROCEDURE_REPORTED, PROCEDURES.get(modality, IMAGING_PROCEDURE), HAS_CONCEPT_MOD),
            self._image_library(),
            encode.container(IMAGING_MEASUREMENTS, CONTAINS, groups),
        ]

    # ------------------------------------------------------------ observer context (TID 1001-1004)
    def _observers(self, author: str | None) -> list[bytes]:
        encode = self._encode
        person = [encode.code(OBSERVER_TYPE, PERSON, HAS_OBS_CONTEXT),
                  encode.pname(PERSON_OBSERVER_NAME, author, HAS_OBS_CONTEXT)] if author else []
        return [*person,
                encode.code(OBSERVER_TYPE, DEVICE, HAS_OBS_CONTEXT),
                encode.uidref(DEVICE_OBSERVER_UID_NAME, DEVICE_OBSERVER_UID, HAS_OBS_CONTEXT),
                encode.text(DEVICE_OBSERVER_NAME, MANUFACTURER, HAS_OBS_CONTEXT),
                encode.text(DEVICE_OBSERVER_MANUFACTURER, MANUFACTURER, HAS_OBS_CONTEXT),
                encode.text(DEVICE_OBSERVER_MODEL_NAME, MODEL_NAME, HAS_OBS_CONTEXT)]

    # ------------------------------------------------------------ image library (TID 1600-1602)
    def _image_library(self) -> bytes:
        """One Image Library Group per series: the reference, then each other series measured."""
        encode = self._encode
        groups = []
        for series in (self._reference, *self._measured_series):
            shared = [encode.code(MODALITY, coded_modality(series.modality), HAS_ACQ_CONTEXT)]
            if series.frame_of_reference_uid:
                shared.append(encode.uidref(FRAME_OF_REFERENCE_UID, series.frame_of_reference_uid, HAS_ACQ_CONTEXT))
            entries = [encode.image(SOURCE, CONTAINS, str(header_value(ds, "SOPClassUID")),
                                    str(header_value(ds, "SOPInstanceUID"))) for ds in series.datasets]
            groups.append(encode.container(IMAGE_LIBRARY_GROUP, CONTAINS, [*shared, *entries]))
        return encode.container(IMAGE_LIBRARY, CONTAINS, groups)

    # ------------------------------------------------------------ measurement groups (TID 1410, 1411)
    def _segment_group(self, segmentation: Segmentation, description: SegmentDescription, seg: Dataset,
                       measured: SegmentMeasurements | None, labels: list[ClassificationLabel]) -> bytes:
        encode = self._encode
        k = measured.slice_index if measured is not None else None
        referenced = [encode.image(REFERENCED_SEGMENT, CONTAINS, str(seg.SOPClassUID), str(seg.SOPInstanceUID),
                                   segment=description.number), *self._sources(segmentation, description.number, k)]
        identifier, uid = description.tracking_id or description.label, description.tracking_uid
        if k is not None and segmentation.geometry.size[2] > 1:  # one group per frame of a cine: one moment each
            identifier, uid = f"{identifier} frame {k + 1}", None
        return encode.container(MEASUREMENT_GROUP, CONTAINS, [
            *self._tracking(identifier, uid),
            *self._finding(description.category, description.type),
            *self._finding_sites(description.anatomic_region, description.anatomic_region_modifier),
            *(self._measurements(measured) if measured is not None else []),
            *self._evaluations(labels),
            *referenced], template="1411")

    def _mark_group(self, mark: Mark, labels: list[ClassificationLabel]) -> bytes:
        """TID 1410: the mark's region (SCOORD3D on a volume; SCOORD on the image and frame it was drawn on) and,
        on a 2D image, its length or area in mm or in pixels as the image's calibration allows."""
        encode = self._encode
        measured = []
        if mark.points_mm is not None:
            region = encode.scoord3d(IMAGE_REGION, CONTAINS, mark.graphic_type, mark.points_mm,
                                     self._reference.frame_of_reference_uid)
        else:
            source = mark.source
            image = encode.image(SELECTED_FROM_SOURCE, SELECTED_FROM, source.sop_class_uid, source.sop_instance_uid,
                                 frames=[source.frame_number] if source.frame_number is not None else None)
            region = encode.scoord(IMAGE_REGION, CONTAINS, mark.graphic_type, mark.points, image)
            measurement = mark.measurement()
            if measurement is not None:
                name, value, unit = measurement
                measured.append(encode.num(name, value, unit, CONTAINS))
        return encode.container(MEASUREMENT_GROUP, CONTAINS, [
            *self._tracking(mark.label, None), *self._finding(mark.finding_category, mark.finding),
            *self._finding_sites(mark.finding_site, None), *measured, *self._evaluations(labels), region],
            template="1410")

    def _ventricular_function_group(self, result: EjectionFraction) -> bytes:
        """TID 1501: EDV, ESV (ml, or cubic pixels on an uncalibrated loop) and EF (%) of the left ventricle, each
        with its method (TID 300 Measurement Method) and the images and frames its outlines are on (Source of
        Measurement, INFERRED FROM)."""
        encode = self._encode
        method = encode.code(MEASUREMENT_METHOD, EJECTION_FRACTION_METHODS[result.method.value], HAS_CONCEPT_MOD)
        volume_unit = MILLILITRE if result.calibrated else CUBIC_PIXEL

        def measurement(name: Code, value: float, unit: Code, slices: Sequence[int | None]) -> bytes:
            sources = [self._reference.slices[k] for k in slices if k is not None]
            return encode.num(name, value, unit, CONTAINS, [method, *self._sources_of_measurement(sources)])

        ed, es = result.end_diastolic_slice, result.end_systolic_slice
        return encode.container(MEASUREMENT_GROUP, CONTAINS, [
            *self._tracking(VENTRICULAR_FUNCTION_TRACKING_IDENTIFIER, None),
            *self._finding_sites(LEFT_VENTRICLE, None),
            measurement(END_DIASTOLIC_VOLUME, result.end_diastolic_volume, volume_unit, [ed]),
            measurement(END_SYSTOLIC_VOLUME, result.end_systolic_volume, volume_unit, [es]),
            measurement(EJECTION_FRACTIONS.get(self._reference.modality, EJECTION_FRACTION), result.percent, PERCENT,
                        [ed, es])], template="1501")

    def _sources_of_measurement(self, sources: Sequence[SliceSource]) -> list[bytes]:
        """Source of Measurement (INFERRED FROM) items: one per instance, with the frames of multi-frame ones."""
        return self._image_references(SOURCE_OF_MEASUREMENT, INFERRED_FROM, sources)

    def _image_references(self, name: Code, relationship: str, sources: Sequence[SliceSource]) -> list[bytes]:
        """IMAGE items of ``sources`` in their order, one per instance, with the frames of multi-frame ones."""
        frames: dict[tuple[str, str], list[int]] = {}
        for source in sources:
            numbers = frames.setdefault((source.sop_class_uid, source.sop_instance_uid), [])
            if source.frame_number is not None:
                numbers.append(source.frame_number)
        return [self._encode.image(name, relationship, class_uid, instance_uid, frames=sorted(numbers) or None)
                for (class_uid, instance_uid), numbers in frames.items()]

    def _tracking(self, identifier: str, uid: str | None) -> list[bytes]:
        """TID 4108 Tracking Identifier: text and UID (a new UID where the finding has none yet)."""
        return [self._encode.text(TRACKING_IDENTIFIER, identifier, HAS_OBS_CONTEXT),
                self._encode.uidref(TRACKING_UID, uid or generate_uid(), HAS_OBS_CONTEXT)]

    def _finding(self, category: Code | None, finding: Code | None) -> list[bytes]:
        return ([self._encode.code(FINDING_CATEGORY, category, CONTAINS)] if category else []) + \
            ([self._encode.code(FINDING, finding, CONTAINS)] if finding else [])

    def _finding_sites(self, region: Code | None, modifier: Code | None) -> list[bytes]:
        """The finding site; a laterality modifier becomes its laterality, any other its topographical modifier."""
        if region is None:
            return []
        children = []
        if modifier is not None:
            lateral = (modifier.value, modifier.scheme) in LATERALITIES
            children.append(self._encode.code(LATERALITY if lateral else TOPOGRAPHICAL_MODIFIER, modifier,
                                              HAS_CONCEPT_MOD))
        return [self._encode.code(FINDING_SITE, region, HAS_CONCEPT_MOD, children)]

    def _measurements(self, measured: SegmentMeasurements) -> list[bytes]:
        """TID 300 measurements: volume, maximum diameter, on CT and MR intensity statistics and, measured on a PET,
        SUVmax, SUVmean, SUVpeak, metabolic volume and total lesion glycolysis."""
        def measurement(name: Code, value: float, unit: Code, derivation: Code | None = None,
                        sources: Sequence[bytes] = ()) -> bytes:
            children = [self._encode.code(DERIVATION, derivation, HAS_CONCEPT_MOD)] if derivation else []
            return self._encode.num(name, float(value), unit, CONTAINS, [*children, *sources])

        if measured.area is not None:  # a 2D image or a frame of a cine: area and diameter, in pixels if uncalibrated
            length_unit, area_unit = (MILLIMETRE, SQUARE_MILLIMETRE) if measured.calibrated else (PIXEL, SQUARE_PIXEL)
            items = [measurement(AREA, measured.area, area_unit)]
            if measured.max_diameter_mm is not None:
                items.append(measurement(DIAMETER, measured.max_diameter_mm, length_unit, MAXIMUM))
            return items
        items = [measurement(VOLUME, measured.volume_ml, MILLILITRE)]
        if measured.max_diameter_mm is not None:
            items.append(measurement(DIAMETER, measured.max_diameter_mm, MILLIMETRE, MAXIMUM))
        statistics = measured.intensity
        modality = self._reference.modality
        if statistics is not None and modality in INTENSITY_QUANTITIES:
            quantity, unit = INTENSITY_QUANTITIES[modality]
            items += [measurement(quantity, value, unit, derivation) for value, derivation in (
                (statistics.mean, MEAN), (statistics.minimum, MINIMUM), (statistics.maximum, MAXIMUM),
                (statistics.std, STANDARD_DEVIATION))]
        uptake = measured.uptake
        if uptake is not None:
            quantity, unit = SUV_QUANTITIES[uptake.suv_type]
            pet = self._sources_of_measurement(uptake.sources)
            if uptake.suv_max is not None:
                items += [measurement(quantity, value, unit, derivation, pet) for value, derivation in (
                    (uptake.suv_max, MAXIMUM), (uptake.suv_mean, MEAN), (uptake.suv_peak, PEAK))]
            items += [measurement(METABOLIC_VOLUME, uptake.mtv_ml, MILLILITRE, sources=pet),
                      measurement(TOTAL_LESION_GLYCOLYSIS, uptake.tlg_g, GLYCOLYSIS_UNITS[uptake.suv_type],
                                  sources=pet)]
        return items

    def _evaluations(self, labels: Sequence[ClassificationLabel]) -> list[bytes]:
        return [self._encode.code(label.name, label.value, CONTAINS) for label in labels]

    def _sources(self, segmentation: Segmentation, number: int, k: int | None = None) -> list[bytes]:
        """The source images of the slices the segment lies on (with their frames; slice ``k`` alone when given),
        or the series when it is empty."""
        reference = self._reference
        box, values = segmentation.cropped_mask(number)
        if not values.size or not values.any():
            return [self._encode.uidref(SOURCE_SERIES_FOR_SEGMENTATION, reference.series_instance_uid, CONTAINS)]
        occupied = box[0].start + np.flatnonzero(values.reshape(len(values), -1).any(axis=1))
        if k is not None:
            occupied = occupied[occupied == k]
        return self._image_references(SOURCE_IMAGE_FOR_SEGMENTATION, CONTAINS,
                                      [reference.slices[k] for k in occupied.tolist()])


#: CID 29 Acquisition Modality for the modalities this software annotates (others are looked up in pydicom's
#: copy of the CID, whose import costs a tenth of a second).
ANNOTATED_MODALITIES = {"CT": "Computed Tomography", "MR": "Magnetic Resonance",
                        "PT": "Positron emission tomography", "NM": "Nuclear Medicine", "US": "Ultrasound",
                        "CR": "Computed Radiography", "DX": "Digital Radiography", "MG": "Mammography",
                        "XA": "X-Ray Angiography", "RF": "Radiofluoroscopy"}


def coded_modality(modality: str) -> Code:
    """The CID 29 code of a modality (e.g. CT -> (CT, DCM, "Computed Tomography")).

    CID 29 codes are the Modality attribute's defined terms in scheme DCM, so a modality the
    group does not list keeps its term as value and meaning.
    """
    if modality in ANNOTATED_MODALITIES:
        return Code(modality, "DCM", ANNOTATED_MODALITIES[modality])
    from pydicom.sr.codedict import codes

    for name in codes.cid29.dir():
        code = getattr(codes.cid29, name)
        if code.value == modality:
            return Code(code.value, code.scheme_designator, code.meaning)
    return Code(modality or "OT", "DCM", modality or "Other")
