""":class:`Segmentation` to DICOM SEG (highdicom): BINARY, FRACTIONAL or LABELMAP.

- BINARY (the default) is what every viewer and PACS reads; FRACTIONAL keeps probabilities
  (STAPLE output); LABELMAP (Label Map Segmentation Storage) is one frame per slice holding
  segment numbers, compressed losslessly (RLE, which every DICOM toolkit decodes), for
  segments that do not overlap.
- BINARY and FRACTIONAL: highdicom builds the header (every module, the segment descriptions,
  the references to the source series) on one slice, then :mod:`seg_frames` encodes one frame
  per segment and labelled slice (empty frames omitted) with its plane position and source
  image, walking each segment's bounding box: memory follows the labelled region, and the
  per-frame work that dominated highdicom's constructor is gone.
- LABELMAP: the label map goes to highdicom frame for frame with single-frame sources (the
  slices between the first and last labelled one, with plane positions, otherwise).
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
from .part10 import save_part10
from .person_names import to_person_name
from .seg_frames import replace_frames
from .segmentation import MaskKind, Segmentation

log = logging.getLogger(__name__)

SEGMENTATION_TYPES = ("binary", "fractional", "labelmap")
MANUFACTURER = "DICOMAnnotator"
#: Stored value of a fraction of 1 in FRACTIONAL SEGs (one byte per pixel).
MAX_FRACTIONAL_VALUE = 255
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
    datasets = reference.datasets
    geometry = renumbered.geometry
    direct = seg_type != "labelmap"
    if direct:
        # highdicom builds the header on one slice; seg_frames then encodes every frame (see its docstring).
        boxes = [renumbered.bounding_box(s.number) for s in renumbered.segments]
        first = min((b[0].start for b in boxes if b is not None), default=0)
        last = first + 1
    elif len(datasets) == geometry.size[2]:
        # One single-frame source per slice, in slice order: the whole label map (one byte or two per voxel)
        # corresponds to the sources frame for frame, highdicom's fastest path.
        first, last = 0, geometry.size[2]
    else:
        first, last = _slab(renumbered)
    positions = None if (not direct and last - first == len(datasets) == geometry.size[2]) else [
        hd.PlanePositionSequence(hd.CoordinateSystemNames.PATIENT,
                                 [float(v) for v in geometry.index_to_lps(np.array([[0, 0, k]]))[0]])
        for k in range(first, last)]
    pixels = (_empty_stack(renumbered) if direct else _labelmap_slab(renumbered, first, last))
    source = _source_of_slice(datasets, _sources(reference).get(first)) if direct else None
    author = creator or segmentation.author
    description = series_description or " ".join(
        part for part in ("SEG", segmentation.protocol_id, author) if part)
    seg = hd.seg.Segmentation(
        source_images=datasets if source is None else [source],
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
        max_fractional_value=MAX_FRACTIONAL_VALUE,
        content_label=content_label,
        content_description=(content_description or description)[:64],
        content_creator_name=to_person_name(author) if author else None,
        plane_positions=positions,
        omit_empty_frames=not direct and any(renumbered.voxel_count(s.number) for s in renumbered.segments),
        transfer_syntax_uid=RLELossless if seg_type == "labelmap" else ExplicitVRLittleEndian,
    )
    if source is not None:
        _reference_sources(seg, datasets)
    if direct:
        replace_frames(seg, renumbered, _sources(reference), fractional=seg_type == "fractional",
                       maximum_fractional_value=MAX_FRACTIONAL_VALUE)
        if seg_type == "binary":
            seg.SegmentsOverlap = "YES" if overlapping else "NO"
    seg.SeriesDescription = description[:64]
    return seg


def write_seg(segmentation: Segmentation, path: str | os.PathLike[str], *, force: bool = False, **options) -> Path:
    """Write the SEG of ``segmentation`` to ``path`` (temporary name, then rename); see :func:`build_seg`."""
    seg = build_seg(segmentation, **options)
    with atomic_path(path, force=force) as temporary:
        save_part10(seg, temporary)
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


def _empty_stack(segmentation: Segmentation) -> np.ndarray:
    """One empty slice per segment, from which highdicom builds the header (its frames are then replaced)."""
    rows_columns = segmentation.geometry.array_shape[1:]
    dtype = np.float32 if segmentation.kind is MaskKind.FRACTIONAL else bool
    return np.zeros((1, *rows_columns, len(segmentation.segments)), dtype=dtype)


def _source_of_slice(datasets: list[pydicom.Dataset], slice_source) -> pydicom.Dataset | None:
    """The single-frame image of one slice, on which highdicom builds the header (None: give it every image).

    highdicom checks and maps every source image it is given, which cost more than the rest of
    the header; the frames are encoded by :mod:`seg_frames`, so it needs only the one slice.
    """
    if len(datasets) == 1 or slice_source is None or slice_source.frame_number is not None:
        return None
    return next((ds for ds in datasets if ds.SOPInstanceUID == slice_source.sop_instance_uid), None)


def _reference_sources(seg: pydicom.Dataset, datasets: list[pydicom.Dataset]) -> None:
    """List every source image, as highdicom lists those it is given: Source Image Sequence and the
    Common Instance Reference module (Referenced Series Sequence, one item per series)."""
    by_series: dict[str, list[pydicom.Dataset]] = {}
    for ds in datasets:
        reference = pydicom.Dataset()
        reference.ReferencedSOPClassUID = ds.SOPClassUID
        reference.ReferencedSOPInstanceUID = ds.SOPInstanceUID
        by_series.setdefault(ds.SeriesInstanceUID, []).append(reference)
    seg.SourceImageSequence = [reference for references in by_series.values() for reference in references]
    series_items = []
    for series_uid, references in by_series.items():
        item = pydicom.Dataset()
        item.SeriesInstanceUID = series_uid
        item.ReferencedInstanceSequence = references
        series_items.append(item)
    seg.ReferencedSeriesSequence = series_items


def _sources(reference) -> dict:
    """Slice index -> source image, for the series or for the series rebuilt from SEGs."""
    if hasattr(reference, "slices"):
        return dict(enumerate(reference.slices))
    return reference.slice_sources()


def _slab(segmentation: Segmentation) -> tuple[int, int]:
    """The slices [first, last) holding every labelled voxel (one empty slice when nothing is labelled)."""
    boxes = [b for b in (segmentation.bounding_box(s.number) for s in segmentation.segments) if b is not None]
    if not boxes:
        return 0, 1
    return min(b[0].start for b in boxes), max(b[0].stop for b in boxes)


def _labelmap_slab(segmentation: Segmentation, first: int, last: int) -> np.ndarray:
    """Slices [first, last) as one label-map array (value = segment number) of non-overlapping segments."""
    rows_columns = segmentation.geometry.array_shape[1:]
    segments = segmentation.segments
    pixels = np.zeros((last - first, *rows_columns), dtype=np.uint8 if len(segments) < 256 else np.uint16)
    for segment in segments:
        if segmentation.bounding_box(segment.number) is None:
            continue
        box, values = segmentation.cropped_mask(segment.number)
        pixels[box[0].start - first:box[0].stop - first, box[1], box[2]][values] = segment.number
    return pixels


def _series_number(source: pydicom.Dataset) -> int:
    number = source.get("SeriesNumber")
    return SERIES_NUMBER_OFFSET + int(number) if number not in (None, "") else SERIES_NUMBER_OFFSET
