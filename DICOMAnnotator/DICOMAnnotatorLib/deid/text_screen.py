"""A cheap screen for burned-in text on any image: where text may be, before OCR reads it.

Run on every frame of every image, so it must cost little and hold on any modality and pixel
range (text stored at 255 under a 16-bit header, at the top of a 12-bit range, or darker than
the tissue around it). It looks for what makes text text, whatever the values:

- strokes: runs of 1 to ``MAX_STROKE`` pixels along a row or a column that stand out from both
  sides by more than the image's contrast floor (1D morphological top-hats, both polarities); the
  floor comes from the image's own noise and dynamic range, never from its header;
- character-sized components of those strokes: ``MIN_HEIGHT`` to ``MAX_HEIGHT`` rows high, not
  much wider than high unless several letters touch, partly filled, drawn in one colour (their
  peaks agree, as a text colour does and tissue does not);
- placement: characters side by side at letter spacing, of similar heights, on one baseline.

A row of such characters is a candidate line. Each band is looked at twice: against the local noise,
and for strokes drawn in one exact value against the range alone (text on grain as strong as the
text: grain rarely repeats a value, a drawn stroke always does). First pass on every
``FIRST_PASS_STEP``-th row (text ``MIN_HEIGHT`` high is crossed at least once): an image without a row of
stroke runs, which is most CT and MR slices, costs about a millisecond; the full-resolution
analysis runs only on the bands around rows that have them. The screen is tuned to miss nothing that
reads as text; what it finds in error costs an OCR read, since only what OCR then reads as
text is blanked (``pixels``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels, end exclusive

#: Widest stroke looked for, in pixels (bold 40-pixel capitals have strokes of about 6).
MAX_STROKE = 7
MIN_HEIGHT, MAX_HEIGHT = 5, 80
#: The first pass looks at every FIRST_PASS_STEP-th row only (at most MIN_HEIGHT - 1, so that no line is skipped).
FIRST_PASS_STEP = 3
#: Characters a candidate line needs: fewer is no name, ID or date.
MIN_CHARACTERS = 3
#: Letters closer than LETTER_GAP letter heights chain into a line; pieces of lines closer than WORD_GAP are one.
LETTER_GAP, WORD_GAP = 2.5, 4
#: Contrast floor: this many noise standard deviations, and at least this fraction of the dynamic range.
NOISE_FACTOR, RANGE_FRACTION = 3.0, 0.06
#: Side of the square tiles in which local noise and the strongest stroke are measured.
TILE = 16
#: A stroke stands out at least this fraction as much as the strongest stroke of its tile.
STRONG_FRACTION = 0.35
#: A character's pixels within INK_TOLERANCE floors of its peak are "in the text colour"; it needs INK_FRACTION of them.
INK_TOLERANCE, INK_FRACTION = 0.5, 0.1


#: A character found: x0, y0, x1, y1, its peak value (its colour) and the contrast floor where it is.
_Character = tuple[int, int, int, int, float, float]


@dataclass(frozen=True)
class Candidate:
    """A line that may be text: its box, whether it is brighter than around it, its character height,
    the boxes of its characters and its colour (the value its letters are drawn in)."""

    box: Box
    bright: bool
    height: int
    characters: tuple[Box, ...]
    ink: float


def screen_frame(frame: np.ndarray) -> list[Candidate]:
    """Candidate text lines of one frame (2D grey, or colour with samples last)."""
    grey = frame.max(axis=-1) if frame.ndim == 3 else frame
    if grey.dtype != np.uint8 and (grey.dtype != np.int16 or int(grey.max()) - int(grey.min()) > 32767):
        grey = grey.astype(np.int32)  # room for differences (uint8 and narrow int16 need none: stroke - opening >= 0)
    if min(grey.shape) < 2 * MIN_HEIGHT or grey.shape[1] <= 2 * MAX_STROKE + 2:
        return []
    floor, range_floor = contrast_floor(grey)
    found = []
    for bright in (True, False):
        rows = _stroke_rows(grey[::FIRST_PASS_STEP], floor, bright)
        for start, stop in _bands(rows * FIRST_PASS_STEP, grey.shape[0]):
            band = grey[start:stop].astype(np.int32)
            floors = local_floor(band, floor)
            lines = []
            for flat in (False, True):
                # Second look: strokes drawn in one exact value, standing out of the range but not out of the
                # grain (text on noise as strong as the text): grain rarely repeats a value, a stroke always does.
                strokes = _strokes(band, floors, bright) if not flat else _flat_strokes(band, range_floor, bright)
                lines += [Candidate((x0, y0 + start, x1, y1 + start), bright, height,
                                    tuple((c[0], c[1] + start, c[2], c[3] + start) for c in characters), ink)
                          for (x0, y0, x1, y1), height, characters, ink in _lines(strokes, band, bright, floors)]
            found += _merged(lines)
    return found


def _merged(lines: list[Candidate]) -> list[Candidate]:
    """Pieces of one line (split where a wide gap, a joined pair of letters or a symbol broke the chain)
    joined: same rows, gaps under WORD_GAP letter heights. OCR reads a whole line far better than its pieces."""
    merged: list[Candidate] = []
    for line in sorted(lines, key=lambda c: c.box):
        for index, other in enumerate(merged):
            x0, y0, x1, y1 = line.box
            ox0, oy0, ox1, oy1 = other.box
            overlap = min(y1, oy1) - max(y0, oy0)
            if overlap >= 0.5 * min(y1 - y0, oy1 - oy0) and x0 - ox1 <= WORD_GAP * max(line.height, other.height):
                merged[index] = Candidate((min(x0, ox0), min(y0, oy0), max(x1, ox1), max(y1, oy1)), line.bright,
                                          max(line.height, other.height), other.characters + line.characters,
                                          other.ink)
                break
        else:
            merged.append(line)
    return merged


def contrast_floor(grey: np.ndarray) -> tuple[float, float]:
    """The least contrast a stroke needs, and the part of it that comes from the range alone: above the noise
    and a fraction of the robust dynamic range.

    Both from a subsample of about 8,000 pixels: noise from the median absolute difference of
    horizontal neighbours (0.95 sigma for Gaussian noise), range from the 0.5 and 99.5 percentiles.
    """
    rows = grey[:: max(1, grey.shape[0] // 64)].astype(np.int32)
    noise = float(np.median(np.abs(rows[:, 1::2] - rows[:, :-1:2]))) / 0.95
    sample = rows[:, :: max(1, grey.shape[1] // 128)].ravel()
    k = max(1, sample.size // 200)
    ordered = np.partition(sample, [k, sample.size - 1 - k])
    range_floor = max(RANGE_FRACTION * float(ordered[sample.size - 1 - k] - ordered[k]), 1.0)
    return max(NOISE_FACTOR * noise, range_floor), range_floor


def _running(values: np.ndarray, width: int, pick) -> np.ndarray:
    """``pick`` (np.minimum or np.maximum) over windows of ``width`` along rows: column x of the result
    covers columns [x, x + width) of ``values``, so the result is ``width - 1`` columns narrower."""
    result, span = values, 1
    while span < width:
        step = min(span, width - span)
        result = pick(result[:, :-step], result[:, step:])
        span += step
    return result


def _top_hat(grey: np.ndarray, bright: bool) -> np.ndarray:
    """How far each pixel stands out of runs of at most MAX_STROKE along its row, for columns
    [MAX_STROKE, width - MAX_STROKE - 1) (the opening, or closing, needs whole windows on both sides)."""
    width = MAX_STROKE + 1
    first, second = (np.minimum, np.maximum) if bright else (np.maximum, np.minimum)
    opened = _running(_running(grey, width, first), width, second)
    core = grey[:, width - 1: grey.shape[1] - width + 1]
    return core - opened if bright else opened - core


def _stroke_rows(grey: np.ndarray, floor: float, bright: bool) -> np.ndarray:
    """Indexes of the rows of ``grey`` that hold at least MIN_CHARACTERS separate runs of stroke pixels."""
    strokes = _top_hat(grey, bright) > floor
    starts = strokes[:, 1:] & ~strokes[:, :-1]
    return np.flatnonzero(np.count_nonzero(starts, axis=1) >= MIN_CHARACTERS)


def _bands(rows: np.ndarray, height: int) -> list[tuple[int, int]]:
    """Row ranges around the rows found, widened by MAX_HEIGHT / 2 and merged where they touch."""
    margin = MAX_HEIGHT // 2
    bands: list[list[int]] = []
    for row in rows.tolist():
        start, stop = max(0, row - margin), min(height, row + margin + 1)
        if bands and start <= bands[-1][1]:
            bands[-1][1] = stop
        else:
            bands.append([start, stop])
    return [(start, stop) for start, stop in bands]


def local_floor(band: np.ndarray, floor: float) -> np.ndarray:
    """The contrast floor per pixel: ``floor``, or NOISE_FACTOR local noise levels where the image is noisier
    there (text over grainy tissue must stand out of that grain). Noise per tile of TILE x TILE pixels, from
    the median absolute difference of neighbours: the median ignores the edges of letters, a minority."""
    steps = np.abs(np.diff(band, axis=1, append=band[:, -1:]))
    return np.maximum(_tiled(steps, np.median) * (NOISE_FACTOR / 0.95), floor)


def _flat_strokes(band: np.ndarray, floor: float, bright: bool) -> np.ndarray:
    """Stroke pixels, against the range's floor only, that share their exact value with a neighbour."""
    same = np.zeros(band.shape, bool)
    same[:, 1:] |= band[:, 1:] == band[:, :-1]
    same[:, :-1] |= band[:, :-1] == band[:, 1:]
    same[1:] |= band[1:] == band[:-1]
    same[:-1] |= band[:-1] == band[1:]
    return same & _strokes(band, np.full(band.shape, floor, np.float32), bright)


def _strokes(band: np.ndarray, floor: np.ndarray, bright: bool) -> np.ndarray:
    """Stroke pixels of a band, as a mask of the band's shape: thin along its rows (the stems of letters)
    or along its columns (their bars and the tops of round letters, which hold the halves of an O together).

    A stroke must stand above the local floor and above STRONG_FRACTION of the strongest stroke of its
    tile: grain next to a letter stands out of its own surroundings too, but far less than the letter
    does, and left in it would join the letters into shapeless blobs."""
    contrast = np.zeros(band.shape, np.float32)
    contrast[:, MAX_STROKE: band.shape[1] - MAX_STROKE] = _top_hat(band, bright)
    if band.shape[0] > 2 * MAX_STROKE + 2:
        across = contrast[MAX_STROKE: band.shape[0] - MAX_STROKE]
        np.maximum(across, _top_hat(band.T, bright).T, out=across)
    return contrast > np.maximum(floor, STRONG_FRACTION * _tiled(contrast, np.max))


def _tiled(values: np.ndarray, reduce) -> np.ndarray:
    """``reduce`` (np.max, np.median) over tiles of TILE x TILE pixels, repeated back to ``values``' shape."""
    rows, columns = values.shape
    down, across = -(-rows // TILE), -(-columns // TILE)
    padded = np.pad(values, ((0, down * TILE - rows), (0, across * TILE - columns)), mode="edge")
    tiles = reduce(padded.reshape(down, TILE, across, TILE).transpose(0, 2, 1, 3).reshape(down, across, -1), axis=2)
    return np.repeat(np.repeat(tiles, TILE, axis=0), TILE, axis=1)[:rows, :columns]


def _lines(strokes: np.ndarray, grey: np.ndarray, bright: bool,
           floor: np.ndarray) -> list[tuple[Box, int, list[Box], float]]:
    """Candidate lines among the connected components of ``strokes``: (box, character height, characters)."""
    from scipy import ndimage  # imported here: 0.4 s per process, needed only where a band has strokes

    labels, count = ndimage.label(strokes, structure=np.ones((3, 3), bool))
    if count < 1:
        return []
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    extreme = ndimage.maximum if bright else ndimage.minimum
    peaks = np.concatenate([[0], extreme(grey, labels, np.arange(1, count + 1))])
    # Pixels in the text colour: a glyph's strokes are drawn in it (edges blended), tissue peaks at a few pixels.
    in_colour = strokes & (np.abs(grey - peaks[labels]) <= INK_TOLERANCE * floor)
    inked = np.bincount(labels[in_colour], minlength=count + 1)
    characters = []
    for index, found in enumerate(ndimage.find_objects(labels), start=1):
        rows, columns = found
        height, width = rows.stop - rows.start, columns.stop - columns.start
        fill = sizes[index] / (height * width)
        if (MIN_HEIGHT <= height <= MAX_HEIGHT and width <= 8 * height and 0.12 <= fill <= (1 if width <= 2 else 0.8)
                and inked[index] >= INK_FRACTION * sizes[index]):
            characters.append((columns.start, rows.start, columns.stop, rows.stop, float(peaks[index]),
                               float(floor[rows.start, columns.start])))
    return [line for line in _chain(characters) if line is not None]


def _chain(characters: list[_Character]) -> list[tuple[Box, int, list[Box], float] | None]:
    """Characters side by side (overlapping rows, similar heights, gaps under 1.5 heights) form lines;
    a line is kept when it holds MIN_CHARACTERS letters (a wide component counts as several) of
    one colour (peaks within half the contrast floor of the line's median peak, for most of them)."""
    open_lines: list[list[_Character]] = []
    closed: list[list[_Character]] = []
    for character in sorted(characters):
        x0, y0, x1, y1, _, _ = character
        height = y1 - y0
        still_open = []
        joined = False
        for line in open_lines:
            lx0, ly0, lx1, ly1, _, _ = line[-1]
            last = ly1 - ly0
            if x0 - lx1 > 1.5 * MAX_HEIGHT:
                closed.append(line)
                continue
            still_open.append(line)
            overlap = min(y1, ly1) - max(y0, ly0)
            if (not joined and x0 - lx1 <= LETTER_GAP * max(height, last) and overlap >= 0.5 * min(height, last)
                    and max(height, last) <= 2 * min(height, last)):
                line.append(character)
                joined = True
        if not joined:
            still_open.append([character])
        open_lines = still_open
    return [_line(line) for line in closed + open_lines]


def _line(line: list[_Character]) -> tuple[Box, int, list[Box], float] | None:
    heights = sorted(c[3] - c[1] for c in line)
    height = heights[len(heights) // 2]
    letters = sum(max(1, round((c[2] - c[0]) / (0.7 * height))) for c in line)
    if letters < MIN_CHARACTERS or len(line) < 2:  # one blob, however wide, is no line of text
        return None
    peaks = np.array([c[4] for c in line])
    agreeing = np.count_nonzero(np.abs(peaks - np.median(peaks)) <= np.median([c[5] for c in line]) / 2)
    if agreeing < max(2, 0.6 * len(line)) and len(line) > 1:
        return None
    box = (min(c[0] for c in line), min(c[1] for c in line), max(c[2] for c in line), max(c[3] for c in line))
    return box, height, [c[:4] for c in line], float(np.median(peaks))
