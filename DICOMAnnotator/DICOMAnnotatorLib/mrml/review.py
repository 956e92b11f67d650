"""A reviewer's case in a MRML scene: every submission as its own node, agreement, an editable consensus, exports.

This is the Logic of the DICOMAnnotatorReview Slicer module without Qt (see
:mod:`.annotation`). Agreement is computed from the submitted SEG files, which are what was
signed off, not from nodes a reviewer may have touched; the consensus becomes a new segmentation
node that the reviewer edits in the Segment Editor before it is written as the case's result.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..agreement import AgreementReport, ConsensusResult, build_consensus, segmentation_agreement
from ..errors import InputError
from ..export import export_models, export_nifti
from ..imaging import PlanarSeries, Provenance, ReferenceSeries, Segmentation
from ..seg import read_segs, write_seg
from . import bridge
from .planar_views import open_case_images, require_one_image


@dataclass(frozen=True)
class AgreementRow:
    """One line of the reviewer's agreement table: a segment and a pair of annotators."""

    segment: str
    annotator_a: str
    annotator_b: str
    dice: float
    hd95_mm: float | None


class ReviewSession:
    """The submissions of one case, loaded for comparison, consensus and sign-off.

    On a 2D image or cine (a :class:`PlanarSeries` of one image) every submission and the consensus are shown on
    the frame in view (:class:`.planar_views.PlanarViews`); the consensus is edited frame by frame.
    """

    #: The consensus is a segmentation node the reviewer edits in the Segment Editor before recording it.
    editable_consensus = True

    def __init__(self, scene, series: ReferenceSeries | PlanarSeries,
                 submissions: Sequence[tuple[str, str | os.PathLike[str]]], *,
                 reviewer: str, volume_node=None, owns_volume: bool = False, name: str | None = None) -> None:
        if not submissions:
            raise InputError(f"No submission to review for {series.description}")
        self.scene, self.series, self.reviewer = scene, series, reviewer
        self.names = [name for name, _ in submissions]
        self.paths = [Path(path) for _, path in submissions]
        name = name or f"Review - {reviewer}"
        if isinstance(series, PlanarSeries):
            require_one_image(series, "The submitted segments")
        #: What the SEGs lie on: the series, or its one 2D image or cine.
        self.reference = series.images[0] if isinstance(series, PlanarSeries) else series
        self.segmentations = read_segs(self.paths, self.reference)
        self.folder, self.views = open_case_images(scene, series, name, volume_node, owns_volume=owns_volume)
        self.nodes = {name: self._segmentation_node(segmentation, f"Submission: {name}", editable=False)
                      for name, segmentation in zip(self.names, self.segmentations, strict=True)}
        self.consensus_node = None
        self.consensus_result: ConsensusResult | None = None  # when built in this session
        self.consensus_method: str | None = None

    @property
    def volume_node(self):
        """The volume the segmentations are shown on: the series', or the 2D image or cine frame in view."""
        return self.views.volume_node if self.views is not None else self.folder.volume_node

    def _segmentation_node(self, segmentation: Segmentation, name: str, *, editable: bool):
        """A new segmentation node of the case showing ``segmentation`` (on the frame in view of a cine)."""
        if self.views is None:
            return self.folder.add(bridge.segmentation_to_node(segmentation, self.scene, self.volume_node, name=name))
        node = self.folder.add(self.scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name))
        node.CreateDefaultDisplayNodes()
        return self.views.attach(node, segmentation, editable=editable)

    # ----------------------------------------------------------------- compare
    def show_only(self, name: str | None) -> None:
        """Show one submission (or, with None, all of them) and hide the others."""
        if name is not None and name not in self.nodes:
            raise InputError(f"No submission by '{name}'; the case has {', '.join(self.names)}")
        for other, node in self.nodes.items():
            node.GetDisplayNode().SetVisibility(name is None or other == name)

    def segmentation_nodes(self) -> list:
        """The case's segmentation nodes: each submission's, and the consensus once there is one."""
        return [*self.nodes.values(), *([self.consensus_node] if self.consensus_node is not None else [])]

    def agreement(self) -> AgreementReport:
        """Pairwise agreement of the submissions (and against the consensus once there is one)."""
        reference = self.consensus() if self.consensus_node is not None else None
        return segmentation_agreement(self.segmentations, self.names, reference=reference)

    def agreement_rows(self) -> list[AgreementRow]:
        """The agreement report flattened for a table widget."""
        rows = []
        for segment in self.agreement().segments:
            for pair in segment.pairs:
                rows.append(AgreementRow(segment.matched.description.label, self.names[pair.a], self.names[pair.b],
                                         pair.metrics.dice, pair.metrics.hd95_mm))
        return rows

    def agreement_table(self) -> list[list[str]]:
        """Header, then one row per segment and pair of annotators (what the module's table shows)."""
        rows = [["Segment", "Annotator A", "Annotator B", "Dice", "HD95 (mm)"]]
        for row in self.agreement_rows():
            rows.append([row.segment, row.annotator_a, row.annotator_b, f"{row.dice:.3f}",
                         "" if row.hd95_mm is None else f"{row.hd95_mm:.2f}"])
        return rows

    # ----------------------------------------------------------------- consensus
    def build_consensus(self, method: str = "staple", threshold: float = 0.5) -> ConsensusResult:
        """Merge the submissions into a new, editable segmentation node (replacing an earlier consensus)."""
        result = build_consensus(self.segmentations, self.names, method=method, threshold=threshold,
                                 missing_as_empty=True, author=self.reviewer)
        self._show_consensus(result.segmentation, method)
        self.consensus_result = result
        return result

    def load_consensus(self, path: str | os.PathLike[str]) -> None:
        """Show a consensus recorded earlier (e.g. by the previous review tier) as the editable consensus node."""
        recorded = read_segs([path], self.reference)[0]
        self._show_consensus(recorded, "recorded")

    def _show_consensus(self, segmentation: Segmentation, method: str) -> None:
        if self.consensus_node is not None:
            if self.views is not None:
                self.views.detach(self.consensus_node)
            self.folder.remove_node(self.consensus_node)
        self.consensus_node = self._segmentation_node(segmentation, f"Consensus ({method})", editable=True)
        self.consensus_method = method

    def close(self) -> None:
        """Remove the case's nodes (its folder) from the scene; the session is not used afterwards."""
        if self.views is not None:
            self.views.close()
        else:
            self.folder.remove()
        self.nodes, self.consensus_node = {}, None

    def consensus(self) -> Segmentation:
        """The consensus as the reviewer left it in its node, with the submissions as provenance."""
        if self.consensus_node is None:
            raise InputError("Build the consensus first")
        if self.views is not None:
            edited = self.views.segmentation(self.consensus_node, author=self.reviewer)
        else:
            edited = bridge.segmentation_from_nodes(self.consensus_node, self.volume_node, reference=self.series,
                                                    author=self.reviewer)
        return edited.with_provenance(Provenance(derived_from=tuple(str(p) for p in self.paths),
                                                 method=f"{self.consensus_method} consensus, reviewed by "
                                                        f"{self.reviewer}"))

    # ----------------------------------------------------------------- results
    def export(self, folder: str | os.PathLike[str], formats: Sequence[str] = ("seg",), *,
               force: bool = False) -> dict[str, Path]:
        """Write the reviewed consensus as ``consensus.dcm`` (SEG), ``nifti/`` and ``models/`` in ``folder``."""
        unknown = sorted(set(formats) - {"seg", "nifti", "models"})
        if unknown:
            raise InputError(f"Unknown export format(s) {unknown}; use seg, nifti, models")
        segmentation, folder = self.consensus(), Path(folder)
        written: dict[str, Path] = {}
        if "seg" in formats:
            written["seg"] = write_seg(segmentation, folder / "consensus.dcm", force=force, content_label="CONSENSUS",
                                       series_description=f"SEG consensus reviewed by {self.reviewer}")
        if "nifti" in formats:
            written["nifti"] = export_nifti(segmentation, folder / "nifti", force=force, source="reviewed consensus")
        if "models" in formats:
            export_models(segmentation, folder / "models", force=force)
            written["models"] = folder / "models"
        return written
