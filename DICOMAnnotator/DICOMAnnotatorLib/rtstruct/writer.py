""":class:`Segmentation` to an RT Structure Set: one ROI per segment, its name, colour and code kept.

The modules are those of the RT Structure Set IOD (PS3.3 A.19): the source's patient and study,
RT Series (C.8.8.1), the source's Frame of Reference, General Equipment, Structure Set (C.8.8.5: the
frame of reference, study, series and every image the contours lie on), ROI Contour (C.8.8.6:
CLOSED_PLANAR contours, each naming its image) and RT ROI Observations (C.8.8.8: the segment's type
code as the RT ROI Identification Code, with its type modifier, and its category as the Segmented Property
Category Code, the attributes PS3.3 gives the observation for what a SEG's segment says in its Segmented
Property Category and Type Code Sequences).
Each slice's contours follow the voxels' own edges (:func:`.polygons.outline_volume`), so reading
them back gives the mask voxel for voxel.

The file is in Implicit VR Little Endian, the DICOM default every RT system reads: in explicit VR a
DS value holds at most 64 KiB, which the Contour Data of one long outline can pass. The contour
items are encoded here as bytes (thousands of items through pydicom's writer would cost seconds).
"""

from __future__ import annotations

import logging
import os

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import ImplicitVRLittleEndian, RTStructureSetStorage

from .. import __version__
from ..atomic import atomic_path
from ..dicom import (
    code_item,
    derived_instance,
    encode_element,
    encode_items,
    encode_sequence,
    property_type_item,
    raw_element,
    save_part10,
)
from ..errors import SegmentationError
from ..imaging import MaskKind, ReferenceSeries, Segmentation
from .polygons import outline_volume
from .summary import RoiSummary

log = logging.getLogger(__name__)

#: Referenced SOP Class UID of the study in RT Referenced Study Sequence (PS3.3 C.8.8.5.1 names this one).
STUDY_COMPONENT_SOP_CLASS = "1.2.840.10008.3.1.2.3.1"
SERIES_NUMBER_OFFSET = 2000
_CONTOUR_IMAGE, _CONTOUR_SEQUENCE, _ROI_CONTOUR = 0x30060016, 0x30060040, 0x30060039


def build_rtstruct(segmentation: Segmentation, *, series_number: int | None = None,
                   series_description: str | None = None, label: str = "ANNOTATION",
                   ) -> tuple[Dataset, tuple[RoiSummary, ...]]:
    """The RT Structure Set of ``segmentation`` on its reference series (not yet written), and its ROIs."""
    reference = segmentation.reference
    if not isinstance(reference, ReferenceSeries):
        raise SegmentationError("An RT Structure Set places contours in the patient; the segmentation needs its "
                                "image series (a volume with a frame of reference): give --series")
    if not reference.frame_of_reference_uid:
        raise SegmentationError(f"{reference.description} has no Frame of Reference UID, which an RT Structure Set's "
                                "contours are placed in")
    if segmentation.kind is not MaskKind.BINARY:
        raise SegmentationError("An RT Structure Set holds outlines; threshold the FRACTIONAL segmentation first")
    if not segmentation.segments:
        raise SegmentationError("The segmentation has no segments; an RT Structure Set needs at least one ROI")
    source = reference.datasets[0]
    number = series_number if series_number is not None else int(source.get("SeriesNumber") or 0) + \
        SERIES_NUMBER_OFFSET
    description = series_description or " ".join(part for part in ("RTSTRUCT", segmentation.author) if part)
    ds = derived_instance(source, RTStructureSetStorage, ImplicitVRLittleEndian, modality="RTSTRUCT",
                          series_number=number, series_description=description)
    ds.OperatorsName = segmentation.author or ""
    ds.FrameOfReferenceUID = reference.frame_of_reference_uid  # Frame of Reference Module (C.7.4.1)
    ds.PositionReferenceIndicator = source.get("PositionReferenceIndicator", "")
    ds.Manufacturer = "DICOMAnnotator"
    ds.SoftwareVersions = __version__
    ds.StructureSetLabel = label[:16]
    ds.StructureSetDate, ds.StructureSetTime = ds.ContentDate, ds.ContentTime
    del ds.ContentDate, ds.ContentTime  # not in the RT Structure Set IOD
    images = [_image_item(reference, k) for k in range(reference.geometry.size[2])]
    ds.ReferencedFrameOfReferenceSequence = [_frame_of_reference(reference, images)]
    ds.StructureSetROISequence = [_structure_set_roi(d, reference) for d in segmentation.segments]
    items, rois = [], []
    for description in segmentation.segments:
        item, contours = _roi_contour(segmentation, description.number, images)
        items.append(item)
        rois.append(RoiSummary(description.number, description.label[:64], contours))
    ds[_ROI_CONTOUR] = raw_element(_ROI_CONTOUR, "SQ", encode_items(items), implicit=True)
    ds.RTROIObservationsSequence = [_observation(d) for d in segmentation.segments]
    return ds, tuple(rois)


def write_rtstruct(segmentation: Segmentation, path: str | os.PathLike[str], *, force: bool = False,
                   **options) -> tuple[RoiSummary, ...]:
    """Write the RT Structure Set of ``segmentation`` to ``path`` (temporary name, then rename); its ROIs."""
    ds, rois = build_rtstruct(segmentation, **options)
    with atomic_path(path, force=force) as temporary:
        save_part10(ds, temporary)
    log.info("Wrote %s: RT Structure Set with %d ROI(s)", path, len(rois))
    return rois


def _image_item(reference: ReferenceSeries, k: int) -> bytes:
    """The encoded Contour Image Sequence item of slice ``k``: its instance (and frame)."""
    source = reference.slices[k]
    item = encode_element(0x00081150, "UI", source.sop_class_uid.encode(), implicit=True) + \
        encode_element(0x00081155, "UI", source.sop_instance_uid.encode(), implicit=True)
    if source.frame_number is not None:
        item += encode_element(0x00081160, "IS", str(source.frame_number).encode(), implicit=True)
    return item


def _frame_of_reference(reference: ReferenceSeries, images: list[bytes]) -> Dataset:
    series = Dataset()
    series.SeriesInstanceUID = reference.series_instance_uid
    series[_CONTOUR_IMAGE] = raw_element(_CONTOUR_IMAGE, "SQ", encode_items(images), implicit=True)
    study = Dataset()
    study.ReferencedSOPClassUID = STUDY_COMPONENT_SOP_CLASS
    study.ReferencedSOPInstanceUID = reference.study_instance_uid
    study.RTReferencedSeriesSequence = [series]
    frame = Dataset()
    frame.FrameOfReferenceUID = reference.frame_of_reference_uid
    frame.RTReferencedStudySequence = [study]
    return frame


def _structure_set_roi(description, reference: ReferenceSeries) -> Dataset:
    roi = Dataset()
    roi.ROINumber = description.number
    roi.ReferencedFrameOfReferenceUID = reference.frame_of_reference_uid
    roi.ROIName = description.label[:64]
    roi.ROIGenerationAlgorithm = description.algorithm_type.value
    if description.algorithm_name:
        roi.ROIGenerationDescription = description.algorithm_name[:64]
    return roi


def _roi_contour(segmentation: Segmentation, number: int, images: list[bytes]) -> tuple[bytes, int]:
    """One encoded ROI Contour Sequence item (colour, the CLOSED_PLANAR contours of every slice, ROI number)
    and its number of contours."""
    description = segmentation.segment(number)
    item = encode_element(0x3006002A, "IS", "\\".join(str(c) for c in description.color).encode(), implicit=True)
    box = segmentation.bounding_box(number)
    contours = []
    if box is not None:
        box, mask = segmentation.cropped_mask(number)
        affine = segmentation.geometry.affine
        offset = np.array([box[2].start, box[1].start, box[0].start], dtype=float)
        for index, (k, vertices) in enumerate(outline_volume(mask), start=1):
            slice_k = box[0].start + k
            points = np.column_stack([vertices + offset[:2], np.full(len(vertices), slice_k, dtype=float)])
            lps = points @ affine[:3, :3].T + affine[:3, 3]
            data = ("\\".join(["%.4f"] * lps.size) % tuple(lps.ravel().tolist())).encode()
            contours.append(
                encode_sequence(_CONTOUR_IMAGE, [images[slice_k]], implicit=True)
                + encode_element(0x30060042, "CS", b"CLOSED_PLANAR", implicit=True)
                + encode_element(0x30060046, "IS", str(len(vertices)).encode(), implicit=True)
                + encode_element(0x30060048, "IS", str(index).encode(), implicit=True)
                + encode_element(0x30060050, "DS", data, implicit=True))
        item += encode_sequence(_CONTOUR_SEQUENCE, contours, implicit=True)
    return item + encode_element(0x30060084, "IS", str(number).encode(), implicit=True), len(contours)


def _observation(description) -> Dataset:
    observation = Dataset()
    observation.ObservationNumber = description.number
    observation.ReferencedROINumber = description.number
    observation.SegmentedPropertyCategoryCodeSequence = [code_item(description.category)]
    observation.RTROIIdentificationCodeSequence = [property_type_item(description.type, description.type_modifier)]
    observation.RTROIInterpretedType = ""
    observation.ROIInterpreter = ""
    return observation
