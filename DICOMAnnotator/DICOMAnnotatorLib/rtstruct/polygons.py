"""Masks to closed planar polygons and back, in voxel index coordinates (i = column, j = row).

Filling (:func:`fill_slice`): a voxel is inside when its centre is inside the contours of its slice by
the even-odd rule, so that a contour inside another cuts a hole, as RT Structure Sets encode holes
(PS3.3 C.8.8.6: contours of one ROI on one plane are combined so that a point is inside when an odd
number of them enclose it). A row of voxel centres crosses each polygon edge at most once; each
crossing flips inside/outside for every voxel after it, so the fill is a running parity along the
row. An edge counts on the rows j with min(y) <= j < max(y), and a crossing at x flips the voxels
i > x: a centre exactly on an edge is inside on the left and top edges, outside on the right and
bottom ones.

Outlining (:func:`outline_volume`): the polygons follow the voxels' own edges (their corners at
half-integer indices), so that filling them gives back the mask voxel for voxel. Each inside voxel
contributes the edges it shares with outside voxels, oriented clockwise on the image; straight runs
of edges are joined, and the runs are chained into closed loops, turning right where two loops
touch at a corner so that diagonal neighbours stay separate contours. Holes come out as loops of
their own, which the even-odd rule fills back as holes.
"""

from __future__ import annotations

import numpy as np

#: Run directions on the image (x = column to the right, y = row downwards).
_EAST, _SOUTH, _WEST, _NORTH = 0, 1, 2, 3
_STEP = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]])


def fill_slice(polygons: list[np.ndarray], rows: int, columns: int) -> np.ndarray:
    """The voxels of a ``rows`` x ``columns`` slice whose centres the polygons (each N x 2 of (i, j)) enclose."""
    starts, ends = [], []
    for polygon in polygons:
        if len(polygon) >= 3:
            starts.append(polygon)
            ends.append(np.roll(polygon, -1, axis=0))
    if not starts:
        return np.zeros((rows, columns), dtype=bool)
    start, end = np.concatenate(starts), np.concatenate(ends)
    low, high = np.minimum(start[:, 1], end[:, 1]), np.maximum(start[:, 1], end[:, 1])
    first = np.clip(np.ceil(low), 0, rows).astype(np.int64)
    stop = np.clip(np.ceil(high), 0, rows).astype(np.int64)  # rows j with low <= j < high, inside the slice
    counts = np.maximum(stop - first, 0)
    edge = np.repeat(np.arange(len(start)), counts)
    row = first[edge] + np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    x0, y0, x1, y1 = start[edge, 0], start[edge, 1], end[edge, 0], end[edge, 1]
    crossing = x0 + (row - y0) * (x1 - x0) / (y1 - y0)
    column = np.clip(np.floor(crossing).astype(np.int64) + 1, 0, columns)  # first voxel centre right of it
    flips = np.bincount(row * (columns + 1) + column, minlength=rows * (columns + 1))
    return (np.cumsum(flips.reshape(rows, columns + 1)[:, :columns], axis=1) & 1).astype(bool)


def outline_volume(mask: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """The closed polygons of every slice of ``mask`` ([k, j, i]) as ``(k, vertices)``, vertices N x 2 of
    (i, j) at voxel corners, in slice order; filling them with :func:`fill_slice` gives the mask back."""
    mask = np.asarray(mask, dtype=bool)
    slices, rows, columns = mask.shape
    padded = np.zeros((slices, rows + 2, columns + 2), dtype=bool)
    padded[:, 1:-1, 1:-1] = mask
    across = np.ascontiguousarray(padded.transpose(0, 2, 1))  # columns as lines, for the vertical edges
    runs = [
        # top edges run east on corner row y = j, bottom edges west on y = j + 1 (a corner is a voxel index + 0.5)
        _runs(padded[:, 1:, :] & ~padded[:, :-1, :], _EAST),
        _runs(padded[:, :-1, :] & ~padded[:, 1:, :], _WEST),
        # right edges run south on corner column x = i + 1, left edges north on x = i
        _runs(across[:, :-1, :] & ~across[:, 1:, :], _SOUTH),
        _runs(across[:, 1:, :] & ~across[:, :-1, :], _NORTH),
    ]
    k = np.concatenate([r[0] for r in runs])
    start = np.concatenate([r[1] for r in runs])
    end = np.concatenate([r[2] for r in runs])
    direction = np.concatenate([r[3] for r in runs])
    if not len(k):
        return []
    width, height = columns + 1, rows + 1
    start_key = ((k * height + start[:, 1]) * width + start[:, 0]) * 4 + direction
    order = np.argsort(start_key)
    sorted_keys = start_key[order]
    end_vertex = (k * height + end[:, 1]) * width + end[:, 0]
    successor = _lookup(sorted_keys, order, end_vertex * 4 + (direction + 1) % 4)  # turn right where two meet
    left = _lookup(sorted_keys, order, end_vertex * 4 + (direction + 3) % 4)
    successor = np.where(successor >= 0, successor, left)
    polygons = []
    seen = bytearray(len(k))
    successor_list, start_list = successor.tolist(), start.tolist()
    for first in np.lexsort((start[:, 0], start[:, 1], k)).tolist():
        if seen[first]:
            continue
        loop = []
        run = first
        while not seen[run]:
            seen[run] = True
            loop.append(start_list[run])
            run = successor_list[run]
        polygons.append((int(k[first]), np.asarray(loop, dtype=float) - 0.5))
    return polygons


def _runs(edges: np.ndarray, direction: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Maximal straight runs of boundary edges: ``edges[k, line, p]`` marks the unit edge from corner
    ``p - 1`` to ``p`` on ``line`` (a corner row for east/west runs, a corner column for south/north),
    with ``p`` 0 and last always unmarked (the padding)."""
    lines, positions = edges.shape[1], edges.shape[2] - 1
    opens = np.flatnonzero(edges[:, :, 1:] & ~edges[:, :, :-1])  # the run's first corner is q
    closes = np.flatnonzero(edges[:, :, :-1] & ~edges[:, :, 1:]) % positions  # its last corner is q
    k, line, low = opens // (lines * positions), (opens // positions) % lines, opens % positions
    begin, finish = (low, closes) if direction in (_EAST, _SOUTH) else (closes, low)
    if direction in (_EAST, _WEST):
        return k, np.stack([begin, line], axis=1), np.stack([finish, line], axis=1), np.full(len(k), direction)
    return k, np.stack([line, begin], axis=1), np.stack([line, finish], axis=1), np.full(len(k), direction)


def _lookup(sorted_keys: np.ndarray, order: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """The run whose start key is each of ``keys``, or -1."""
    position = np.clip(np.searchsorted(sorted_keys, keys), 0, max(len(sorted_keys) - 1, 0))
    return np.where(sorted_keys[position] == keys, order[position], -1)
