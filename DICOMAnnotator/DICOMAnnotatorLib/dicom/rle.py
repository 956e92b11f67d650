"""RLE Lossless encoding (PS3.5 Annex G) of whole stacks of frames with numpy, and decoding of a segment.

pydicom's encoder walks every byte of every row in Python (about 4 ms for a 512x512 label
slice, most of writing a LABELMAP SEG). Here the runs of all rows of all frames are found at
once (where a byte differs from the one before it, or a row starts), and the output is filled
by array arithmetic. The bytes are exactly those of pydicom's ``RLELosslessEncoder`` (a test
compares them on edge cases and random frames), which follows the Standard and encodes runs
as:

- a replicate run (two or more equal bytes) as ``(257 - n, byte)`` in pieces of at most 128
  (``(129, byte)`` each), a last piece of one byte as the literal ``(0, byte)``;
- single bytes between replicate runs, in the same row, as literal runs of at most 128:
  ``(n - 1, byte...)``.

Each byte of a sample is one segment (most significant first), each segment is the rows'
encodings one after the other padded to even length, and the frame starts with the 64-byte
header of segment count and offsets (G.5).
"""

from __future__ import annotations

import struct

import numpy as np

#: Bytes of a literal or replicate piece at most (PS3.5 G.3.1).
_PIECE = 128
_HEADER_BYTES = 64


def rle_encode_frames(frames: np.ndarray) -> list[bytes]:
    """The RLE Lossless encoding of each frame of ``frames`` (``[frame, row, column]``, unsigned 8 or 16 bits)."""
    if frames.ndim != 3 or frames.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"Frames must be a 3D array of uint8 or uint16, not {frames.ndim}D {frames.dtype}")
    count, rows, columns = frames.shape
    planes = [frames.astype("<u2").view(np.uint8)[..., 1::2], frames.astype("<u2").view(np.uint8)[..., 0::2]] \
        if frames.dtype == np.uint16 else [frames]
    segments = [_encode_rows(np.ascontiguousarray(plane).reshape(count * rows, columns), count) for plane in planes]
    encoded = []
    for n in range(count):
        parts = [segment[n] for segment in segments]
        offsets = np.cumsum([_HEADER_BYTES] + [len(part) for part in parts[:-1]]).tolist()
        header = struct.pack(f"<{1 + len(offsets)}L", len(parts), *offsets).ljust(_HEADER_BYTES, b"\0")
        encoded.append(header + b"".join(parts))
    return encoded


def _encode_rows(data: np.ndarray, frames: int) -> list[bytes]:
    """One byte segment per frame: the rows of ``data`` (``frames`` equal blocks of rows) encoded, padded to even."""
    total_rows, columns = data.shape
    flat = data.reshape(-1)
    starts_mask = np.empty(flat.size, dtype=bool)  # a run starts where the byte changes, and at every row
    np.not_equal(flat[1:], flat[:-1], out=starts_mask[1:])
    starts_mask[::columns] = True
    starts = np.flatnonzero(starts_mask)
    lengths = np.diff(np.append(starts, flat.size))
    values = flat[starts]
    row_of = starts // columns
    literal = lengths == 1

    # A literal block is a stretch of single bytes within one row; j is each byte's index in its block.
    new_block = literal & np.concatenate(([True], ~literal[:-1] | (row_of[1:] != row_of[:-1])))
    literal_runs = np.flatnonzero(literal)
    block = (np.cumsum(new_block) - 1)[literal_runs]
    block_first = literal_runs[new_block[literal_runs]]
    j = literal_runs - block_first[block]
    left = np.bincount(block, minlength=block_first.size)[block] - j  # bytes of the block from this one on
    header = j % _PIECE == 0

    replicate_runs = np.flatnonzero(~literal)
    full, rest = np.divmod(lengths[replicate_runs], _PIECE)
    pairs = full + (rest > 0)
    out_length = np.empty(len(starts), dtype=np.int64)
    out_length[literal_runs] = 1 + header
    out_length[replicate_runs] = 2 * pairs
    offsets = np.concatenate(([0], np.cumsum(out_length)))
    out = np.empty(int(offsets[-1]), dtype=np.uint8)

    at = offsets[literal_runs]
    out[at[header]] = np.minimum(_PIECE, left[header]) - 1
    out[at + header] = values[literal_runs]

    piece_run = np.repeat(np.arange(replicate_runs.size), pairs)
    k = np.arange(piece_run.size) - np.repeat(np.cumsum(pairs) - pairs, pairs)
    last = rest[piece_run]
    position = offsets[replicate_runs[piece_run]] + 2 * k
    out[position] = np.where(k < full[piece_run], 129, np.where(last > 1, 257 - last, 0))
    out[position + 1] = values[replicate_runs[piece_run]]

    rows_per_frame = total_rows // frames
    first_run = np.searchsorted(starts, np.arange(frames + 1) * rows_per_frame * columns)
    cuts = offsets[first_run]
    segments = []
    for n in range(frames):
        segment = out[cuts[n]:cuts[n + 1]].tobytes()
        segments.append(segment + b"\0" * (len(segment) % 2))
    return segments


def rle_decode_segment(segment: bytes) -> bytes:
    """The bytes of one RLE segment (PS3.5 G.3.2): a header byte n < 128 copies the next n + 1 bytes, n > 128
    repeats the next byte 257 - n times, 128 does nothing. Stops at the segment's end (its even-length padding
    may add one byte, which callers cut by the size they expect)."""
    out = bytearray()
    position, size = 0, len(segment)
    while position < size:
        header = segment[position]
        position += 1
        if header < 128:
            out += segment[position:position + header + 1]
            position += header + 1
        elif header > 128:
            if position >= size:
                raise ValueError("a replicate run without its byte at the segment's end")
            out += segment[position:position + 1] * (257 - header)
            position += 1
    return bytes(out)
