"""A reviewer's case of landmarks, boxes and labels in a MRML scene: each annotator's SR as locked markups.

The counterpart of :mod:`.review` for protocols without volume structures (vertebral
fracture grading, mammography boxes), whose submissions are SRs alone. Each annotator's marks
become locked markups nodes (points in one point list, each box a closed curve), the agreement
table lists every pair of annotators per marked structure (distance or IoU) and every disputed
answer, and the consensus (marks at the annotators' mean position, answers by majority) is
what the core records from the submitted SR files (:func:`review.record_consensus`); it is
shown here, not edited. On 2D images and cine (a mammography exam's views) each mark is shown on the image and
frame it lies on (:class:`.planar_views.PlanarViews`), and only while that image and frame are in view.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..agreement import (
    AnnotationAgreement,
    ReportedMark,
    compare_annotations,
    consensus_content,
    polygon_vertices,
    read_annotations,
)
from ..errors import InputError
from ..imaging import PlanarSeries, ReferenceSeries
from ..review import write_consensus_sr
from . import bridge
from .planar_views import open_case_images


class MarksReviewSession:
    """The SR submissions of one case, loaded for comparison; the same interface as :class:`ReviewSession`."""

    #: The consensus is computed from the submitted SRs and recorded as it is.
    editable_consensus = False

    def __init__(self, scene, series: ReferenceSeries | PlanarSeries,
                 submissions: Sequence[tuple[str, str | os.PathLike[str]]], *, reviewer: str, protocol,
                 threshold: float = 0.5, volume_node=None, owns_volume: bool = False, name: str | None = None) -> None:
        if not submissions:
            raise InputError(f"No submission to review for {series.description}")
        self.scene, self.series, self.reviewer, self.protocol = scene, series, reviewer, protocol
        self.names = [name for name, _ in submissions]
        self.paths = [Path(path) for _, path in submissions]
        self.images = series if isinstance(series, PlanarSeries) else None
        self.reports = [read_annotations(path, self.images) for path in self.paths]
        self.threshold = threshold
        self.folder, self.views = open_case_images(scene, series, name or f"Review - {reviewer}", volume_node,
                                                   owns_volume=owns_volume)
        #: The image and frame (indexes) each node of a 2D mark lies on, by node ID.
        self._view_of: dict[str, tuple[int, int]] = {}
        self.shown: str | None = None
        self.nodes = {name: self._marks_nodes(f"Submission: {name}", report.marks)
                      for name, report in zip(self.names, self.reports, strict=True)}
        self.consensus_node = None
        self.consensus_method: str | None = None
        if self.views is not None:
            self.views.on_change.append(self._show)
            self._show()

    @property
    def volume_node(self):
        """The volume the marks are shown on: the series', or the 2D image or cine frame in view."""
        return self.views.volume_node if self.views is not None else self.folder.volume_node

    # ----------------------------------------------------------------- compare
    def show_only(self, name: str | None) -> None:
        """Show one annotator's marks (or, with None, everybody's) and hide the others."""
        if name is not None and name not in self.nodes:
            raise InputError(f"No submission by '{name}'; the case has {', '.join(self.names)}")
        self.shown = name
        self._show()

    def _show(self) -> None:
        """Each annotator's marks as chosen (:meth:`show_only`); a 2D mark only while its image and frame are in
        view."""
        view = (self.views.image_index, self.views.frame_index) if self.views is not None else None
        for other, nodes in [*self.nodes.items(), (None, self.consensus_node or [])]:
            for node in nodes:
                in_view = self._view_of.get(node.GetID(), view) == view
                node.GetDisplayNode().SetVisibility(in_view and (self.shown is None or other in (None, self.shown)))

    def segmentation_nodes(self) -> list:
        """None: the case's marks are markups nodes, which 3D views show as they are."""
        return []

    def agreement(self) -> AnnotationAgreement:
        return compare_annotations(self.reports, self.names, threshold=self.threshold)

    def agreement_table(self) -> list[list[str]]:
        """Header, then one row per marked structure and pair (mm apart, or box IoU), then each answer given."""
        report = self.agreement().to_json()
        rows = [["Structure / question", "Annotator A", "Annotator B", "Agreement"]]
        for mark in report["marks"]:
            for pair in mark["pairs"]:
                figure = f"IoU {pair['iou']:.2f}" if "iou" in pair else f"{pair['distance_mm']:.1f} mm apart"
                rows.append([mark["label"], self.names[pair["a"]], self.names[pair["b"]], figure])
            missing = [name for name, marked in zip(self.names, mark["marked_by"], strict=True) if not marked]
            if missing:
                rows.append([mark["label"], ", ".join(missing), "", "not marked"])
        for label in report["labels"]:
            answers = [a[2] if a else "-" for a in label["answers"]]
            verdict = "agree" if len(set(answers)) == 1 else "disagree"
            rows.append([f"{label['target']}: {label['question'][2]}", " / ".join(self.names), " / ".join(answers),
                         verdict])
        return rows

    # ----------------------------------------------------------------- consensus
    def build_consensus(self, method: str = "majority", threshold: float | None = None) -> AnnotationAgreement:
        """Show the consensus marks (mean positions of the marks made by enough annotators)."""
        if threshold is not None:
            self.threshold = threshold
        agreement = self.agreement()
        marks, _ = consensus_content(agreement, self.protocol)
        self._remove_consensus()
        self.consensus_node = self._marks_nodes("Consensus", [self._reported(mark) for mark in marks])
        self.consensus_method = "majority"
        self._show()
        return agreement

    def load_consensus(self, path: str | os.PathLike[str]) -> None:
        """Show a consensus SR recorded earlier (e.g. before the previous review tier)."""
        self._remove_consensus()
        self.consensus_node = self._marks_nodes("Consensus (recorded)", read_annotations(path, self.images).marks)
        self.consensus_method = "recorded"
        self._show()

    def export(self, folder: str | os.PathLike[str], formats: Sequence[str] = ("sr",), *,
               force: bool = False) -> dict[str, Path]:
        """Write the consensus SR as ``consensus-sr.dcm`` in ``folder``: the case's DICOM result (asked for as
        ``seg`` or ``sr``); these cases have nothing for NIfTI or surface models."""
        unknown = sorted(set(formats) - {"seg", "sr"})
        if unknown:
            raise InputError(f"Protocol '{self.protocol.id}' has landmarks, boxes and labels only: its consensus is "
                             f"an SR; {', '.join(unknown)} cannot be exported")
        return {"sr": write_consensus_sr(self.agreement(), Path(folder) / "consensus-sr.dcm", seg=None,
                                         reference=self.series, protocol=self.protocol, creator=self.reviewer,
                                         force=force)}

    def close(self) -> None:
        """Remove the case's nodes (its folder) from the scene; the session is not used afterwards."""
        if self.views is not None:
            self.views.close()
        else:
            self.folder.remove()
        self.nodes, self.consensus_node = {}, None

    # ----------------------------------------------------------------- nodes
    def _positions(self, mark: ReportedMark):
        """A mark's points (a polygon's distinct vertices) in patient LPS, or on the plane of its image's frame."""
        if mark.image is None:
            return polygon_vertices(mark.points_mm)
        return [self.views.lps_of(pixel, self._image_index(mark)) for pixel in polygon_vertices(mark.pixels())]

    def _image_index(self, mark: ReportedMark) -> int:
        return [image.sop_instance_uid for image in self.views.images].index(mark.image.sop_instance_uid)

    def _reported(self, mark) -> ReportedMark:
        """A consensus mark (as the SR writer takes it) as shown: in patient LPS, or in the pixels of its image."""
        if mark.points is None:
            return ReportedMark(mark.label, mark.graphic_type, mark.points_mm, mark.finding, None)
        image = next(i for i in self.images.images if i.sop_instance_uid == mark.source.sop_instance_uid)
        return ReportedMark(mark.label, mark.graphic_type, np.column_stack([mark.points, np.zeros(len(mark.points))]),
                            mark.finding, None, image=image, frame=mark.source.frame_number)

    def _remove_consensus(self) -> None:
        for node in self.consensus_node or ():
            self.folder.remove_node(node)

    def _marks_nodes(self, name: str, marks: Sequence[ReportedMark]) -> list:
        """Locked markups of ``marks``: one point list for the points (a point list per 2D point), a closed curve for
        each box or polygon; a 2D mark's node notes the image and frame it lies on."""
        nodes = []
        points = [mark for mark in marks if mark.graphic_type == "POINT" and mark.image is None]
        if points:
            node = self.scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", name)
            for mark in points:
                node.AddControlPointWorld(*bridge.ras_point(mark.points_mm[0]), mark.label)
            nodes.append(node)
        for mark in marks:
            if mark.graphic_type == "POINT" and mark.image is None:
                continue
            point = mark.graphic_type == "POINT"
            node = self.scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode" if point else
                                                "vtkMRMLMarkupsClosedCurveNode", f"{name}: {mark.label}")
            for corner in self._positions(mark):
                node.AddControlPointWorld(*bridge.ras_point(corner), mark.label)
            if mark.image is not None:
                self._view_of[node.GetID()] = (self._image_index(mark), (mark.frame or 1) - 1)
            nodes.append(node)
        for node in nodes:
            self.folder.add(node)
            node.CreateDefaultDisplayNodes()
            node.SetLocked(1)
        return nodes
