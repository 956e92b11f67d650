"""What a DICOM SEG holds, read from the SEG alone (no source series needed).

Works on any producer's SEG: BINARY (bit-packed), FRACTIONAL (values scaled by Maximum
Fractional Value) and LABELMAP (pixel value = segment number), frames in any order, each
frame's segment taken from its Segment Identification functional group.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .file import SegFile


def seg_summary(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``seg info --json`` object of the CLI contract for one SEG file."""
    seg = SegFile(path)
    numbers = seg.segment_numbers
    voxels = dict.fromkeys(numbers, 0)
    fractions = dict.fromkeys(numbers, 0.0)
    for frame, pixels in seg.iter_frame_pixels():
        if seg.segmentation_type == "LABELMAP":
            values, counts = np.unique(pixels[pixels != 0], return_counts=True)
            for value, count in zip(values.tolist(), counts.tolist(), strict=True):
                if value in voxels:
                    voxels[value] += count
        elif frame.segment_number in voxels:
            voxels[frame.segment_number] += int(np.count_nonzero(pixels))
            fractions[frame.segment_number] += float(pixels.sum(dtype=np.float64))
    segments = []
    for item in seg.segment_items:
        number = int(item.SegmentNumber)
        entry: dict[str, Any] = {
            "number": number,
            "label": str(item.get("SegmentLabel", "")),
            "category": _code_list(seg.segment_code(number, "SegmentedPropertyCategoryCodeSequence")),
            "type": _code_list(seg.segment_code(number, "SegmentedPropertyTypeCodeSequence")),
            "voxels": voxels[number],
        }
        if seg.segmentation_type == "FRACTIONAL":
            entry["fraction_sum"] = round(fractions[number] / seg.maximum_fractional_value, 6)
        segments.append(entry)
    referenced = seg.referenced_series_uids
    return {
        "sop_class_uid": str(seg.dataset.SOPClassUID),
        "segmentation_type": seg.segmentation_type,
        "transfer_syntax_uid": str(seg.dataset.file_meta.TransferSyntaxUID),
        "referenced_series_uid": referenced[0] if referenced else None,
        "frames": seg.frame_count,
        "content_creator": seg.content_creator,
        "segments": segments,
    }


def _code_list(code) -> list[str] | None:
    return code.as_list() if code is not None else None
