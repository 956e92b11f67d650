"""Reading a SEG needs memory for the file and the labelled voxels, not for every frame as a full plane.

Issue 4: "Large studies must not need more memory than a small multiple of the mask size."
Measured with tracemalloc (numpy's buffers are traced), so the bound is exact and not timed.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
from DICOMAnnotatorLib.imaging import phantoms
from DICOMAnnotatorLib.imaging.geometry import VolumeGeometry
from DICOMAnnotatorLib.imaging.segmentation import Segmentation, SegmentDescription
from DICOMAnnotatorLib.imaging.series import ReferenceSeries
from DICOMAnnotatorLib.seg.file import SegFile
from DICOMAnnotatorLib.seg.reader import read_seg
from DICOMAnnotatorLib.seg.writer import write_seg

SEGMENTS = 12


def traced_peak(function) -> tuple[object, int]:
    tracemalloc.start()
    try:
        result = function()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_reading_many_thin_segments_needs_no_full_plane_per_frame(tmp_path):
    # 12 thin tubes through all 40 slices of a 256x256 grid: 480 frames, 48,000 labelled voxels
    geometry = VolumeGeometry.from_axes((256, 256, 40), (0, 0, 0), (0.8, 0.8, 2.0), np.eye(3))
    phantoms.write_datasets(phantoms.ct_datasets(geometry, np.zeros(geometry.array_shape, np.int16)),
                               tmp_path / "ct")
    series = ReferenceSeries.from_paths(tmp_path / "ct")
    labels = np.zeros(geometry.array_shape, np.uint8)
    for n in range(1, SEGMENTS + 1):
        j, i = (n * 37) % 240, (n * 53) % 240
        labels[:, j:j + 10, i:i + 10] = n
    segments = [SegmentDescription(n, f"Tube {n}") for n in range(1, SEGMENTS + 1)]
    path = write_seg(Segmentation.from_labelmap(series.geometry, labels, segments, reference=series),
                     tmp_path / "tubes.dcm")
    _, header_peak = traced_peak(lambda: SegFile(path))  # the file itself: header, frame list, pixel data
    segmentation, peak = traced_peak(lambda: read_seg(path, series))
    assert [segmentation.voxel_count(n) for n in range(1, SEGMENTS + 1)] == [4000] * SEGMENTS
    label_map_bytes = labels.nbytes  # one byte per voxel of the grid
    assert peak <= header_peak + 4 * label_map_bytes, (
        f"read_seg peaked at {peak / 2**20:.0f} MB: the file takes {header_peak / 2**20:.0f} MB and a label map "
        f"of the grid {label_map_bytes / 2**20:.1f} MB")
