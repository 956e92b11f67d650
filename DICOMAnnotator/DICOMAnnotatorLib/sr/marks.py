"""Boxes, landmarks and other marks for the SR, read from the marks JSON of the CLI contract.

``{"marks": [{"kind": "box"|"polygon"|"polyline"|"point"|"ellipse", "label": LABEL_OR_CODE,
"instance": SOPInstanceUID, "frame": N, "points": [[column, row], ...]}]}`` in image pixels, or
``"points_mm": [[x, y, z], ...]`` in patient LPS. On a volume every mark becomes 3D patient
coordinates (SCOORD3D) on the series' frame of reference; on 2D images and cine, which have no
patient coordinates, it stays in the pixels of its image and frame (SCOORD, PS3.3 C.18.6), with its
length (polylines) or area (boxes, polygons, ellipses) in mm where the image is calibrated there and
in pixels where it is not (:mod:`..imaging.calibration`):

- Pixel coordinates follow DICOM spatial coordinates (PS3.3 C.18.6.1.1): (0, 0) is the top
  left corner of the top left pixel, so the centre of pixel (i, j) is (i + 0.5, j + 0.5);
  ``frame`` is 1-based and only needed for multi-frame instances.
- A box is two opposite corners (in one image plane) or its four corners in order; it is
  written as a closed POLYGON (SCOORD3D) or a closed POLYLINE (SCOORD, which has no polygon:
  PS3.3 C.18.6.1.2). A polygon is closed when its last point is not its first.
- Every point in pixels must lie on its image, from 0 to the columns and rows; points in mm are
  kept as given, inside the volume or not (SCOORD3D coordinates may lie anywhere in the frame of
  reference, PS3.3 C.18.9.1); ``frame`` must be one of the instance's frames.
  An ellipse is four points: the ends of the major axis, then of the minor axis. A point is
  one point.
- ``label`` is a protocol structure label (its codes become the finding type, category and
  site; a box structure takes box marks, a landmark structure point marks), a code (the
  finding type), or, without a protocol, free text (the tracking identifier only).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..dicom import Code
from ..errors import InputError
from ..imaging import PlanarImage, PlanarSeries, ReferenceSeries, SliceSource

if TYPE_CHECKING:  # pragma: no cover
    from ..protocols import Protocol

MARK_KINDS = ("box", "polygon", "polyline", "point", "ellipse")
_GRAPHIC_TYPES = {"box": "POLYGON", "polygon": "POLYGON", "polyline": "POLYLINE", "point": "POINT",
                  "ellipse": "ELLIPSE"}
#: Which mark kinds a protocol structure of a given annotation kind takes (others take any).
_KINDS_FOR_STRUCTURE = {"box": ("box",), "landmark": ("point",)}
#: SCOORD (2D) has no POLYGON: a closed polyline is one (PS3.3 C.18.6.1.2).
_GRAPHIC_TYPES_2D = {**_GRAPHIC_TYPES, "box": "POLYLINE", "polygon": "POLYLINE"}
#: Two box corners lie in one image plane when their slice positions differ by less than this (mm).
_PLANE_TOLERANCE_MM = 1e-3

LENGTH = Code("410668003", "SCT", "Length")
AREA = Code("42798000", "SCT", "Area")
MILLIMETRE = Code("mm", "UCUM", "millimeter")
SQUARE_MILLIMETRE = Code("mm2", "UCUM", "square millimeter")
#: Uncalibrated images: UCUM annotations (dimensionless counts), as the SR must say the figure is not in mm.
PIXEL = Code("{pixel}", "UCUM", "pixel")
SQUARE_PIXEL = Code("{pixel^2}", "UCUM", "square pixel")


@dataclass(frozen=True)
class Mark:
    """One mark in patient coordinates, with what it marks."""

    index: int
    kind: str
    label: str
    points_mm: np.ndarray | None  # N x 3, LPS mm (marks on a volume)
    finding: Code | None = None
    finding_category: Code | None = None
    finding_site: Code | None = None
    structure: str | None = None  # the protocol structure it belongs to
    points: np.ndarray | None = None  # N x 2, SCOORD pixel coordinates (marks on a 2D image or cine)
    source: SliceSource | None = None  # the image (and frame) a 2D mark is on
    spacing: tuple[float, float] | None = None  # mm per column and row where a 2D mark lies; None: uncalibrated

    @property
    def graphic_type(self) -> str:
        """The SCOORD3D (volume) or SCOORD (2D) graphic type it is written as."""
        return (_GRAPHIC_TYPES if self.points is None else _GRAPHIC_TYPES_2D)[self.kind]

    def measurement(self) -> tuple[Code, float, Code] | None:
        """Length of a polyline, area of a box, polygon or ellipse on a 2D image: (name, value, unit) in mm where
        the image is calibrated at the mark, in pixels where not; None for points and marks on volumes."""
        if self.points is None or self.kind == "point":
            return None
        column_mm, row_mm = self.spacing or (1.0, 1.0)
        scaled = self.points * np.array([column_mm, row_mm])
        if self.kind == "polyline":
            value = float(np.linalg.norm(np.diff(scaled, axis=0), axis=1).sum())
            return LENGTH, value, MILLIMETRE if self.spacing else PIXEL
        if self.kind == "ellipse":  # axes' end points; scaling a plane scales every area by the same factor
            major, minor = (float(np.linalg.norm(self.points[a] - self.points[b])) for a, b in ((0, 1), (2, 3)))
            value = np.pi * major * minor / 4 * column_mm * row_mm
        else:
            x, y = scaled[:, 0], scaled[:, 1]  # closed: the shoelace formula over consecutive points
            value = abs(float(np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1]))) / 2
        return AREA, float(value), SQUARE_MILLIMETRE if self.spacing else SQUARE_PIXEL


def read_json_list(path: str | os.PathLike[str], key: str) -> list[Any]:
    """The list under ``key`` of a JSON file ``{key: [...]}``; InputError naming the file otherwise."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"Cannot read {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not valid JSON (line {exc.lineno} column {exc.colno}: {exc.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        raise InputError(f'{path} must hold one JSON object {{"{key}": [...]}}')
    return data[key]


def read_marks(path: str | os.PathLike[str], reference: ReferenceSeries | PlanarSeries | PlanarImage,
               protocol: Protocol | None = None) -> list[Mark]:
    """The marks of a marks file on ``reference`` (a volume, or 2D images and cine), their labels resolved
    through ``protocol`` when given; InputError naming the mark for one off its image."""
    marks = []
    for index, entry in enumerate(read_json_list(path, "marks")):
        where = f"{path}: marks[{index}]"
        if not isinstance(entry, dict):
            raise InputError(f"{where} is not an object")
        kind = entry.get("kind")
        if kind not in MARK_KINDS:
            raise InputError(f"{where}.kind is {kind!r}; use one of {', '.join(MARK_KINDS)}")
        described = _described(entry.get("label"), kind, protocol, where)
        if isinstance(reference, ReferenceSeries):
            points = _points_mm(entry, reference, where)
            marks.append(Mark(index=index, kind=kind, points_mm=_shape(kind, points, reference, where), **described))
        else:
            marks.append(_planar_mark(index, kind, entry, reference, where, described))
    return marks


def _planar_mark(index: int, kind: str, entry: dict[str, Any], reference: PlanarSeries | PlanarImage, where: str,
                 described: dict[str, Any]) -> Mark:
    """A mark on a 2D image or a frame of a cine: pixel points on its image, checked to lie on it."""
    if "points_mm" in entry:
        raise InputError(f"{where} gives points_mm, but {reference.description} has no patient coordinates "
                         "(2D images and cine); give points in pixels")
    if "points" not in entry:
        raise InputError(f"{where} needs points: [[column, row], ...] in pixels")
    points = _array(entry["points"], 2, f"{where}.points")
    images = reference.images if isinstance(reference, PlanarSeries) else [reference]
    uid = entry.get("instance")
    if uid is None and len(images) == 1:
        image = images[0]
    elif not isinstance(uid, str):
        raise InputError(f"{where} names no instance (the SOP Instance UID of its image); "
                         f"{reference.description} holds {len(images)} images")
    else:
        image = next((i for i in images if i.sop_instance_uid == uid), None)
        if image is None:
            raise InputError(f"{where} is on instance {uid}, which is not an image of {reference.description}; "
                             "give marks on the images of the series given")
    source = image.slices[image.slice_of(entry.get("frame"), where)]
    outside = (points[:, 0] < 0) | (points[:, 0] > image.columns) | (points[:, 1] < 0) | (points[:, 1] > image.rows)
    if outside.any():
        point = points[int(np.argmax(outside))].tolist()
        raise InputError(f"{where} has point {point} outside its image of {image.columns} columns x {image.rows} rows "
                         "(pixel coordinates run from 0 to the columns and rows, PS3.3 C.18.6.1.1)")
    points = _planar_shape(kind, points, where)
    return Mark(index=index, kind=kind, points_mm=None, points=points, source=source,
                spacing=image.calibration.spacing_at(points), **described)


def _planar_shape(kind: str, points: np.ndarray, where: str) -> np.ndarray:
    """Pixel points as the SCOORD graphic data of ``kind`` (boxes and polygons become closed polylines)."""
    if kind == "box":
        if len(points) == 2:
            (x0, y0), (x1, y1) = points
            points = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
        elif len(points) != 4:
            raise InputError(f"{where}: a box needs 2 opposite corners or its 4 corners, found {len(points)} points")
    else:
        _require_count(kind, points, where)
    if kind in ("box", "polygon") and not np.allclose(points[0], points[-1]):
        points = np.vstack([points, points[:1]])
    return points


def _require_count(kind: str, points: np.ndarray, where: str) -> None:
    needed = {"point": (1, 1), "ellipse": (4, 4), "polyline": (2, None), "polygon": (3, None)}
    low, high = needed[kind]
    if len(points) < low or (high is not None and len(points) > high):
        count = f"{low}" if low == high else f"at least {low}"
        raise InputError(f"{where}: {kind} needs {count} points, found {len(points)}")


def _points_mm(entry: dict[str, Any], reference: ReferenceSeries, where: str) -> np.ndarray:
    if ("points" in entry) == ("points_mm" in entry):
        raise InputError(f"{where} needs exactly one of points (pixels) and points_mm (patient LPS)")
    if "points_mm" in entry:
        return _array(entry["points_mm"], 3, f"{where}.points_mm")
    pixels = _array(entry["points"], 2, f"{where}.points")
    k = _slice_of(entry, reference, where)
    columns, rows = reference.geometry.size[:2]
    outside = (pixels[:, 0] < 0) | (pixels[:, 0] > columns) | (pixels[:, 1] < 0) | (pixels[:, 1] > rows)
    if outside.any():
        raise InputError(f"{where} has point {pixels[int(np.argmax(outside))].tolist()} outside its image of {columns} "
                         f"columns x {rows} rows (pixel coordinates run from 0 to the columns and rows)")
    index = np.column_stack([pixels - 0.5, np.full(len(pixels), float(k))])
    return reference.geometry.index_to_lps(index)


def _array(value: Any, columns: int, where: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        array = np.empty(0)
    if array.ndim != 2 or array.shape[1] != columns or len(array) == 0 or not np.isfinite(array).all():
        raise InputError(f"{where} must be a non-empty list of [{', '.join(['number'] * columns)}] points")
    return array


def _slice_of(entry: dict[str, Any], reference: ReferenceSeries, where: str) -> int:
    uid = entry.get("instance")
    frame = entry.get("frame")
    if not isinstance(uid, str):
        raise InputError(f"{where} gives pixel points but no instance (the SOP Instance UID of its image)")
    frames = []
    for k, source in enumerate(reference.slices):
        if source.sop_instance_uid == uid and (source.frame_number == frame
                                               or (source.frame_number is None and frame in (None, 1))):
            return k
        if source.sop_instance_uid == uid and source.frame_number is not None:
            frames.append(source.frame_number)
    if frames:
        raise InputError(f"{where} names frame {frame!r} of instance {uid}, which has frames {min(frames)} to "
                         f"{max(frames)} in {reference.description}")
    raise InputError(f"{where} is on instance {uid}" + (f" frame {frame}" if frame is not None else "")
                     + f", which is not an image of {reference.description}; give marks on the SEG's series")


def _shape(kind: str, points: np.ndarray, reference: ReferenceSeries, where: str) -> np.ndarray:
    """The points as the SCOORD3D graphic data of ``kind`` (boxes become closed polygons)."""
    if kind == "box":
        if len(points) == 2:
            points = _box_corners(points, reference, where)
        elif len(points) != 4:
            raise InputError(f"{where}: a box needs 2 opposite corners or its 4 corners, found {len(points)} points")
    else:
        _require_count(kind, points, where)
    if kind in ("polygon", "ellipse") and not _coplanar(points):
        raise InputError(f"{where}: the points of a {kind} must lie in one plane (SCOORD3D, PS3.3 C.18.9.1.2); "
                         "give points of one image plane")
    if kind in ("box", "polygon") and not np.allclose(points[0], points[-1]):
        points = np.vstack([points, points[:1]])
    return points


def _coplanar(points: np.ndarray) -> bool:
    """Whether the points lie in one plane, within _PLANE_TOLERANCE_MM."""
    if len(points) < 4:
        return True
    centred = points - points.mean(axis=0)
    normal = np.linalg.svd(centred)[2][-1]  # the direction in which the points spread least
    return float(np.abs(centred @ normal).max()) <= _PLANE_TOLERANCE_MM


def _box_corners(corners: np.ndarray, reference: ReferenceSeries, where: str) -> np.ndarray:
    """The four corners of the image-plane rectangle with two opposite corners ``corners``."""
    geometry = reference.geometry
    inverse = np.linalg.inv(geometry.affine)
    (i0, j0, k0), (i1, j1, k1) = (inverse[:3, :3] @ p + inverse[:3, 3] for p in corners)
    if abs(k1 - k0) * geometry.spacing[2] > _PLANE_TOLERANCE_MM:
        raise InputError(f"{where}: the two box corners are not in one image plane of the series; give its four "
                         "corners instead")
    return geometry.index_to_lps(np.array([[i0, j0, k0], [i1, j0, k0], [i1, j1, k0], [i0, j1, k0]]))


def _described(label: Any, kind: str, protocol: Protocol | None, where: str) -> dict[str, Any]:
    """Label, finding codes and structure of a mark from its ``label`` entry."""
    if isinstance(label, str) and label.strip():
        if protocol is None:
            return {"label": label}
        try:
            structure = protocol.structure(label)
        except KeyError:
            names = [s.label for s in protocol.structures if s.kind.value in ("box", "landmark")]
            raise InputError(f"{where}.label '{label}' is not a structure of protocol '{protocol.id}'"
                             + (f"; its box and landmark structures are {', '.join(names)}" if names else "")) from None
        allowed = _KINDS_FOR_STRUCTURE.get(structure.kind.value)
        if structure.kind.value == "classification" or (allowed and kind not in allowed):
            raise InputError(f"{where} is a {kind}, but '{label}' is a {structure.kind.value} structure of protocol "
                             f"'{protocol.id}'" + (f"; it takes {' or '.join(allowed)} marks" if allowed else ""))
        return {"label": label, "finding": structure.type, "finding_category": structure.category,
                "finding_site": structure.anatomic_region, "structure": label}
    try:
        code = Code.from_json(label)
    except ValueError as exc:
        raise InputError(f"{where}.label: give a structure label or a code ({exc})") from None
    return {"label": code.meaning, "finding": code}
