""":class:`Segmentation` to DICOM SEG: BINARY, FRACTIONAL or LABELMAP.

- BINARY (the default) is what every viewer and PACS reads; FRACTIONAL keeps probabilities
  (STAPLE output); LABELMAP (Label Map Segmentation Storage) is one frame per slice holding
  segment numbers, compressed losslessly (RLE, which every DICOM toolkit decodes), for
  segments that do not overlap.
- :mod:`.header` builds the modules (patient and study from the source, coded segment
  descriptions, references to every source image), :mod:`.frames` the frames (empty ones
  omitted) with their plane positions and source images, walking each segment's bounding
  box: memory follows the labelled region. highdicom is not imported: it checked and mapped
  every source image on each call, half a second whatever the SEG's size; tests hold the
  header to highdicom's and the files to dciodvfy and four independent readers.
- Segment numbers in a SEG run 1..N (PS3.3 C.8.20.4); other numbers are renumbered in order.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from pathlib import Path
from typing import Any

import pydicom

from ..atomic import atomic_path
from ..dicom import save_part10
from ..errors import SegmentationError
from ..imaging import MaskKind, Segmentation
from .frames import add_frames
from .header import SegSeries, seg_header

log = logging.getLogger(__name__)

SEGMENTATION_TYPES = ("binary", "fractional", "labelmap")
#: SEG series get the source series number plus this, so that a PACS user finds them beside it.
SERIES_NUMBER_OFFSET = 1000


def build_seg(
    segmentation: Segmentation,
    *,
    segmentation_type: str = "binary",
    series_number: int | None = None,
    series_description: str | None = None,
    content_label: str = "ANNOTATION",
    content_description: str | None = None,
    creator: str | None = None,
) -> pydicom.Dataset:
    """The SEG dataset of ``segmentation`` on its reference series (not yet written).

    ``creator`` (``Family^Given``) defaults to the segmentation's author; the series
    description defaults to the protocol and author, e.g. ``SEG liver-lesions-ct Reader A``.
    """
    seg_type = segmentation_type.lower()
    if seg_type not in SEGMENTATION_TYPES:
        raise SegmentationError(f"Unknown SEG type '{segmentation_type}'; use one of {', '.join(SEGMENTATION_TYPES)}")
    reference = segmentation.reference
    if reference is None:
        raise SegmentationError("The segmentation has no reference DICOM series, so a SEG cannot reference its "
                                "source images; give the series it was made on (--series)")
    if segmentation.kind is MaskKind.FRACTIONAL and seg_type != "fractional":
        raise SegmentationError(f"A FRACTIONAL segmentation cannot be written as a {seg_type.upper()} SEG; "
                                "threshold it first or write --type fractional")
    if not segmentation.segments:
        raise SegmentationError("The segmentation has no segments; a SEG needs at least one")
    if series_number is not None and not 1 <= series_number < 2**31:
        raise SegmentationError(f"Series number {series_number} is out of range; give a number from 1 to {2**31 - 1}")
    if not re.fullmatch(r"[A-Z0-9_ ]{1,16}", content_label):
        raise SegmentationError(f"Content label '{content_label}' is not a DICOM code string; use up to 16 capital "
                                "letters, digits, spaces or underscores, e.g. ANNOTATION")
    renumbered = _renumbered(segmentation)
    overlapping = seg_type != "fractional" and renumbered.has_overlaps()
    if seg_type == "labelmap" and overlapping:
        raise SegmentationError("Segments overlap, so they cannot be written as a LABELMAP SEG; write --type binary")
    if seg_type == "labelmap" and len(renumbered.segments) > 0xFFFF:
        raise SegmentationError(f"A LABELMAP SEG holds at most 65535 segments, not {len(renumbered.segments)}; "
                                "write --type binary")
    author = creator or segmentation.author
    description = series_description or " ".join(part for part in ("SEG", segmentation.protocol_id, author) if part)
    series = SegSeries(
        series_number=series_number if series_number is not None else _series_number(reference.datasets[0]),
        series_description=description, content_label=content_label,
        content_description=content_description or description, creator=author)
    seg = seg_header(reference, renumbered.segments, seg_type=seg_type, overlapping=overlapping, series=series)
    add_frames(seg, renumbered, _sources(reference))
    return seg


def write_seg(segmentation: Segmentation, path: str | os.PathLike[str], *, force: bool = False,
              digest: Any | None = None, **options) -> Path:
    """Write the SEG of ``segmentation`` to ``path`` (temporary name, then rename); see :func:`build_seg`.
    ``digest`` (a ``hashlib`` object) is updated with the file's bytes as they are written."""
    seg = build_seg(segmentation, **options)
    with atomic_path(path, force=force) as temporary:
        save_part10(seg, temporary, digest=digest)
    log.info("Wrote %s: %s SEG with %d segment(s), %d frame(s)", path, seg.SegmentationType,
             len(seg.SegmentSequence), int(seg.NumberOfFrames))
    return Path(path)


def _renumbered(segmentation: Segmentation) -> Segmentation:
    """The segmentation with segments numbered 1..N in their order (SEG requires it)."""
    numbers = [s.number for s in segmentation.segments]
    if numbers == list(range(1, len(numbers) + 1)):
        return segmentation
    log.info("Segments %s are numbered 1..%d in the SEG", numbers, len(numbers))
    cropped = {new: segmentation.cropped_mask(old) for new, old in enumerate(numbers, start=1)}
    segments = [dataclasses.replace(s, number=new) for new, s in enumerate(segmentation.segments, start=1)]
    return Segmentation.from_cropped_masks(
        segmentation.geometry, segments, {n: box_values for n, box_values in cropped.items() if box_values[1].size},
        kind=segmentation.kind, reference=segmentation.reference, author=segmentation.author,
        protocol_id=segmentation.protocol_id, provenance=segmentation.provenance)


def _sources(reference) -> dict:
    """Slice index -> source image, for the series or for the series rebuilt from SEGs."""
    if hasattr(reference, "slices"):
        return dict(enumerate(reference.slices))
    return reference.slice_sources()


def _series_number(source: pydicom.Dataset) -> int:
    number = source.get("SeriesNumber")
    return SERIES_NUMBER_OFFSET + int(number) if number not in (None, "") else SERIES_NUMBER_OFFSET
