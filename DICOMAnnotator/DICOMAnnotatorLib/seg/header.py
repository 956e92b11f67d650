"""The header of a DICOM SEG: every module of the Segmentation IOD (PS3.3 A.51) except its frames.

Built here with pydicom rather than by highdicom's Segmentation constructor, which checked
and mapped every source image and loaded the standard's tables on each call (half a second
whatever the size). What this module writes was made equal to what highdicom 0.28 writes
for the same input (a test compares the two attribute by attribute), and every file is
checked by dciodvfy and read back by highdicom, dcmqi, pydicom-seg and dcmjs in the tests.

- Patient, Clinical Trial Subject, General Study, Patient Study, Clinical Trial Study and
  Specimen: copied from the first source image by :mod:`..dicom.source_attributes` (the SEG belongs
  to the same patient and study).
- Frame of Reference, image size, pixel measures and plane orientation: from the series' grid.
  Source images without a Frame of Reference UID (some anonymisers remove it) give a SEG without
  the Frame of Reference module, which the IOD allows because every frame names its source image.
- Common Instance Reference and Source Image Sequence: every source instance.
- Multi-frame Dimension: segment number and plane position (BINARY, FRACTIONAL) or plane
  position alone (LABELMAP), pointing into the functional groups :mod:`.frames` writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset
from pydicom.tag import Tag
from pydicom.uid import ExplicitVRLittleEndian, RLELossless, generate_uid

from .. import MANUFACTURER, __version__
from ..dicom import (
    Code,
    code_item,
    derived_instance,
    encode_element,
    encode_items,
    encode_sequence,
    raw_element,
    to_person_name,
)
from ..imaging import SegmentDescription
from .descriptions import segment_item

SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
LABEL_MAP_SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.7"
MODEL_NAME = "DICOMAnnotatorLib"
ACQUISITION_EQUIPMENT = Code("109101", "DCM", "Acquisition Equipment")
BACKGROUND = Code("125040", "DCM", "Background")
#: Stored value of a fraction of 1 in FRACTIONAL SEGs (one byte per pixel).
MAX_FRACTIONAL_VALUE = 255


@dataclass(frozen=True)
class SegSeries:
    """How the SEG presents itself in a PACS: its series, content label and author."""

    series_number: int
    series_description: str
    content_label: str = "ANNOTATION"
    content_description: str = ""
    creator: str | None = None  # Family^Given


def seg_header(reference, segments: Sequence[SegmentDescription], *, seg_type: str, overlapping: bool,
               series: SegSeries) -> Dataset:
    """The SEG dataset of ``segments`` on ``reference`` without frames (no Number of Frames, per-frame
    groups or Pixel Data: :mod:`.frames` adds them).

    ``reference`` is a :class:`ReferenceSeries` or a series rebuilt from SEGs (anything with
    ``geometry`` and ``datasets``); ``seg_type`` is ``binary``, ``fractional`` or ``labelmap``;
    ``overlapping`` says whether two segments share a voxel (Segments Overlap of a BINARY SEG).
    """
    datasets = reference.datasets
    source = datasets[0]
    labelmap = seg_type == "labelmap"
    ds = derived_instance(source, LABEL_MAP_SEGMENTATION_STORAGE if labelmap else SEGMENTATION_STORAGE,
                          RLELossless if labelmap else ExplicitVRLittleEndian, modality="SEG",
                          series_number=series.series_number, series_description=series.series_description)
    if reference.frame_of_reference_uid:  # the module is optional where frames name their source images
        ds.FrameOfReferenceUID = reference.frame_of_reference_uid
        ds.PositionReferenceIndicator = source.get("PositionReferenceIndicator", "")
    ds.Manufacturer = MANUFACTURER
    ds.ManufacturerModelName = MODEL_NAME
    ds.DeviceSerialNumber = "none"
    ds.SoftwareVersions = __version__
    equipment = _acquisition_equipment(source)
    if equipment is not None:
        ds.ContributingEquipmentSequence = [equipment]
    ds.ImageType = ["DERIVED", "PRIMARY"]
    if not reference.geometry.in_patient_space:
        # General Image: Patient Orientation is Type 2C where frames have no Image Orientation (Patient), as on a
        # 2D image (PS3.3 C.7.6.1); highdicom leaves it out, which dciodvfy reports as an error
        ds.PatientOrientation = source.get("PatientOrientation") or ""
    ds.LossyImageCompression = source.get("LossyImageCompression") or "00"
    if ds.LossyImageCompression == "01":
        for keyword in ("LossyImageCompressionRatio", "LossyImageCompressionMethod"):
            if keyword in source:
                setattr(ds, keyword, source[keyword].value)
    _image_pixel(ds, reference.geometry, seg_type, len(segments))
    ds.SegmentationType = seg_type.upper()
    if seg_type == "fractional":
        ds.SegmentationFractionalType = "PROBABILITY"
        ds.MaximumFractionalValue = MAX_FRACTIONAL_VALUE
    ds.SegmentsOverlap = "UNDEFINED" if seg_type == "fractional" else "YES" if overlapping else "NO"
    ds.ContentLabel = series.content_label
    ds.ContentDescription = (series.content_description or series.series_description)[:64]
    if series.creator:
        ds.ContentCreatorName = to_person_name(series.creator)
    ds.SegmentSequence = ([_background_item()] if labelmap else []) + [
        segment_item(s, algorithm_version=__version__) for s in segments]
    ds.SharedFunctionalGroupsSequence = [_shared_groups(reference.geometry, source, segments, labelmap)]
    _dimensions(ds, labelmap, reference.geometry)
    _reference_sources(ds, datasets, reference.series_instance_uid)
    return ds


def _acquisition_equipment(source: Dataset) -> Dataset | None:
    """The source's scanner as Contributing Equipment (none when the source names no manufacturer)."""
    if not source.get("Manufacturer"):
        return None
    item = Dataset()
    for keyword in ("Manufacturer", "ManufacturerModelName", "SoftwareVersions", "DeviceSerialNumber",
                    "InstitutionName", "InstitutionalDepartmentName", "InstitutionAddress", "StationName"):
        if source.get(keyword):
            setattr(item, keyword, source[keyword].value)
    if source.get("AcquisitionDateTime"):
        item.ContributionDateTime = source.AcquisitionDateTime
    item.ContributionDescription = "Acquisition equipment of the source image(s)"
    item.PurposeOfReferenceCodeSequence = [code_item(ACQUISITION_EQUIPMENT)]
    return item


def _background_item() -> Dataset:
    """Segment 0 of a LABELMAP SEG: the pixels no segment claims (black), described as highdicom does so that
    readers find a description for every stored value."""
    item = segment_item(SegmentDescription(number=1, label="Background", category=BACKGROUND, type=BACKGROUND,
                                           color=(0, 0, 0)))
    item.SegmentNumber = 0  # our descriptions start at 1
    return item


def _image_pixel(ds: Dataset, geometry, seg_type: str, segment_count: int) -> None:
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = int(geometry.size[1]), int(geometry.size[0])
    bits = {"binary": 1, "fractional": 8}.get(seg_type, 8 if segment_count < 256 else 16)
    ds.BitsAllocated = ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    if seg_type == "labelmap":
        ds.PixelPaddingValue = 0
    ds.PresentationLUTShape = "IDENTITY"


def _shared_groups(geometry, source: Dataset, segments: Sequence[SegmentDescription], labelmap: bool) -> Dataset:
    """Pixel Measures and Plane Orientation of the grid; the segment too when there is only one.

    On a 2D image or cine (no plane in the patient) only the source's own Pixel Spacing is repeated, as
    highdicom does: the SEG's frames are placed by the source frames they name."""
    shared = Dataset()
    if not geometry.in_patient_space:
        if source.get("PixelSpacing"):
            measures = Dataset()
            measures.PixelSpacing = [decimal_string(v) for v in source.PixelSpacing]
            shared.PixelMeasuresSequence = [measures]
    else:
        shared.PixelMeasuresSequence = [_pixel_measures(geometry, source)]
        orientation = Dataset()
        directions = np.asarray(geometry.directions, dtype=float)
        orientation.ImageOrientationPatient = [decimal_string(v) for v in (*directions[:, 0], *directions[:, 1])]
        shared.PlaneOrientationSequence = [orientation]
    if len(segments) == 1 and not labelmap:
        identification = Dataset()
        identification.ReferencedSegmentNumber = segments[0].number
        shared.SegmentIdentificationSequence = [identification]
    return shared


def _pixel_measures(geometry, source: Dataset) -> Dataset:
    measures = Dataset()
    measures.SliceThickness = decimal_string(_slice_thickness(source, float(geometry.spacing[2])))
    measures.SpacingBetweenSlices = decimal_string(geometry.spacing[2])
    measures.PixelSpacing = [decimal_string(geometry.spacing[1]), decimal_string(geometry.spacing[0])]
    return measures


def _slice_thickness(source: Dataset, spacing: float) -> float:
    """The source's Slice Thickness (top level, or its first frame's Pixel Measures); the spacing without one."""
    if source.get("SliceThickness") not in (None, ""):
        return float(source.SliceThickness)
    for groups in (source.get("SharedFunctionalGroupsSequence"), source.get("PerFrameFunctionalGroupsSequence")):
        measures = groups[0].get("PixelMeasuresSequence") if groups else None
        if measures and measures[0].get("SliceThickness") not in (None, ""):
            return float(measures[0].SliceThickness)
    return spacing


def decimal_string(value: float) -> str:
    """A DS value of 10 significant digits: ``0.7`` for a spacing computed as 0.7000000000000001, a
    direction cosine as precise as scanners write it, always within DS's 16 characters."""
    return format(float(value), ".10g")


def _dimensions(ds: Dataset, labelmap: bool, geometry) -> None:
    """Segment number (not in a LABELMAP SEG), then where the frame lies: its plane position in a volume; on a
    2D image or cine, which has none, its Frame Label (``Frame``, ``Frame N`` on a cine), as highdicom labels
    the frames of a LABELMAP SEG on a 2D image."""
    organization = Dataset()
    organization.DimensionOrganizationUID = generate_uid()
    ds.DimensionOrganizationSequence = [organization]
    pointers = [] if labelmap else [
        (Tag("ReferencedSegmentNumber"), Tag("SegmentIdentificationSequence"), "Referenced Segment Number")]
    if geometry.in_patient_space:
        pointers.append((Tag("ImagePositionPatient"), Tag("PlanePositionSequence"), "Image Position Patient"))
    elif labelmap or geometry.size[2] > 1:
        pointers.append((Tag("FrameLabel"), Tag("FrameContentSequence"), "Frame Label"))
    items = []
    for index_pointer, group_pointer, label in pointers:
        item = Dataset()
        item.DimensionOrganizationUID = organization.DimensionOrganizationUID
        item.DimensionIndexPointer = index_pointer
        item.FunctionalGroupPointer = group_pointer
        item.DimensionDescriptionLabel = label
        items.append(item)
    ds.DimensionIndexSequence = items


def _reference_sources(ds: Dataset, datasets: Sequence[Dataset], series_uid: str) -> None:
    """Every source instance, in Source Image Sequence and in the Common Instance Reference module
    (one series: a reference series is one series of the SEG's study). Encoded to bytes here: a
    300-slice series makes 600 items, which cost pydicom 40 ms to build as datasets."""
    references = [encode_element(0x00081150, "UI", str(source.SOPClassUID).encode())  # ReferencedSOPClassUID
                  + encode_element(0x00081155, "UI", str(source.SOPInstanceUID).encode())  # ReferencedSOPInstanceUID
                  for source in datasets]
    series_item = (encode_sequence(0x0008114A, references)  # ReferencedInstanceSequence
                   + encode_element(0x0020000E, "UI", series_uid.encode()))  # SeriesInstanceUID
    ds[0x00082112] = raw_element(0x00082112, "SQ", encode_items(references))  # SourceImageSequence
    ds[0x00081115] = raw_element(0x00081115, "SQ", encode_items([series_item]))  # ReferencedSeriesSequence
