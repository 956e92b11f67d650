"""1-bit frames (BINARY SEG) in the encapsulated transfer syntaxes that pydicom cannot decode.

A BINARY SEG's frames are bit-packed (Bits Allocated 1, the first pixel in the least significant
bit). Encapsulated, each frame is compressed alone and starts on a byte, so a frame is
``ceil(rows x columns / 8)`` packed bytes once decompressed (PS3.5 8.1.1, 8.2). Two syntaxes
carry such frames and pydicom 3.0 refuses both ("RLE encoded pixel data with 1 bits allocated",
and no decoder at all for the second), while highdicom and other producers write them:

- RLE Lossless (PS3.5 Annex G): the packed bytes are one RLE segment after the frame's 64-byte
  header of segment count and offsets;
- Deflated Image Frame Compression (1.2.840.10008.1.2.8.1, PS3.5 8.2.16): each frame's packed
  bytes compressed with Deflate (RFC 1951, no zlib header).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

import numpy as np
from pydicom.encaps import generate_frames
from pydicom.uid import RLELossless

from ..errors import InputError
from .rle import rle_decode_segment

DEFLATED_IMAGE_FRAME_COMPRESSION = "1.2.840.10008.1.2.8.1"
#: The transfer syntaxes whose 1-bit frames :func:`iter_bit_frames` decodes.
BIT_FRAME_SYNTAXES = frozenset({str(RLELossless), DEFLATED_IMAGE_FRAME_COMPRESSION})


def iter_bit_frames(pixel_data: bytes, transfer_syntax: str, frames: int, rows: int, columns: int,
                    where: str) -> Iterator[np.ndarray]:
    """Each of ``frames`` 1-bit frames of encapsulated ``pixel_data`` as a (rows, columns) uint8 array of 0/1;
    a frame that does not decode to its packed size is refused naming ``where`` (e.g. the file)."""
    if transfer_syntax not in BIT_FRAME_SYNTAXES:
        raise ValueError(f"{transfer_syntax} is not one of {sorted(BIT_FRAME_SYNTAXES)}")
    packed_size = (rows * columns + 7) // 8
    for number, frame in enumerate(generate_frames(pixel_data, number_of_frames=frames), start=1):
        try:
            packed = _rle_frame(frame) if transfer_syntax == str(RLELossless) else zlib.decompress(frame, -15)
        except (zlib.error, ValueError, struct.error) as exc:
            raise InputError(f"Frame {number} of {where} does not decompress ({exc}); the file is damaged") from exc
        if len(packed) < packed_size:
            raise InputError(f"Frame {number} of {where} holds {len(packed)} bytes once decompressed, not the "
                             f"{packed_size} of {rows} x {columns} 1-bit pixels; the file is damaged")
        bits = np.unpackbits(np.frombuffer(packed, dtype=np.uint8, count=packed_size), bitorder="little")
        yield bits[:rows * columns].reshape(rows, columns)


def _rle_frame(frame: bytes) -> bytes:
    """The bytes of an RLE frame of one segment (what 1-bit data has: each sample is one byte or less)."""
    segments, *offsets = struct.unpack("<16I", frame[:64])
    if segments != 1:
        raise ValueError(f"{segments} RLE segments where 1-bit pixels have one")
    return rle_decode_segment(frame[offsets[0]:])
