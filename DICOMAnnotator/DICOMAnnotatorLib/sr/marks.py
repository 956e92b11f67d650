"""Boxes, landmarks and other marks for the SR, read from the marks JSON of the CLI contract.

``{"marks": [{"kind": "box"|"polygon"|"polyline"|"point"|"ellipse", "label": LABEL_OR_CODE,
"instance": SOPInstanceUID, "frame": N, "points": [[column, row], ...]}]}`` in image pixels, or
``"points_mm": [[x, y, z], ...]`` in patient LPS. Every mark becomes 3D patient coordinates
(SCOORD3D) on the series' frame of reference:

- Pixel coordinates follow DICOM spatial coordinates (PS3.3 C.18.6.1.1): (0, 0) is the top
  left corner of the top left pixel, so the centre of pixel (i, j) is (i + 0.5, j + 0.5);
  ``frame`` is 1-based and only needed for multi-frame instances.
- A box is two opposite corners (in one image plane) or its four corners in order; it is
  written as a closed POLYGON. A polygon is closed when its last point is not its first.
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
from ..imaging import ReferenceSeries

if TYPE_CHECKING:  # pragma: no cover
    from ..protocols import Protocol

MARK_KINDS = ("box", "polygon", "polyline", "point", "ellipse")
_GRAPHIC_TYPES = {"box": "POLYGON", "polygon": "POLYGON", "polyline": "POLYLINE", "point": "POINT",
                  "ellipse": "ELLIPSE"}
#: Which mark kinds a protocol structure of a given annotation kind takes (others take any).
_KINDS_FOR_STRUCTURE = {"box": ("box",), "landmark": ("point",)}
#: Two box corners lie in one image plane when their slice positions differ by less than this (mm).
_PLANE_TOLERANCE_MM = 1e-3


@dataclass(frozen=True)
class Mark:
    """One mark in patient coordinates, with what it marks."""

    index: int
    kind: str
    label: str
    points_mm: np.ndarray  # N x 3, LPS mm
    finding: Code | None = None
    finding_category: Code | None = None
    finding_site: Code | None = None
    structure: str | None = None  # the protocol structure it belongs to

    @property
    def graphic_type(self) -> str:
        """The SCOORD3D graphic type it is written as."""
        return _GRAPHIC_TYPES[self.kind]


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


def read_marks(path: str | os.PathLike[str], reference: ReferenceSeries,
               protocol: Protocol | None = None) -> list[Mark]:
    """The marks of a marks file on ``reference``, their labels resolved through ``protocol`` when given."""
    marks = []
    for index, entry in enumerate(read_json_list(path, "marks")):
        where = f"{path}: marks[{index}]"
        if not isinstance(entry, dict):
            raise InputError(f"{where} is not an object")
        kind = entry.get("kind")
        if kind not in MARK_KINDS:
            raise InputError(f"{where}.kind is {kind!r}; use one of {', '.join(MARK_KINDS)}")
        points = _points_mm(entry, reference, where)
        marks.append(Mark(index=index, kind=kind, points_mm=_shape(kind, points, reference, where),
                          **_described(entry.get("label"), kind, protocol, where)))
    return marks


def _points_mm(entry: dict[str, Any], reference: ReferenceSeries, where: str) -> np.ndarray:
    if ("points" in entry) == ("points_mm" in entry):
        raise InputError(f"{where} needs exactly one of points (pixels) and points_mm (patient LPS)")
    if "points_mm" in entry:
        return _array(entry["points_mm"], 3, f"{where}.points_mm")
    pixels = _array(entry["points"], 2, f"{where}.points")
    k = _slice_of(entry, reference, where)
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
    for k, source in enumerate(reference.slices):
        if source.sop_instance_uid == uid and (source.frame_number == frame
                                               or (source.frame_number is None and frame in (None, 1))):
            return k
    raise InputError(f"{where} is on instance {uid}" + (f" frame {frame}" if frame is not None else "")
                     + f", which is not an image of {reference.description}; give marks on the SEG's series")


def _shape(kind: str, points: np.ndarray, reference: ReferenceSeries, where: str) -> np.ndarray:
    """The points as the SCOORD3D graphic data of ``kind`` (boxes become closed polygons)."""
    needed = {"point": (1, 1), "ellipse": (4, 4), "polyline": (2, None), "polygon": (3, None)}
    if kind == "box":
        if len(points) == 2:
            points = _box_corners(points, reference, where)
        elif len(points) != 4:
            raise InputError(f"{where}: a box needs 2 opposite corners or its 4 corners, found {len(points)} points")
    else:
        low, high = needed[kind]
        if len(points) < low or (high is not None and len(points) > high):
            count = f"{low}" if low == high else f"at least {low}"
            raise InputError(f"{where}: {kind} needs {count} points, found {len(points)}")
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
