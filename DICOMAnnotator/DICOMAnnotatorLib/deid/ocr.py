"""Finding text in an image with Tesseract (Debian tesseract-ocr, through pytesseract).

``read_candidates`` reads the lines the text screen (``text_screen``) found: each is cut out with
a margin, windowed on its own text colour (text stored at 255 under a 16-bit header reads as well
as text at the top of the range), turned dark on light, cleared of everything but the screen's
characters and enlarged to the letter height Tesseract reads best, and all of one image's lines
are stacked into one picture read by one Tesseract run (a run costs more to start than to read a
line). A line counts as text when Tesseract reads a word of it with some confidence; then the
line, grown along its rows over neighbouring columns of its colour (letters the screen did not
count), and the words read in it are blanked.

``find_text`` reads a whole image (``--ocr-all-images``). Two passes, because one full-image pass
misses words: Tesseract read "DAVIDSON" but not the "DOUGLAS" beside it on a real CR. Pass 1
reads the whole image as sparse text and keeps confident words as seeds; pass 2 re-reads the
full-width band of each seed line as one line of text, which recovers its neighbours, and blanks
each run of nearby words that holds one word read with some confidence. Every box found is
returned padded; the caller blanks them all (all text is treated as identifying).
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from functools import cache

import numpy as np

from .text_screen import Candidate

# Tesseract spreads each run over OpenMP threads, which on small images cost more than they save and
# contend with our worker processes: one thread per run reads a 240x320 frame in 0.59 s instead of
# 1.17 s. Tesseract inherits the environment; a value the user set is kept.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels, end exclusive

SEED_CONFIDENCE = 60
BAND_CONFIDENCE = 30
#: Letter height (pixels) candidate lines are enlarged to; Tesseract reads 20-40 best.
LETTER_HEIGHT = 28
#: White space around and between the stacked lines.
GAP = 16
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
    from PIL import Image

    picture = Image.fromarray(image)
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.BICUBIC)
    return _words(picture, psm, scale)


def _words(picture, psm: int, scale: float) -> list[_Word]:
    """Tesseract's words in a PIL picture, boxes divided by ``scale``."""
    import pytesseract

    data = pytesseract.image_to_data(picture, config=f"--psm {psm}", output_type=pytesseract.Output.DICT)
    words = []
    for i, text in enumerate(data["text"]):
        if data["level"][i] != 5 or not text.strip():
            continue
        x, y, w, h = (int(data[k][i] / scale) for k in ("left", "top", "width", "height"))
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


def read_candidates(frame: np.ndarray, candidates: list[Candidate]) -> list[Box]:
    """Boxes to blank among the screen's ``candidates`` on ``frame`` (any dtype; colour as its brightest
    channel): each line in which OCR reads text, and each word it reads there."""
    from PIL import Image

    if not candidates:
        return []
    grey = frame.max(axis=-1) if frame.ndim == 3 else frame
    pieces, placed, top = [], [], GAP
    for candidate in candidates:
        cut = _cut(candidate, grey.shape, 1)
        scale = max(1.0, min(4.0, LETTER_HEIGHT / candidate.height))
        piece = _only_letters(_dark_on_light(grey[cut[1]:cut[3], cut[0]:cut[2]], candidate.ink), candidate, cut)
        picture = Image.fromarray(piece).resize((max(1, round(piece.shape[1] * scale)),
                                                 max(1, round(piece.shape[0] * scale))), Image.Resampling.BICUBIC)
        pieces.append((picture, top))
        placed.append((cut, scale, top, top + picture.height))
        top += picture.height + GAP
    mosaic = Image.new("L", (max(p.width for p, _ in pieces) + 2 * GAP, top), 255)
    for picture, offset in pieces:
        mosaic.paste(picture, (GAP, offset))
    read: dict[int, list[_Word]] = {}
    for word in _words(mosaic, 11, 1):
        middle = (word.box[1] + word.box[3]) / 2
        for index, (_, _, start, stop) in enumerate(placed):
            if start <= middle < stop:
                read.setdefault(index, []).append(word)
    boxes = []
    for index, words in read.items():
        if not any(w.confidence >= SEED_CONFIDENCE and _alnum_count(w.text) >= 2 for w in words):
            continue
        cut, scale, start, _ = placed[index]
        boxes.append(_pad(_ink_extent(grey, candidates[index], _cut(candidates[index], grey.shape, 2)), grey.shape))
        for word in words:
            if _alnum_count(word.text) >= 1:
                x0, y0, x1, y1 = word.box
                boxes.append(_pad((int((x0 - GAP) / scale) + cut[0], int((y0 - start) / scale) + cut[1],
                                   int((x1 - GAP) / scale) + 1 + cut[0], int((y1 - start) / scale) + 1 + cut[1]),
                                  grey.shape))
    return boxes


def _cut(candidate: Candidate, shape: tuple[int, ...], letters: int) -> Box:
    """The line's box with ``letters`` letter heights of margin on either side and half of one above and below."""
    x0, y0, x1, y1 = candidate.box
    h = candidate.height
    return max(0, x0 - letters * h), max(0, y0 - h // 2), min(shape[1], x1 + letters * h), min(shape[0], y1 + h // 2)


def _ink_extent(grey: np.ndarray, candidate: Candidate, cut: Box) -> Box:
    """The line's box grown along its rows over neighbouring columns of its text colour, within the cut-out:
    letters the screen did not count (an i, a colon, a letter cut by the image's edge) are blanked with the
    rest of the line. A column counts when a quarter of the line's rows hold the colour: grain that happens to
    come near it does not, letters do."""
    x0, _, x1, _ = candidate.box
    # Rows: those of most of its letters, plus a third of a letter for descenders; a line chained through
    # staggered shapes of tissue is no taller than its letters.
    tops, bottoms = sorted(c[1] for c in candidate.characters), sorted(c[3] for c in candidate.characters)
    reach = candidate.height // 3
    y0 = max(candidate.box[1], tops[len(tops) // 2] - reach)
    y1 = min(candidate.box[3], bottoms[len(bottoms) // 2] + reach)
    rows = grey[y0:y1, cut[0]:cut[2]].astype(np.float32)
    distance = abs(float(np.median(grey[cut[1]:cut[3], cut[0]:cut[2]])) - candidate.ink)
    if distance == 0:
        return candidate.box
    inked = np.count_nonzero(np.abs(rows - candidate.ink) <= 0.6 * distance, axis=0) >= (y1 - y0) / 4
    start, stop = _grow(inked, x0 - cut[0], x1 - cut[0], max(2, candidate.height))  # across a word space
    return start + cut[0], y0, stop + cut[0], y1


def _grow(profile: np.ndarray, start: int, stop: int, gap: int) -> tuple[int, int]:
    """[start, stop) widened while ``profile`` has a true value within ``gap`` beyond either end."""
    while start > 0 and profile[max(0, start - gap):start].any():
        start -= 1
    while stop < len(profile) and profile[stop:stop + gap].any():
        stop += 1
    return start, stop


def _only_letters(piece: np.ndarray, candidate: Candidate, cut: Box) -> np.ndarray:
    """``piece`` with everything outside the screen's characters turned white: tissue beside a line (a dark
    organ under a word) breaks Tesseract's layout analysis, and it is not what OCR is asked about."""
    kept = np.full(piece.shape, 255, np.uint8)
    for x0, y0, x1, y1 in candidate.characters:
        rows = slice(max(0, y0 - cut[1] - 1), max(0, y1 - cut[1] + 1))
        columns = slice(max(0, x0 - cut[0] - 1), max(0, x1 - cut[0] + 1))
        kept[rows, columns] = piece[rows, columns]
    return kept


def _dark_on_light(piece: np.ndarray, ink: float) -> np.ndarray:
    """A cut-out as 8-bit dark text on a light ground: dark where a pixel is near the text colour ``ink``, light
    as far as the cut-out's background is from it (tissue brighter or darker than the text turns light too)."""
    values = piece.astype(np.float32)
    distance = abs(float(np.median(values)) - ink)
    if distance == 0:
        return np.full(piece.shape, 255, np.uint8)
    return (np.abs(values - ink) * (255.0 / distance)).clip(0, 255).astype(np.uint8)
