"""Clean Pixel Data and overlay bitmaps: text found by the screen and read by OCR, and configured
rectangles, are blanked.

Every image is screened for text (``text_screen``), whatever its modality; OCR reads only the
lines the screen finds (``ocr.read_candidates``), or, with ``--ocr-all-images``, every frame
too. What is blanked is the lines OCR reads as text and the words in them, never a whole region
of the image unless the site configured it (``--regions``).

Pixels are decoded whatever the transfer syntax (RLE natively, JPEG and JPEG 2000 through
pylibjpeg), blanked on every frame (RGB and multi-frame included) and written back
uncompressed as Explicit VR Little Endian; images where nothing was blanked keep their original
encoding. On multi-frame images every frame is screened, except frames identical to one already
screened (found by hash: a frozen cine repeats its frames), since a frame in between can carry
text the others do not (a name shown for a moment). The union of the boxes found on any frame
is blanked on every frame: burned-in annotations sit at fixed places in a cine, so text seen on
one frame marks a place where text may be on the others too, perhaps too faint to read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from ..errors import InputError
from .ocr import Box, find_text, read_candidates
from .options import RedactionRegion
from .text_screen import Candidate, screen_frame


@dataclass
class PixelResult:
    """What was done to one image's pixels; ``checked_by`` is None when no OCR looked at them."""

    risks: list[str] = field(default_factory=list)
    checked_by: str | None = None
    frames_checked: int = 0
    frames_read: int = 0
    lines_read: int = 0
    text_regions: int = 0
    configured_regions: int = 0
    overlays_cleaned: int = 0
    overlays_removed: int = 0
    #: The rectangles blanked, [x0, y0, x1, y1] (positions only: no text).
    regions: list[list[int]] = field(default_factory=list)

    @property
    def redacted(self) -> bool:
        return self.text_regions + self.configured_regions > 0

    def to_json(self) -> dict:
        return {"risks": self.risks, "checked_by": self.checked_by, "frames_checked": self.frames_checked,
                "frames_read": self.frames_read, "lines_read": self.lines_read, "text_regions": self.text_regions,
                "configured_regions": self.configured_regions, "overlays_cleaned": self.overlays_cleaned,
                "overlays_removed": self.overlays_removed, "regions": self.regions}


def configured_boxes(ds: Dataset, regions: Iterable[RedactionRegion]) -> list[Box]:
    """The rectangles configured for this image's manufacturer, model and size."""
    manufacturer = str(ds.get("Manufacturer", "") or "")
    model = str(ds.get("ManufacturerModelName", "") or "")
    rows, columns = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    return [box for region in regions if region.matches(manufacturer, model, rows, columns) for box in region.boxes]


def to_gray8(frame: np.ndarray) -> np.ndarray:
    """One frame as 8-bit grayscale for OCR: luminance of colour, robust min-max window."""
    values = frame[..., :3].astype(np.float32) @ np.float32([0.299, 0.587, 0.114]) if frame.ndim == 3 \
        else frame.astype(np.float32)
    low, high = np.percentile(values, [0.5, 99.5])
    if high <= low:
        high = low + 1
    return ((values - low) * (255.0 / (high - low))).clip(0, 255).astype(np.uint8)


@dataclass
class Screen:
    """One image's frames (decoded once) and the candidate text lines on each distinct frame."""

    stack: np.ndarray
    candidates: dict[int, list[Candidate]]

    @property
    def lines(self) -> int:
        return sum(len(found) for found in self.candidates.values())


def screen_pixels(ds: Dataset) -> Screen:
    """Decode ``ds``'s pixels and screen every distinct frame for text."""
    stack = _frames(ds)
    if len(stack) == 1:
        return Screen(stack, {0: screen_frame(stack[0])})
    candidates: dict[int, list[Candidate]] = {}
    seen: set[bytes] = set()
    for index, frame in enumerate(stack):
        digest = hashlib.blake2b(np.ascontiguousarray(frame).data, digest_size=16).digest()
        if digest not in seen:
            seen.add(digest)
            candidates[index] = screen_frame(frame)
    return Screen(stack, candidates)


def _frames(ds: Dataset) -> np.ndarray:
    """The stored pixel values, frames first. Uncompressed little-endian grey pixels are read straight
    from the file's bytes (no copy, and the element stays raw, so it is written back as it was read):
    the screen runs on every image, and pydicom's decoding costs more than the screen."""
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    rows, columns = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    allocated, stored = int(ds.get("BitsAllocated", 0) or 0), int(ds.get("BitsStored", 0) or 0)
    signed = str(ds.get("PixelRepresentation", 0)) == "1"
    meta = getattr(ds, "file_meta", None)
    syntax = UID(meta.get("TransferSyntaxUID", "")) if meta is not None else UID("")
    element = ds.get_item("PixelData")
    if (syntax in (ExplicitVRLittleEndian, ImplicitVRLittleEndian) and element is not None and element.is_raw
            and str(ds.get("SamplesPerPixel", 1)) == "1" and allocated in (8, 16) and 1 < stored <= allocated
            and element.value and len(element.value) >= frames * rows * columns * allocated // 8):
        dtype = np.dtype(("<i" if signed else "<u") + str(allocated // 8))
        values = np.frombuffer(element.value, dtype, frames * rows * columns).reshape(frames, rows, columns)
        if stored < allocated:  # bits above Bits Stored carry nothing (or overlays): sign-extend or mask them
            shift = allocated - stored
            values = (values << shift) >> shift if signed else values & ((1 << stored) - 1)
        return values
    try:
        pixels = ds.pixel_array
    except Exception as exc:  # a decoder is missing or the data is damaged: say which and why
        raise InputError(f"its pixel data cannot be decoded ({type(exc).__name__}: {exc}); "
                         "install pylibjpeg, pylibjpeg-libjpeg and pylibjpeg-openjpeg for JPEG data") from exc
    return pixels if frames > 1 else pixels[np.newaxis]


def clean_pixels(ds: Dataset, result: PixelResult, boxes: list[Box], screen: Screen, *, ocr: str | None,
                 read_all: bool = False) -> None:
    """Read the screen's candidate lines (and every frame, with ``read_all``) with OCR when ``ocr`` names
    the engine, and blank the text read and ``boxes`` in ``ds``'s pixels."""
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    text_boxes: list[Box] = []
    if ocr is not None:
        for index, candidates in screen.candidates.items():
            text_boxes.extend(read_candidates(screen.stack[index], candidates))
            if read_all:
                text_boxes.extend(find_text(to_gray8(screen.stack[index])))
        result.checked_by = ocr
        result.frames_checked, result.frames_read = len(screen.stack), len(screen.candidates)
        result.lines_read = screen.lines
    text_boxes = list(dict.fromkeys(text_boxes))  # static text gives the same box on many frames
    result.text_regions = len(text_boxes)
    result.configured_regions = len(boxes)
    if not result.redacted:
        return
    stack = np.array(screen.stack)  # writable copy
    photometric = str(ds.PhotometricInterpretation)
    result.regions = [list(box) for box in [*text_boxes, *boxes]]
    for frame in stack:
        fill = frame.max() if photometric == "MONOCHROME1" else (0 if samples > 1 else frame.min())
        for x0, y0, x1, y1 in [*text_boxes, *boxes]:
            frame[max(0, y0):max(0, y1), max(0, x0):max(0, x1)] = fill
    if stack.dtype.itemsize > 2:
        raise InputError(f"its {stack.dtype.itemsize * 8}-bit pixels cannot be rewritten after redaction")
    if samples > 1 and photometric.startswith("YBR"):
        photometric = "RGB"  # pydicom decodes YBR to RGB
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    ds.set_pixel_data(stack if frames > 1 else stack[0], photometric, int(ds.BitsStored),
                      generate_instance_uid=False)


def overlay_groups(ds: Dataset) -> list[int]:
    return [group for group in range(0x6000, 0x6020, 2) if (group << 16 | 0x3000) in ds]


def clean_overlays(ds: Dataset, result: PixelResult, *, ocr: str | None) -> None:
    """Clean Graphics for overlay bitmaps: text blanked with OCR; without OCR the overlay is removed."""
    from pydicom.pixels import pack_bits

    for group in overlay_groups(ds):
        if ocr is None:
            for tag in [t for t in ds.keys() if t >> 16 == group]:
                del ds[tag]
            result.overlays_removed += 1
            continue
        bitmap = np.array(ds.overlay_array(group), dtype=np.uint8)
        planes = bitmap if bitmap.ndim == 3 else bitmap[np.newaxis]
        boxes = find_text(np.uint8(255) - planes[0] * np.uint8(255))  # dark text on white reads best
        for plane in planes:
            for x0, y0, x1, y1 in boxes:
                plane[y0:y1, x0:x1] = 0
        ds[group << 16 | 0x3000].value = pack_bits(planes.ravel())
        result.overlays_cleaned += 1
