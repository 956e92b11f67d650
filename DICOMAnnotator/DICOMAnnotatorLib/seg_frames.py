"""The frames of a BINARY or FRACTIONAL SEG, encoded directly: per-frame functional groups and pixel data.

highdicom builds every module of the SEG header right; its per-frame work (one mask test,
one functional-group item and one spatial check per slice and segment) is what made our
writes slower than dcmqi's. So the writer has highdicom build the header on one slice, and this
module replaces that slice's frames with one frame per segment and labelled slice, walking
each segment's bounding box only. Items that are the same for every frame (derivation codes,
segment identification) are one object referenced from every frame; BINARY frames are packed
to bits one frame at a time, so memory follows the labelled region plus the packed pixel data.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pydicom
from pydicom.dataelem import DataElement
from pydicom.valuerep import format_number_as_ds

from .reference_series import SliceSource
from .segmentation import Segmentation

#: Purpose of Reference of a frame's source image, and the Derivation Code of a SEG frame (PS3.16 CID 7202, 7203).
SOURCE_PURPOSE = ("121322", "DCM", "Source image for image processing operation")
SEGMENTATION_DERIVATION = ("113076", "DCM", "Segmentation")


def replace_frames(seg: pydicom.Dataset, segmentation: Segmentation, sources: Mapping[int, SliceSource], *,
                   fractional: bool, maximum_fractional_value: int = 255) -> int:
    """Put one frame per segment and labelled slice into ``seg`` (segment-major, slices ascending).

    ``sources[k]`` is the source image of slice ``k`` (missing: the frame names no source);
    ``fractional`` says whether ``seg`` is a FRACTIONAL SEG (a BINARY segmentation may be written
    as one). Returns the number of frames; a segmentation without voxels keeps ``seg``'s frames.
    """
    geometry = segmentation.geometry
    rows, columns = geometry.array_shape[1:]
    purpose, derivation = _code_item(*SOURCE_PURPOSE), _code_item(*SEGMENTATION_DERIVATION)
    shared = seg.SharedFunctionalGroupsSequence[0]
    # With one segment highdicom names it once in the shared groups; a group may not be in both.
    per_frame_identification = "SegmentIdentificationSequence" not in shared
    pack_each = not fractional and rows * columns % 8 == 0  # frames end on byte boundaries
    items, pixels = [], []
    for description in segmentation.segments:
        if segmentation.bounding_box(description.number) is None:
            continue
        identification = pydicom.Dataset()
        identification.add(DataElement(0x0062000B, "US", description.number))  # ReferencedSegmentNumber
        box, values = segmentation.cropped_mask(description.number)
        for offset, k in enumerate(range(box[0].start, box[0].stop)):
            plane = values[offset]
            if not plane.any():
                continue
            frame = np.zeros((rows, columns), dtype=np.uint8)
            frame[box[1], box[2]] = (np.rint(plane * maximum_fractional_value) if fractional else plane)
            pixels.append(np.packbits(frame.ravel(), bitorder="little").tobytes() if pack_each else frame)
            items.append(_frame_item(description.number, k, geometry.index_to_lps(np.array([[0, 0, k]]))[0],
                                     sources.get(k), identification if per_frame_identification else None,
                                     purpose, derivation))
    if not items:
        return int(seg.NumberOfFrames)
    seg.PerFrameFunctionalGroupsSequence = pydicom.Sequence(items)
    seg.NumberOfFrames = len(items)
    # The header was built on one slice, which gives no distance between slices: state the grid's.
    measures = shared.PixelMeasuresSequence[0]
    measures.SpacingBetweenSlices = format_number_as_ds(float(geometry.spacing[2]))
    seg.PixelData = _pixel_data(pixels, fractional)
    return len(items)


def _frame_item(segment: int, k: int, position: np.ndarray, source: SliceSource | None,
                identification: pydicom.Dataset | None, purpose: pydicom.Dataset,
                derivation: pydicom.Dataset) -> pydicom.Dataset:
    """One item of the Per-frame Functional Groups Sequence (the groups highdicom writes for a SEG frame)."""
    item = pydicom.Dataset()
    content = pydicom.Dataset()
    content.add(DataElement(0x00209157, "UL", [segment, k + 1]))  # DimensionIndexValues: segment, slice
    item.add(DataElement(0x00209111, "SQ", pydicom.Sequence([content])))  # FrameContentSequence
    plane = pydicom.Dataset()
    plane.add(DataElement(0x00200032, "DS", [format_number_as_ds(float(v)) for v in position]))
    item.add(DataElement(0x00209113, "SQ", pydicom.Sequence([plane])))  # PlanePositionSequence
    if source is not None:
        image = pydicom.Dataset()
        image.add(DataElement(0x00081150, "UI", source.sop_class_uid))  # ReferencedSOPClassUID
        image.add(DataElement(0x00081155, "UI", source.sop_instance_uid))  # ReferencedSOPInstanceUID
        if source.frame_number is not None:
            image.add(DataElement(0x00081160, "IS", source.frame_number))  # ReferencedFrameNumber
        image.add(DataElement(0x0028135A, "CS", "YES"))  # SpatialLocationsPreserved
        image.add(DataElement(0x0040A170, "SQ", pydicom.Sequence([purpose])))  # PurposeOfReferenceCodeSequence
        derived = pydicom.Dataset()
        derived.add(DataElement(0x00082112, "SQ", pydicom.Sequence([image])))  # SourceImageSequence
        derived.add(DataElement(0x00089215, "SQ", pydicom.Sequence([derivation])))  # DerivationCodeSequence
        item.add(DataElement(0x00089124, "SQ", pydicom.Sequence([derived])))  # DerivationImageSequence
    if identification is not None:
        item.add(DataElement(0x0062000A, "SQ", pydicom.Sequence([identification])))  # SegmentIdentificationSequence
    return item


def _pixel_data(frames: list, fractional: bool) -> bytes:
    """Frames as Pixel Data: one byte per pixel (FRACTIONAL) or bits packed across frames (BINARY, PS3.5 8.1.1).

    BINARY frames arrive already packed when each ends on a byte boundary, else as arrays packed here together.
    """
    if isinstance(frames[0], bytes):
        data = b"".join(frames)
    elif fractional:
        data = b"".join(frame.tobytes() for frame in frames)
    else:
        data = np.packbits(np.stack(frames).ravel(), bitorder="little").tobytes()
    return data + b"\0" * (len(data) % 2)


def _code_item(value: str, scheme: str, meaning: str) -> pydicom.Dataset:
    item = pydicom.Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item
