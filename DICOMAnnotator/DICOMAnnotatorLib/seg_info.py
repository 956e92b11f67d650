"""What a DICOM SEG holds, read from the SEG alone (no source series needed).

Works on any producer's SEG: BINARY (bit-packed), FRACTIONAL (values scaled by Maximum
Fractional Value) and LABELMAP (pixel value = segment number), frames in any order, each
frame's segment taken from its Segment Identification functional group.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from .codes import Code
from .errors import InputError

SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
LABEL_MAP_SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.7"


def seg_summary(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``seg info --json`` object of the CLI contract for one SEG file."""
    path = Path(path)
    ds = _read_seg(path)
    seg_type = str(ds.get("SegmentationType", "")).upper()
    pixels = _frames(ds, path)
    segments = []
    frame_segments = _frame_segment_numbers(ds, path)
    maximum = float(ds.get("MaximumFractionalValue", 255) or 255)
    for item in ds.SegmentSequence:
        number = int(item.SegmentNumber)
        entry: dict[str, Any] = {
            "number": number,
            "label": str(item.get("SegmentLabel", "")),
            "category": _code(item, "SegmentedPropertyCategoryCodeSequence"),
            "type": _code(item, "SegmentedPropertyTypeCodeSequence"),
        }
        if seg_type == "LABELMAP":
            entry["voxels"] = int(np.count_nonzero(pixels == number))
        else:
            frames = pixels[frame_segments == number]
            entry["voxels"] = int(np.count_nonzero(frames))
            if seg_type == "FRACTIONAL":
                entry["fraction_sum"] = round(float(frames.sum(dtype=np.float64)) / maximum, 6)
        segments.append(entry)
    referenced = ds.get("ReferencedSeriesSequence")
    creator = ds.get("ContentCreatorName")
    return {
        "sop_class_uid": str(ds.SOPClassUID),
        "segmentation_type": seg_type,
        "transfer_syntax_uid": str(ds.file_meta.TransferSyntaxUID),
        "referenced_series_uid": str(referenced[0].SeriesInstanceUID) if referenced else None,
        "frames": int(ds.get("NumberOfFrames", 1) or 1),
        "content_creator": str(creator) if creator else None,
        "segments": segments,
    }


def _read_seg(path: Path) -> pydicom.Dataset:
    if not path.is_file():
        raise InputError(f"{path} does not exist; give a DICOM SEG file")
    try:
        ds = pydicom.dcmread(path)
    except InvalidDicomError as exc:
        raise InputError(f"{path} is not a DICOM file; give a DICOM SEG file") from exc
    except (OSError, EOFError, ValueError, TypeError, AttributeError, KeyError) as exc:
        raise InputError(f"{path} could not be read as DICOM ({exc}); the file may be truncated") from exc
    if str(ds.get("SOPClassUID", "")) not in (SEGMENTATION_STORAGE, LABEL_MAP_SEGMENTATION_STORAGE):
        raise InputError(f"{path} is not a DICOM Segmentation (Modality {ds.get('Modality', '?')}, "
                         f"SOP class {ds.get('SOPClassUID', '?')}); give a SEG file")
    if "SegmentSequence" not in ds:
        raise InputError(f"{path} has no Segment Sequence, so its segments are unknown; the SEG is not conformant")
    return ds


def _frames(ds: pydicom.Dataset, path: Path) -> np.ndarray:
    try:
        pixels = ds.pixel_array
    except Exception as exc:  # pydicom raises many types for undecodable pixel data
        raise InputError(f"Cannot decode the frames of {path} ({ds.file_meta.TransferSyntaxUID}): {exc}") from exc
    return pixels.reshape(int(ds.get("NumberOfFrames", 1) or 1), int(ds.Rows), int(ds.Columns))


def _frame_segment_numbers(ds: pydicom.Dataset, path: Path) -> np.ndarray:
    """The segment number of each frame (BINARY/FRACTIONAL), from per-frame or shared groups."""
    count = int(ds.get("NumberOfFrames", 1) or 1)
    if str(ds.get("SegmentationType", "")).upper() == "LABELMAP":
        return np.zeros(count, dtype=int)
    shared = ds.get("SharedFunctionalGroupsSequence", [pydicom.Dataset()])[0]
    per_frame = ds.get("PerFrameFunctionalGroupsSequence", [])
    numbers = []
    for index in range(count):
        frame = per_frame[index] if index < len(per_frame) else pydicom.Dataset()
        identification = frame.get("SegmentIdentificationSequence") or shared.get("SegmentIdentificationSequence")
        if not identification:
            raise InputError(f"Frame {index + 1} of {path} names no segment (Segment Identification Sequence)")
        numbers.append(int(identification[0].ReferencedSegmentNumber))
    return np.array(numbers)


def _code(item: pydicom.Dataset, keyword: str) -> list[str] | None:
    sequence = item.get(keyword)
    return Code.from_dataset(sequence[0]).as_list() if sequence else None
