"""RLE Lossless frames encoded with numpy are pydicom's encoder's bytes, and pydicom decodes them back."""

from __future__ import annotations

import numpy as np
import pytest
from DICOMAnnotatorLib.dicom.rle import rle_encode_frames
from pydicom.encaps import encapsulate
from pydicom.pixels import get_decoder
from pydicom.pixels.encoders import RLELosslessEncoder
from pydicom.uid import RLELossless

#: Row widths around the 128-byte limit of a literal or replicate piece (PS3.5 G.3.1).
WIDTHS = (1, 2, 3, 127, 128, 129, 130, 255, 256, 257, 384, 513)


def _options(frame: np.ndarray) -> dict:
    bits = frame.dtype.itemsize * 8
    return {"rows": frame.shape[0], "columns": frame.shape[1], "number_of_frames": 1, "samples_per_pixel": 1,
            "bits_allocated": bits, "bits_stored": bits, "pixel_representation": 0,
            "photometric_interpretation": "MONOCHROME2"}


def _pydicoms(frame: np.ndarray) -> bytes:
    return RLELosslessEncoder.encode(frame, **_options(frame))


def _frames(width: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Constant rows, noise (literal runs), two values (short runs), label-like blocks, 16-bit values."""
    blocks = np.repeat(rng.integers(0, 4, (2, 5, width // 3 + 1)), 3, axis=2)[..., :width]
    runs = np.zeros((2, 4, width), dtype=np.uint8)
    runs[:, 1, : width // 2] = 9  # a replicate run up to a row end
    runs[:, 2, 1::2] = 5  # alternating bytes: one long literal run
    return [np.zeros((3, 2, width), np.uint8), rng.integers(0, 256, (2, 3, width)).astype(np.uint8),
            rng.integers(0, 2, (2, 3, width)).astype(np.uint8), blocks.astype(np.uint8), runs,
            (rng.integers(0, 3, (2, 4, width)) * 300).astype(np.uint16), blocks.astype(np.uint16) * 257]


@pytest.mark.parametrize("width", WIDTHS)
def test_frames_are_pydicoms_bytes_and_decode_back(width):
    rng = np.random.default_rng(width)
    for frames in _frames(width, rng):
        encoded = rle_encode_frames(frames)
        assert len(encoded) == len(frames)
        for frame, ours in zip(frames, encoded, strict=True):
            assert ours == _pydicoms(frame), f"{frames.dtype} frame of width {width}"
            decoded, _ = get_decoder(RLELossless).as_array(encapsulate([ours]), **_options(frame))
            np.testing.assert_array_equal(decoded, frame)


def test_a_label_map_stack():
    """Slices as a LABELMAP SEG has them: mostly background, blocks of a few labels."""
    labels = np.zeros((40, 64, 96), dtype=np.uint8)
    labels[5:30, 10:50, 20:80] = 3
    labels[10:20, 20:30, 30:60] = 7
    labels[12, 25, ::2] = 1
    for frame, ours in zip(labels, rle_encode_frames(labels), strict=True):
        assert ours == _pydicoms(frame)


def test_other_arrays_are_refused():
    with pytest.raises(ValueError, match="3D array of uint8 or uint16, not 2D int16"):
        rle_encode_frames(np.zeros((4, 4), np.int16))
