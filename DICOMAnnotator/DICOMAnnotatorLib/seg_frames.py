"""The frames of a BINARY or FRACTIONAL SEG, encoded directly: per-frame functional groups and pixel data.

highdicom builds every module of the SEG header right; its per-frame work (one mask test,
one functional-group item and one spatial check per slice and segment) is what made our
writes slower than dcmqi's. So the writer has highdicom build the header on one slice, and this
module replaces that slice's frames with one frame per segment and labelled slice, walking
each segment's bounding box only. The per-frame items are encoded to bytes here (explicit VR
little endian, as :func:`part10.save_part10` copies them), from pieces encoded once per slice
(plane position, source image) and once per segment; pixel data is filled row band by row
band, so memory follows the labelled region plus the packed pixel data.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

import numpy as np
import pydicom
from pydicom.valuerep import format_number_as_ds

from .part10 import encode_element, encode_items, encode_sequence, raw_element
from .reference_series import SliceSource
from .segmentation import Segmentation

#: Purpose of Reference of a frame's source image, and the Derivation Code of a SEG frame (PS3.16 CID 7202, 7203).
SOURCE_PURPOSE = ("121322", "DCM", "Source image for image processing operation")
SEGMENTATION_DERIVATION = ("113076", "DCM", "Segmentation")

PER_FRAME_FUNCTIONAL_GROUPS = 0x52009230
PIXEL_DATA = 0x7FE00010


def replace_frames(seg: pydicom.Dataset, segmentation: Segmentation, sources: Mapping[int, SliceSource], *,
                   fractional: bool, maximum_fractional_value: int = 255) -> int:
    """Put one frame per segment and labelled slice into ``seg`` (segment-major, slices ascending).

    ``sources[k]`` is the source image of slice ``k`` (missing: the frame names no source);
    ``fractional`` says whether ``seg`` is a FRACTIONAL SEG (a BINARY segmentation may be written
    as one). The per-frame groups and pixel data become raw elements of ``seg``. Returns the
    number of frames; a segmentation without voxels keeps ``seg``'s frames.
    """
    geometry = segmentation.geometry
    # With one segment highdicom names it once in the shared groups; a group may not be in both.
    per_frame_identification = "SegmentIdentificationSequence" not in seg.SharedFunctionalGroupsSequence[0]
    items = _ItemEncoder(geometry, sources, per_frame_identification)
    pixels = _PixelWriter(*geometry.array_shape[1:], fractional=fractional, maximum=maximum_fractional_value)
    encoded = []
    for description in segmentation.segments:
        if segmentation.bounding_box(description.number) is None:
            continue
        box, values = segmentation.cropped_mask(description.number)
        for offset, k in enumerate(range(box[0].start, box[0].stop)):
            if values[offset].any():
                pixels.add(values[offset], box[1], box[2])
                encoded.append(items.item(description.number, k))
    if not encoded:
        return int(seg.NumberOfFrames)
    seg[PER_FRAME_FUNCTIONAL_GROUPS] = raw_element(PER_FRAME_FUNCTIONAL_GROUPS, "SQ", encode_items(encoded))
    seg.NumberOfFrames = len(encoded)
    # The header was built on one slice, which gives no distance between slices: state the grid's.
    measures = seg.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0]
    measures.SpacingBetweenSlices = format_number_as_ds(float(geometry.spacing[2]))
    seg[PIXEL_DATA] = raw_element(PIXEL_DATA, "OB", pixels.data())  # 1 or 8 bits allocated
    return len(encoded)


class _ItemEncoder:
    """Per-frame functional group items (the groups highdicom writes for a SEG frame), as bytes."""

    def __init__(self, geometry, sources: Mapping[int, SliceSource], per_frame_identification: bool) -> None:
        self._positions = geometry.index_to_lps(
            np.column_stack([np.zeros((geometry.size[2], 2)), np.arange(geometry.size[2])]))
        self._sources = sources
        self._per_frame_identification = per_frame_identification
        self._purpose = _code_item(*SOURCE_PURPOSE)
        self._derivation = encode_sequence(0x00089215, [_code_item(*SEGMENTATION_DERIVATION)])
        self._slices: dict[int, bytes] = {}

    def item(self, segment: int, k: int) -> bytes:
        """Derivation Image, Frame Content, Plane Position and Segment Identification of one frame (tag order)."""
        if k not in self._slices:
            self._slices[k] = self._slice_parts(k)
        derivation, position = self._slices[k]
        content = encode_sequence(0x00209111, [  # FrameContentSequence > DimensionIndexValues: segment, slice
            encode_element(0x00209157, "UL", struct.pack("<2I", segment, k + 1))])
        identification = encode_sequence(0x0062000A, [  # SegmentIdentificationSequence > ReferencedSegmentNumber
            encode_element(0x0062000B, "US", struct.pack("<H", segment))]) if self._per_frame_identification else b""
        return derivation + content + position + identification

    def _slice_parts(self, k: int) -> tuple[bytes, bytes]:
        position = "\\".join(format_number_as_ds(float(v)) for v in self._positions[k])
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

    def __init__(self, rows: int, columns: int, *, fractional: bool, maximum: int) -> None:
        self._rows, self._columns = rows, columns
        self._fractional, self._maximum = fractional, maximum
        self._by_band = fractional or columns % 8 == 0
        self._row_bytes = columns if fractional else columns // 8
        self._bands: list[tuple[int, bytes]] = []  # (first row, encoded rows) per frame
        self._frames: list[np.ndarray] = []

    def add(self, plane: np.ndarray, rows: slice, columns: slice) -> None:
        """A frame whose values ``plane`` sit at ``[rows, columns]`` of an otherwise empty frame."""
        band = np.zeros((plane.shape[0], self._columns), dtype=np.uint8)
        band[:, columns] = np.rint(plane * self._maximum) if self._fractional else plane
        if not self._by_band:
            frame = np.zeros((self._rows, self._columns), dtype=np.uint8)
            frame[rows] = band
            self._frames.append(frame)
        elif self._fractional:
            self._bands.append((rows.start, band.tobytes()))
        else:
            self._bands.append((rows.start, np.packbits(band, axis=None, bitorder="little").tobytes()))

    def data(self) -> bytes:
        """The Pixel Data value, padded to even length."""
        if not self._by_band:
            data = np.packbits(np.stack(self._frames), axis=None, bitorder="little").tobytes()
            return data + b"\0" * (len(data) % 2)
        frame_bytes = self._rows * self._row_bytes
        buffer = bytearray(len(self._bands) * frame_bytes + (len(self._bands) * frame_bytes) % 2)
        for n, (first_row, encoded) in enumerate(self._bands):
            start = n * frame_bytes + first_row * self._row_bytes
            buffer[start:start + len(encoded)] = encoded
        return bytes(buffer)


def _code_item(value: str, scheme: str, meaning: str) -> bytes:
    """CodeValue, CodingSchemeDesignator and CodeMeaning of one code item."""
    return (encode_element(0x00080100, "SH", value.encode()) + encode_element(0x00080102, "SH", scheme.encode())
            + encode_element(0x00080104, "LO", meaning.encode()))
