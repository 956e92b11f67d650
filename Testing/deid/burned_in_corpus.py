"""A burned-in text corpus made at run time: real images of the test data with text planted in them.

Each source image gets three lines of identifying text in varied fonts (DejaVu sans, serif, mono,
bold, oblique), sizes (9 to 26 pixels), grey values (the top of the stored range, 255 under a 12-
to 16-bit header, the image's own maximum, a mid grey, the minimum: dark text), places (corners,
edges, mid-image over anatomy) and polarities (plain, or on a filled box of the opposite value, as
screen captures write it). Every planted box is recorded with the pixels its glyphs cover, so a
run can count what stayed readable and what anatomy was blanked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from conftest import TEST_DATA
from PIL import Image, ImageDraw, ImageFont
from pydicom.uid import generate_uid

FONTS = "/usr/share/fonts/truetype/dejavu/"
FACES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf", "DejaVuSans-Oblique.ttf",
         "DejaVuSansCondensed-Bold.ttf", "DejaVuSerif-Bold.ttf")
TEXTS = ("KAUFMAN SCOTT", "DOB: 04/17/1962", "MRN 83920417", "2013 Jul 13", "Name: SEXTON CARMEN F",
         "ID 5551234 ACC 99812", "St Mary Hospital", "DAVIDSON^DOUGLAS", "Study Date: 1999 Sep 23",
         "Patient ID: 6415974217", "Age: 51 F", "RIVERA MICHAEL M")
GREYS = ("range top", "255", "image max", "mid", "dark")
PLACES = ("top left", "top right", "bottom left", "bottom right", "middle", "left edge", "random")
PYDICOM_FILES = Path(pydicom.__file__).parent / "data" / "test_files"
#: (file, modality to write, stored bits to write or None to keep): CT, MR, DX, NM as they are, plus CR, MG and
#: tomosynthesis-like (8-bit values under a 12-16-bit header) made from real pixels where the test data has none.
SOURCES = (
    (TEST_DATA / "cornerstone-wado-loader/testImages/CTImage.dcm", None, None),
    (PYDICOM_FILES / "693_J2KI.dcm", None, None),
    (TEST_DATA / "dicom2nifti/tests/data/failing/gantrytilting/001/IM-0001-0001.dcm", None, None),
    (TEST_DATA / "dcmjs/examples/data/IM-0001-0001.dcm", None, None),
    (TEST_DATA / "dicom2nifti/tests/data/siemens/anatomical/001/IM-0001-0112-0001.dcm", None, None),
    (TEST_DATA / "dicom2nifti/tests/data/philips/anatomical/001/IM-0001-0002-0001.dcm", None, None),
    (TEST_DATA / "dicom2nifti/tests/data/ge/anatomical/001/IM-0001-0113-0001.dcm", None, None),
    (TEST_DATA / "highdicom/dx_image.dcm", None, None),
    (PYDICOM_FILES / "JPEG2000.dcm", None, None),
    (TEST_DATA / "dcmjs/test/sample-dicom.dcm", "MG", 14),
    (TEST_DATA / "cornerstone-wado-loader/testImages/CTImage.dcm", "CR", 12),
    (TEST_DATA / "dicom2nifti/tests/data/generic/anatomical/001/IM-0001-0003-0001.dcm", "MG", 16),
    (TEST_DATA / "dicom2nifti/tests/data/failing/gantrytilting/001/IM-0001-0003.dcm", "DX", 16),
    (PYDICOM_FILES / "JPGExtended.dcm", "CR", 12),
)


@dataclass
class Planted:
    """One planted line: the file it is in, its box and the mask of its glyph pixels (full image size)."""

    source: str
    text: str
    box: tuple[int, int, int, int]
    glyphs: np.ndarray


def _pixels(ds: pydicom.Dataset, modality: str | None, bits: int | None) -> np.ndarray:
    """The source's pixels, rewritten as unsigned ``bits``-bit values when the corpus relabels it."""
    pixels = ds.pixel_array.astype(np.int64)
    if bits is None:
        return pixels
    low, high = np.percentile(pixels, [0.5, 99.5])
    if modality == "DX" or ds.get("BitsStored", 16) <= 12 and high <= 255:  # keep 8-bit values in a wide header
        return np.clip(pixels, 0, 255)
    return np.clip((pixels - low) * ((1 << bits) - 1) / max(1.0, high - low), 0, (1 << bits) - 1).round()


def _grey(kind: str, pixels: np.ndarray, top: int, background: float) -> int:
    low, high = np.percentile(pixels, [1, 99])
    value = {"range top": top, "255": 255, "image max": int(pixels.max()), "mid": int(low + 0.6 * (high - low)),
             "dark": int(pixels.min())}[kind]
    spread = max(1.0, float(pixels.max() - pixels.min()))
    if abs(value - background) < 0.3 * spread:  # unreadable there: take the far end of the range
        value = int(pixels.max()) if background - pixels.min() < pixels.max() - background else int(pixels.min())
    return value


def _place(kind: str, size: tuple[int, int], rows: int, columns: int, rng: np.random.Generator) -> tuple[int, int]:
    width, height = size
    margin = max(4, height // 2)
    right, bottom = max(margin, columns - width - margin), max(margin, rows - height - margin)
    return {"top left": (margin, margin), "top right": (right, margin), "bottom left": (margin, bottom),
            "bottom right": (right, bottom), "middle": ((columns - width) // 2, (rows - height) // 2),
            "left edge": (margin, rows // 3),
            "random": (int(rng.integers(margin, right + 1)), int(rng.integers(margin, bottom + 1)))}[kind]


def write_corpus(folder: Path, seed: int = 24) -> list[Planted]:
    """Write the corpus into ``folder`` (one file per source); returns every planted line."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    planted: list[Planted] = []
    count = 0
    for number, (path, modality, bits) in enumerate(SOURCES):
        ds = pydicom.dcmread(path)
        pixels = _pixels(ds, modality, bits)
        rows, columns = pixels.shape
        signed = bits is None and str(ds.PixelRepresentation) == "1"
        stored = bits or int(ds.BitsStored)
        top = (1 << (stored - 1)) - 1 if signed else (1 << stored) - 1
        name = f"image{number:02d}.dcm"
        taken: list[tuple[int, int, int, int]] = []
        for line in range(3):
            text = TEXTS[count % len(TEXTS)]
            face = FACES[count % len(FACES)]
            place = PLACES[(count + line) % len(PLACES)] if line < 2 else "random"
            count += 1
            points = int(rng.integers(9, 27)) if min(rows, columns) >= 240 else int(rng.integers(8, 12))
            font = ImageFont.truetype(FONTS + face, points)
            for _ in range(20):  # a place that does not overlap the lines already planted
                left, upper, right, lower = font.getbbox(text)
                size = (right - left, lower - upper)
                if size[0] >= columns - 8:
                    font = ImageFont.truetype(FONTS + face, max(8, points * (columns - 16) // size[0]))
                    continue
                x, y = _place(place, size, rows, columns, rng)
                box = (x - 2, y - 2, x + size[0] + 2, y + size[1] + 2)
                if not any(box[0] < t[2] and t[0] < box[2] and box[1] < t[3] and t[1] < box[3] for t in taken):
                    break
                place = "random"
            taken.append(box)
            alpha = Image.new("L", (columns, rows), 0)
            ImageDraw.Draw(alpha).text((x - left, y - upper), text, fill=255, font=font)
            coverage = np.asarray(alpha, np.float64) / 255
            region = pixels[box[1]:box[3], box[0]:box[2]]
            grey = GREYS[(count + number) % len(GREYS)]
            if (count + number) % 5 == 0:  # on a filled box of the opposite value, as screen captures write it
                fill = int(pixels.min()) if grey != "dark" else int(np.percentile(pixels, 99))
                pixels[box[1]:box[3], box[0]:box[2]] = fill
                value = _grey("range top" if grey == "dark" else grey, pixels, top, fill)
            else:
                value = _grey(grey, pixels, top, float(np.median(region)))
            pixels = np.round(pixels * (1 - coverage) + value * coverage).astype(np.int64)
            planted.append(Planted(name, text, box, coverage > 0.5))
        _write(ds, pixels, modality, bits, folder / name)
    return planted


def _write(ds: pydicom.Dataset, pixels: np.ndarray, modality: str | None, bits: int | None, path: Path) -> None:
    if modality is not None:
        ds.Modality = modality
    if bits is not None:
        ds.PixelRepresentation, ds.RescaleIntercept, ds.RescaleSlope = 0, 0, 1
        if modality == "CR":
            ds.PhotometricInterpretation = "MONOCHROME1"
    signed = str(ds.PixelRepresentation) == "1"
    stored = bits or int(ds.BitsStored)
    array = pixels.astype(np.int16 if signed else np.uint16) if ds.BitsAllocated == 16 or bits else pixels.astype(
        np.uint8)
    ds.BurnedInAnnotation = "NO"  # as devices wrongly say
    ds.SOPInstanceUID = generate_uid()  # one source gives two corpus images
    ds.set_pixel_data(array, str(ds.PhotometricInterpretation), stored, generate_instance_uid=False)
    ds.save_as(path, enforce_file_format=True)
