"""The frames of a SEG, encoded directly: per-frame functional groups and pixel data.

:mod:`.header` builds every other module. Here BINARY and FRACTIONAL SEGs get one frame per
segment and labelled slice (segment-major, slices ascending) and a LABELMAP SEG one frame per
labelled slice, walking each segment's bounding box only; empty frames are left out (a SEG
without any labelled voxel keeps empty frames on its first slice, as the IOD needs a frame).
The per-frame items are encoded to bytes here (explicit VR little endian, as
:func:`..dicom.part10.save_part10` copies them), from pieces encoded once per slice (plane position,
source image) and once per segment; BINARY and FRACTIONAL pixel data are filled row band by row
band, so memory follows the labelled region plus the packed pixel data. LABELMAP frames are
compressed with RLE Lossless, which every DICOM toolkit decodes (encoded by :mod:`..dicom.rle`).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

import numpy as np
import pydicom
from pydicom.encaps import encapsulate

from ..dicom import (
    SparseBytes,
    encode_element,
    encode_items,
    encode_sequence,
    raw_element,
    rle_encode_frames,
    sparse_bytes,
)
from ..imaging import Segmentation, SliceSource
from .header import MAX_FRACTIONAL_VALUE, decimal_string

#: Purpose of Reference of a frame's source image, and the Derivation Code of a SEG frame (PS3.16 CID 7202, 7203).
SOURCE_PURPOSE = ("121322", "DCM", "Source image for image processing operation")
SEGMENTATION_DERIVATION = ("113076", "DCM", "Segmentation")
PER_FRAME_FUNCTIONAL_GROUPS = 0x52009230
PIXEL_DATA = 0x7FE00010


def add_frames(seg: pydicom.Dataset, segmentation: Segmentation, sources: Mapping[int, SliceSource]) -> int:
    """Add the frames of ``segmentation`` to the header ``seg`` (its Segmentation Type says which kind).

    ``sources[k]`` is the source image of slice ``k`` (missing: the frame names no source). The
    per-frame groups and BINARY/FRACTIONAL pixel data become raw elements of ``seg``. Returns the
    number of frames.
    """
    seg_type = str(seg.SegmentationType)
    if seg_type == "LABELMAP":
        items = _ItemEncoder(segmentation.geometry, sources, segment_dimension=False, per_frame_identification=False)
        encoded, frames = _labelmap_frames(segmentation, items, int(seg.BitsAllocated))
        seg.PixelData = encapsulate(frames)
        seg["PixelData"].is_undefined_length = True
    else:
        items = _ItemEncoder(segmentation.geometry, sources, segment_dimension=True,
                             per_frame_identification="SegmentIdentificationSequence"
                             not in seg.SharedFunctionalGroupsSequence[0])
        pixels = _PixelWriter(*segmentation.geometry.array_shape[1:], fractional=seg_type == "FRACTIONAL")
        encoded = _segment_frames(segmentation, items, pixels)
        seg[PIXEL_DATA] = raw_element(PIXEL_DATA, "OB", pixels.data())  # 1 or 8 bits allocated
    seg[PER_FRAME_FUNCTIONAL_GROUPS] = raw_element(PER_FRAME_FUNCTIONAL_GROUPS, "SQ", encode_items(encoded))
    seg.NumberOfFrames = len(encoded)
    return len(encoded)


def _segment_frames(segmentation: Segmentation, items: _ItemEncoder, pixels: _PixelWriter) -> list[bytes]:
    """One BINARY or FRACTIONAL frame per segment and labelled slice; when nothing is labelled, one empty
    frame per segment on the first slice (so that every segment has a frame, as in highdicom's SEGs)."""
    encoded = []
    for description in segmentation.segments:
        if segmentation.bounding_box(description.number) is None:
            continue
        box, values = segmentation.cropped_mask(description.number)
        labelled = np.flatnonzero(values.reshape(len(values), -1).any(axis=1))
        pixels.add(values[labelled], box[1], box[2])
        encoded.extend(items.item(description.number, box[0].start + int(offset)) for offset in labelled)
    if not encoded:
        for description in segmentation.segments:
            pixels.add(np.zeros((1, 0, 0), dtype=np.uint8), slice(0, 0), slice(0, 0))
            encoded.append(items.item(description.number, 0))
    return encoded


def _labelmap_frames(segmentation: Segmentation, items: _ItemEncoder, bits: int) -> tuple[list[bytes], list[bytes]]:
    """One RLE-compressed frame of segment numbers per labelled slice; one empty frame when nothing is labelled."""
    rows, columns = segmentation.geometry.array_shape[1:]
    first, last = _slab(segmentation)
    planes = np.zeros((last - first, rows, columns), dtype=np.uint8 if bits == 8 else np.uint16)
    occupied = np.zeros(last - first, dtype=bool)
    for description in segmentation.segments:
        if segmentation.bounding_box(description.number) is not None:
            box, values = segmentation.cropped_mask(description.number)
            np.copyto(planes[box[0].start - first:box[0].stop - first, box[1], box[2]], description.number,
                      where=values.astype(bool, copy=False))
            occupied[box[0].start - first:box[0].stop - first] |= values.reshape(len(values), -1).any(axis=1)
    if not occupied.any():
        return [items.item(None, first)], rle_encode_frames(planes[:1])
    frames = planes if occupied.all() else planes[occupied]
    return [items.item(None, first + int(k)) for k in np.flatnonzero(occupied)], rle_encode_frames(frames)


def _slab(segmentation: Segmentation) -> tuple[int, int]:
    """The slices [first, last) holding every labelled voxel (the first slice when nothing is labelled)."""
    boxes = [b for b in (segmentation.bounding_box(s.number) for s in segmentation.segments) if b is not None]
    if not boxes:
        return 0, 1
    return min(b[0].start for b in boxes), max(b[0].stop for b in boxes)


class _ItemEncoder:
    """Per-frame functional group items (the groups highdicom writes for a SEG frame), as bytes."""

    def __init__(self, geometry, sources: Mapping[int, SliceSource], *, segment_dimension: bool,
                 per_frame_identification: bool) -> None:
        self._in_patient = geometry.in_patient_space
        self._positions = geometry.index_to_lps(
            np.column_stack([np.zeros((geometry.size[2], 2)), np.arange(geometry.size[2])]))
        #: Frames of a 2D image or cine are labelled (a LABELMAP's, or a cine's, the dimension after the segment).
        self._frame_labels = not self._in_patient and (not segment_dimension or geometry.size[2] > 1)
        self._cine = geometry.size[2] > 1
        self._sources = sources
        self._segment_dimension = segment_dimension
        self._per_frame_identification = per_frame_identification
        self._purpose = _code_item(*SOURCE_PURPOSE)
        self._derivation = encode_sequence(0x00089215, [_code_item(*SEGMENTATION_DERIVATION)])
        self._slices: dict[int, bytes] = {}

    def item(self, segment: int | None, k: int) -> bytes:
        """Derivation Image, Frame Content, Plane Position and Segment Identification of one frame (tag order)."""
        if k not in self._slices:
            self._slices[k] = self._slice_parts(k)
        derivation, position = self._slices[k]
        indices = ([segment] if self._segment_dimension else []) + ([k + 1] if self._in_patient or self._cine else [])
        index = struct.pack(f"<{len(indices) or 1}I", *(indices or [1]))
        label = b""
        if self._frame_labels:  # FrameLabel (LO): "Frame" on a 2D image, "Frame N" on a cine
            text = f"Frame {k + 1}" if self._cine else "Frame"
            label = encode_element(0x00209453, "LO", text.encode())
        content = encode_sequence(0x00209111, [  # FrameContentSequence > DimensionIndexValues (, FrameLabel)
            encode_element(0x00209157, "UL", index) + label])
        identification = encode_sequence(0x0062000A, [  # SegmentIdentificationSequence > ReferencedSegmentNumber
            encode_element(0x0062000B, "US", struct.pack("<H", segment))]) if self._per_frame_identification else b""
        return derivation + content + position + identification

    def _slice_parts(self, k: int) -> tuple[bytes, bytes]:
        plane = b""  # a 2D image's frames have no position in the patient
        if self._in_patient:
            position = "\\".join(decimal_string(v) for v in self._positions[k])
            plane = encode_sequence(0x00209113, [encode_element(0x00200032, "DS", position.encode())])
        source = self._sources.get(k)
        if source is None:
            return b"", plane
        image = [encode_element(0x00081150, "UI", source.sop_class_uid.encode()),  # ReferencedSOPClassUID
                 encode_element(0x00081155, "UI", source.sop_instance_uid.encode())]  # ReferencedSOPInstanceUID
        if source.frame_number is not None:
            image.append(encode_element(0x00081160, "IS", str(source.frame_number).encode()))  # ReferencedFrameNumber
        image.append(encode_element(0x0028135A, "CS", b"YES"))  # SpatialLocationsPreserved
        image.append(encode_sequence(0x0040A170, [self._purpose]))  # PurposeOfReferenceCodeSequence
        derived = encode_sequence(0x00082112, [b"".join(image)]) + self._derivation  # SourceImage, DerivationCode
        return encode_sequence(0x00089124, [derived]), plane  # DerivationImageSequence


class _PixelWriter:
    """Pixel Data of the frames added: one byte per pixel (FRACTIONAL) or bits packed across frames (BINARY).

    BINARY frames are packed row band by row band when rows end on byte boundaries (PS3.5 8.1.1
    packs bits across frames and rows without padding); otherwise whole frames are kept and
    packed together at the end.
    """

    def __init__(self, rows: int, columns: int, *, fractional: bool) -> None:
        self._rows, self._columns = rows, columns
        self._fractional = fractional
        self._by_band = fractional or columns % 8 == 0
        self._row_bytes = columns if fractional else columns // 8
        self._bands: list[tuple[int, np.ndarray]] = []  # (first row, encoded rows) per frame
        self._frames: list[np.ndarray] = []

    def add(self, planes: np.ndarray, rows: slice, columns: slice) -> None:
        """Frames whose values ``planes[n]`` sit at ``[rows, columns]`` of otherwise empty frames (one segment's
        labelled slices: their bands are made and packed together)."""
        bands = np.zeros((planes.shape[0], planes.shape[1], self._columns), dtype=np.uint8)
        bands[:, :, columns] = np.rint(planes * MAX_FRACTIONAL_VALUE) if self._fractional else planes
        if not self._by_band:
            for band in bands:
                frame = np.zeros((self._rows, self._columns), dtype=np.uint8)
                frame[rows] = band
                self._frames.append(frame)
            return
        if not self._fractional:  # each band's rows end on a byte boundary: packing the rows packs each band
            bands = np.packbits(bands, axis=2, bitorder="little")
        self._bands.extend((rows.start, band.reshape(-1)) for band in bands)

    def data(self) -> bytes | SparseBytes:
        """The Pixel Data value, padded to even length; band by band, the rest of each frame zeros never touched
        (most of a BINARY frame is empty: 31 MB of bands in 112 MB for 104 structures), see :mod:`..dicom.sparse`."""
        if not self._by_band:
            data = np.packbits(np.stack(self._frames), axis=None, bitorder="little").tobytes()
            return data + b"\0" * (len(data) % 2)
        frame_bytes = self._rows * self._row_bytes
        value = sparse_bytes(len(self._bands) * frame_bytes + (len(self._bands) * frame_bytes) % 2)
        for n, (first_row, encoded) in enumerate(self._bands):
            value.put(n * frame_bytes + first_row * self._row_bytes, encoded)
        return value


def _code_item(value: str, scheme: str, meaning: str) -> bytes:
    """CodeValue, CodingSchemeDesignator and CodeMeaning of one code item."""
    return (encode_element(0x00080100, "SH", value.encode()) + encode_element(0x00080102, "SH", scheme.encode())
            + encode_element(0x00080104, "LO", meaning.encode()))
