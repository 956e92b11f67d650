"""Large values that are mostly zeros, written with the zeros left as holes of the file.

A BINARY SEG's Pixel Data is mostly zeros: each frame is a whole slice and its segment a small
part of it (31 MB of 112 MB for 104 structures on a 512x512x300 CT). :func:`write_sparse` writes
only the file blocks of a value that are not all zeros and leaves the others as holes (a sparse
file, read back as zeros): the same bytes, less disk, and no copying of zeros into the page cache,
which cost more than everything else in writing such a SEG.

A writer that knows where its non-zero bytes are makes the value with :func:`sparse_bytes` and
:meth:`SparseBytes.put`: the rest is anonymous memory never touched (4 KiB pages, not the 2 MiB
huge pages numpy asks Linux for, each zeroed whole at its first byte written), which is neither
read to find the zero blocks nor to hash the file: its digest is fed zeros from one small buffer.
Any other value is scanned for its zero blocks.
"""

from __future__ import annotations

import mmap
from typing import Any, BinaryIO

import numpy as np

#: The holes' granularity: a page of the page cache, a block of common file systems.
HOLE_BLOCK = 4096
_ZEROS = memoryview(bytes(1 << 16))


class SparseBytes(np.ndarray):
    """A byte value (1-D ``uint8``) that is zero outside the ranges written with :meth:`put`."""

    _ranges: list[tuple[int, int]] | None

    def __array_finalize__(self, obj: Any) -> None:
        self._ranges = None  # a view or a copy: where its non-zero bytes are is not known

    def put(self, offset: int, data: np.ndarray) -> None:
        """Write ``data`` (bytes) at ``offset`` and note the range."""
        self[offset:offset + len(data)] = data
        if self._ranges is not None and len(data):
            self._ranges.append((offset, offset + len(data)))

    @property
    def written_ranges(self) -> list[tuple[int, int]] | None:
        """``(start, stop)`` of every range written; None when unknown."""
        return self._ranges


def sparse_bytes(size: int) -> SparseBytes:
    """``size`` zero bytes in anonymous memory not touched until written."""
    memory = mmap.mmap(-1, max(size, 1))
    if hasattr(mmap, "MADV_NOHUGEPAGE"):  # Linux
        memory.madvise(mmap.MADV_NOHUGEPAGE)
    value = np.frombuffer(memory, dtype=np.uint8, count=size).view(SparseBytes)
    value._ranges = []
    return value


def write_sparse(handle: BinaryIO, value: Any, digest: Any | None = None) -> None:
    """Write ``value`` (bytes-like) at the handle's position, leaving the file blocks it would fill with zeros
    only as holes; ``digest`` (a ``hashlib`` object) is updated with every byte of ``value``, zeros included."""
    start = handle.tell()
    view = memoryview(value).cast("B")
    position = 0
    for first, stop in _nonzero_runs(value, start):
        if digest is not None:
            _digest_zeros(digest, first - position)
            digest.update(view[first:stop])
        handle.seek(start + first)
        handle.write(view[first:stop])
        position = stop
    if digest is not None:
        _digest_zeros(digest, len(view) - position)
    handle.seek(start + len(view))
    handle.truncate()  # the file ends after the value even when its last blocks are holes


def _nonzero_runs(value: Any, start: int) -> list[tuple[int, int]]:
    """``(first, stop)`` offsets into ``value`` of the runs of file blocks (the value starting at file offset
    ``start``) that may hold non-zero bytes, in order."""
    size = len(memoryview(value).cast("B"))
    ranges = value.written_ranges if isinstance(value, SparseBytes) else None
    if ranges is not None:  # the blocks the written ranges reach
        spans = np.array(ranges, dtype=np.int64).reshape(-1, 2)
        first = (start + spans[:, 0]) // HOLE_BLOCK * HOLE_BLOCK - start
        stop = -(-(start + spans[:, 1]) // HOLE_BLOCK) * HOLE_BLOCK - start
    else:  # the whole blocks that are not all zero, and the partial blocks at both ends
        head = min(size, -start % HOLE_BLOCK)
        blocks = (size - head) // HOLE_BLOCK
        body = np.frombuffer(value, dtype=np.uint8, count=blocks * HOLE_BLOCK, offset=head)
        first = np.concatenate([[0], head + HOLE_BLOCK * np.flatnonzero(body.reshape(blocks, HOLE_BLOCK).any(axis=1)),
                                [head + blocks * HOLE_BLOCK]])
        stop = np.concatenate([[head], first[1:-1] + HOLE_BLOCK, [size]])
    if not len(first):
        return []
    first, stop = np.clip(first, 0, size), np.clip(stop, 0, size)
    order = np.argsort(first, kind="stable")
    first, stop = first[order], stop[order]
    reach = np.maximum.accumulate(stop)  # runs that meet or overlap are joined
    starts_run = np.ones(len(first), dtype=bool)
    starts_run[1:] = first[1:] > reach[:-1]
    run_first = first[starts_run]
    run_stop = reach[np.append(np.flatnonzero(starts_run)[1:] - 1, len(first) - 1)]
    return [(a, b) for a, b in zip(run_first.tolist(), run_stop.tolist(), strict=True) if b > a]


def _digest_zeros(digest: Any, count: int) -> None:
    while count > 0:
        step = min(count, len(_ZEROS))
        digest.update(_ZEROS[:step])
        count -= step
