"""Shapes of masks and label maps: the bounding box of every label, the surface of a mask.

The bounding box of every label of a label map is found in one pass and without scipy.

``scipy.ndimage.find_objects`` gives the same boxes, but importing ``scipy.ndimage`` costs 0.2 s
and its pass over a 512x512x300 map 0.13 s, more than the rest of turning a label map into a
SEG. Here the map is read in chunks; labelled voxels are found eight bytes at a time (label maps
are mostly background, so most 8-byte words are zero) and grouped into runs (consecutive voxels
of one label along a row). Each run marks its label's slice, row, first and last column in one
presence table per axis (``bincount``); a box needs only the extremes. About 0.1 s for that map.
A dense map (a whole-body model's, a third of its voxels labelled) has runs everywhere: there
scipy's single pass in C is three times faster than the runs, and its import is worth paying.
"""

from __future__ import annotations

import numpy as np

#: Voxels per chunk (a multiple of 8): bounds the index arrays of a dense map to a few tens of MB.
CHUNK_VOXELS = 1 << 22
#: From this fraction of labelled voxels on, boxes come from ``scipy.ndimage.find_objects``.
DENSE_FRACTION = 0.1


def label_boxes(labelmap: np.ndarray) -> list[tuple[slice, ...] | None]:
    """For labels 1..max, the smallest box (one slice per axis) holding the label, or None when absent.

    ``labelmap`` holds non-negative integers; the result is ``scipy.ndimage.find_objects``'s.
    """
    labels = np.ascontiguousarray(labelmap)
    top = int(labels.max()) if labels.size else 0
    if top <= 0:
        return []
    if np.count_nonzero(labels) > DENSE_FRACTION * labels.size:
        from scipy import ndimage

        boxes = ndimage.find_objects(labels)
        return [*boxes, *[None] * (top - len(boxes))]
    presence = [np.zeros((top + 1) * n, dtype=bool) for n in labels.shape]
    flat = labels.reshape(-1)
    for start in range(0, flat.size, CHUNK_VOXELS):
        chunk = flat[start:start + CHUNK_VOXELS]
        indices = _nonzero(chunk)
        if not indices.size:
            continue
        first, last, values = _runs(indices + start, chunk[indices], labels.shape[-1])
        *outer, first_column = np.unravel_index(first, labels.shape)
        marks = [*outer, np.concatenate([first_column, last % labels.shape[-1]])]
        for axis, coordinate in enumerate(marks):
            label = values if coordinate.size == values.size else np.concatenate([values, values])
            presence[axis] |= np.bincount(label * labels.shape[axis] + coordinate,
                                          minlength=presence[axis].size).astype(bool)
    tables = [p.reshape(top + 1, n) for p, n in zip(presence, labels.shape, strict=True)]
    boxes: list[tuple[slice, ...] | None] = []
    for label in range(1, top + 1):
        hits = [np.flatnonzero(table[label]) for table in tables]
        boxes.append(None if not hits[0].size else tuple(slice(int(h[0]), int(h[-1]) + 1) for h in hits))
    return boxes


def _runs(indices: np.ndarray, values: np.ndarray, row_length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First and last flat index and the label of each run of one label along a row (``indices`` ascending)."""
    starts = np.ones(indices.size, dtype=bool)
    starts[1:] = (np.diff(indices) != 1) | (values[1:] != values[:-1]) | (indices[1:] % row_length == 0)
    first = np.flatnonzero(starts)
    last = np.append(first[1:], indices.size) - 1
    return indices[first], indices[last], values[first].astype(np.intp)


def _nonzero(chunk: np.ndarray) -> np.ndarray:
    """Indices of the non-zero values of a 1-D contiguous integer array, skipping zero 8-byte words."""
    per_word = 8 // chunk.itemsize if chunk.itemsize <= 8 else 0
    if per_word <= 1 or chunk.size % per_word:
        return np.flatnonzero(chunk)
    words = np.flatnonzero(chunk.view(np.uint64))
    rows, columns = np.nonzero(chunk.reshape(-1, per_word)[words])
    return words[rows] * per_word + columns


def surface_of(mask: np.ndarray) -> np.ndarray:
    """Voxels of ``mask`` with a face neighbour outside it (the grid edge counts as outside)."""
    from scipy import ndimage  # here, not at the top: label_boxes stays free of this 0.2 s import

    padded = np.pad(mask, 1)
    face_neighbours = ndimage.generate_binary_structure(3, 1)
    interior = ndimage.binary_erosion(padded, structure=face_neighbours, border_value=0)[1:-1, 1:-1, 1:-1]
    return mask & ~interior
