"""Finding text in an image with Tesseract (Debian tesseract-ocr, through pytesseract).

Two passes, because one full-image pass misses words: Tesseract read "DAVIDSON" but not the
"DOUGLAS" beside it on a real CR. Pass 1 reads the whole image as sparse text and keeps
confident words as seeds; pass 2 re-reads the full-width band of each seed line as one line of
text, which recovers its neighbours, and blanks each run of nearby words that holds one word
read with some confidence. Every box
found is returned padded; the caller blanks them all (all text is treated as identifying).
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from functools import cache

import numpy as np

# Tesseract spreads each run over OpenMP threads, which on small images cost more than they save and
# contend with our worker processes: one thread per run reads a 240x320 frame in 0.59 s instead of
# 1.17 s. Tesseract inherits the environment; a value the user set is kept.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels, end exclusive

SEED_CONFIDENCE = 60
BAND_CONFIDENCE = 30
_ALNUM = re.compile(r"[A-Za-z0-9]")


@cache
def tesseract_version() -> str | None:
    """'tesseract X.Y.Z' when OCR can run here (pytesseract importable, binary found), else None."""
    if shutil.which("tesseract") is None:
        return None
    try:
        import pytesseract

        return f"tesseract {pytesseract.get_tesseract_version()}"
    except Exception:  # not installed, or the binary does not run: OCR is unavailable, said so by None
        return None


@dataclass(frozen=True)
class _Word:
    text: str
    confidence: float
    box: Box
    line: tuple[int, int, int]


def _read_words(image: np.ndarray, psm: int, scale: int) -> list[_Word]:
    import pytesseract
    from PIL import Image

    picture = Image.fromarray(image)
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.BICUBIC)
    data = pytesseract.image_to_data(picture, config=f"--psm {psm}", output_type=pytesseract.Output.DICT)
    words = []
    for i, text in enumerate(data["text"]):
        if data["level"][i] != 5 or not text.strip():
            continue
        x, y, w, h = (data[k][i] // scale for k in ("left", "top", "width", "height"))
        words.append(_Word(text.strip(), float(data["conf"][i]), (x, y, x + max(w, 1), y + max(h, 1)),
                           (data["block_num"][i], data["par_num"][i], data["line_num"][i])))
    return words


def _alnum_count(text: str) -> int:
    return len(_ALNUM.findall(text))


def _pad(box: Box, shape: tuple[int, int]) -> Box:
    x0, y0, x1, y1 = box
    height = y1 - y0
    dx, dy = max(2, height // 4), max(2, height // 5)
    return max(0, x0 - dx), max(0, y0 - dy), min(shape[1], x1 + dx), min(shape[0], y1 + dy)


def find_text(image: np.ndarray) -> list[Box]:
    """Boxes around the text Tesseract finds in an 8-bit grayscale image."""
    scale = 2 if max(image.shape) <= 1024 else 1
    seeds = [w for w in _read_words(image, 11, scale)
             if w.confidence >= SEED_CONFIDENCE and _alnum_count(w.text) >= 2]
    boxes = [_pad(w.box, image.shape) for w in seeds]
    for y0, y1 in _bands(seeds, image.shape[0]):
        band_scale = max(1, min(4, round(32 / max(1, y1 - y0))))
        words = [w for w in _read_words(image[y0:y1], 7, band_scale) if _alnum_count(w.text) >= 1]
        boxes.extend(_pad((x0, wy0 + y0, x1, wy1 + y0), image.shape) for x0, wy0, x1, wy1 in _runs(words))
    return boxes


def _bands(seeds: list[_Word], rows: int) -> list[tuple[int, int]]:
    """Row range of each seed line, padded by a third of its height (one band per line: a band
    holding two lines would be misread as one)."""
    lines: dict[tuple[int, int, int], list[int]] = {}
    for word in seeds:
        top, bottom = lines.get(word.line, [word.box[1], word.box[3]])
        lines[word.line] = [min(top, word.box[1]), max(bottom, word.box[3])]
    return sorted({(max(0, t - (b - t) // 3), min(rows, b + (b - t) // 3)) for t, b in lines.values()})


def _runs(words: list[_Word]) -> list[Box]:
    """Words of one line closer than four line heights form a run; runs holding a word read with
    some confidence become one box each. A run covers its doubtful words too (Tesseract read a
    burned-in date at confidence 0 right beside a name it was sure of)."""
    runs: list[tuple[list[int], bool]] = []
    for word in sorted(words, key=lambda w: w.box):
        x0, y0, x1, y1 = word.box
        sure = word.confidence >= BAND_CONFIDENCE
        if runs and x0 - runs[-1][0][2] <= 4 * max(y1 - y0, runs[-1][0][3] - runs[-1][0][1]):
            box, was_sure = runs[-1]
            runs[-1] = ([box[0], min(box[1], y0), max(box[2], x1), max(box[3], y1)], was_sure or sure)
        else:
            runs.append(([x0, y0, x1, y1], sure))
    return [tuple(box) for box, sure in runs if sure]


def read_text(image: np.ndarray) -> str:
    """All text Tesseract reads in an image (for checks after redaction)."""
    scale = 2 if max(image.shape) <= 1024 else 1
    return " ".join(w.text for w in _read_words(image, 11, scale))
