"""Segment measurements, classification labels and marks as a DICOM SR TID 1500 Measurement Report.

A Comprehensive 3D SR (SCOORD3D needs it), built with pydicom on the SEG writer's pattern:
:mod:`.document` makes the document's modules (patient and study from the source through
``source_attributes``, the evidence), :mod:`.templates` the content tree (TID 1500, its
measurement groups, observer context and Image Library) and :mod:`.content` encodes its items
to bytes, which :func:`..dicom.save_part10` copies into the file. highdicom's TID 1500
constructor deep-copied the tree and walked it for evidence (most of three seconds for ten
segments on a 300-slice CT); tests hold the result equal to what highdicom builds for the same
content, item by item, and read it back with highdicom, dcmqi's tid1500reader and dcmjs.

- one TID 1411 Volumetric ROI group per segment, referencing the SEG instance and segment
  number (Referenced Segment) and the source images the segment lies on; its tracking
  identifier and UID are the SEG's for that segment when the SEG has them, so the SR and the
  SEG track the same finding; finding type and category are the segment's property type and
  category, the finding site its anatomic region (a laterality modifier becomes the site's
  laterality, any other modifier its topographical modifier);
- measurements with UCUM units: Volume (SCT 118565006) in ``ml``, Diameter (SCT 81827009)
  with derivation Maximum in ``mm``, and, on CT, Attenuation Coefficient (DCM 112031) in
  ``[hnsf'U]`` with derivations Mean, Minimum, Maximum and Standard Deviation (MR: MR signal
  intensity in arbitrary units; other modalities and colour images: no intensity statistics) and, for a
  segment of a PET/CT measured on the PET (``pet suv --sr``), SUV (CID 7180: SUVbw, SUVlbm(Janma) or SUVbsa)
  with derivations Maximum, Mean and Peak Value Within ROI in ``g/ml{SUVbw}`` (CID 7181), Metabolic Volume
  in ``ml`` and Total Lesion Glycolysis in ``g``. Definitions are in :mod:`.measurements`;
- where the protocol names an ejection fraction rule (``sr export --protocol``, e.g. the echocardiography one), the
  left ventricle's end-diastolic and end-systolic volumes and ejection fraction by the protocol's method
  (:mod:`.ventricular_function`) in a group of their own, coded as PS3.16's echocardiography templates code them;
- classification labels as qualitative evaluations of their segment's or mark's group
  (case labels in a TID 1501 group tracked as "Case");
- marks as TID 1410 Planar ROI groups with an SCOORD3D Image Region on the series' frame of
  reference;
- an Image Library of the source instances (one entry per instance, multi-frame ones too);
- the observer is the annotator (the SEG's content creator unless another is given) and this
  software as the device.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import pydicom

from ..atomic import atomic_path
from ..dicom import save_part10
from ..errors import SegmentationError
from ..imaging import ReferenceSeries, Segmentation
from .content import ContentEncoder
from .document import SrSeries, sr_document
from .labels import ClassificationLabel, read_labels
from .marks import Mark, read_marks
from .measurements import SegmentMeasurements, measure_on_series
from .templates import IMAGING_MEASUREMENT_REPORT, MODEL_NAME, MeasurementReport
from .ventricular_function import EjectionFraction, ejection_fraction

log = logging.getLogger(__name__)

#: SR series get the source series number plus this (SEG series get plus 1000), so they sort beside it.
SR_SERIES_NUMBER_OFFSET = 2000


def export_sr(
    seg_path: str | os.PathLike[str] | None,
    series: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    series_uid: str | None = None,
    protocol: str | os.PathLike[str] | None = None,
    labels_path: str | os.PathLike[str] | None = None,
    marks_path: str | os.PathLike[str] | None = None,
    creator: str | None = None,
    force: bool = False,
) -> pydicom.Dataset:
    """``sr export``: measure every segment of a SEG on its series (a volume, or a 2D image or cine) with the
    marks and labels given, and write the report to ``output``; without a SEG, the marks and labels alone. A
    protocol with an ejection fraction rule adds the EF of its two segments (refused, naming the segment, when
    they cannot give one)."""
    from ..atomic import check_output
    from ..dicom import read_header
    from ..imaging import PlanarSeries, open_images
    from ..protocols import load_protocol
    from ..seg import read_seg

    check_output(output, force=force)  # fail before the slow part
    if seg_path is None and marks_path is None and labels_path is None:
        raise SegmentationError("Give a SEG, --marks or --labels: the report would hold nothing")
    loaded = load_protocol(protocol) if protocol is not None else None
    reference = open_images(series, series_uid=series_uid)
    segmentation = seg_header = None
    if seg_path is not None:
        if isinstance(reference, PlanarSeries):
            reference = reference.single_image("a SEG")
        segmentation = read_seg(seg_path, reference)
        seg_header = read_header(seg_path)  # its per-frame groups stay unparsed: the SR names the SEG instance
    marks = read_marks(marks_path, reference, loaded) if marks_path is not None else []
    segments = segmentation.segments if segmentation is not None else []
    labels = read_labels(labels_path, segments, marks, loaded) if labels_path is not None else []
    measured = measure_on_series(segmentation, reference) if segmentation is not None else []
    function = ejection_fraction(measured, loaded) \
        if segmentation is not None and loaded is not None and loaded.ejection_fraction is not None else None
    protocol_id = loaded.id if loaded is not None else segmentation.protocol_id if segmentation is not None else None
    sr = build_sr(segmentation, seg_header, measured, labels=labels, marks=marks, creator=creator,
                  protocol_id=protocol_id, reference=reference, ejection_fraction=function)
    write_sr(sr, output, force=force)
    return sr


def build_sr(
    segmentation: Segmentation | None,
    seg: pydicom.Dataset | None,
    measurements: Sequence[SegmentMeasurements],
    *,
    labels: Sequence[ClassificationLabel] = (),
    marks: Sequence[Mark] = (),
    creator: str | None = None,
    protocol_id: str | None = None,
    series_number: int | None = None,
    series_description: str | None = None,
    reference: ReferenceSeries | None = None,
    ejection_fraction: EjectionFraction | None = None,
    measured_series: Sequence[ReferenceSeries] = (),
) -> pydicom.Dataset:
    """The SR dataset (not yet written) for ``segmentation`` read from the SEG ``seg`` on its series, with the
    ejection fraction of its end-diastolic and end-systolic segments when given. ``measured_series`` are other
    series the segments were measured on (the PET of a PET/CT): the Image Library and the evidence list them.

    Without a segmentation (``segmentation`` and ``seg`` None: protocols of landmarks, boxes and
    labels only) the report holds the marks and labels on ``reference``.
    """
    reference = segmentation.reference if segmentation is not None else reference
    if reference is None:
        raise SegmentationError("The segmentation has no reference series; the SR must reference the source images")
    source = reference.datasets[0]
    author = creator or (segmentation.author if segmentation is not None else None)
    encoder = ContentEncoder(source.get("SpecificCharacterSet") or None)
    report = MeasurementReport(encoder, reference, measured_series)
    content = report.content_items(segmentation, seg, measurements, labels, marks, author, ejection_fraction)
    description = series_description or " ".join(part for part in ("SR", protocol_id, author) if part)
    number = series_number if series_number is not None \
        else SR_SERIES_NUMBER_OFFSET + int(source.get("SeriesNumber") or 0)
    evidence = [*reference.datasets, *(ds for series in measured_series for ds in series.datasets),
                *([seg] if seg is not None else [])]
    return sr_document(source, evidence, IMAGING_MEASUREMENT_REPORT, "1500", content,
                       SrSeries(number, description, MODEL_NAME))


def write_sr(sr: pydicom.Dataset, path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Write an SR dataset to ``path`` (temporary name, then rename)."""
    with atomic_path(path, force=force) as temporary:
        save_part10(sr, temporary)
    log.info("Wrote %s: TID 1500 Measurement Report", path)
    return Path(path)
