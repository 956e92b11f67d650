"""What a NIfTI file holds, read without SimpleITK where that is plain: header extensions, and a 3D volume.

Segmentation tools keep their label tables in NIfTI header extensions (TotalSegmentator's ``--ml`` file):
after the header (348 bytes in NIfTI-1, 540 in NIfTI-2) and a 4-byte extender whose first byte says
whether extensions follow, each extension is ``esize`` (a multiple of 16), ``ecode`` and ``esize - 8``
bytes of content, up to the voxel offset.

A model's label map is most often a single-file NIfTI-1 (``n+1``, gzipped or not) of one value per voxel
on a rigid grid; :func:`plain_volume` reads it here, the voxels of an uncompressed file mapped into memory
rather than copied (a 512x512x300 label map is read as its pages are used), and without importing
SimpleITK (0.2 s of CPU). It reads only files whose grid no reader can take differently: the qform and
the sform (each when its code says it is set) give the same rigid voxel-to-RAS transform, whose axis
lengths are the pixdim spacings (in mm, or unknown units), so that ITK, whichever of the two it prefers,
places the voxels on the same grid (NIfTI-1 header, nifti1.h: ``quatern_b``..``qoffset_z`` with ``qfac``
in ``pixdim[0]``, ``srow_x``..``srow_z``). Anything else (scaled values, 4D, vectors, sheared or
disagreeing transforms, other units, file pairs, NIfTI-2) gives None and is left to SimpleITK.
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np

NIFTI1_HEADER, NIFTI2_HEADER = 348, 540
#: NIfTI-1 datatype codes of the one-value-per-voxel types read here (integers, as label maps are, and floats).
_VOXEL_TYPES = {2: "u1", 4: "i2", 8: "i4", 16: "f4", 64: "f8", 256: "i1", 512: "u2", 768: "u4", 1024: "i8",
                1280: "u8"}


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


def plain_volume(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """The voxels ``[k, j, i]`` (read-only) and the voxel-to-LPS affine of a plain 3D NIfTI-1 file (see above), or
    None for any other file (or one that cannot be read so), for SimpleITK to read."""
    path = Path(path)
    compressed = _is_gzip(path)
    try:
        with (gzip.open if compressed else open)(path, "rb") as handle:
            header = _plain_header(handle.read(NIFTI1_HEADER))
            if header is None:
                return None
            dtype, size, offset, affine = header
            if compressed:
                handle.seek(offset)
                data = handle.read()
    except (OSError, EOFError, gzip.BadGzipFile):
        return None
    count = int(np.prod(size))
    if compressed:
        if len(data) < dtype.itemsize * count:
            return None
        voxels = np.frombuffer(data, dtype=dtype, count=count).reshape(tuple(reversed(size)))
    else:
        if path.stat().st_size < offset + dtype.itemsize * count:
            return None
        voxels = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=tuple(reversed(size)))
    return (voxels if dtype.isnative else voxels.astype(dtype.newbyteorder("="))), affine


def _plain_header(head: bytes) -> tuple[np.dtype, tuple[int, int, int], int, np.ndarray] | None:
    """``(dtype, size (i, j, k), voxel offset, voxel-to-LPS affine)`` of a plain NIfTI-1 header, else None."""
    order = _byte_order(head)
    if order is None or len(head) < NIFTI1_HEADER or head[344:348] != b"n+1\0":
        return None
    dims = struct.unpack(f"{order}8h", head[40:56])
    datatype = struct.unpack(f"{order}h", head[70:72])[0]
    pixdim = struct.unpack(f"{order}8f", head[76:108])
    offset, slope, intercept = struct.unpack(f"{order}3f", head[108:120])
    units = head[123] & 0x07  # the spatial units: 0 unknown, 2 mm (ITK scales metres and microns)
    qform_code, sform_code = struct.unpack(f"{order}2h", head[252:256])
    if (dims[0] != 3 or min(dims[1:4]) < 1 or datatype not in _VOXEL_TYPES or slope not in (0.0, 1.0)
            or intercept != 0.0 or units not in (0, 2) or min(pixdim[1:4]) <= 0 or offset < NIFTI1_HEADER + 4):
        return None
    spacing = np.array(pixdim[1:4], dtype=float)
    transforms = []
    if qform_code > 0:
        quaternion = struct.unpack(f"{order}6f", head[256:280])
        transforms.append(_qform(quaternion, spacing, -1.0 if pixdim[0] < 0 else 1.0))
    if sform_code > 0:
        transforms.append(np.vstack([np.array(struct.unpack(f"{order}12f", head[280:328]), float).reshape(3, 4),
                                     [0, 0, 0, 1]]))
    if not transforms or not all(np.allclose(t, transforms[0], rtol=0, atol=1e-5) for t in transforms):
        return None
    axes = transforms[0][:3, :3] / spacing
    if not np.allclose(axes.T @ axes, np.eye(3), rtol=0, atol=1e-5):  # shear, or lengths other than the spacings
        return None
    dtype = np.dtype(_VOXEL_TYPES[datatype]).newbyteorder(order)
    return dtype, (dims[1], dims[2], dims[3]), int(offset), np.diag([-1.0, -1.0, 1.0, 1.0]) @ transforms[0]


def _qform(quaternion: tuple[float, ...], spacing: np.ndarray, qfac: float) -> np.ndarray:
    """The qform's voxel-to-RAS affine: rotation from (b, c, d), a = sqrt(1 - b2 - c2 - d2), then scaling."""
    b, c, d = (float(v) for v in quaternion[:3])
    a_squared = 1.0 - (b * b + c * c + d * d)
    if a_squared < 1e-7:  # a 180-degree rotation: (b, c, d) is normalised and a is 0, as nifti1_io does
        norm = float(np.sqrt(b * b + c * c + d * d))
        a, b, c, d = 0.0, b / norm, c / norm, d / norm
    else:
        a = float(np.sqrt(a_squared))
    rotation = np.array([[a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
                         [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
                         [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b]])
    affine = np.eye(4)
    affine[:3, :3] = rotation * (spacing * [1.0, 1.0, qfac])
    affine[:3, 3] = quaternion[3:6]
    return affine


def _byte_order(head: bytes) -> str | None:
    """``<`` or ``>`` from the header's size field (the NIfTI way to tell the byte order), None if no NIfTI."""
    for order in "<>":
        if len(head) >= 4 and struct.unpack(f"{order}i", head[:4])[0] in (NIFTI1_HEADER, NIFTI2_HEADER):
            return order
    return None


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"
