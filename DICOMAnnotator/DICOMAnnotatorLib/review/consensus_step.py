"""The one seam between the review workflow and SEG consensus.

``case consensus`` records a consensus SEG computed from the round's submissions. When the
lead passes one already computed (``--consensus-seg``, e.g. by ``dicom-annotator consensus``)
it is recorded as is; otherwise :func:`compute_consensus_seg` is asked to make it. That
needs the DICOM SEG reader, which is not in this version yet: wire it here, and only here
(read each SEG into a :class:`~DICOMAnnotatorLib.segmentation.Segmentation`, call
:func:`DICOMAnnotatorLib.consensus.build_consensus`, write the result as a SEG to ``output``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .errors import ReviewError


class ConsensusUnavailableError(ReviewError):
    """Consensus cannot be computed inside the review workflow in this version."""


def compute_consensus_seg(inputs: Sequence[Path], output: Path, *, method: str, threshold: float) -> Path:
    """Merge the SEG files ``inputs`` into ``output`` with ``method``; returns ``output``."""
    raise ConsensusUnavailableError(
        f"Computing the {method} consensus of {len(inputs)} submissions inside `case consensus` needs the DICOM SEG "
        f"reader, which this version does not have; compute it with `dicom-annotator consensus SEG... -o {output} "
        f"--method {method} --threshold {threshold:g}` and record it with --consensus-seg {output}")
