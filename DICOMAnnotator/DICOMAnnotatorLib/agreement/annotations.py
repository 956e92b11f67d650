"""Agreement and consensus of what annotators reported in their SRs: landmarks, boxes, classification labels.

Segment masks are compared voxel by voxel (:mod:`agreement`); the rest of an annotation lives
in each annotator's TID 1500 SR, and is compared here:

- marks (SCOORD3D points, boxes and other regions) are matched across annotators by their
  tracking identifier (the protocol structure's label, e.g. "L1" or "Mass") and, when an
  annotator marked one structure several times, by nearness (points) or overlap (boxes);
  each pair of matched marks gets its distance in mm (points) or its in-plane IoU (boxes);
  marks on 2D images and cine (SCOORD, in pixels) are read with the images they lie on, match
  only marks on the same image and frame, and are measured in mm on the image's calibration
  (in pixels where it has none);
- classification answers are matched by target (the matched mark, the segment's tracking
  identifier, or the case) and question; each target and question is one rated subject, and
  the case's answers give the percent agreement and, over its subjects, Krippendorff's alpha
  and (when every subject was answered by the same annotators) Fleiss' kappa. A project pools
  the subjects of all its cases (:func:`pooled_label_agreement`), which is where kappa means
  something;
- the consensus keeps each mark that at least ``threshold`` of the annotators made, at the mean
  of their positions (boxes: the mean of their in-plane extents), and each answer that more
  than half of the annotators who answered gave.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..dicom import Code
from ..imaging import PlanarImage, PlanarSeries
from ..sr import ClassificationLabel, Mark, sr_summary
from .raters import fleiss_kappa, krippendorff_alpha, landmark_distance_mm

if TYPE_CHECKING:  # pragma: no cover
    from ..protocols import Protocol

#: Two points of one structure marked by two annotators are the same mark when closer than this (mm).
SAME_POINT_MM = 30.0
#: Two boxes lie in one plane when their planes are closer than this (mm).
PLANE_TOLERANCE_MM = 1.0
CASE_TARGET = "case"


@dataclass
class ReportedMark:
    """One region of an annotator's SR: its structure label, graphic type and points (LPS mm).

    A mark on a 2D image or cine names its ``image`` and ``frame`` (1-based; None on a single-frame image), and
    its points are in the image's plane: (column, row) times ``scale``, the image's mm per column and row there
    (1 where the image states no calibration), and 0.
    """

    label: str
    graphic_type: str
    points_mm: np.ndarray
    finding: Code | None
    tracking_uid: str | None
    image: PlanarImage | None = None
    frame: int | None = None
    scale: tuple[float, float] = (1.0, 1.0)

    @property
    def is_box(self) -> bool:
        """A rectangle: a POLYGON of four corners, or on a 2D image (SCOORD has no polygon) a closed POLYLINE."""
        vertices = polygon_vertices(self.points_mm)
        shape = "POLYGON" if self.image is None else "POLYLINE"
        closed = self.image is None or np.allclose(self.points_mm[0], self.points_mm[-1])
        return self.graphic_type == shape and closed and len(vertices) == 4 and _is_rectangle(self.points_mm)

    @property
    def view(self) -> tuple[str, int | None] | None:
        """The image (SOP Instance UID) and frame a 2D mark lies on; None for a mark in patient coordinates."""
        return None if self.image is None else (self.image.sop_instance_uid, self.frame)

    def pixels(self) -> np.ndarray:
        """A 2D mark's points as (column, row) pixel coordinates of its image."""
        return self.points_mm[:, :2] / np.asarray(self.scale)


@dataclass
class ReportedAnnotations:
    """What one annotator's SR holds: marks, and answers keyed by (tracking UID or label or case, question)."""

    marks: list[ReportedMark]
    answers: dict[tuple[str, Code], Code]  # (target key, question) -> answer


@dataclass
class MatchedMark:
    """Marks of one structure that the annotators placed at the same place (None: that annotator did not)."""

    label: str
    marks: list[ReportedMark | None]
    consensus_points_mm: np.ndarray | None = None

    @property
    def kind(self) -> str:
        first = next(m for m in self.marks if m is not None)
        if first.is_box:
            return "box"
        if first.image is not None and first.graphic_type == "POLYLINE" and np.allclose(first.points_mm[0],
                                                                                         first.points_mm[-1]):
            return "polygon"  # SCOORD writes a closed polygon as a closed polyline
        return {"POINT": "point", "POLYLINE": "polyline", "ELLIPSE": "ellipse"}.get(first.graphic_type, "polygon")


@dataclass
class AnnotationAgreement:
    """The marks matched across annotators, every rated subject, and the consensus."""

    annotators: list[str]
    marks: list[MatchedMark]
    subjects: list[tuple[str, Code, list[Code | None]]]  # (target, question, answer per annotator)
    threshold: float
    consensus_answers: dict[tuple[str, Code], Code] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The report recorded with the case's consensus (the ``annotations`` part of its agreement)."""
        return {
            "annotators": self.annotators,
            "threshold": self.threshold,  # share of the annotators a mark needs to be in the consensus
            "marks": [_mark_json(mark) for mark in self.marks],
            "labels": [{"target": target, "question": question.as_list(),
                        "answers": [a.as_list() if a is not None else None for a in answers],
                        "consensus": (self.consensus_answers[(target, question)].as_list()
                                      if (target, question) in self.consensus_answers else None)}
                       for target, question, answers in self.subjects],
            "label_agreement": label_agreement(
                [(question, answers) for _, question, answers in self.subjects]),
        }


def read_annotations(path: str | os.PathLike[str],
                     images: PlanarSeries | PlanarImage | None = None) -> ReportedAnnotations:
    """The marks and answers of one TID 1500 SR (any producer's): regions in patient mm, and with ``images`` (the
    2D images or cine it annotates) the regions on them."""
    summary = sr_summary(path)
    on = {image.sop_instance_uid: image for image in (
        images.images if isinstance(images, PlanarSeries) else [images] if images is not None else [])}
    marks, keys = [], {}
    for region in summary["regions"]:
        label = region.get("tracking_id") or (region["finding"][2] if region.get("finding") else "mark")
        if "points_mm" in region:
            mark = ReportedMark(label, region["graphic_type"], np.asarray(region["points_mm"], dtype=float),
                                _code(region.get("finding")), region.get("tracking_uid"))
        elif region.get("instance") in on:
            mark = _planar_mark(label, region, on[region["instance"]])
        else:  # on an image not given
            continue
        marks.append(mark)
        if region.get("tracking_uid"):
            keys[region["tracking_uid"]] = marks[-1]
    answers: dict[tuple[str, Code], Code] = {}
    for label in summary["labels"]:
        uid, tracking_id = label.get("tracking_uid"), label.get("tracking_id")
        if uid in keys:
            target = uid  # resolved to the matched mark later
        elif tracking_id and tracking_id.casefold() != CASE_TARGET:
            target = tracking_id
        else:
            target = CASE_TARGET
        question, answer = _code(label["name"]), _code(label["value"])
        if question is not None and answer is not None:
            answers[(target, question)] = answer
    return ReportedAnnotations(marks, answers)


def _planar_mark(label: str, region: dict[str, Any], image: PlanarImage) -> ReportedMark:
    pixels = np.asarray(region["points"], dtype=float)
    scale = image.calibration.spacing_at(pixels) or (1.0, 1.0)
    points = np.column_stack([pixels * np.asarray(scale), np.zeros(len(pixels))])
    return ReportedMark(label, region["graphic_type"], points, _code(region.get("finding")), region.get("tracking_uid"),
                        image=image, frame=region.get("frame"), scale=tuple(scale))


def compare_annotations(reports: Sequence[ReportedAnnotations], annotators: Sequence[str], *,
                        threshold: float = 0.5) -> AnnotationAgreement:
    """Match the annotators' marks and answers, and build the consensus (see the module docstring)."""
    matched: list[MatchedMark] = []
    for index, report in enumerate(reports):
        for mark in report.marks:
            _place(mark, index, len(reports), matched)
    targets_of = {}  # tracking UID of an annotator's mark -> the matched mark's target name
    for number, group in enumerate(matched):
        name = _target_name(matched, number)
        for mark in group.marks:
            if mark is not None and mark.tracking_uid:
                targets_of[mark.tracking_uid] = name
        present = [m for m in group.marks if m is not None]
        if len(present) >= threshold * len(reports):
            group.consensus_points_mm = _mean_mark(present)
    questions: dict[tuple[str, Code], list[Code | None]] = {}
    canonical: dict[tuple[str, str], Code] = {}  # one Code per concept, whatever each SR's meaning wording
    for index, report in enumerate(reports):
        for (target, question), answer in report.answers.items():
            question, answer = (canonical.setdefault((c.value, c.scheme), c) for c in (question, answer))
            key = (targets_of.get(target, target), question)
            questions.setdefault(key, [None] * len(reports))[index] = answer
    result = AnnotationAgreement(list(annotators), matched, [(t, q, a) for (t, q), a in questions.items()], threshold)
    for (target, question), answers in questions.items():
        given = [a for a in answers if a is not None]
        top = max(set(given), key=given.count) if given else None
        if top is not None and given.count(top) * 2 > len(given):
            result.consensus_answers[(target, question)] = top
    return result


def label_agreement(subjects: Sequence[tuple[Code, Sequence[Code | None]]]) -> list[dict[str, Any]]:
    """Per question: subjects, percent agreement, Krippendorff's alpha and (when defined) Fleiss' kappa."""
    by_question: dict[Code, list[list[Code | None]]] = {}
    for question, answers in subjects:
        by_question.setdefault(question, []).append([a for a in answers])
    rows = []
    for question, ratings in by_question.items():
        rated = [[a for a in item if a is not None] for item in ratings]
        unanimous = [len(set(item)) == 1 for item in rated if len(item) >= 2]
        counts = {len(item) for item in rated}
        kappa = fleiss_kappa(rated) if len(counts) == 1 and min(counts) >= 2 else None
        alpha = krippendorff_alpha(ratings)
        rows.append({"question": question.as_list(), "subjects": len(ratings),
                     "percent_agreement": round(100.0 * sum(unanimous) / len(unanimous), 2) if unanimous else None,
                     "fleiss_kappa": _rounded(kappa), "krippendorff_alpha": _rounded(alpha)})
    return rows


def pooled_label_agreement(reports: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Label agreement over the subjects of several cases' recorded ``annotations`` reports."""
    subjects = []
    for report in reports:
        for entry in report.get("labels", []):
            answers = [Code(*a) if a is not None else None for a in entry["answers"]]
            subjects.append((Code(*entry["question"]), answers))
    return label_agreement(subjects)


# ----------------------------------------------------------------------------- matching
def _place(mark: ReportedMark, annotator: int, count: int, matched: list[MatchedMark]) -> None:
    """Put ``mark`` with the most similar unmatched mark of its structure, or start a new group."""
    best, best_score = None, 0.0
    for group in matched:
        if group.label != mark.label or group.marks[annotator] is not None:
            continue
        others = [m for m in group.marks if m is not None]
        score = min(_similarity(mark, other) for other in others)
        if score > best_score:
            best, best_score = group, score
    if best is None:
        best = MatchedMark(mark.label, [None] * count)
        matched.append(best)
    best.marks[annotator] = mark


def _similarity(a: ReportedMark, b: ReportedMark) -> float:
    """In (0, 1] when two marks of one structure can be the same mark, 0 when not (always on other images)."""
    if a.view != b.view:
        return 0.0
    if a.is_box and b.is_box:
        return box_iou_in_plane(a.points_mm, b.points_mm)
    distance = landmark_distance_mm(a.points_mm.mean(axis=0), b.points_mm.mean(axis=0))
    return max(0.0, 1.0 - distance / SAME_POINT_MM)


def box_iou_in_plane(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two rectangles in patient space (corners, LPS mm), measured in the plane of ``a``.

    Rectangles in planes further apart than :data:`PLANE_TOLERANCE_MM`, or not parallel, do not overlap.
    """
    origin, u, v = _plane(a)
    normal = np.cross(u, v)
    b_corners = polygon_vertices(b)
    if np.abs((b_corners - origin) @ normal).max() > PLANE_TOLERANCE_MM:
        return 0.0
    a_lo, a_hi = _extent(polygon_vertices(a), origin, u, v)
    b_lo, b_hi = _extent(b_corners, origin, u, v)
    overlap = np.clip(np.minimum(a_hi, b_hi) - np.maximum(a_lo, b_lo), 0, None)
    intersection = float(np.prod(overlap))
    union = float(np.prod(a_hi - a_lo) + np.prod(b_hi - b_lo)) - intersection
    return 0.0 if union <= 0 else intersection / union


def _mean_mark(marks: list[ReportedMark]) -> np.ndarray:
    """The consensus position: mean points, or for boxes the rectangle of the mean in-plane extents."""
    if all(m.is_box for m in marks):
        origin, u, v = _plane(marks[0].points_mm)
        extents = [_extent(polygon_vertices(m.points_mm), origin, u, v) for m in marks]
        lo = np.mean([e[0] for e in extents], axis=0)
        hi = np.mean([e[1] for e in extents], axis=0)
        offset = np.mean([(polygon_vertices(m.points_mm) - origin) @ np.cross(u, v) for m in marks]) * np.cross(u, v)
        corners = [origin + offset + x * u + y * v for x, y in ((lo[0], lo[1]), (hi[0], lo[1]), (hi[0], hi[1]),
                                                                 (lo[0], hi[1]), (lo[0], lo[1]))]
        return np.array(corners)
    if len({len(m.points_mm) for m in marks}) == 1:
        return np.mean([m.points_mm for m in marks], axis=0)
    return min(marks, key=lambda m: len(m.points_mm)).points_mm  # shapes differ: no mean; keep the simplest


def polygon_vertices(points: np.ndarray) -> np.ndarray:
    """A polygon's distinct vertices (a closed polygon repeats its first point last)."""
    return points[:-1] if len(points) > 1 and np.allclose(points[0], points[-1]) else points


def _is_rectangle(points: np.ndarray) -> bool:
    corners = polygon_vertices(points)
    edges = np.roll(corners, -1, axis=0) - corners
    lengths = np.linalg.norm(edges, axis=1)
    if lengths.min() <= 0:
        return False
    cosines = [abs(float(edges[n] @ edges[(n + 1) % 4])) / (lengths[n] * lengths[(n + 1) % 4]) for n in range(4)]
    return max(cosines) < 1e-3


def _plane(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Origin and unit edge directions of a rectangle."""
    corners = polygon_vertices(points)
    u, v = corners[1] - corners[0], corners[3] - corners[0]
    return corners[0], u / np.linalg.norm(u), v / np.linalg.norm(v)


def _extent(corners: np.ndarray, origin: np.ndarray, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    coordinates = np.column_stack([(corners - origin) @ u, (corners - origin) @ v])
    return coordinates.min(axis=0), coordinates.max(axis=0)


def _mark_json(group: MatchedMark) -> dict[str, Any]:
    pairs = []
    for a, first in enumerate(group.marks):
        for b in range(a + 1, len(group.marks)):
            second = group.marks[b]
            if first is None or second is None:
                continue
            if first.is_box and second.is_box:
                pairs.append({"a": a, "b": b, "iou": round(box_iou_in_plane(first.points_mm, second.points_mm), 4)})
            else:
                pairs.append({"a": a, "b": b, "distance_mm": round(landmark_distance_mm(
                    first.points_mm.mean(axis=0), second.points_mm.mean(axis=0)), 3)})
    return {"label": group.label, "kind": group.kind, "marked_by": [m is not None for m in group.marks],
            "pairs": pairs, "in_consensus": group.consensus_points_mm is not None}


def _target_name(matched: list[MatchedMark], number: int) -> str:
    """A matched mark's name as a label target: its structure label, numbered when marked more than once."""
    label = matched[number].label
    return label if sum(1 for group in matched if group.label == label) == 1 else f"{label} #{number + 1}"


def _code(triple: list[str] | None) -> Code | None:
    """A code from an SR summary's list (another producer may leave the meaning empty); None without a value."""
    if not triple or not triple[0] or not triple[1]:
        return None
    return Code(triple[0], triple[1], triple[2] or triple[0])


def _rounded(value: float | None) -> float | None:
    return round(value, 4) if value is not None else None


def consensus_content(agreement: AnnotationAgreement, protocol: Protocol | None = None, *,
                      segments: Mapping[str, int] | None = None) -> tuple[list[Mark], list[ClassificationLabel]]:
    """The consensus marks and answers, as the SR writer takes them (codes from ``protocol`` where it has the label).

    ``segments`` maps the tracking identifiers of the consensus SEG's segments to their numbers:
    answers about those segments are kept for them; answers about other segments are left out.
    """
    segments = segments or {}
    marks: list[Mark] = []
    index_of: dict[str, int] = {}
    for number, group in enumerate(agreement.marks):
        if group.consensus_points_mm is None:
            continue
        index_of[_target_name(agreement.marks, number)] = len(marks)
        marks.append(Mark(index=len(marks), kind=group.kind, label=group.label, **_consensus_points(group),
                          **_mark_codes(group, protocol)))
    labels = []
    for (target, question), answer in agreement.consensus_answers.items():
        if target == CASE_TARGET:
            labels.append(ClassificationLabel(name=question, value=answer))
        elif target in index_of:
            labels.append(ClassificationLabel(name=question, value=answer, mark=index_of[target]))
        elif target in segments:
            labels.append(ClassificationLabel(name=question, value=answer, segment=segments[target]))
    return marks, labels


def _consensus_points(group: MatchedMark) -> dict[str, Any]:
    """The consensus position as the SR writer takes it: LPS mm, or the pixels of the image and frame (SCOORD)."""
    first = next(m for m in group.marks if m is not None)
    if first.image is None:
        return {"points_mm": group.consensus_points_mm}
    pixels = group.consensus_points_mm[:, :2] / np.asarray(first.scale)
    source = first.image.slices[first.image.slice_of(first.frame, f"The consensus mark of {group.label}")]
    return {"points_mm": None, "points": pixels, "source": source,
            "spacing": first.image.calibration.spacing_at(pixels)}


def _mark_codes(group: MatchedMark, protocol: Protocol | None) -> dict[str, Any]:
    try:
        structure = protocol.structure(group.label) if protocol is not None else None
    except KeyError:
        structure = None
    if structure is not None:
        return {"finding": structure.type, "finding_category": structure.category,
                "finding_site": structure.anatomic_region, "structure": structure.label}
    return {"finding": next((m.finding for m in group.marks if m is not None and m.finding is not None), None)}
