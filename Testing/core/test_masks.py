"""imaging.masks.label_boxes: the boxes scipy.ndimage.find_objects gives, for any integer label map."""

from __future__ import annotations

import numpy as np
import pytest
from DICOMAnnotatorLib.imaging import masks as module
from DICOMAnnotatorLib.imaging.masks import label_boxes
from scipy import ndimage


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.int32, np.int64, np.uint32])
@pytest.mark.parametrize("shape", [(7, 13, 11), (5, 9, 16), (1, 1, 1), (30, 17, 24), (12, 40)])
@pytest.mark.parametrize("density", [0.05, 0.3])  # noise: a run at most voxels
def test_boxes_are_find_objects(dtype, shape, density):
    rng = np.random.default_rng(sum(shape))
    labels = (rng.integers(1, 9, size=shape) * (rng.random(shape) < density)).astype(dtype)
    assert label_boxes(labels) == ndimage.find_objects(labels)


def test_runs_along_rows_across_chunks_and_absent_labels(monkeypatch):
    """Runs that reach a row's end and the next row's start, chunk edges inside runs, labels never used."""
    monkeypatch.setattr(module, "CHUNK_VOXELS", 64)  # many chunks, edges inside runs
    labels = np.zeros((4, 6, 16), dtype=np.uint8)
    labels[1, 2, 10:] = 3  # to the end of row 2 ...
    labels[1, 3, :4] = 3  # ... and on from the start of row 3: not one run from column 10 to 3
    labels[2, :, 5:9] = 7
    labels[3, 5, 15] = 2
    boxes = label_boxes(labels)
    assert boxes == ndimage.find_objects(labels)
    assert boxes[2] == (slice(1, 2), slice(2, 4), slice(0, 16)) and boxes[0] is None and len(boxes) == 7


def test_an_unlabelled_map_has_no_boxes():
    assert label_boxes(np.zeros((3, 4, 5), dtype=np.uint8)) == [] == label_boxes(np.zeros((0, 4, 5), dtype=np.int32))


def test_a_map_labelled_everywhere_in_regions(monkeypatch):
    """No background at all: every run is labelled, rows start with a label, chunks end inside regions."""
    monkeypatch.setattr(module, "CHUNK_VOXELS", 100)  # 6 rows of 16 per chunk
    labels = np.ones((5, 11, 16), dtype=np.int16)
    labels[:, :6, 8:] = 2
    labels[3:, 4:, :3] = 9
    assert label_boxes(labels) == ndimage.find_objects(labels)
