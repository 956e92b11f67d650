"""The one seam between the review workflow and SEG consensus.

``case consensus`` records a consensus SEG computed from the round's submissions. When the
lead passes one already computed (``--consensus-seg``, e.g. by ``dicom-annotator consensus``)
it is recorded as is; otherwise :func:`compute_consensus_seg` makes it from the submitted SEG
files alone (their grid and source references), with the project's method and threshold, and
measures the annotators' agreement on the way (what ``project status`` reports).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def compute_consensus_seg(inputs: Sequence[Path], output: Path, *, method: str,
                          threshold: float) -> tuple[Path, dict[str, Any]]:
    """Merge the SEG files ``inputs`` into the SEG ``output`` with ``method``: ``output`` and the agreement report."""
    from ..agreement import segmentation_agreement
    from ..consensus import build_consensus
    from ..seg_reader import read_segs
    from ..seg_writer import write_seg

    segmentations = read_segs(inputs)
    names = [segmentation.author or Path(path).name for segmentation, path in zip(segmentations, inputs, strict=True)]
    result = build_consensus(segmentations, names, method=method, threshold=threshold, missing_as_empty=True)
    written = write_seg(result.segmentation, output, content_label="CONSENSUS",
                        series_description=f"SEG {method} consensus of {len(inputs)}")
    report = segmentation_agreement(segmentations, [str(path) for path in inputs])
    return written, report.to_json()
