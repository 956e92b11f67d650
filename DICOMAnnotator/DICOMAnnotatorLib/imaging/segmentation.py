"""Segmentations on a reference grid: coded segments, their voxels, author and provenance.

Masks are stored cropped to each segment's bounding box, so that a 50-segment
segmentation of a 512x512x300 CT costs about the voxels that are labelled rather than
50 full volumes. Full-size arrays are built only when asked for.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

from ..dicom import TISSUE, Code
from ..errors import SegmentationError
from .geometry import VolumeGeometry
from .masks import label_boxes
from .series import ReferenceSeries

#: Slicer's default colour for a segment without one (a light green).
DEFAULT_COLOR = (128, 174, 128)


class AlgorithmType(enum.Enum):
    """How a segment was made (DICOM Segment Algorithm Type)."""

    MANUAL = "MANUAL"
    SEMIAUTOMATIC = "SEMIAUTOMATIC"
    AUTOMATIC = "AUTOMATIC"


class MaskKind(enum.Enum):
    """BINARY masks hold 0/1; FRACTIONAL masks hold probabilities or occupancies in [0, 1]."""

    BINARY = "BINARY"
    FRACTIONAL = "FRACTIONAL"


@dataclass(frozen=True)
class SegmentDescription:
    """What one segment is: number, label, codes, colour and how it was made."""

    number: int
    label: str
    category: Code = TISSUE
    type: Code = TISSUE
    type_modifier: Code | None = None
    anatomic_region: Code | None = None
    anatomic_region_modifier: Code | None = None
    color: tuple[int, int, int] = DEFAULT_COLOR
    algorithm_type: AlgorithmType = AlgorithmType.MANUAL
    algorithm_name: str | None = None
    tracking_id: str | None = None
    tracking_uid: str | None = None
    #: The version of the algorithm of a non-MANUAL segment (e.g. an AI model's), written to its Algorithm
    #: Identification; None: the writing program's own version.
    algorithm_version: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.number, bool) or not isinstance(self.number, (int, np.integer)) or self.number < 1:
            raise SegmentationError(f"Segment numbers must be integers from 1, found {self.number!r}")
        if not str(self.label).strip():
            raise SegmentationError(f"Segment {self.number} needs a non-empty label")
        color = tuple(int(c) for c in self.color)
        if len(color) != 3 or not all(0 <= c <= 255 for c in color):
            raise SegmentationError(
                f"Segment {self.number} ('{self.label}') has colour {self.color!r}; give 3 integers in 0..255"
            )
        object.__setattr__(self, "number", int(self.number))
        object.__setattr__(self, "color", color)
        if not isinstance(self.algorithm_type, AlgorithmType):
            object.__setattr__(self, "algorithm_type", AlgorithmType(str(self.algorithm_type).upper()))
        if self.algorithm_type is not AlgorithmType.MANUAL and not self.algorithm_name:
            raise SegmentationError(
                f"Segment {self.number} ('{self.label}') is {self.algorithm_type.value}: name its algorithm"
            )


@dataclass(frozen=True)
class Provenance:
    """Where a segmentation came from: its sources (SEG files or UIDs) and the method."""

    derived_from: tuple[str, ...] = ()
    method: str | None = None
    created: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


@dataclass(frozen=True)
class _CroppedMask:
    """A segment's voxels inside its bounding box; ``box`` is one slice per array axis (k, j, i)."""

    box: tuple[slice, slice, slice]
    values: np.ndarray

    @classmethod
    def empty(cls, dtype: np.dtype) -> _CroppedMask:
        return cls((slice(0, 0),) * 3, np.zeros((0, 0, 0), dtype=dtype))


class Segmentation:
    """Per-segment masks on one voxel grid, with coded descriptions and provenance.

    ``masks`` maps segment numbers to arrays of the grid's ``array_shape`` (bool for
    BINARY, floats in [0, 1] for FRACTIONAL). ``reference`` is the DICOM series the grid
    comes from, when there is one (DICOM export needs it).
    """

    def __init__(
        self,
        geometry: VolumeGeometry,
        segments: Sequence[SegmentDescription],
        masks: Mapping[int, np.ndarray],
        *,
        kind: MaskKind = MaskKind.BINARY,
        reference: ReferenceSeries | None = None,
        author: str | None = None,
        protocol_id: str | None = None,
        provenance: Provenance | None = None,
    ) -> None:
        if reference is not None and reference.geometry is not geometry:
            reference.geometry.require_same_grid(geometry, "The segmentation")
        self.geometry = geometry
        self.kind = MaskKind(kind)
        self.reference = reference
        self.author = author
        self.protocol_id = protocol_id
        self.provenance = provenance or Provenance()
        numbers = [s.number for s in segments]
        duplicates = sorted({n for n in numbers if numbers.count(n) > 1})
        if duplicates:
            raise SegmentationError(f"Segment numbers must be unique, found {duplicates} more than once")
        unknown = sorted(set(masks) - set(numbers))
        if unknown:
            raise SegmentationError(f"Masks given for segments {unknown} that have no description")
        self._segments = {s.number: s for s in sorted(segments, key=lambda s: s.number)}
        self._masks: dict[int, _CroppedMask] = {}
        for number in self._segments:
            self._masks[number] = self._crop(number, masks.get(number))

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_labelmap(
        cls,
        geometry: VolumeGeometry,
        labelmap: np.ndarray,
        segments: Sequence[SegmentDescription],
        *,
        allow_unknown_labels: bool = False,
        **kwargs,
    ) -> Segmentation:
        """From one integer label map where label value ``v`` is segment number ``v``.

        Label values present in the map without a description are an error unless
        ``allow_unknown_labels``, when they become generic segments "Segment v".
        """
        labelmap = np.asarray(labelmap)
        _require_shape(labelmap, geometry, "The label map")
        if not np.issubdtype(labelmap.dtype, np.integer):
            if not np.all(np.equal(np.mod(labelmap, 1), 0)):
                raise SegmentationError("The label map holds non-integer values; give integer labels")
            labelmap = labelmap.astype(np.int64)
        if labelmap.size and labelmap.min() < 0:
            raise SegmentationError(f"The label map holds negative label {int(labelmap.min())}")
        described = {s.number for s in segments}
        # One pass gives each label's box, and so which labels are present (no sort of the voxels).
        boxes = label_boxes(labelmap)
        present = [value for value, box in enumerate(boxes, start=1) if box is not None]
        missing = [v for v in present if v not in described]
        if missing and not allow_unknown_labels:
            raise SegmentationError(
                f"Label values {missing} have no segment description; add them to the protocol or "
                "remove them from the label map"
            )
        segments = list(segments) + [SegmentDescription(number=v, label=f"Segment {v}") for v in missing]
        self = cls(geometry, segments, {}, **kwargs)
        for value, box in enumerate(boxes, start=1):
            if box is not None and value in self._segments:
                self._masks[value] = _CroppedMask(box, labelmap[box] == value)
        return self

    @classmethod
    def from_cropped_masks(
        cls,
        geometry: VolumeGeometry,
        segments: Sequence[SegmentDescription],
        cropped: Mapping[int, tuple[tuple[slice, slice, slice], np.ndarray]],
        *,
        copy: bool = True,
        **kwargs,
    ) -> Segmentation:
        """From masks given inside boxes ``{number: ((k, j, i) slices, values)}``, without full arrays.

        Readers that decode sparse frames use this so that memory follows the labelled region. With
        ``copy=False`` the caller hands the arrays over (it keeps none to change): a mask of the
        segmentation's type that needs no trimming is kept as given, not copied.
        """
        self = cls(geometry, segments, {}, **kwargs)
        for number, (box, values) in cropped.items():
            label = self.segment(number).label
            extent = tuple(s.stop - s.start for s in box)
            inside = all(0 <= s.start <= s.stop <= n for s, n in zip(box, geometry.array_shape, strict=True))
            if values.shape != extent or not inside:
                raise SegmentationError(
                    f"The cropped mask of segment {number} ('{label}') has shape {list(values.shape)} but its box "
                    f"{[(s.start, s.stop) for s in box]} needs {list(extent)} inside {list(geometry.array_shape)}"
                )
            self._masks[number] = self._trimmed(number, values, offset=tuple(s.start for s in box), copy=copy)
        return self

    def _crop(self, number: int, mask: np.ndarray | None) -> _CroppedMask:
        if mask is None:
            return _CroppedMask.empty(self._dtype)
        mask = np.asarray(mask)
        _require_shape(mask, self.geometry, f"The mask of segment {number} ('{self._segments[number].label}')")
        return self._trimmed(number, mask, offset=(0, 0, 0))

    @property
    def _dtype(self) -> np.dtype:
        return np.dtype(bool) if self.kind is MaskKind.BINARY else np.dtype(np.float32)

    def _trimmed(self, number: int, values: np.ndarray, offset: tuple[int, ...], *, copy: bool = True
                 ) -> _CroppedMask:
        """Validated ``values`` cut to their non-zero bounding box; ``offset`` places them on the grid."""
        values = self._validated(number, np.asarray(values))
        inner = _nonzero_box(values)
        if inner is None:
            return _CroppedMask.empty(self._dtype)
        box = tuple(slice(o + s.start, o + s.stop) for o, s in zip(offset, inner, strict=True))
        if not copy and all(s.stop - s.start == n for s, n in zip(inner, values.shape, strict=True)):
            return _CroppedMask(box, np.asarray(values, dtype=self._dtype))
        return _CroppedMask(box, np.array(values[inner], dtype=self._dtype))  # a view would keep all of values

    def _validated(self, number: int, mask: np.ndarray) -> np.ndarray:
        label = self._segments[number].label
        if self.kind is MaskKind.BINARY:
            if mask.dtype != bool:
                values = np.unique(mask)
                if not np.all(np.isin(values, (0, 1))):
                    raise SegmentationError(
                        f"The mask of segment {number} ('{label}') holds values other than 0 and 1 "
                        f"({values[:5].tolist()}...); give a binary mask or use a FRACTIONAL segmentation"
                    )
                mask = mask.astype(bool)
            return mask
        mask = mask.astype(np.float32, copy=False)
        if mask.size and (np.isnan(mask).any() or np.min(mask) < 0 or np.max(mask) > 1):
            raise SegmentationError(f"The fractional mask of segment {number} ('{label}') must hold values in [0, 1]")
        return mask

    # ----------------------------------------------------------------- access
    @property
    def segments(self) -> list[SegmentDescription]:
        return list(self._segments.values())

    def segment(self, number: int) -> SegmentDescription:
        try:
            return self._segments[number]
        except KeyError:
            raise SegmentationError(
                f"There is no segment {number}; the segmentation has {list(self._segments)}"
            ) from None

    def mask(self, number: int) -> np.ndarray:
        """The full-size mask of one segment (bool, or float32 for FRACTIONAL)."""
        self.segment(number)
        cropped = self._masks[number]
        full = np.zeros(self.geometry.array_shape, dtype=cropped.values.dtype)
        full[cropped.box] = cropped.values
        return full

    def iter_masks(self) -> Iterator[tuple[SegmentDescription, np.ndarray]]:
        """Each segment with its full-size mask, one at a time (one full array in memory)."""
        for number, description in self._segments.items():
            yield description, self.mask(number)

    def bounding_box(self, number: int) -> tuple[slice, slice, slice] | None:
        """The array slices ``(k, j, i)`` around the segment's non-zero voxels, or None when empty."""
        cropped = self._masks[self.segment(number).number]
        return None if cropped.values.size == 0 else cropped.box

    def cropped_mask(self, number: int) -> tuple[tuple[slice, slice, slice], np.ndarray]:
        """The segment's mask inside its bounding box, without building the full array."""
        cropped = self._masks[self.segment(number).number]
        return cropped.box, cropped.values

    def voxel_count(self, number: int) -> int:
        """Voxels of the segment that are non-zero."""
        return int(np.count_nonzero(self._masks[self.segment(number).number].values))

    def volume_ml(self, number: int) -> float:
        """Volume in millilitres (for FRACTIONAL: the sum of fractions times the voxel volume)."""
        values = self._masks[self.segment(number).number].values
        total = float(values.sum(dtype=np.float64))
        return total * self.geometry.voxel_volume_mm3 / 1000.0

    def has_overlaps(self) -> bool:
        """True when any voxel belongs to more than one segment (then no single label map exists)."""
        if self.kind is MaskKind.FRACTIONAL:
            return True
        # Only segments whose boxes meet can share a voxel: compare their masks where the boxes meet (which boxes
        # meet is found for all pairs at once: 104 segments make 5,356 pairs).
        masks = [cropped for cropped in self._masks.values() if cropped.values.size]
        if len(masks) < 2:
            return False
        starts = np.array([[s.start for s in cropped.box] for cropped in masks])
        stops = np.array([[s.stop for s in cropped.box] for cropped in masks])
        meeting = np.all(np.maximum(starts[:, None], starts[None]) < np.minimum(stops[:, None], stops[None]), axis=2)
        for n, m in zip(*np.nonzero(np.triu(meeting, k=1)), strict=True):
            first, second = masks[n], masks[m]
            common = tuple(slice(max(a.start, b.start), min(a.stop, b.stop))
                           for a, b in zip(first.box, second.box, strict=True))
            if np.any(first.values[_within(common, first.box)] & second.values[_within(common, second.box)]):
                return True
        return False

    def to_labelmap(self) -> np.ndarray:
        """One label map (value = segment number); refused when segments overlap."""
        if self.kind is MaskKind.FRACTIONAL:
            raise SegmentationError("A FRACTIONAL segmentation has no label map; threshold it first")
        top = max(self._segments, default=0)
        dtype = np.uint8 if top < 256 else np.uint16
        labelmap = np.zeros(self.geometry.array_shape, dtype=dtype)
        for number, cropped in self._masks.items():
            if not cropped.values.size:
                continue
            region = labelmap[cropped.box]
            clash = region[cropped.values]
            if np.any(clash):
                other = int(clash[clash > 0][0])
                raise SegmentationError(
                    f"Segments {other} ('{self._segments[other].label}') and {number} "
                    f"('{self._segments[number].label}') overlap, so they cannot share one label map; "
                    "export them as separate masks (--split) or as a BINARY SEG"
                )
            region[cropped.values] = number
        return labelmap

    def with_segments(self, segments: Sequence[SegmentDescription]) -> Segmentation:
        """The same voxels with new descriptions (matched by segment number)."""
        new = Segmentation(self.geometry, segments, {}, kind=self.kind, reference=self.reference,
                           author=self.author, protocol_id=self.protocol_id, provenance=self.provenance)
        for number in new._segments:
            if number in self._masks:
                new._masks[number] = self._masks[number]
        return new

    def with_author(self, author: str | None) -> Segmentation:
        return self._copy(author=author)

    def with_provenance(self, provenance: Provenance) -> Segmentation:
        return self._copy(provenance=provenance)

    def _copy(self, **changes) -> Segmentation:
        new = object.__new__(Segmentation)
        new.__dict__.update(self.__dict__)
        new.__dict__.update(changes)
        new._segments = dict(self._segments)
        new._masks = dict(self._masks)
        return new

    def summary(self) -> str:
        """A human-readable table of the geometry and the segments."""
        g = self.geometry
        lines = [
            f"Grid: {g.size[0]} x {g.size[1]} x {g.size[2]} voxels (columns x rows x slices), spacing "
            + " x ".join(f"{s:.4g}" for s in g.spacing) + " mm",
            f"Segmentation: {len(self._segments)} segment(s), {self.kind.value}"
            + (f", by {self.author}" if self.author else "")
            + (f", protocol {self.protocol_id}" if self.protocol_id else ""),
        ]
        for description in self._segments.values():
            lines.append(
                f"  {description.number:>3}  {description.label:<28} {description.type.meaning:<24} "
                f"{self.voxel_count(description.number):>10} voxels  {self.volume_ml(description.number):10.3f} mL"
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Segmentation({len(self._segments)} segments, {self.kind.value}, size={list(self.geometry.size)})"


def _within(box: tuple[slice, ...], outer: tuple[slice, ...]) -> tuple[slice, ...]:
    """``box`` (grid indices) as indices into the array of the box ``outer`` that holds it."""
    return tuple(slice(b.start - o.start, b.stop - o.start) for b, o in zip(box, outer, strict=True))


def _nonzero_box(values: np.ndarray) -> tuple[slice, ...] | None:
    """The smallest box holding every non-zero value (None when there is none): two passes over the values, one
    for the first axis and one projecting them onto the others."""
    nonzero = values if values.dtype == bool else values != 0
    rest = tuple(range(1, nonzero.ndim))
    extents = [nonzero.any(axis=rest)]
    if rest:
        projection = nonzero.any(axis=0)
        extents += [projection.any(axis=tuple(a - 1 for a in rest if a != axis)) for axis in rest]
    box = []
    for extent in extents:
        hits = np.flatnonzero(extent)
        if hits.size == 0:
            return None
        box.append(slice(int(hits[0]), int(hits[-1]) + 1))
    return tuple(box)


def _require_shape(array: np.ndarray, geometry: VolumeGeometry, what: str) -> None:
    if array.shape != geometry.array_shape:
        raise SegmentationError(
            f"{what} has array shape {list(array.shape)} but the grid needs {list(geometry.array_shape)} "
            "(slices, rows, columns)"
        )

