""":class:`Segmentation` to DICOM SEG (highdicom): BINARY, FRACTIONAL or LABELMAP.

- BINARY (the default) is what every viewer and PACS reads; FRACTIONAL keeps probabilities
  (STAPLE output); LABELMAP (Label Map Segmentation Storage) is one frame per slice holding
  segment numbers, compressed losslessly (RLE, which every DICOM toolkit decodes), for
  segments that do not overlap.
- Non-overlapping segments go in as one label-map array (one byte or two per voxel), frame for
  frame with the single-frame source instances, so memory stays a small multiple of the label
  map's whatever the segment count. Overlapping or fractional segments (one array per segment)
  and multi-frame or partial sources hand over only the slices between the first and last
  labelled one, with their plane positions. highdicom references the source instance of each
  frame and omits empty frames.
- Segment numbers in a SEG run 1..N (PS3.3 C.8.20.4); other numbers are renumbered in order.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

import numpy as np
import pydicom
from pydicom.uid import ExplicitVRLittleEndian, RLELossless

from . import __version__
from .atomic import atomic_path
from .dicom_codes import to_highdicom_segment_description
from .errors import SegmentationError
from .person_names import to_person_name
from .segmentation import MaskKind, Segmentation

log = logging.getLogger(__name__)

SEGMENTATION_TYPES = ("binary", "fractional", "labelmap")
MANUFACTURER = "DICOMAnnotator"
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
    import highdicom as hd

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
    renumbered = _renumbered(segmentation)
    overlapping = seg_type != "fractional" and renumbered.has_overlaps()
    if seg_type == "labelmap" and overlapping:
        raise SegmentationError("Segments overlap, so they cannot be written as a LABELMAP SEG; write --type binary")
    stacked = seg_type == "fractional" or overlapping
    datasets = reference.datasets
    geometry = renumbered.geometry
    if not stacked and len(datasets) == geometry.size[2]:
        # One single-frame source per slice, in slice order: the whole label map (one byte or two per voxel)
        # corresponds to the sources frame for frame, highdicom's fastest path.
        first, last, positions = 0, geometry.size[2], None
    else:
        first, last = _slab(renumbered)
        positions = [hd.PlanePositionSequence(hd.CoordinateSystemNames.PATIENT,
                                              [float(v) for v in geometry.index_to_lps(np.array([[0, 0, k]]))[0]])
                     for k in range(first, last)]
    pixels = _pixel_array(renumbered, first, last, stacked=stacked)
    author = creator or segmentation.author
    description = series_description or " ".join(
        part for part in ("SEG", segmentation.protocol_id, author) if part)
    seg = hd.seg.Segmentation(
        source_images=datasets,
        pixel_array=pixels,
        segmentation_type=seg_type.upper(),
        segment_descriptions=[to_highdicom_segment_description(s, algorithm_version=__version__)
                              for s in renumbered.segments],
        series_instance_uid=hd.UID(),
        series_number=series_number if series_number is not None else _series_number(datasets[0]),
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        manufacturer_model_name="DICOMAnnotatorLib",
        software_versions=__version__,
        device_serial_number="none",
        fractional_type="PROBABILITY" if seg_type == "fractional" else None,
        content_label=content_label,
        content_description=(content_description or description)[:64],
        content_creator_name=to_person_name(author) if author else None,
        plane_positions=positions,
        omit_empty_frames=any(renumbered.voxel_count(s.number) for s in renumbered.segments),
        transfer_syntax_uid=RLELossless if seg_type == "labelmap" else ExplicitVRLittleEndian,
    )
    seg.SeriesDescription = description[:64]
    return seg


def write_seg(segmentation: Segmentation, path: str | os.PathLike[str], *, force: bool = False, **options) -> Path:
    """Write the SEG of ``segmentation`` to ``path`` (temporary name, then rename); see :func:`build_seg`."""
    seg = build_seg(segmentation, **options)
    with atomic_path(path, force=force) as temporary:
        seg.save_as(temporary, enforce_file_format=True)
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


def _slab(segmentation: Segmentation) -> tuple[int, int]:
    """The slices [first, last) holding every labelled voxel (one empty slice when nothing is labelled)."""
    boxes = [b for b in (segmentation.bounding_box(s.number) for s in segmentation.segments) if b is not None]
    if not boxes:
        return 0, 1
    return min(b[0].start for b in boxes), max(b[0].stop for b in boxes)


def _pixel_array(segmentation: Segmentation, first: int, last: int, *, stacked: bool) -> np.ndarray:
    """The slab as highdicom's label-map style array, or stacked per segment (overlaps, fractions)."""
    rows_columns = segmentation.geometry.array_shape[1:]
    segments = segmentation.segments
    if stacked:
        dtype = np.float32 if segmentation.kind is MaskKind.FRACTIONAL else bool
        pixels = np.zeros((last - first, *rows_columns, len(segments)), dtype=dtype)
    else:
        pixels = np.zeros((last - first, *rows_columns), dtype=np.uint8 if len(segments) < 256 else np.uint16)
    for channel, segment in enumerate(segments):
        if segmentation.bounding_box(segment.number) is None:
            continue
        box, values = segmentation.cropped_mask(segment.number)
        region = (slice(box[0].start - first, box[0].stop - first), box[1], box[2])
        if stacked:
            pixels[(*region, channel)] = values
        else:
            pixels[region][values] = segment.number
    return pixels


def _series_number(source: pydicom.Dataset) -> int:
    number = source.get("SeriesNumber")
    return SERIES_NUMBER_OFFSET + int(number) if number not in (None, "") else SERIES_NUMBER_OFFSET
