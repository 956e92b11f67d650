"""One DICOM SEG file as its frames: which segment, which plane, which source image, what pixels.

Every producer's SEG is read the same way (highdicom, dcmqi, dcmjs/OHIF, Slicer, ours): the
functional groups of each frame are merged from the per-frame and shared sequences, so a
frame's segment, position and source are found wherever the producer put them. Frames are
decoded one at a time, so memory follows one frame rather than the whole pixel data.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from ..dicom import (
    BIT_FRAME_SYNTAXES,
    Code,
    RawItem,
    RawSequenceError,
    from_person_name,
    iter_bit_frames,
    pixel_decoding_error,
    split_file,
)
from ..errors import InputError

log = logging.getLogger(__name__)

SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
LABEL_MAP_SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.7"
SEG_SOP_CLASSES = (SEGMENTATION_STORAGE, LABEL_MAP_SEGMENTATION_STORAGE)
PER_FRAME_FUNCTIONAL_GROUPS = 0x52009230


@dataclass(frozen=True)
class SegFrame:
    """What one frame of a SEG is: its 0-based index, segment (None for LABELMAP) and plane."""

    index: int
    segment_number: int | None
    position: np.ndarray | None  # Image Position (Patient) of the frame's first pixel, LPS mm
    source_sop_instance_uid: str | None
    source_sop_class_uid: str | None
    source_frame_number: int | None  # 1-based frame of a multi-frame source


class SegFile:
    """A SEG read from disk, with the plane and segment of every frame.

    ``row_direction`` is the direction of increasing column index, ``column_direction`` that of
    increasing row index (the two triplets of Image Orientation (Patient)).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.dataset, per_frame = _read(self.path)
        ds = self.dataset
        self.segmentation_type = str(ds.get("SegmentationType", "")).upper()
        if self.segmentation_type not in ("BINARY", "FRACTIONAL", "LABELMAP"):
            raise InputError(f"{self.path} has Segmentation Type '{self.segmentation_type}'; "
                             "only BINARY, FRACTIONAL and LABELMAP are defined by DICOM")
        self.maximum_fractional_value = float(ds.get("MaximumFractionalValue", 255) or 255)
        self.rows, self.columns = int(ds.Rows), int(ds.Columns)
        self.frame_count = int(ds.get("NumberOfFrames", 1) or 1)
        self.dimension_organization = str(ds.get("DimensionOrganizationType", "") or "").upper()
        shared = _first(ds.get("SharedFunctionalGroupsSequence")) or pydicom.Dataset()
        self.frames = [self._frame(index, shared, per_frame[index] if index < len(per_frame) else pydicom.Dataset())
                       for index in range(self.frame_count)]
        self.row_direction, self.column_direction = self._orientation(shared, per_frame)
        self.pixel_spacing = self._pixel_spacing(shared, per_frame)
        measures = _first(shared.get("PixelMeasuresSequence")) or pydicom.Dataset()
        self.spacing_between_slices = _optional_float(measures.get("SpacingBetweenSlices"))
        self.slice_thickness = _optional_float(measures.get("SliceThickness"))

    # ----------------------------------------------------------------- header
    @property
    def segment_items(self) -> list[pydicom.Dataset]:
        """The Segment Sequence items, without a LABELMAP's background (segment 0, pixel value 0)."""
        return [item for item in self.dataset.SegmentSequence if int(item.SegmentNumber) != 0]

    @property
    def is_whole_slide(self) -> bool:
        """Whether the SEG tiles a slide's total pixel matrix (microscopy) rather than image planes."""
        return "TotalPixelMatrixRows" in self.dataset or self.dimension_organization.startswith("TILED")

    @property
    def segment_numbers(self) -> list[int]:
        return [int(item.SegmentNumber) for item in self.segment_items]

    @property
    def referenced_series_uids(self) -> list[str]:
        return [str(item.SeriesInstanceUID) for item in self.dataset.get("ReferencedSeriesSequence") or []
                if "SeriesInstanceUID" in item]

    @property
    def frame_of_reference_uid(self) -> str:
        return str(self.dataset.get("FrameOfReferenceUID", ""))

    @property
    def content_creator(self) -> str | None:
        return from_person_name(self.dataset.get("ContentCreatorName"))

    def segment_code(self, number: int, keyword: str) -> Code | None:
        """A code of segment ``number`` (``keyword`` names its sequence, e.g. the property type)."""
        for item in self.segment_items:
            if int(item.SegmentNumber) == number:
                sequence = item.get(keyword)
                return Code.from_dataset(sequence[0]) if sequence else None
        return None

    # ----------------------------------------------------------------- pixels
    def iter_frame_pixels(self) -> Iterator[tuple[SegFrame, np.ndarray]]:
        """Each frame with its decoded pixels (rows, columns), stored values as they are. 1-bit frames in RLE or
        Deflated Image Frame Compression are decoded here (pydicom refuses them); anything else by pydicom."""
        syntax = str(self.dataset.file_meta.get("TransferSyntaxUID", ""))
        if int(self.dataset.get("BitsAllocated", 0) or 0) == 1 and syntax in BIT_FRAME_SYNTAXES:
            yield from zip(self.frames, iter_bit_frames(self.dataset.PixelData, syntax, self.frame_count, self.rows,
                                                        self.columns, str(self.path)), strict=True)
            return
        try:
            for frame, pixels in zip(self.frames, pydicom.pixels.iter_pixels(self.dataset), strict=True):
                yield frame, pixels.reshape(self.rows, self.columns)
        except (ValueError, NotImplementedError, RuntimeError, AttributeError, TypeError) as exc:
            raise pixel_decoding_error(f"the frames of {self.path}",
                                       str(self.dataset.file_meta.get("TransferSyntaxUID", "")), exc) from exc

    # ----------------------------------------------------------------- parsing
    def _frame(self, index: int, shared: pydicom.Dataset, frame: pydicom.Dataset | RawItem) -> SegFrame:
        def group(keyword: str) -> pydicom.Dataset | RawItem | None:
            return _first(frame.get(keyword)) or _first(shared.get(keyword))

        segment = None
        if self.segmentation_type != "LABELMAP":
            identification = group("SegmentIdentificationSequence")
            if identification is not None and "ReferencedSegmentNumber" in identification:
                segment = int(identification.get("ReferencedSegmentNumber"))
            elif self.dimension_organization == "TILED_FULL":
                segment = self._tiled_full_segment(index)
            else:
                raise InputError(f"Frame {index + 1} of {self.path} names no segment "
                                 "(Segment Identification Sequence); the SEG is not conformant")
        position_item = group("PlanePositionSequence")
        position = None
        if position_item is not None and "ImagePositionPatient" in position_item:
            position = np.array([float(v) for v in position_item.get("ImagePositionPatient")])
        source = None
        derivation = group("DerivationImageSequence")
        if derivation is not None:
            source = _first(derivation.get("SourceImageSequence"))
        frame_numbers = source.get("ReferencedFrameNumber") if source is not None else None
        if frame_numbers is not None and not isinstance(frame_numbers, (int, str)):
            frame_numbers = frame_numbers[0]
        return SegFrame(
            index=index, segment_number=segment, position=position,
            source_sop_instance_uid=str(source.get("ReferencedSOPInstanceUID")) if source is not None else None,
            source_sop_class_uid=str(source.get("ReferencedSOPClassUID", "")) or None if source is not None else None,
            source_frame_number=int(frame_numbers) if frame_numbers not in (None, "") else None,
        )

    def _tiled_full_segment(self, index: int) -> int:
        """The segment of frame ``index`` of a TILED_FULL SEG, which names none per frame.

        TILED_FULL frames follow an order the standard fixes (PS3.3 C.7.6.17.3): tiles along a
        row, rows down the total pixel matrix, focal planes, optical paths, and, in a SEG, the
        segments slowest (PS3.3 C.8.20.2.2), each segment as many frames as the others.
        """
        numbers = sorted(self.segment_numbers)
        if not numbers or self.frame_count % len(numbers):
            raise InputError(f"{self.path} is a TILED_FULL SEG of {self.frame_count} frames and {len(numbers)} "
                             "segments, which do not divide into equal tiles per segment; the SEG is not conformant")
        return numbers[index // (self.frame_count // len(numbers))]

    def _orientation(self, shared: pydicom.Dataset, per_frame) -> tuple[np.ndarray | None, np.ndarray | None]:
        values = _group_values(shared, per_frame, "PlaneOrientationSequence", "ImageOrientationPatient", self.path)
        if values is None:
            return None, None
        direction = np.array([float(v) for v in values])
        return direction[:3], direction[3:]

    def _pixel_spacing(self, shared: pydicom.Dataset, per_frame) -> tuple[float, float] | None:
        values = _group_values(shared, per_frame, "PixelMeasuresSequence", "PixelSpacing", self.path)
        return (float(values[0]), float(values[1])) if values is not None else None


def _group_values(shared: pydicom.Dataset, per_frame, sequence: str, keyword: str, path: Path):
    """An attribute that must be the same for all frames, from the shared or per-frame groups."""
    item = _first(shared.get(sequence))
    if item is not None and keyword in item:
        return list(item[keyword].value)
    found = {tuple(str(v) for v in _first(f.get(sequence)).get(keyword))
             for f in per_frame if _first(f.get(sequence)) is not None and keyword in _first(f.get(sequence))}
    if len(found) > 1:
        raise InputError(f"The frames of {path} differ in {keyword}; a SEG on one plane orientation and pixel "
                         "spacing is needed to place it on a volume")
    return list(found.pop()) if found else None


def _first(sequence) -> pydicom.Dataset | None:
    return sequence[0] if sequence else None


def _optional_float(value) -> float | None:
    return float(value) if value not in (None, "") else None


def _read(path: Path) -> tuple[pydicom.Dataset, list]:
    """The SEG's dataset without its per-frame functional groups, and their items.

    The items are read from their bytes (:mod:`..dicom.sequences`: thousands of frames, and pydicom
    would build a Dataset for each nested item); files that cannot be split so (big endian,
    deflated, damaged) are read by pydicom as a whole.
    """
    if not path.is_file():
        raise InputError(f"{path} does not exist; give a DICOM SEG file")
    try:
        split = split_file(path.read_bytes(), PER_FRAME_FUNCTIONAL_GROUPS)
    except (OSError, RawSequenceError) as exc:
        log.debug("%s is read by pydicom as a whole (%s)", path, exc)
        split = None
    try:
        if split is None:
            ds = pydicom.dcmread(path)
            per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
        else:
            ds = pydicom.dcmread(io.BytesIO(split.head))
            for element in split.tail:
                ds[element.tag] = element
            per_frame = split.items
    except InvalidDicomError as exc:
        raise InputError(f"{path} is not a DICOM file; give a DICOM SEG file") from exc
    except (OSError, EOFError, ValueError, TypeError, AttributeError, KeyError) as exc:
        raise InputError(f"{path} could not be read as DICOM ({exc}); the file may be truncated") from exc
    if str(ds.get("SOPClassUID", "")) not in SEG_SOP_CLASSES:
        raise InputError(f"{path} is not a DICOM Segmentation (Modality {ds.get('Modality', '?')}, "
                         f"SOP class {ds.get('SOPClassUID', '?')}); give a SEG file")
    if "SegmentSequence" not in ds or "PixelData" not in ds:
        raise InputError(f"{path} has no Segment Sequence or no Pixel Data; the SEG is not conformant")
    return ds, per_frame
