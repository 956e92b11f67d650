"""The one seam between the review workflow and consensus of SEGs and SRs.

``case consensus`` records a consensus computed from the round's submissions. When the lead
passes a SEG already computed (``--consensus-seg``, e.g. by ``dicom-annotator consensus``) it is
recorded as is; otherwise :func:`compute_consensus_seg` makes it from the submitted SEG files
alone (their grid and source references), with the project's method and threshold, and
measures the annotators' agreement on the way (what ``project status`` reports). The
annotators' SRs are compared too (:func:`compare_srs`: landmarks, boxes, classification
answers) and :func:`write_consensus_sr` writes the consensus SR: beside the consensus SEG (its
segments measured, with the answers most annotators gave), or alone for protocols without
volume structures, whose submissions are SRs alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from ..agreement import AnnotationAgreement
    from ..imaging import PlanarImage, PlanarSeries, ReferenceSeries
    from ..protocols import Protocol


def compute_consensus_seg(inputs: Sequence[Path], output: Path, *, method: str,
                          threshold: float) -> tuple[Path, dict[str, Any]]:
    """Merge the SEG files ``inputs`` into the SEG ``output`` with ``method``: ``output`` and the agreement report."""
    from ..agreement import build_consensus, segmentation_agreement
    from ..seg import read_segs, write_seg

    segmentations = read_segs(inputs)
    names = [segmentation.author or Path(path).name for segmentation, path in zip(segmentations, inputs, strict=True)]
    result = build_consensus(segmentations, names, method=method, threshold=threshold, missing_as_empty=True)
    written = write_seg(result.segmentation, output, content_label="CONSENSUS",
                        series_description=f"SEG {method} consensus of {len(inputs)}")
    report = segmentation_agreement(segmentations, [str(path) for path in inputs])
    return written, report.to_json()


def compare_srs(inputs: Sequence[Path], annotators: Sequence[str], *, threshold: float,
                images: PlanarSeries | PlanarImage | None = None) -> AnnotationAgreement:
    """The annotators' SRs matched: marks, answers, agreement and consensus (see :mod:`..agreement.annotations`);
    marks on 2D images or cine with ``images``, the case's."""
    from ..agreement import compare_annotations, read_annotations

    return compare_annotations([read_annotations(path, images) for path in inputs], annotators, threshold=threshold)


def write_consensus_sr(annotations: AnnotationAgreement, output: Path, *, seg: Path | None,
                       reference: ReferenceSeries | PlanarSeries | PlanarImage,
                       protocol: Protocol | None, creator: str | None, force: bool = False) -> Path:
    """The consensus SR: marks and answers merged from the annotators' SRs and, with the consensus
    ``seg``, each of its segments measured on the series with the answers about it (codes from
    ``protocol`` where it has the structure, else from the annotators' SRs). A protocol with an ejection fraction
    rule adds the consensus outlines' EF, as each annotator's SR has it; outlines that cannot give one (a merged
    outline on two frames) are refused by name, for the reviewer to keep each on one frame."""
    import pydicom

    from ..agreement import consensus_content
    from ..seg import read_seg
    from ..sr import build_sr, ejection_fraction, measure_on_series, write_sr

    segmentation = read_seg(seg, reference) if seg is not None else None
    segments = {d.tracking_id or d.label: d.number for d in segmentation.segments} if segmentation else {}
    marks, labels = consensus_content(annotations, protocol, segments=segments)
    if segmentation is None and not marks and not labels:
        raise InputError(f"{', '.join(annotations.annotators)} hold no marks or classification answers to merge "
                         "(a consensus of SRs merges TID 1500 marks and labels); give the annotators' SRs")
    measured = measure_on_series(segmentation, reference) if segmentation else []
    function = ejection_fraction(measured, protocol) \
        if segmentation is not None and protocol is not None and protocol.ejection_fraction is not None else None
    sr = build_sr(segmentation, pydicom.dcmread(seg, stop_before_pixels=True) if seg is not None else None, measured,
                  labels=labels, marks=marks, creator=creator, protocol_id=protocol.id if protocol else None,
                  reference=reference, series_description=f"SR consensus of {len(annotations.annotators)}",
                  ejection_fraction=function)
    return write_sr(sr, output, force=force)
