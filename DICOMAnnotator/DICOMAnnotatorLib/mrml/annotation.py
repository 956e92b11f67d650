"""One annotator's case in a MRML scene: the protocol applied, the checklist, labels, marks, drafts and submission.

This is the Logic of the DICOMAnnotator Slicer module, without Qt, so that it runs (and is
tested) in the Slicer application and headless on the ``slicer-core`` wheel alike. Like
:mod:`.bridge`, and unlike the rest of the core, it works on MRML nodes; it reaches MRML
only through the bridge and the nodes it is given.

- Volume structures of the protocol become coded segments (never duplicated, never cleared);
  landmark and box structures become markups nodes (point lists and ROIs) named after them.
- Every node the session creates is its own: it lives in the case's subject-hierarchy folder
  (:func:`.hierarchy.case_folder`) and goes when the session closes, so that a second case (or the
  same case reopened) in one scene never counts, writes or resumes on top of another case's marks.
- Classification labels are validated against the protocol's coded values.
- A draft is the work so far as a SEG plus a JSON of labels and marks, written whole; a
  submission is the final SEG (and the JSON beside it), named by case and user. Work may start
  from a model's AI draft (its segments become the protocol's, for the annotator to correct).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path
from ..dicom import Code
from ..errors import InputError
from ..imaging import PlanarSeries, ReferenceSeries, Segmentation, segment_key
from ..protocols import AnnotationKind, Protocol, StructureTemplate, WindowPreset
from ..seg import read_seg, write_seg
from . import bridge
from .planar_views import open_case_images, require_one_image

#: The target of a label about the whole case rather than one structure.
CASE_TARGET = "case"
MARKUPS_CLASS = {AnnotationKind.LANDMARK: "vtkMRMLMarkupsFiducialNode", AnnotationKind.BOX: "vtkMRMLMarkupsROINode"}


@dataclass(frozen=True)
class ChecklistItem:
    """How far one structure of the protocol is: found ``count`` times (segments with voxels, points, boxes)."""

    label: str
    kind: AnnotationKind
    required: bool
    expected: str
    count: int

    @property
    def done(self) -> bool:
        return self.count > 0 or not self.required


@dataclass(frozen=True)
class SubmissionFiles:
    """What a submission or draft wrote: the SEG and the JSON of labels and marks beside it, and, when
    this session wrote them, the segmentation in the SEG (so that the SR is measured without reading
    the SEG back)."""

    seg: Path
    annotations: Path
    segmentation: Segmentation | None = field(default=None, compare=False, repr=False)


class AnnotationSession:
    """The annotator's work on one series with one protocol, held in MRML nodes of ``scene``.

    A series of 2D images or cine loops is shown as :class:`.planar_views.PlanarViews` (one image or frame in
    view, segments painted frame by frame, marks on the image and frame they are placed on); its segments lie on
    its one image or cine, the :attr:`reference` of the SEG.

    :param volume_node, owns_volume: the series' volume and whether it goes with the case
        (:func:`.hierarchy.case_folder`); 2D images and cine make their own nodes.
    :param name: the name of the case's subject-hierarchy folder (default: protocol title and user).
    """

    def __init__(self, scene, series: ReferenceSeries | PlanarSeries, protocol: Protocol, *, user: str,
                 volume_node=None, owns_volume: bool = False, name: str | None = None) -> None:
        self.scene, self.series, self.protocol, self.user = scene, series, protocol, user
        name = name or f"{protocol.title} - {user}"
        if isinstance(series, PlanarSeries) and protocol.segment_structures:
            require_one_image(series, f"The segments of protocol '{protocol.id}'")
        self.folder, self.views = open_case_images(scene, series, name, volume_node, owns_volume=owns_volume)
        #: What the SEG lies on: the series, or its one 2D image or cine.
        self.reference = series.images[0] if isinstance(series, PlanarSeries) and len(series.images) == 1 else series
        self.segmentation_node = self.folder.add(
            scene.AddNewNodeByClass("vtkMRMLSegmentationNode", f"{protocol.title} - {user}"))
        self.segmentation_node.CreateDefaultDisplayNodes()
        if self.views is not None:
            self.views.attach(self.segmentation_node)
            self.views.on_change.append(self._show_view_markups)
        else:
            self.segmentation_node.SetReferenceImageGeometryParameterFromVolumeNode(self.volume_node)
        #: The markups node of each landmark or box structure, by structure label, on the image (and frame) in view.
        self.markups: dict[str, Any] = {}
        #: The markups nodes of every image and frame shown so far, by (image index, frame index).
        self._markups_by_view: dict[tuple[int, int], dict[str, Any]] = {(0, 0): self.markups}
        self.labels: dict[tuple[str, str], Code] = {}

    @property
    def volume_node(self):
        """The volume the user paints on: the series', or the 2D image or cine frame in view."""
        return self.views.volume_node if self.views is not None else self.folder.volume_node

    # ----------------------------------------------------------------- protocol
    def apply_protocol(self) -> list[str]:
        """Create the protocol's coded segments and markups, apply the first window of the series' modality (none on
        colour images, none of a CT preset on another modality: ``Protocol.settings_for``); returns the segment
        IDs."""
        segment_ids = bridge.ensure_segments(self.segmentation_node, self.protocol.segment_descriptions())
        self._add_markups(self.markups)
        if self.window_presets:
            self.apply_window(self.window_presets[0])
        return segment_ids

    @property
    def window_presets(self) -> tuple[WindowPreset, ...]:
        """The protocol's window presets for this series' modality; none on colour images (shown as stored)."""
        if self.series.is_colour:
            return ()
        return self.protocol.settings_for(self.series.modality).window_presets

    def apply_window(self, preset: WindowPreset | str) -> WindowPreset:
        """Set the volume's window/level (every image's on 2D images) to a preset of the protocol for the series'
        modality (by name or object)."""
        if isinstance(preset, str):
            found = [p for p in self.window_presets if p.name == preset]
            if not found:
                raise InputError(f"Protocol '{self.protocol.id}' has no window '{preset}' for "
                                 f"{self.series.modality or 'these'} images; it has "
                                 + (", ".join(repr(p.name) for p in self.window_presets) or "none"))
            preset = found[0]
        for node in self.views.volume_nodes() if self.views is not None else [self.volume_node]:
            display = node.GetScalarVolumeDisplayNode()  # every image of an exam, each cine's frames
            display.SetAutoWindowLevel(0)
            display.SetWindowLevel(preset.width, preset.center)
        return preset

    def segmentation_nodes(self) -> list:
        """The case's segmentation nodes (the one the user paints)."""
        return [self.segmentation_node]

    def markups_node(self, label: str):
        """This case's markups node holding the landmarks or boxes of structure ``label`` (on the image and frame
        in view), or None."""
        return self.markups.get(label)

    def _add_markups(self, markups: dict[str, Any], suffix: str = "") -> None:
        """A markups node for each landmark and box structure missing from ``markups``."""
        for structure in self.protocol.structures:
            if structure.kind in MARKUPS_CLASS and structure.label not in markups:
                node = self.folder.add(self.scene.AddNewNodeByClass(MARKUPS_CLASS[structure.kind],
                                                                    structure.label + suffix))
                node.CreateDefaultDisplayNodes()
                markups[structure.label] = node

    def _show_view_markups(self) -> None:
        """The image or frame in view changed: its marks show, the others' hide (they lie on other pixels)."""
        view = (self.views.image_index, self.views.frame_index)
        self.markups = self._markups_by_view.setdefault(view, {})
        self._add_markups(self.markups, self._view_name(*view))
        for shown, nodes in self._markups_by_view.items():
            for node in nodes.values():
                node.GetDisplayNode().SetVisibility(shown == view)

    def _view_name(self, image: int, frame: int) -> str:
        in_series = f" image {image + 1}" if len(self.views.images) > 1 else ""
        return in_series + (f" frame {frame + 1}" if self.views.images[image].frame_count > 1 else "")

    def close(self) -> None:
        """Remove the case's nodes (its folder) from the scene; the session is not used afterwards."""
        if self.views is not None:
            self.views.close()
        else:
            self.folder.remove()
        self.markups, self._markups_by_view = {}, {}

    # ----------------------------------------------------------------- progress
    def segmentation(self) -> Segmentation:
        """The segments as drawn, on the series grid (every frame of a cine), authored by the user under the
        protocol."""
        if self.views is not None:
            return self.views.segmentation(self.segmentation_node, author=self.user, protocol_id=self.protocol.id)
        return bridge.segmentation_from_nodes(self.segmentation_node, self.volume_node, reference=self.series,
                                              author=self.user, protocol_id=self.protocol.id)

    def _show(self, segmentation: Segmentation) -> None:
        """Put ``segmentation`` (a draft, an AI draft) into the segmentation node, on every frame it covers."""
        if self.views is not None:
            self.views.replace(self.segmentation_node, segmentation)
        else:
            bridge.segmentation_to_node(segmentation, self.scene, self.volume_node, node=self.segmentation_node)

    def checklist(self, segmentation: Segmentation | None = None) -> list[ChecklistItem]:
        """Each structure with how often it is annotated; a required one with count 0 is not done.

        ``segmentation`` is :meth:`segmentation` when the caller has it already (reading the
        segmentation node's layers is the slow part)."""
        segmentation = segmentation or self.segmentation()
        drawn = {segment_key(d): segmentation.voxel_count(d.number) > 0 for d in segmentation.segments}
        items = []
        for structure in self.protocol.structures:
            if structure.kind.is_segment:
                count = int(drawn.get(segment_key(structure.segment_description()), False))
            elif structure.kind in MARKUPS_CLASS:
                count = self._markups_count(structure)
            else:
                count = sum(1 for (_, name) in self.labels if name == structure.label)
            expected = str(structure.expected_count) if structure.expected_count else ""
            items.append(ChecklistItem(structure.label, structure.kind, structure.required, expected, count))
        return items

    def _markups_count(self, structure: StructureTemplate) -> int:
        """Points, or boxes placed (one per image and frame at most), of a structure."""
        nodes = [markups[structure.label] for markups in self._markups_by_view.values() if structure.label in markups]
        if structure.kind is AnnotationKind.BOX:
            return sum(1 for node in nodes if node.GetNumberOfControlPoints() > 0)
        return sum(node.GetNumberOfControlPoints() for node in nodes)

    # ----------------------------------------------------------------- labels and marks
    def set_label(self, target: str, classification: str, value: Code) -> None:
        """Give ``target`` (a structure label, or :data:`CASE_TARGET`) a coded value of a classification."""
        try:
            structure = self.protocol.structure(classification)
        except KeyError as exc:
            raise InputError(exc.args[0]) from None
        if structure.kind is not AnnotationKind.CLASSIFICATION:
            raise InputError(f"'{classification}' is a {structure.kind.value} structure, not a classification")
        targets = structure.applies_to or (CASE_TARGET,)  # without applies_to it is about the whole case
        if target not in targets:
            raise InputError(f"'{classification}' applies to {', '.join(targets)}, not '{target}'")
        if not any((v.value, v.scheme) == (value.value, value.scheme) for v in structure.values):
            raise InputError(f"{value.as_list()} is not a value of '{classification}'; its values are "
                             + "; ".join(v.meaning for v in structure.values))
        self.labels[(target, classification)] = value

    def marks(self) -> list[dict[str, Any]]:
        """Landmarks and boxes in the CLI's marks form: in patient LPS millimetres on a volume, in the pixels of
        their image and frame on 2D images and cine."""
        if self.views is not None:
            return self._planar_marks()
        marks = []
        for structure in self.protocol.structures:
            node = self.markups_node(structure.label) if structure.kind in MARKUPS_CLASS else None
            if node is None or node.GetNumberOfControlPoints() == 0:
                continue
            if structure.kind is AnnotationKind.LANDMARK:
                for n in range(node.GetNumberOfControlPoints()):
                    position = [0.0, 0.0, 0.0]
                    node.GetNthControlPointPositionWorld(n, position)
                    marks.append({"kind": "point", "label": structure.label,
                                  "points_mm": [bridge.lps_point(position)]})
            else:
                marks.append({"kind": "box", "label": structure.label,
                              "points_mm": _box_corners_lps(node, self.series.geometry)})
        return marks

    def _planar_marks(self) -> list[dict[str, Any]]:
        """Marks on 2D images and cine: pixels of the image (and frame) each was placed on (PS3.3 C.18.6.1.1)."""
        marks = []
        for structure in self.protocol.structures:
            if structure.kind not in MARKUPS_CLASS:
                continue
            for (index, frame), nodes in sorted(self._markups_by_view.items()):
                node = nodes.get(structure.label)
                if node is None or node.GetNumberOfControlPoints() == 0:
                    continue
                image = self.views.images[index]
                where = {"label": structure.label, "instance": image.sop_instance_uid,
                         **({"frame": frame + 1} if image.frame_count > 1 else {})}
                if structure.kind is AnnotationKind.LANDMARK:
                    for n in range(node.GetNumberOfControlPoints()):
                        position = [0.0, 0.0, 0.0]
                        node.GetNthControlPointPositionWorld(n, position)
                        marks.append({"kind": "point", **where,
                                      "points": [self.views.pixel_of(bridge.lps_point(position), index)]})
                else:
                    bounds = [0.0] * 6
                    node.GetRASBounds(bounds)
                    corners = np.array([self.views.pixel_of(bridge.lps_point([bounds[a], bounds[b], 0.0]), index)
                                        for a, b in ((0, 2), (1, 3))])
                    low = np.clip(corners.min(axis=0), 0, [image.columns, image.rows])  # a box ends at its image's edge
                    high = np.clip(corners.max(axis=0), 0, [image.columns, image.rows])
                    marks.append({"kind": "box", **where, "points": [low.tolist(), high.tolist()]})
        return marks

    def _restore_planar_marks(self, marks: list[dict[str, Any]]) -> None:
        """Put a draft's marks back on the images and frames they were placed on."""
        uids = [image.sop_instance_uid for image in self.views.images]
        for mark in marks:
            index = uids.index(mark["instance"]) if mark.get("instance") in uids else 0
            view = (index, int(mark.get("frame", 1)) - 1)
            nodes = self._markups_by_view.setdefault(view, {})
            self._add_markups(nodes, self._view_name(*view))
            node = nodes.get(mark["label"])
            corners = [self.views.lps_of(point, index) for point in mark["points"]]
            if node is not None and mark["kind"] == "point":
                node.AddControlPointWorld(*bridge.ras_point(corners[0]))
            elif node is not None and mark["kind"] == "box":
                _set_box_from_corners(node, [corners[0], corners[-1] if len(corners) == 2 else corners[2]],
                                      self.views.images[index].geometry)
        self._show_view_markups()

    # ----------------------------------------------------------------- drafts and submission
    def save_draft(self, folder: str | os.PathLike[str]) -> SubmissionFiles:
        """The work so far, to be resumed later (replaces the previous draft of this case and user)."""
        return self._write(Path(folder), "draft", force=True)

    def submit(self, folder: str | os.PathLike[str]) -> SubmissionFiles:
        """The final SEG and its labels and marks, refused while a required structure is missing."""
        segmentation = self.segmentation()
        missing = [item.label for item in self.checklist(segmentation) if not item.done]
        if missing:
            raise InputError(f"Required structure(s) not annotated yet: {', '.join(missing)}; annotate them, or ask "
                             "the project lead whether the protocol should make them optional")
        return self._write(Path(folder), "submission", force=False, segmentation=segmentation)

    def resume_draft(self, files: SubmissionFiles) -> None:
        """Load a draft's segments into the segmentation node and its labels and marks into the session."""
        if files.seg.exists():  # a protocol of landmarks or boxes only has no SEG
            self._show(read_seg(files.seg, self.reference))
        content = json.loads(files.annotations.read_text(encoding="utf-8"))
        marks = content.get("marks", [])
        for nodes in self._markups_by_view.values():  # the draft replaces the marks, it does not add to them
            for node in nodes.values():
                node.RemoveAllControlPoints()
        if self.views is not None:
            self._restore_planar_marks(marks)
        for mark in marks if self.views is None else ():
            node = self.markups_node(mark["label"])
            if node is not None and mark["kind"] == "point":
                node.AddControlPointWorld(*bridge.ras_point(mark["points_mm"][0]))
            elif node is not None and mark["kind"] == "box":
                _set_box_from_corners(node, mark["points_mm"], self.series.geometry)
        self.labels = {}
        for entry in content.get("labels", []):
            target = entry.get("segment") or (marks[entry["mark"]]["label"] if "mark" in entry else CASE_TARGET)
            self.labels[(target, entry["name"])] = Code(*entry["value"])

    def start_from_draft(self, seg: str | os.PathLike[str]) -> list[str]:
        """Load an AI draft SEG as the starting segmentation; returns the structures it filled.

        Its segments become the protocol's (by code), drawn by the annotator from here on; a probability
        map counts where it is at least 0.5, so the annotator edits what the model predicted.
        """
        drafted = read_seg(seg, self.reference)
        descriptions, cropped = [], {}
        for segment in drafted.segments:
            structure = self.protocol.structure_for_segment(segment)
            if structure is None:
                continue
            box, values = drafted.cropped_mask(segment.number)
            descriptions.append(structure.segment_description())
            if values.size:
                cropped[structure.label_value] = (box, values if values.dtype == bool else values >= 0.5)
        start = Segmentation.from_cropped_masks(self.reference.geometry, descriptions, cropped,
                                                reference=self.reference)
        self._show(start)
        return [d.label for d in descriptions]

    def files_in(self, folder: str | os.PathLike[str], kind: str) -> SubmissionFiles:
        """Where this user's ``kind`` ("draft" or "submission") of this series goes in ``folder``."""
        stem = f"{self.series.series_instance_uid}-{_safe(self.user)}-{kind}"
        return SubmissionFiles(Path(folder) / f"{stem}.dcm", Path(folder) / f"{stem}.json")

    def _write(self, folder: Path, kind: str, *, force: bool,
               segmentation: Segmentation | None = None) -> SubmissionFiles:
        files = self.files_in(folder, kind)
        seg_path, json_path = files.seg, files.annotations
        marks = self.marks()
        content = {
            "protocol": {"id": self.protocol.id, "version": self.protocol.version},
            "user": self.user,
            "labels": [self._sr_label(target, classification, value, marks)
                       for (target, classification), value in self.labels.items()],
            "marks": marks,
        }
        segmentation = segmentation or self.segmentation()
        with atomic_path(json_path, force=force) as temporary:
            if segmentation.segments:  # a protocol of landmarks or boxes only has nothing for a SEG
                write_seg(segmentation, seg_path, force=force, content_label=kind.upper()[:16])
            temporary.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
        return dataclasses.replace(files, segmentation=segmentation if segmentation.segments else None)

    def _sr_label(self, target: str, classification: str, value: Code, marks: list[dict]) -> dict[str, Any]:
        """A label in the form of ``sr export --labels``: about a segment, a mark, or the case."""
        entry: dict[str, Any] = {"name": classification, "value": value.as_list()}
        if target == CASE_TARGET:
            return entry
        structure = self.protocol.structure(target)
        if structure.kind.is_segment:
            return {"segment": target, **entry}
        index = next((n for n, mark in enumerate(marks) if mark["label"] == target), None)
        if index is None:
            raise InputError(f"'{classification}' is given for {target}, which has no mark yet; place it first")
        return {"mark": index, **entry}


def _box_corners_lps(roi_node, geometry) -> list[list[float]]:
    """Two opposite corners of an ROI's bounds, in LPS mm, on the image plane through its centre.

    A box mark is drawn on one image (SCOORD3D polygons are planar), while an ROI drawn in a
    slice view has a thickness: its rectangle is taken on the series' slice nearest its centre.
    """
    bounds = [0.0] * 6
    roi_node.GetRASBounds(bounds)
    corners = np.array([bridge.lps_point([bounds[0], bounds[2], bounds[4]]),
                        bridge.lps_point([bounds[1], bounds[3], bounds[5]])])
    to_index = np.linalg.inv(geometry.affine)
    indices = corners @ to_index[:3, :3].T + to_index[:3, 3]
    indices[:, 2] = np.clip(np.rint(indices[:, 2].mean()), 0, geometry.size[2] - 1)
    return [[float(v) for v in point] for point in geometry.index_to_lps(indices)]


def _set_box_from_corners(roi_node, corners_lps, geometry) -> None:
    """An ROI spanning two opposite corners of a box mark (the inverse of :func:`_box_corners_lps`).

    A box mark lies on one image plane; the ROI gets the thickness of one voxel across it, so that it
    shows in the slice view and gives the same mark again.
    """
    corners = np.array([bridge.ras_point(point) for point in corners_lps], dtype=float)
    roi_node.SetCenterWorld(*corners.mean(axis=0))
    roi_node.SetSizeWorld(*np.maximum(np.abs(corners[1] - corners[0]), min(geometry.spacing)))


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
