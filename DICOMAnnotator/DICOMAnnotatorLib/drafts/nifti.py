"""What SimpleITK does not give of a NIfTI file: its header extensions, and its voxels mapped rather than copied.

Segmentation tools keep their label tables in NIfTI header extensions (TotalSegmentator's ``--ml`` file):
after the header (348 bytes in NIfTI-1, 540 in NIfTI-2) and a 4-byte extender whose first byte says
whether extensions follow, each extension is ``esize`` (a multiple of 16), ``ecode`` and ``esize - 8``
bytes of content, up to the voxel offset.

An uncompressed single-file NIfTI-1 of integers (``n+1``, no scaling) is mapped into memory: a
512x512x300 label map is then read as the pages are used instead of being copied by SimpleITK
(half a second). Anything else is left to SimpleITK; the geometry always comes from SimpleITK's
reading of the header, so both ways place the voxels on the same grid.
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np

NIFTI1_HEADER, NIFTI2_HEADER = 348, 540
#: NIfTI-1 datatype codes of the integer types a label map uses.
_INTEGER_TYPES = {2: "u1", 4: "i2", 8: "i4", 256: "i1", 512: "u2", 768: "u4", 1024: "i8", 1280: "u8"}


def header_extensions(path: str | os.PathLike[str]) -> list[tuple[int, bytes]]:
    """``(code, content)`` of each header extension of a NIfTI-1 or NIfTI-2 file (gzipped or not)."""
    path = Path(path)
    opener = gzip.open if _is_gzip(path) else open
    try:
        with opener(path, "rb") as handle:
            head = handle.read(NIFTI2_HEADER + 4)
            order = _byte_order(head)
            if order is None:
                return []
            size = struct.unpack(f"{order}i", head[:4])[0]
            if size == NIFTI1_HEADER:
                data_offset = int(struct.unpack(f"{order}f", head[108:112])[0])
            else:
                data_offset = struct.unpack(f"{order}q", head[168:176])[0]
            if len(head) < size + 4 or head[size] == 0:  # the extender's first byte: no extension follows
                return []
            position = size + 4
            handle.seek(position)
            extensions = []
            while data_offset == 0 or position + 8 <= data_offset:  # 0: a .hdr file, extensions run to its end
                frame = handle.read(8)
                if len(frame) < 8:
                    break
                length, code = struct.unpack(f"{order}ii", frame)
                if length < 16 or length % 16:
                    break
                extensions.append((code, handle.read(length - 8)))
                position += length
            return extensions
    except (OSError, EOFError, struct.error, gzip.BadGzipFile):
        return []


def mapped_integer_voxels(path: str | os.PathLike[str], size: tuple[int, int, int]) -> np.ndarray | None:
    """The voxels ``[k, j, i]`` of an uncompressed 3D NIfTI-1 file of integers without scaling, mapped read-only
    (None for any other file). ``size`` is the (i, j, k) size SimpleITK read from the same header."""
    path = Path(path)
    if _is_gzip(path):
        return None
    with open(path, "rb") as handle:
        head = handle.read(NIFTI1_HEADER)
    order = _byte_order(head)
    if order is None or struct.unpack(f"{order}i", head[:4])[0] != NIFTI1_HEADER or head[344:348] != b"n+1\0":
        return None
    dims = struct.unpack(f"{order}8h", head[40:56])
    datatype = struct.unpack(f"{order}h", head[70:72])[0]
    offset, slope, intercept = struct.unpack(f"{order}3f", head[108:120])
    if (dims[0] < 3 or any(d > 1 for d in dims[4:dims[0] + 1]) or tuple(dims[1:4]) != tuple(size)
            or datatype not in _INTEGER_TYPES or slope not in (0.0, 1.0) or intercept != 0.0):
        return None
    dtype = np.dtype(_INTEGER_TYPES[datatype]).newbyteorder(order)
    if Path(path).stat().st_size < int(offset) + dtype.itemsize * int(np.prod(size)):
        return None
    voxels = np.memmap(path, dtype=dtype, mode="r", offset=int(offset), shape=tuple(reversed(size)))
    return voxels if dtype.isnative else voxels.astype(dtype.newbyteorder("="))


def _byte_order(head: bytes) -> str | None:
    """``<`` or ``>`` from the header's size field (the NIfTI way to tell the byte order), None if no NIfTI."""
    for order in "<>":
        if len(head) >= 4 and struct.unpack(f"{order}i", head[:4])[0] in (NIFTI1_HEADER, NIFTI2_HEADER):
            return order
    return None


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"
